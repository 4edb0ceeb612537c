"""Subnetwork selection, pruning, split choice and duplication on toy weights
(spec steps 2, 4, 7, 8 and Q5, Q8, Q9, Q10)."""

import numpy as np

from den_tf.den.context import PhaseContext
from den_tf.den.expansion import prune
from den_tf.den.selective import select_units, subnetwork, union
from den_tf.den.split import choose_units, duplicate, reset_old_blocks
from den_tf.model.layers import DenDense
from den_tf.model.network import DENNetwork
from tests.helpers import toy_hyper, toy_init


def net_from(ws, head, task=2):
    hidden = [DenDense(w, np.arange(w.shape[1], dtype=np.float32), np.ones(w.shape[1], int))
              for w in ws]
    net = DENNetwork(hidden)
    net.add_head(task, head, np.zeros(head.shape[1]))
    return net


def ctx_for(net, task=2, k=2):
    return PhaseContext(task, net, toy_hyper(), None, None, toy_init(), lambda s: None, ex_k=k)


def test_selection_reads_head_column_zero_only_and_walks_down():
    w1 = np.ones((4, 3), np.float32)
    w2 = np.array([[1, 0], [0, 0], [0, 2]], np.float32)  # h1 unit 1 feeds nothing
    head = np.array([[0.5, 0.0], [0.0, 9.0]], np.float32)  # Q5: unit 1 only in column 1
    sel = select_units(net_from([w1, w2], head), 2)
    assert [s.tolist() for s in sel] == [[0, 1, 2, 3], [0], [0]]
    w2[2, 0] = 3.0  # now h1 unit 2 reaches the selected h2 unit 0
    sel = select_units(net_from([w1, w2], head), 2)
    assert sel[1].tolist() == [0, 2]


def test_selection_counts_negative_weights_as_connections():
    """Step 2: "nonzero", not "positive": a negative head weight selects its h2 unit, a
    negative weight into a selected unit selects the unit below."""
    w1 = np.ones((2, 4), np.float32)
    w2 = np.array([[0, 0, 0], [-0.5, 0, 0], [0, 0, 0.1], [0, -2, 0]], np.float32)
    head = np.array([[-0.3, 1.0], [0.0, 1.0], [0.2, 0.0]], np.float32)
    sel = select_units(net_from([w1, w2], head), 2)
    # h2: units 0 (negative) and 2; h1: unit 1 (negative, into h2 unit 0) and unit 2
    # (into h2 unit 2); h1 unit 3 feeds only h2 unit 1, which is not selected.
    assert [s.tolist() for s in sel] == [[0, 1], [1, 2], [0, 2]]


def test_subnetwork_and_union_roundtrip():
    rng = np.random.RandomState(0)
    w1, w2 = rng.randn(4, 3).astype(np.float32), rng.randn(3, 2).astype(np.float32)
    head = rng.randn(2, 5).astype(np.float32)
    net = net_from([w1, w2], head)
    sel = [np.arange(4), np.array([0, 2]), np.array([1])]
    prev = [(w1 * 0, np.zeros(3)), (w2 * 0, np.zeros(2))]
    sub, sub_prev = subnetwork(net, 2, sel, prev)
    assert [l.kernel.shape.as_list() for l in sub] == [[4, 2], [2, 1], [1, 1]]
    assert sub[-1].bias.shape == (5,)  # Q6: one column, full bias
    for l in sub:
        k, b = l.numpy()
        l.assign(k + 1, b + 1)
    union(net, 2, sel, sub)
    k1 = net.hidden[0].kernel.numpy()
    np.testing.assert_array_equal(k1[:, [0, 2]], w1[:, [0, 2]] + 1)
    np.testing.assert_array_equal(k1[:, 1], w1[:, 1])
    hk = net.heads[2].kernel.numpy()
    assert hk[1, 0] == head[1, 0] + 1 and hk[0, 0] == head[0, 0] and hk[1, 1] == head[1, 1]
    # the biases: retrained ones written back (the head's whole bias, Q6), others kept
    b1 = net.hidden[0].bias.numpy()
    np.testing.assert_array_equal(b1, np.float32([0, 1, 2]) + [1, 0, 1])
    np.testing.assert_array_equal(net.hidden[1].bias.numpy(), np.float32([0, 1]) + [0, 1])
    np.testing.assert_array_equal(net.heads[2].bias.numpy(), np.ones(5, np.float32))


