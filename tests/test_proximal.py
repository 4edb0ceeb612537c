"""Proximal updates against hand-worked cases (spec "Pieces shared by every phase")."""

import numpy as np
import tensorflow as tf

from den_tf.proximal import group_lasso_prox, l1_prox


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
