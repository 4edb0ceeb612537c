"""Making a DEN network of an architecture's layers (TensorFlow): `build` draws a fresh
network with task 1's head, `parts` gives what a network of it is made with besides its
layers (the forward pass, the base size), for a network read back from a checkpoint.

* a stack of dense layers only (the MLP of --dims, or a spec such as `fc312,fc128`):
  `DENNetwork.create`, whose draws and their order are the original's
  (docs/algorithm.md#task-1), and the forward pass `mlp_logits`;
* a stack with convolutional layers: `DenConv2D` layers (den_tf/model/conv.py), a
  channel-major flatten, and `DenDense` layers, the first of which takes each filter's
  H*W block of rows as one input unit (`in_block`); the forward pass `ConvForward`.
"""

from __future__ import annotations

import numpy as np

from den_tf.model.conv import ConvForward, DenConv2D
from den_tf.model.forward import mlp_logits
from den_tf.model.layers import DenDense
from den_tf.model.network import DENNetwork


def build(stack, config, init, input_size: int, image_shape=None, task: int = 1,
          n_out=None) -> DENNetwork:
    """A fresh network of `stack` (a den_tf.model.archs.specs.Stack) with task `task`'s
    head of `n_out` outputs (default: the last dims size). Every kernel glorot-uniform (fan-in and fan-out over the
    receptive field), every bias by `init.bias` (docs/faithfulness.md#q2); keys "t1/W1",
    "t1/b1", ... counting the convolutional layers first, then "t1/head_W", "t1/head_b"."""
    if stack.dense_only:
        dims = (int(input_size),) + tuple(stack.fc) + (int(config.dims[-1]),)
        net = DENNetwork.create(dims, init, task, n_out)
        net.arch = config.arch
        return net
    shape = stack.image_shape(input_size, image_shape)
    hidden, c = [], shape[2]
    for i, layer in enumerate(stack.convs):
        k = init.glorot(f"t{task}/W{i + 1}", (layer.kernel, layer.kernel, c, layer.filters))
        b = init.bias(f"t{task}/b{i + 1}", (layer.filters,))
        hidden.append(DenConv2D(k, b, np.full(layer.filters, task), "relu",
                                name=f"layer{i + 1}", padding=layer.padding,
                                stride=layer.stride))
        c = layer.filters
    block = stack.flat_block(shape)
    rows, in_block = c * block, block
    for j, units in enumerate(stack.fc):
        i = len(stack.convs) + j
        w = init.glorot(f"t{task}/W{i + 1}", (rows, units))
        b = init.bias(f"t{task}/b{i + 1}", (units,))
        hidden.append(DenDense(w, b, np.full(units, task), "relu", name=f"layer{i + 1}",
                               in_block=in_block))
        rows, in_block = units, 1
    net = DENNetwork(hidden, input_size=input_size, **parts(stack, config, input_size, shape))
    n_out = config.dims[-1] if n_out is None else int(n_out)
    net.add_head(task, init.glorot(f"t{task}/head_W", (rows, n_out)),
                 init.bias(f"t{task}/head_b", (n_out,)))
    return net


def parts(stack, config, input_size: int, image_shape=None) -> dict:
    """What a DENNetwork of `stack` is made with besides its layers: the forward pass, the
    base size on these inputs, the architecture's name and the image shape."""
    shape = stack.image_shape(input_size, image_shape)
    base = stack.parameter_count(input_size, shape, stack.units(), int(config.dims[-1]), 1)
    if stack.dense_only:
        return {"forward": mlp_logits, "base_n_params": base, "arch": config.arch,
                "image_shape": None}
    # Convolution gradients XLA:CPU compiles well when the steps are compiled, else
    # TensorFlow's own (den_tf.model.conv.conv2d).
    forward = ConvForward(shape, stack.convs, native_grads=not config.xla)
    return {"forward": forward, "base_n_params": base, "arch": config.arch,
            "image_shape": shape}