def test_prune_deletes_all_zero_new_units_top_down():
    # layer 2 has 2 new units (cols 2, 3); col 3 all zero. layer 1 new units: cols 3, 4;
    # col 4 all zero -> its row in layer 2 goes too.
    w1 = np.ones((5, 5), np.float32)
    w1[:, 4] = 0
    w2 = np.arange(20, dtype=np.float32).reshape(5, 4) + 1
    w2[:, 3] = 0
    head = np.arange(8, dtype=np.float32).reshape(4, 2)
    net = net_from([w1, w2], head)
    kept, deleted = prune(ctx_for(net, k=2), repeated=7)
    assert kept == [1, 1] and [d.tolist() for d in deleted] == [[4], [3]]
    assert net.sizes() == [4, 3]
    assert net.hidden[1].kernel.shape == (4, 3) and net.heads[2].kernel.shape == (3, 2)
    np.testing.assert_array_equal(net.heads[2].kernel.numpy(), head[:3])


def test_prune_goes_top_down():
    """Step 7, top layer first, among the new units only: a new h2 unit whose only nonzero incoming weight comes
    from a new h1 unit that is deleted afterwards is KEPT (its column was nonzero when
    layer 2 was pruned); bottom-up would delete it. The log names layer 2 first."""
    w1 = np.ones((3, 4), np.float32)
    w1[:, 3] = 0  # new h1 units: 2, 3; unit 3 has no incoming weight -> deleted
    w1[:, 0] = 0  # an OLD unit with no incoming weight: not a candidate, kept
    w2 = np.ones((4, 4), np.float32)
    w2[:, 3] = [0, 0, 0, 0.7]  # new h2 unit 3: fed only by h1 unit 3
    net = net_from([w1, w2], np.ones((4, 2), np.float32))
    lines = []
    ctx = ctx_for(net, k=2)
    ctx.log = lines.append
    kept, deleted = prune(ctx, repeated=5)
    assert [d.tolist() for d in deleted] == [[3], []] and kept == [1, 2]
    assert net.sizes() == [3, 4]
    np.testing.assert_array_equal(net.hidden[1].kernel.numpy()[:, 3], 0)  # kept, now all zero
    assert [l.split(",")[0] for l in lines] == ["   [*] Expanding 2th hidden unit",
                                                "   [*] Expanding 1th hidden unit"]


def test_split_picks_the_least_drifted_candidates_q8():
    prev_w = np.zeros((3, 5), np.float32)
    now = np.zeros((3, 6), np.float32)  # one new unit appended: ignored
    now[0, :5] = [0.01, 0.2, 0.09, 0.5, 0.07]  # drift = |value|
    net = net_from([now], np.ones((6, 2), np.float32))
    lines = []
    chosen, n_cand = choose_units(net, [(prev_w, np.zeros(5))], spl_thr=0.05, ex_k=2,
                                  log=lines.append)
    assert chosen[0].tolist() == [4, 2] and n_cand == [4]  # smallest drifts first
    assert lines == ["   [*] split N in layer1: 2 / 4"]


def test_reset_then_duplicate_copies_reset_values_in_ascending_order():
    rng = np.random.RandomState(1)
    w1, w2 = rng.randn(3, 4).astype(np.float32), rng.randn(4, 2).astype(np.float32)
    net = net_from([w1 + 1, w2 + 1], np.ones((2, 3), np.float32))
    prev = [(w1[:, :3], np.zeros(3, np.float32)), (w2[:3], np.zeros(2, np.float32))]
    reset_old_blocks(net, prev)  # Q9: old block back to prev, new unit (col 3) kept
    k1 = net.hidden[0].kernel.numpy()
    np.testing.assert_array_equal(k1[:, :3], w1[:, :3])
    np.testing.assert_array_equal(k1[:, 3], w1[:, 3] + 1)
    ctx = ctx_for(net)
    duplicate(ctx, [np.array([2, 0]), np.array([1])])
    k1, b1 = net.hidden[0].numpy()
    np.testing.assert_array_equal(k1[:, 4], w1[:, 0])
    np.testing.assert_array_equal(k1[:, 5], w1[:, 2])
    assert ((b1[4:] >= 0) & (b1[4:] < 1)).all()  # Q10: U[0, 1)
    # ... drawn by init.duplicate_bias, layer 1 then layer 2, from the duplicates'
    # generator (toy_init(0): RandomState(1)), not from the glorot one
    want = np.random.RandomState(1).rand(3).astype(np.float32)
    np.testing.assert_array_equal(b1[4:], want[:2])
    assert net.hidden[1].bias.numpy()[2] == want[2]
    k2 = net.hidden[1].kernel.numpy()
    assert k2.shape == (6, 3)
    np.testing.assert_array_equal(k2[4], k2[0])  # rows copied for layer-1 copies
    np.testing.assert_array_equal(k2[5], k2[2])
    np.testing.assert_array_equal(k2[:, 2], k2[:, 1])  # column copy of unit 1
    assert net.heads[2].kernel.shape == (3, 3) and list(net.hidden[1].birth) == [1, 1, 2]
