"""Convolutional DEN: the expandable convolutional layer, whose units are its filters,
and the forward pass of a convolutional stack (paper Sec. 4: DEN on convolutional
networks; the authors' convolutional code was never released).

`DenConv2D` is a `DenLayer` (den_tf/model/layers.py) with a kernel [kh, kw, c_in, c_out]: the
units are the filters (output channels, the last axis), each with a birth timestamp; the
input units are the input channels (axis -2). Every DEN operation is the layer family's
own, on those axes:

* expansion (algorithm.md#expansion): `append_units` adds ex_k filters (their kernels over
  the old input channels: `bw`); `append_inputs` adds the new input channels' slices to the
  layer above (`tw`), for the new filters of the layer below;
* group lasso (paper Eq. 3): one group per new filter, all its incoming weights
  (den_tf.engine.proximal reduces over every axis but the last);
* pruning (algorithm.md#pruning): `delete_units` drops the new filters group lasso zeroed,
  and the layer above `delete_inputs` their channels (or, for the first dense layer, their
  flatten blocks);
* selection (algorithm.md#selection): `inputs_feeding` gives the channels with any nonzero
  weight into the selected filters or units above;
* drift and duplication (algorithm.md#split): drift per filter over all its incoming weights;
  `duplicate_units` copies filters, and the layer above `duplicate_inputs` copies their
  channels (or flatten blocks);
* timestamps: `sliced(n_in, n_out)` gives kernel[:, :, :n_in, :n_out] (faithfulness.md#q12).

The flatten between the last convolutional layer and the first dense layer is
channel-major: the [batch, H, W, C] maps are transposed to [batch, C, H, W] before the
reshape, so filter c's H*W outputs are rows c*H*W .. (c+1)*H*W-1 of the dense kernel,
one contiguous block. That dense layer has `in_block = H*W`: each block is one input unit
for every operation above, so a filter's block moves with it, and the blocks of the
filters a task sees are a prefix of the rows.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import tensorflow as tf

from den_tf.model.forward import TrailingGrad, matmul, mlp_features, trailing_grad
from den_tf.model.layers import DenLayer


def flatten(h):
    """Maps [batch, H, W, C] flattened channel-major (the original's reading of a conv
    stack's output: all of channel 0, then channel 1, ...), [batch, C * H * W]."""
    n = int(h.shape[1]) * int(h.shape[2]) * int(h.shape[3])
    return tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [-1, n])


def same_pads(size: int, kernel: int, stride: int = 1):
    """(before, after) padding of TensorFlow's SAME along one axis of `size` entries (the
    odd entry goes after)."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x, kernel, padding: str, native_grads: bool = False, stride: int = 1):
    """tf.nn.conv2d(x, kernel, stride, padding), with its gradients written as plain
    forward convolutions in TensorFlow's canonical layouts ([batch, H, W, channels] and
    [kh, kw, in, out]); `native_grads`: TensorFlow's own gradient kernels instead.

    Why: inside the runner's compiled loop of steps (a while loop under XLA), XLA:CPU
    leaves the convolution of TF's own kernel gradient (Conv2DBackpropFilter) in a
    non-canonical layout and emits it as naive loops; measured on lenet at batch 256,
    about 11 s per step instead of a fraction of one. Here the kernel gradient is the
    convolution of the transposed (padded) inputs [in, H, W, batch] with the transposed
    output gradient [H', W', batch, out] (dilated by the stride), and the input gradient
    the convolution of the padded output gradient with the flipped, transposed kernel
    (for a stride above 1, TensorFlow's transposed convolution). Same values up to float
    summation order (tests/test_conv.py checks both against TensorFlow's). Without XLA,
    TensorFlow's own gradient kernels (oneDNN on CPU) are faster: `native_grads`.

    A `TrailingGrad` kernel (den_tf.model.forward) gets its gradient only on its trailing
    input channels and filters (with `native_grads`, TensorFlow's whole one)."""
    trailing = kernel if isinstance(kernel, TrailingGrad) else None
    if trailing is not None:
        kernel = trailing.kernel
    if native_grads:
        return tf.nn.conv2d(x, kernel, stride, padding)

    def kernel_grad(x_pad, dy):  # [kh, kw, in, out] of the channels and filters given
        if stride == 1:
            dk = tf.nn.conv2d(tf.transpose(x_pad, [3, 1, 2, 0]),
                              tf.transpose(dy, [1, 2, 0, 3]), 1, "VALID")  # [in, kh, kw, out]
        else:  # dk[i, j] = sum over outputs (y, x) of x_pad[s*y + i, s*x + j] * dy[y, x]
            dk = tf.nn.convolution(tf.transpose(x_pad, [3, 1, 2, 0]),
                                   tf.transpose(dy, [1, 2, 0, 3]), strides=1,
                                   padding="VALID", dilations=stride)
            dk = dk[:, :kh, :kw, :]
        return tf.transpose(dk, [1, 2, 0, 3])

    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])

    @tf.custom_gradient
    def f(x, k):
        y = tf.nn.conv2d(x, k, stride, padding)

        def grad(dy):
            if padding == "SAME":
                pads = [same_pads(int(x.shape[1]), kh, stride),
                        same_pads(int(x.shape[2]), kw, stride)]
            else:
                pads = [(0, 0), (0, 0)]
            if stride == 1:
                flipped = tf.transpose(tf.reverse(k, [0, 1]), [0, 1, 3, 2])  # [kh, kw, out, in]
                dy_pad = tf.pad(dy, [[0, 0], [kh - 1 - pads[0][0], kh - 1 - pads[0][1]],
                                     [kw - 1 - pads[1][0], kw - 1 - pads[1][1]], [0, 0]])
                dx = tf.nn.conv2d(dy_pad, flipped, 1, "VALID")
            else:
                dx = tf.nn.conv2d_transpose(dy, k, tf.shape(x), stride, padding)
            x_pad = tf.pad(x, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]])
            if trailing is not None:
                return dx, trailing_grad(kernel_grad, x_pad, dy, trailing)
            return dx, kernel_grad(x_pad, dy)

        return y, grad

    return f(x, kernel)


