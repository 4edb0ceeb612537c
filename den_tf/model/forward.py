"""The forward pass of the MLP, the loss, and the compiled prediction every evaluation
uses (spec "Output": logits = h @ W_t + b_t, sigmoid outputs, mean sigmoid CE).

Imports: nothing of den_tf but den_tf.model.
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence

import tensorflow as tf


def mlp_features(params: Sequence, x):
    """The hidden layers of the MLP `[W1, b1, ..., WL, bL]`: relu(x @ W + b), layer after
    layer (what the head reads)."""
    h = x
    for i in range(len(params) // 2):
        h = tf.nn.relu(tf.matmul(h, params[2 * i]) + params[2 * i + 1])
    return h


def mlp_logits(params: Sequence, x):
    """Logits of the MLP `[W1, b1, ..., WL, bL, Wh, bh]`: relu hidden layers, linear head.

    A head with ONE column and a bias of n_out broadcasts to n_out logits that share the
    column: the selective-retraining subnetwork of spec step 3 (Q6).
    """
    return tf.matmul(mlp_features(params[:-2], x), params[-2]) + params[-1]


def features_of(forward: Callable) -> Callable:
    """The hidden part of a forward pass, `features(hidden params, x)`: the MLP's
    `mlp_features`, or a forward pass's own `features` (den_tf.model.conv.ConvForward)."""
    return mlp_features if forward is mlp_logits else forward.features


def mean_sigmoid_ce(labels, logits):
    """Mean sigmoid cross-entropy over batch and outputs (spec: "Output")."""
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
