"""Proximal updates applied after every Adam step (algorithm.md#proximal).

Pure functions of tensors, vectorised (no per-column loops), used by the phase runner:

* `l1_prox`: soft thresholding, v <- 0 where |v| < lam, else v - lam * sign(v). The
  threshold is not scaled by the learning rate (as in the original). Paper Eq. (2)'s
  L1 term.
* `group_lasso_prox`: for each column c of a block, c <- 0 if ||c|| < lam, else
  c - lam * c / ||c||. Paper Eq. (3)'s group sparsity, applied to the blocks made for new
  units by expansion (algorithm.md#expansion). A "column" is everything along the axes but
  the last: one unit's incoming weights in a dense kernel [n_in, n_out], one filter's in a
  convolutional kernel [kh, kw, c_in, c_out] (one group per filter).

* `proximal_step`: both, in the order `prox_order` names. On the new blocks of an
  expansion the original applies the two with no order between them (faithfulness.md#q14);
  `l1_then_gl` (L1, then group lasso), `gl_only` (group lasso alone on those blocks)
  and `gl_then_l1` are the outcomes it can give. Entries outside every group block get
  L1 alone, whatever the order.
"""

from __future__ import annotations

import tensorflow as tf


def l1_prox(v, lam: float):
    """Soft-thresholds every entry of v by lam."""
    if lam == 0:
        return v
    return tf.where(tf.abs(v) < lam, tf.zeros_like(v), v - lam * tf.sign(v))


def group_lasso_prox(v, lam: float, block=None):
    """Shrinks the columns of `v` (or of the block of v that the boolean mask `block`
    marks: each column of the block is one group) towards zero by lam in L2 norm. A
    column is the slice v[..., j]: the norm reduces over every axis but the last (for a
    2-D v, axis 0).

    Entries outside the block are returned unchanged.
    """
    if lam == 0:
        return v
    inside = v if block is None else tf.where(block, v, tf.zeros_like(v))
    axis = 0 if len(v.shape) == 2 else list(range(len(v.shape) - 1))
    norm = tf.sqrt(tf.reduce_sum(tf.square(inside), axis=axis, keepdims=True))
    # Columns with norm 0 are below lam (> 0) and become 0: the division's NaN is never
    # selected.
    shrunk = tf.where(norm < lam, tf.zeros_like(v), v - lam * v / norm)
    return shrunk if block is None else tf.where(block, shrunk, v)


def proximal_step(v, l1_lambda: float, gl_lambda: float, groups,
                  prox_order: str):
    """The proximal updates after one optimizer step (algorithm.md#proximal,
    Q14): L1 on every entry and group lasso on every block of `groups` (boolean masks of
    v's shape; each column of a block, v[..., j], is one group), in the order
    `prox_order` names."""
    if not groups or prox_order == "l1_then_gl":
        v = l1_prox(v, l1_lambda)
        for block in groups:
            v = group_lasso_prox(v, gl_lambda, block)
        return v
    if prox_order == "gl_then_l1":
        for block in groups:
            v = group_lasso_prox(v, gl_lambda, block)
        return l1_prox(v, l1_lambda)
    if prox_order == "gl_only":
        g, inside = v, None
        for block in groups:
            g = group_lasso_prox(g, gl_lambda, block)
            inside = block if inside is None else tf.logical_or(inside, block)
        return tf.where(inside, g, l1_prox(v, l1_lambda))
    raise ValueError(f"unknown prox_order {prox_order!r}")
