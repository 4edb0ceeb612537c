"""Convolutional DEN networks, `--arch=lenet` and `--arch=conv5` (sizes and pooling in
den_tf/model/archs/specs.py): `DenConv2D` layers (den_tf/model/conv.py), a channel-major flatten, and
`DenDense` layers, the first of which takes each filter's H*W block of rows as one input
unit (`in_block`); the forward pass is `den_tf.model.conv.ConvForward`."""

from __future__ import annotations

import numpy as np

from den_tf.model.archs.specs import CONV_ARCHS, resolve
from den_tf.model.conv import ConvForward, DenConv2D
from den_tf.model.layers import DenDense
from den_tf.model.network import DENNetwork


def build(config, init, input_size: int, image_shape=None, task: int = 1,
          n_out=None) -> DENNetwork:
    """Every kernel glorot-uniform (fan-in and fan-out over the receptive field), every
    bias by `init.bias` (spec Q2); keys "t1/W1", "t1/b1", ... counting the convolutional
    layers first, then "t1/head_W", "t1/head_b"."""
    spec = CONV_ARCHS[config.arch]
    shape = resolve(input_size, image_shape)
    hidden, c = [], shape[2]
    for i, blk in enumerate(spec.convs):
        k = init.glorot(f"t{task}/W{i + 1}", (blk.size, blk.size, c, blk.filters))
        b = init.bias(f"t{task}/b{i + 1}", (blk.filters,))
        hidden.append(DenConv2D(k, b, np.full(blk.filters, task), "relu", name=f"layer{i + 1}",
                                padding=blk.padding))
        c = blk.filters
    block = spec.flat_block(shape)
    rows, in_block = c * block, block
    for j, units in enumerate(spec.fc):
        i = len(spec.convs) + j
        w = init.glorot(f"t{task}/W{i + 1}", (rows, units))
        b = init.bias(f"t{task}/b{i + 1}", (units,))
        hidden.append(DenDense(w, b, np.full(units, task), "relu", name=f"layer{i + 1}",
                               in_block=in_block))
        rows, in_block = units, 1
    net = DENNetwork(hidden, input_size=input_size, **parts(config, input_size, image_shape))
    n_out = config.dims[-1] if n_out is None else int(n_out)
    net.add_head(task, init.glorot(f"t{task}/head_W", (rows, n_out)),
                 init.bias(f"t{task}/head_b", (n_out,)))
    return net


def parts(config, input_size: int, image_shape=None) -> dict:
    """What a DENNetwork of `config.arch` is made with besides its layers: the forward
    pass and the base size on these images."""
    spec = CONV_ARCHS[config.arch]
    shape = resolve(input_size, image_shape)
    # Convolution gradients XLA:CPU compiles well when the steps are compiled, else
    # TensorFlow's own (den_tf.model.conv.conv2d).
    forward = ConvForward(shape, tuple((b.padding, b.pool, b.pool_stride) for b in spec.convs),
                          native_grads=not config.xla)
    return {"forward": forward, "base_n_params": spec.base_params(shape, config.dims[-1]),
            "arch": config.arch, "image_shape": shape}
