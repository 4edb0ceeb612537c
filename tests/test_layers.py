"""DenDense growth operations and timestamp masks (spec steps 6-8, "End of every task")."""

import numpy as np
import pytest

from den_tf.den.expansion import expansion_spec
from den_tf.engine.randomness import RandomBatches
from den_tf.engine.runner import PhaseRunner
from den_tf.model.layers import DenDense
from tests.helpers import toy_hyper, toy_init, toy_network, toy_task


def layer(n_in=3, n_out=4, task=1):
    k = np.arange(n_in * n_out, dtype=np.float32).reshape(n_in, n_out)
    return DenDense(k, np.arange(n_out, dtype=np.float32) / 10, np.full(n_out, task))


def test_append_units_keeps_values_and_stamps_births():
    l = layer()
    old_k, old_b = l.numpy()
    l.append_units(np.full((3, 2), 7.0), [0.5, 0.6], task=3)
    k, b = l.numpy()
    np.testing.assert_array_equal(k[:, :4], old_k)
    np.testing.assert_array_equal(k[:, 4:], 7.0)
    np.testing.assert_array_equal(b, np.r_[old_b, [0.5, 0.6]].astype(np.float32))
    assert list(l.birth) == [1, 1, 1, 1, 3, 3]
    assert (l.units_at(1), l.units_at(2), l.units_at(3), l.units_at(None)) == (4, 4, 6, 6)


def test_delete_units_removes_columns_biases_and_births():
    l = layer()
    l.append_units(np.ones((3, 2)), [1, 2], task=2)
    k_before, _ = l.numpy()
    l.delete_units([4])
    k, b = l.numpy()
    np.testing.assert_array_equal(k, np.delete(k_before, 4, 1))
    assert list(b[-1:]) == [2.0] and list(l.birth) == [1, 1, 1, 1, 2]


def test_duplicate_units_appends_copies_in_ascending_order():
    l = layer()
    k0, _ = l.numpy()
    l.duplicate_units([3, 0], bias=[0.9, 0.8], task=2)  # chosen order 3, 0
    k, b = l.numpy()
    np.testing.assert_array_equal(k[:, 4], k0[:, 0])  # ascending: unit 0 first
    np.testing.assert_array_equal(k[:, 5], k0[:, 3])
    np.testing.assert_array_equal(b[4:], np.float32([0.9, 0.8]))
    assert list(l.birth) == [1, 1, 1, 1, 2, 2]


def test_input_rows_append_delete_duplicate():
    l = layer()
    k0, _ = l.numpy()
    l.append_inputs(np.full((2, 4), 5.0))
    assert l.n_in == 5
    l.delete_inputs([3])
    l.duplicate_inputs([2, 0])
    k, _ = l.numpy()
    np.testing.assert_array_equal(k[:3], k0)
    np.testing.assert_array_equal(k[3], 5.0)
    np.testing.assert_array_equal(k[4], k0[0])
    np.testing.assert_array_equal(k[5], k0[2])


def test_forward_slices_to_the_units_of_a_task():
    l = layer()
    l.append_units(np.ones((3, 2)), [1, 1], task=2)
    x = np.ones((2, 3), np.float32)
    assert l(x, task=1).shape == (2, 4) and l(x, task=2).shape == (2, 6)
    np.testing.assert_array_equal(l(x, task=1).numpy(), l(x, task=2).numpy()[:, :4])


def test_births_must_not_decrease_and_masks_must_fit():
    with pytest.raises(ValueError):
        DenDense(np.ones((2, 2)), np.ones(2), [2, 1])
    with pytest.raises(ValueError):
        layer().set_trainable(np.ones((2, 2), bool), True)


def test_old_task_outputs_bitwise_unchanged_after_growth_and_training():
    """Grow the network for task 2 and train the new blocks (old blocks frozen): the
    forward of task 1 gives the same outputs, bit for bit."""
    net = toy_network()
    data = toy_task()
    net.stamps[1] = net.stamp(1)
    before = net.logits(data.test_x, 1).numpy()
    init = toy_init(5)
    net.add_head(2, init.glorot("h", (8, 10)), init.glorot("hb", (10,)))
    for i, l in enumerate(net.hidden):  # expansion: 3 new units per layer
        l.append_units(init.glorot("bw", (l.n_in, 3)), init.glorot("bb", (3,)), 2)
        if i:
            l.append_inputs(init.glorot("tw", (3, l.n_out)))
    net.heads[2].append_inputs(init.glorot("rows", (3, 10)))
    spec = expansion_spec(net, 2)
    new_units = [(l.kernel.numpy()[:, -3:], l.kernel.numpy()[-3:, :] if i else None,
                  l.bias.numpy()[-3:]) for i, l in enumerate(net.hidden)]
    head_before = net.heads[2].kernel.numpy()
    PhaseRunner(spec, toy_hyper(max_iter=25), xla=True).run(
        data, RandomBatches(400, 32, seed=1))
    after = net.logits(data.test_x, 1).numpy()
    assert np.array_equal(before, after)
    # ...while the network did grow and the new units did train: nearly every entry of
    # their columns, rows (tw) and biases moved from its initial value
    assert net.sizes() == [15, 11]
    for i, (l, (cols, rows, bias)) in enumerate(zip(net.hidden, new_units)):
        k, b = l.numpy()
        assert np.mean(k[:, -3:] != cols) > 0.9 and np.all(b[-3:] != bias), i
        if rows is not None:
            assert np.mean(k[-3:, :] != rows) > 0.9, i
    assert np.mean(net.heads[2].kernel.numpy() != head_before) > 0.9


def test_capacity_counts_every_head_at_its_timestamp():
    """The parameter count behind "capacity" (network.py, the paper's "1.39x"): hidden
    layers at their sizes now, each head at the top-layer size of ITS task's timestamp.

    dims (4, 3, 2, 5). Base network: 4*3 + 3 + 3*2 + 2 + 2*5 + 5 = 38.
    Task 2 adds one unit to each hidden layer: W1 4*4 + 4 = 20, W2 4*3 + 3 = 15,
    head 2 3*5 + 5 = 20, head 1 still 2*5 + 5 = 15 (task 1 had 2 top units): 70.
    Task 3 adds one more top unit: W2 4*4 + 4 = 20, head 3 4*5 + 5 = 25: 20 + 20 + 20 +
    15 + 25 = 100; capacity 100 / 38.
    """
    dims = (4, 3, 2, 5)
    init = toy_init(2)
    net = toy_network(dims, seed=2)
    assert net.base_params(dims) == 38 and net.n_params() == 38
    net.stamps[1] = net.stamp(1)
    l1, l2 = net.hidden
    l1.append_units(init.glorot("bw", (4, 1)), [0.0], 2)
    l2.append_inputs(init.glorot("tw", (1, 2)))
    l2.append_units(init.glorot("bw", (4, 1)), [0.0], 2)
    net.add_head(2, init.glorot("h", (3, 5)), np.zeros(5))
    net.stamps[2] = net.stamp(2)
    assert net.n_params() == 70
    l2.append_units(init.glorot("bw", (4, 1)), [0.0], 3)
    net.add_head(3, init.glorot("h", (4, 5)), np.zeros(5))
    assert net.n_params() == 100
    assert net.capacity(dims) == pytest.approx(100 / 38)
