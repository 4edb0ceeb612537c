"""The forward pass of the MLP, the loss, and the compiled prediction every evaluation
uses (algorithm.md#output: logits = h @ W_t + b_t, sigmoid outputs, mean sigmoid CE).

Imports: nothing of den_tf but den_tf.model.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Sequence

import tensorflow as tf


@dataclasses.dataclass(frozen=True, eq=False)
class TrailingGrad:
    """A kernel of which a phase trains only entries in its trailing input rows (axis -2,
    from `row0`) or its trailing units (the last axis, from `col0`): the blocks of
    algorithm.md#expansion (`bw`: the new units' columns, `tw`: the rows of the new units
    below). A forward pass given one (through `matmul` here or den_tf.model.conv.conv2d)
    computes the same outputs, and the kernel gradient only on those rows and columns (zeros
    elsewhere: entries the phase does not train, whose gradient it discards). Each entry
    computed is the same sum over the batch as in the whole gradient; what it saves is the
    rest (in the expansion phase, most of the first layer's weight gradient)."""

    kernel: Any
    row0: int
    col0: int


# The narrowest block `trailing_grad` computes: XLA:CPU computes smaller products by
# another routine, whose sums run in another order. Blocks at least this wide, computed
# on their own, gave the whole gradient's entries to the bit in 480 shapes around a
# default run's (256-row products, 128..784 by 128..394, 1..10 new units or rows) on the
# project's machine; inside a compiled step XLA may still compute one differently, so a
# run's last digits can move (docs/speed.md, "Weight gradients only where the expansion
# trains").
MIN_BLOCK = 32


def trailing_grad(grad_of, x, dy, k: TrailingGrad):
    """The kernel gradient of `k` on its trailing rows and columns (each block widened
    to at least MIN_BLOCK rows or columns where the kernel has them), zero elsewhere.

    grad_of(x part, dy part) -> the kernel gradient [..., rows, columns] of the input
    channels (last axis of x) and output units (last axis of dy) given."""
    shape = [int(d) for d in k.kernel.shape]
    n_in, n_out = shape[-2], shape[-1]
    row0 = k.row0 if k.row0 >= n_in else max(0, min(k.row0, n_in - MIN_BLOCK))
    col0 = k.col0 if k.col0 >= n_out else max(0, min(k.col0, n_out - MIN_BLOCK))
    if row0 == 0 or col0 == 0:  # the blocks cover the kernel
        return grad_of(x, dy)
    if row0 < n_in:  # the rows from row0, to the units before col0
        left = tf.concat([tf.zeros(shape[:-2] + [row0, col0]),
                          grad_of(x[..., row0:], dy[..., :col0])], axis=-2)
    else:
        left = tf.zeros(shape[:-1] + [col0])
    if col0 == n_out:
        return left
    return tf.concat([left, grad_of(x, dy[..., col0:])], axis=-1)  # every row, from col0


def matmul(h, k):
    """h @ kernel; for a `TrailingGrad` kernel, its gradient only where the phase trains
    (the input gradient as TensorFlow's own: dy @ kernel^T)."""
    if not isinstance(k, TrailingGrad):
        return tf.matmul(h, k)

    @tf.custom_gradient
    def f(h, w):
        def grad(dy):
            return (tf.matmul(dy, w, transpose_b=True),
                    trailing_grad(lambda a, b: tf.matmul(a, b, transpose_a=True), h, dy, k))
        return tf.matmul(h, w), grad

    return f(h, k.kernel)


def mlp_features(params: Sequence, x):
    """The hidden layers of the MLP `[W1, b1, ..., WL, bL]`: relu(x @ W + b), layer after
    layer (what the head reads)."""
    h = x
    for i in range(len(params) // 2):
        h = tf.nn.relu(matmul(h, params[2 * i]) + params[2 * i + 1])
    return h


def mlp_logits(params: Sequence, x):
    """Logits of the MLP `[W1, b1, ..., WL, bL, Wh, bh]`: relu hidden layers, linear head.

    A head with ONE column and a bias of n_out broadcasts to n_out logits that share the
    column: the selective-retraining subnetwork of algorithm.md#retraining (Q6).
    """
    return matmul(mlp_features(params[:-2], x), params[-2]) + params[-1]


# The MLP's forward pass takes `TrailingGrad` kernels (den_tf.engine.program gives them),
# and padded hidden units (--capacity_bucket: a unit of zero weights and bias is
# relu(0) = 0, and the zero rows below it add nothing).
mlp_logits.trailing_grads = True
mlp_logits.pads_units = True


def features_of(forward: Callable) -> Callable:
    """The hidden part of a forward pass, `features(hidden params, x)`: the MLP's
    `mlp_features`, or a forward pass's own `features` (den_tf.model.conv.ConvForward)."""
    return mlp_features if forward is mlp_logits else forward.features


def mean_sigmoid_ce(labels, logits):
    """Mean sigmoid cross-entropy over batch and outputs (algorithm.md#output)."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


_PREDICT: Dict[tuple, Callable] = {}


def predict(params: Sequence, x, y, xla: bool = True, forward: Callable = mlp_logits):
    """(mean CE, sigmoid outputs) of the network `forward(params, x)` on (x, y); compiled
    once per forward pass and shape."""
    key = (forward, bool(xla))
    if key not in _PREDICT:
        def _predict(params, x, y):
            logits = forward(params, x)
            return mean_sigmoid_ce(y, logits), tf.sigmoid(logits)
        _PREDICT[key] = tf.function(_predict, jit_compile=bool(xla))
    return _PREDICT[key]([tf.convert_to_tensor(p) for p in params], x, y)


_PROBABILITIES: Dict[tuple, Callable] = {}


def probabilities(params: Sequence, x, xla: bool = True, forward: Callable = mlp_logits):
    """The sigmoid outputs of the network `forward(params, x)` on x; compiled once per
    forward pass and shape."""
    key = (forward, bool(xla))
    if key not in _PROBABILITIES:
        _PROBABILITIES[key] = tf.function(lambda params, x: tf.sigmoid(forward(params, x)),
                                          jit_compile=bool(xla))
    return _PROBABILITIES[key]([tf.convert_to_tensor(p) for p in params], x)