def pool2d(h, layer):
    """The pooling after a convolutional layer (`layer`: a den_tf.model.archs.specs.Conv):
    max or average over its windows, its stride and padding; none when it has none."""
    if layer.pool == "max":
        return tf.nn.max_pool2d(h, layer.pool_size, layer.pool_stride, layer.pool_padding)
    if layer.pool == "avg":
        return tf.nn.avg_pool2d(h, layer.pool_size, layer.pool_stride, layer.pool_padding)
    return h


class DenConv2D(DenLayer):
    """2-D convolution `y = act(conv2d(x, kernel, stride 1, padding) + bias)` whose filters
    carry birth stamps.

    Args:
      kernel: initial kernel, [kh, kw, c_in, c_out].
      bias: initial bias, [c_out].
      birth: task index at which each filter was born, [c_out] (non-decreasing).
      activation: "relu" (hidden) or None.
      padding: "SAME" or "VALID".
      stride: the convolution's stride (both axes).
    """

    KIND = "conv"
    NDIM = 4

    def __init__(self, kernel, bias, birth, activation: Optional[str] = "relu",
                 name: Optional[str] = None, in_block: int = 1, padding: str = "SAME",
                 stride: int = 1):
        if padding not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
        if int(stride) < 1:
            raise ValueError(f"stride must be a positive integer, got {stride}")
        if in_block != 1:
            raise ValueError("a convolutional layer's input units are single channels")
        super().__init__(kernel, bias, birth, activation, name, 1)
        self.padding = padding
        self.stride = int(stride)

    def options(self) -> dict:
        return {**super().options(), "padding": self.padding, "stride": self.stride}

    def call(self, x, task: Optional[int] = None):
        """x: [batch, H, W, channels]; the filters born at or before `task`."""
        w, b = self.sliced(int(x.shape[-1]), self.units_at(task))
        y = conv2d(x, w, self.padding, stride=self.stride) + b
        return tf.nn.relu(y) if self.activation == "relu" else y


@dataclasses.dataclass(frozen=True)
class ConvForward:
    """The forward pass of a convolutional DEN network, `forward(params, x) -> logits`.

    params: [K1, b1, ..., Kc, bc, W1, b1, ..., Wh, bh]: the convolutional layers' kernels
    and biases, then the dense layers' and the head's (as DENNetwork.params_for gives
    them). x: flat images [batch, H*W*C] in (H, W, C) order (the task's permutation or
    resampling already applied); they are reshaped to [batch, H, W, C] here. Every
    convolution (`conv2d`): its layer's stride and padding, relu, then its layer's
    pooling (`pool2d`); then the channel-major flatten (module docstring) and the dense
    layers of den_tf.model.forward.mlp_logits (relu hidden layers, linear head; a
    one-column head with a longer bias broadcasts, docs/faithfulness.md#q6).

    `layers`: the convolutional layers' specs (den_tf.model.archs.specs.Conv), in order.
    `native_grads`: TensorFlow's own convolution gradients (`conv2d`): for steps that are
    not compiled with XLA (--xla=false), where they are faster on CPU.

    Frozen and hashable: one compiled prediction function per architecture.
    """

    image_shape: Tuple[int, int, int]
    layers: tuple  # den_tf.model.archs.specs.Conv, one per convolutional layer
    native_grads: bool = False

    # It takes `TrailingGrad` kernels (den_tf.engine.program gives them).
    trailing_grads = True

    def __call__(self, params: Sequence, x):
        return matmul(self.features(params[:-2], x), params[-2]) + params[-1]

    def features(self, params: Sequence, x):
        """The hidden layers (every convolution, the flatten, the dense relu layers) of
        `params` without the head: what a head reads."""
        h = self.flat_maps(params, x)
        return mlp_features(params[2 * len(self.layers):], h)

    def flat_maps(self, params: Sequence, x):
        """The convolutional layers on images x, flattened channel-major."""
        h = tf.reshape(x, [-1] + [int(d) for d in self.image_shape])
        for i, layer in enumerate(self.layers):
            h = tf.nn.relu(conv2d(h, params[2 * i], layer.padding, self.native_grads,
                                  layer.stride) + params[2 * i + 1])
            h = pool2d(h, layer)
        return flatten(h)
