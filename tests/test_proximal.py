"""Proximal updates against hand-worked cases (spec "Pieces shared by every phase")."""

import numpy as np
import pytest
import tensorflow as tf

from den_tf.engine.proximal import group_lasso_prox, l1_prox, proximal_step


def test_l1_soft_threshold_by_hand():
    v = tf.constant([0.5, -0.5, 0.05, -0.0999, 0.1, 0.0, -2.0])
    out = l1_prox(v, 0.1).numpy()
    # |v| < 0.1 -> 0; else v - 0.1 * sign(v); exactly 0.1 is not below the threshold.
    np.testing.assert_allclose(out, [0.4, -0.4, 0.0, 0.0, 0.0, 0.0, -1.9], atol=1e-7)
    assert out[4] == 0.0 and out[2] == 0.0


def test_l1_threshold_is_not_scaled_and_zero_lambda_is_identity():
    v = tf.constant([1e-6, 2e-5, -3e-5])
    np.testing.assert_allclose(l1_prox(v, 1e-5).numpy(), [0.0, 1e-5, -2e-5], rtol=1e-5)
    np.testing.assert_array_equal(l1_prox(v, 0.0).numpy(), v.numpy())


def test_group_lasso_columns_by_hand():
    # column 0 has norm 5 -> scaled by (1 - 1/5); column 1 has norm 0.5 < 1 -> zeroed;
    # column 2 has norm exactly 1 -> c - c = 0.
    v = tf.constant([[3.0, 0.3, 0.6], [4.0, 0.4, 0.8]])
    out = group_lasso_prox(v, 1.0).numpy()
    np.testing.assert_allclose(out, [[2.4, 0.0, 0.0], [3.2, 0.0, 0.0]], atol=1e-6)


def test_group_lasso_acts_only_inside_the_block_and_groups_by_block_column():
    v = np.array([[3.0, 1.0], [4.0, 1.0], [10.0, 0.1]], np.float32)
    block = np.array([[True, False], [True, False], [False, True]])
    out = group_lasso_prox(tf.constant(v), 1.0, tf.constant(block)).numpy()
    # block column 0 = rows 0-1 of column 0 (norm 5); row 2 of column 0 is outside.
    np.testing.assert_allclose(out[:2, 0], [2.4, 3.2], atol=1e-6)
    assert out[2, 0] == 10.0
    # block column 1 = row 2 only (norm 0.1 < 1): zeroed; rows 0-1 outside: unchanged.
    assert out[2, 1] == 0.0 and out[0, 1] == 1.0 and out[1, 1] == 1.0


def test_group_lasso_zero_column_stays_zero_without_nan():
    v = tf.zeros([4, 3])
    out = group_lasso_prox(v, 0.001).numpy()
    assert np.isfinite(out).all() and not out.any()


@pytest.mark.parametrize("order,col0", [
    ("l1_then_gl", [0.110096, -0.003058]),  # GL(L1(v))
    ("gl_only", [0.151931, -0.018991]),  # GL(v)
    ("gl_then_l1", [0.111931, 0.0]),  # L1(GL(v))
])
def test_proximal_step_orders_by_hand(order, col0):
    """Q14: L1 (0.04) and group lasso (0.25) in each order on a block (column 0); the
    entries outside the block get L1 alone in every order.

    column 0 = [0.4, -0.05]:
      L1 -> [0.36, -0.01], norm 0.360139, GL scale 1 - 0.25/0.360139 = 0.305823
        -> [0.110096, -0.003058]
      GL: norm sqrt(0.1625) = 0.403113, scale 0.379826 -> [0.151931, -0.018991]; then
        L1 -> [0.111931, 0]
    column 1 = [0.5, 0.02] (outside): L1 -> [0.46, 0].
    """
    v = tf.constant([[0.4, 0.5], [-0.05, 0.02]])
    block = tf.constant([[True, False], [True, False]])
    out = proximal_step(v, 0.04, 0.25, [block], order).numpy()
    np.testing.assert_allclose(out[:, 0], col0, rtol=0, atol=2e-6)
    np.testing.assert_allclose(out[:, 1], [0.46, 0.0], rtol=0, atol=1e-7)
    # no group: L1 alone, whatever the order
    np.testing.assert_allclose(proximal_step(v, 0.04, 0.25, (), order).numpy(),
                               [[0.36, 0.46], [-0.01, 0.0]], rtol=0, atol=1e-7)
