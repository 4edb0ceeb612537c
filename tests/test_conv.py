"""Convolutional DEN (issue 14, items 1, 2, 5): the filter layer's operations, group
lasso per filter, selection / pruning / duplication through filters and the flatten
blocks, the architectures' sizes and settings, checkpoint and export of a conv network,
and a 3-task lenet run on real MNIST that learns and grows."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from den_tf import api
from den_tf.config import DENConfig
from den_tf.datasets.base import ImageData, Split
from den_tf.datasets.streams import TaskSet
from den_tf.den.context import PhaseContext
from den_tf.den.expansion import expand, prune
from den_tf.den.selective import select_units, subnetwork, union
from den_tf.den.split import choose_units, duplicate
from den_tf.den.trainer import DENTrainer
from den_tf.engine.callbacks import Callback
from den_tf.engine.proximal import group_lasso_prox
from den_tf.engine.randomness import RandomBatches
from den_tf.errors import ConfigError
from den_tf.io import checkpoint
from den_tf.io.export import export
from den_tf.model import archs
from den_tf.model.archs.specs import NAMED, Conv
from den_tf.model.conv import ConvForward, DenConv2D, conv2d
from den_tf.model.layers import DenDense
from den_tf.model.network import DENNetwork
from tests.conftest import run_main
from tests.helpers import toy_hyper, toy_init, toy_task


# ----------------------------------------------------------------------------- helpers
def conv_layer(c_in=2, c_out=3, task=1):
    k = np.arange(2 * 2 * c_in * c_out, dtype=np.float32).reshape(2, 2, c_in, c_out)
    return DenConv2D(k, np.arange(c_out, dtype=np.float32) / 10, np.full(c_out, task))


# A tiny convolutional DEN network on 6x6x1 images: conv 3x3 (3 filters, SAME) + max-pool
# 2x2/2 -> 3x3; conv 3x3 (2 filters, SAME) -> 3x3; channel-major flatten: each filter of
# conv 2 owns a block of 9 rows of the dense layer (4 units); head of 10.
TINY_FORWARD = ConvForward((6, 6, 1), (Conv(3, 3, pool="max", pool_size=2), Conv(4, 3)))


def tiny_net(seed=0, kernels=None, head=None, task=1):
    init = toy_init(seed)
    k1, k2, w3 = kernels or (init.glorot("k1", (3, 3, 1, 3)), init.glorot("k2", (3, 3, 3, 2)),
                             init.glorot("w3", (18, 4)))
    b = lambda n: init.glorot("b", (n,))
    net = DENNetwork([DenConv2D(k1, b(3), [1] * 3, name="c1"),
                      DenConv2D(k2, b(2), [1] * 2, name="c2"),
                      DenDense(w3, b(4), [1] * 4, in_block=9, name="d")], input_size=36)
    net.forward = TINY_FORWARD
    head = init.glorot("h", (4, 10)) if head is None else head
    net.add_head(task, head, b(head.shape[1]))
    return net


def ctx_for(net, task=2, k=2, data=None, max_iter=25, **kw):
    return PhaseContext(task, net, toy_hyper(max_iter=max_iter, **kw), data or toy_task(d=36),
                        RandomBatches(400, 32, seed=1), toy_init(5), lambda s: None, ex_k=k)


# ----------------------------------------------------------------------------- the layer
def test_filters_append_delete_duplicate_keep_values_and_births():
    l = conv_layer()
    k0, b0 = l.numpy()
    l.append_units(np.full((2, 2, 2, 2), 7.0), [0.5, 0.6], task=3)
    k, b = l.numpy()
    assert k.shape == (2, 2, 2, 5)
    np.testing.assert_array_equal(k[..., :3], k0)
    np.testing.assert_array_equal(k[..., 3:], 7.0)
    np.testing.assert_array_equal(b, np.r_[b0, [0.5, 0.6]].astype(np.float32))
    assert list(l.birth) == [1, 1, 1, 3, 3]
    assert (l.units_at(1), l.units_at(2), l.units_at(3)) == (3, 3, 5)
    l.delete_units([3])
    k, b = l.numpy()
    np.testing.assert_array_equal(k[..., :3], k0)
    assert k.shape == (2, 2, 2, 4) and b[3] == np.float32(0.6) and list(l.birth) == [1, 1, 1, 3]
    l.duplicate_units([2, 0], bias=[0.9, 0.8], task=4)  # copies in ascending filter order
    k, b = l.numpy()
    np.testing.assert_array_equal(k[..., 4], k0[..., 0])
    np.testing.assert_array_equal(k[..., 5], k0[..., 2])
    assert list(l.birth) == [1, 1, 1, 3, 4, 4] and list(b[4:]) == [np.float32(0.9), np.float32(0.8)]


def test_input_channels_append_delete_duplicate():
    l = conv_layer()
    k0, _ = l.numpy()
    l.append_inputs(np.full((2, 2, 1, 3), 5.0))
    assert l.n_in == 3 and l.kernel.shape == (2, 2, 3, 3)
    l.delete_inputs([1])  # channels now: old 0, the new one
    l.duplicate_inputs([1, 0])  # copies appended in ascending order: old 0, then new
    k, _ = l.numpy()
    assert k.shape == (2, 2, 4, 3)
    np.testing.assert_array_equal(k[:, :, 0], k0[:, :, 0])
    np.testing.assert_array_equal(k[:, :, 1], 5.0)
    np.testing.assert_array_equal(k[:, :, 2], k0[:, :, 0])
    np.testing.assert_array_equal(k[:, :, 3], 5.0)


def test_dense_after_the_flatten_moves_whole_blocks():
    w = np.arange(12 * 2, dtype=np.float32).reshape(12, 2)  # 3 filters below, 4 rows each
    d = DenDense(w, np.zeros(2), [1, 1], in_block=4)
    assert d.n_in == 3
    d.delete_inputs([1])
    np.testing.assert_array_equal(d.kernel.numpy(), np.r_[w[:4], w[8:]])
    d.duplicate_inputs([1])  # now filter 1 is the old filter 2
    np.testing.assert_array_equal(d.kernel.numpy()[8:], w[8:])
    d.append_inputs(np.full((4, 2), 9.0))
    assert d.n_in == 4 and d.kernel.shape == (16, 2)
    assert d.input_block_shape(2) == (8, 2) and d.unit_block_shape(3) == (16, 3)
    with pytest.raises(ValueError):
        d.append_inputs(np.ones((3, 2)))  # not a whole block
    k, _ = d.sliced(2, 1)  # a task that saw 2 filters and 1 unit: rows of 2 blocks
    np.testing.assert_array_equal(k.numpy(), np.r_[w[:4], w[8:]][:, :1])


def test_timestamp_slices_forward_masks_and_settings():
    l = conv_layer(c_in=2, c_out=3)
    l.append_units(np.ones((2, 2, 2, 2)), [1, 1], task=2)
    w, b = l.sliced(2, 3)
    assert w.shape == (2, 2, 2, 3) and b.shape == (3,)
    x = tf.constant(np.random.RandomState(0).rand(2, 4, 4, 2).astype(np.float32))
    assert l(x, task=1).shape == (2, 4, 4, 3) and l(x, task=2).shape == (2, 4, 4, 5)
    np.testing.assert_array_equal(l(x, task=1).numpy(), l(x, task=2).numpy()[..., :3])
    l.set_trainable(np.ones((2, 2, 2, 5), bool), np.ones(5, bool))
    with pytest.raises(ValueError):
        l.set_trainable(np.ones((2, 2, 5), bool), True)
    with pytest.raises(ValueError):
        DenConv2D(np.ones((2, 2, 1, 2)), np.ones(2), [1, 1], padding="FULL")
    with pytest.raises(ValueError):
        DenConv2D(np.ones((2, 2)), np.ones(2), [1, 1])  # a conv kernel is 4-D
    assert l.like(*l.numpy(), l.birth).padding == "SAME"


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("size", [3, 4, 5])
def test_conv_gradients_match_tensorflows(padding, size):
    """den_tf.model.conv.conv2d's own gradients (canonical convolutions, for XLA:CPU) give
    TensorFlow's values, within float summation order (rtol 1e-5)."""
    rng = np.random.RandomState(size)
    x = tf.constant(rng.randn(3, 9, 8, 4).astype(np.float32))
    k = tf.constant(rng.randn(size, size, 4, 6).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, k])
        ours = tf.reduce_sum(tf.sin(conv2d(x, k, padding)))
        theirs = tf.reduce_sum(tf.sin(tf.nn.conv2d(x, k, 1, padding)))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)
    for a, b in zip(tape.gradient(ours, [x, k]), tape.gradient(theirs, [x, k])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-4)


def test_old_task_outputs_bitwise_unchanged_after_filter_growth_and_training():
    """Task 2 expands every layer by 2 filters / units and trains the new blocks under
    XLA (old blocks frozen by mask): task 1's outputs stay the same, bit for bit."""
    net = tiny_net()
    data = toy_task(d=36)
    net.stamps[1] = net.stamp(1)
    before = net.logits(data.test_x, 1).numpy()
    old = [l.kernel.numpy() for l in net.hidden]
    net.add_head(2, toy_init(9).glorot("h", (4, 10)), np.zeros(10, np.float32))
    ctx = ctx_for(net, k=2, data=data)
    grown = {}

    class Remember(Callback):  # the grown kernels, before training
        def on_phase_begin(self, spec, runner):
            grown.update({i: l.kernel.numpy() for i, l in enumerate(spec.layers[:-1])})
    ctx.callbacks = [Remember()]
    expand(ctx)
    assert np.array_equal(before, net.logits(data.test_x, 1).numpy())
    assert net.sizes() == [5, 4, 6]
    assert [tuple(l.kernel.shape) for l in net.hidden] == [(3, 3, 1, 5), (3, 3, 5, 4), (36, 6)]
    for i, (l, k) in enumerate(zip(net.hidden, old)):
        now = l.kernel.numpy()
        np.testing.assert_array_equal(now[tuple(slice(0, n) for n in k.shape)], k)
        assert not np.array_equal(now[..., -2:], grown[i][..., -2:])  # bw trained
    k2 = net.hidden[1].kernel.numpy()  # tw: new channels 3, 4 into old filters 0, 1
    assert not np.array_equal(k2[:, :, 3:, :2], grown[1][:, :, 3:, :2])
    d = net.hidden[2].kernel.numpy()  # tw of the dense layer: the new filters' blocks
    assert d.shape == (36, 6) and not np.array_equal(d[18:, :4], grown[2][18:, :4])


# ----------------------------------------------------------------------------- group lasso
def test_group_lasso_one_group_per_filter_by_hand():
    v = np.zeros((2, 2, 2, 4), np.float32)
    v[..., 0] = 0.15  # ||f|| = 0.15 * sqrt(8) = 0.424 < 0.5: the whole filter goes
    v[..., 1] = 0.2  # ||f|| = 0.566 > 0.5 (each 2-entry column 0.28): shrunk, not zeroed
    v[..., 2] = 1.0  # ||f|| = 2.828: scaled by 1 - 0.5 / 2.828
    v[0, 0, 0, 3], v[1, 1, 1, 3] = 3.0, 4.0  # ||f|| = 5: scaled by 0.9
    out = group_lasso_prox(tf.constant(v), 0.5).numpy()
    norms = np.sqrt((v ** 2).reshape(-1, 4).sum(0))
    expect = np.where(norms < 0.5, 0.0, v * (1 - 0.5 / norms))
    np.testing.assert_allclose(out, expect, rtol=1e-6, atol=1e-7)
    assert not out[..., 0].any() and out[..., 1].all()
    # a block: the new filters' kernels over the old channel (bw) and the new channel's
    # slice into the old filters (tw); each block column v[..., j] is one group.
    bw = np.zeros(v.shape, bool)
    bw[:, :, 0, 2:] = True
    out = group_lasso_prox(tf.constant(v), 0.5, tf.constant(bw)).numpy()
    np.testing.assert_array_equal(out[~bw], v[~bw])
    n2 = np.sqrt((v[:, :, 0, 2] ** 2).sum())  # 2.0: scaled by 0.75
    np.testing.assert_allclose(out[:, :, 0, 2], v[:, :, 0, 2] * (1 - 0.5 / n2), rtol=1e-6)
    assert out[0, 0, 0, 3] == np.float32(3.0 * (1 - 0.5 / 3.0))


def test_strong_group_lasso_prunes_every_new_filter_with_its_channels_and_blocks():
    """Expansion with gl_lambda far above the new blocks' norms: group lasso zeroes every
    new filter and unit, and pruning deletes them, their channels in the layer above and
    their flatten blocks in the dense layer: the network is back to its old shapes."""
    net = tiny_net()
    net.stamps[1] = net.stamp(1)
    old = [l.kernel.numpy() for l in net.hidden]
    net.add_head(2, toy_init(9).glorot("h", (4, 10)), np.zeros(10, np.float32))
    ctx = ctx_for(net, k=2, max_iter=3, gl_lambda=100.0)
    expand(ctx)
    assert net.sizes() == [5, 4, 6]
    kept, deleted = prune(ctx, 3)
    assert kept == [0, 0, 0] and [d.tolist() for d in deleted] == [[3, 4], [2, 3], [4, 5]]
    assert [tuple(l.kernel.shape) for l in net.hidden] == [(3, 3, 1, 3), (3, 3, 3, 2), (18, 4)]
    for l, k in zip(net.hidden, old):
        np.testing.assert_array_equal(l.kernel.numpy(), k)
    assert net.heads[2].kernel.shape == (4, 10)


# ----------------------------------------------------------------------------- selection
def hand_made_net():
    """c1: 3 filters; c2 filter 0 reads c1 channel 1, filter 1 reads channels 0 and 2;
    dense unit 0 and 2 read only filter 1's block, unit 1 only filter 0's; head column 0
    reads units 0 and 2, column 1 unit 1."""
    rng = np.random.RandomState(3)
    k1 = rng.randn(3, 3, 1, 3).astype(np.float32)
    k2 = np.zeros((3, 3, 3, 2), np.float32)
    k2[2, 2, 1, 0] = 1.0
    k2[1, 1, 0, 1], k2[0, 2, 2, 1] = 0.7, -0.4
    w3 = np.zeros((18, 4), np.float32)
    w3[9 + 4, 0], w3[9 + 8, 2] = 0.5, -1.5
    w3[0:9, 1] = 1.0
    head = np.zeros((4, 2), np.float32)
    head[0, 0], head[2, 0], head[1, 1] = 1.0, 2.0, 1.0
    return tiny_net(kernels=(k1, k2, w3), head=head, task=2)


def test_selection_walks_down_through_the_flatten_blocks_and_filters():
    net = hand_made_net()
    sel = select_units(net, 2)
    assert [s.tolist() for s in sel] == [[0], [0, 2], [1], [0, 2]]
    # Q5 (any output): unit 1 joins, and with it filter 0 of c2 and channel 1 of c1
    assert [s.tolist() for s in select_units(net, 2, any_output=True)] == \
        [[0], [0, 1, 2], [0, 1], [0, 1, 2]]
    # one nonzero weight in the LAST row of filter 0's block into unit 2 selects filter 0
    net.hidden[2].kernel[8, 2].assign(0.1)
    assert [s.tolist() for s in select_units(net, 2)] == [[0], [0, 1, 2], [0, 1], [0, 2]]


def test_subnetwork_of_filters_computes_the_same_selected_output_and_unions_back():
    """The subnetwork (selected filters, their channels, their flatten blocks) gives the
    full network's output 0 on the same images; union writes it back."""
    net = hand_made_net()
    x = toy_task(d=36).test_x
    sel = select_units(net, 2)
    prev = net.hidden_values()
    sub, sub_prev = subnetwork(net, 2, sel, prev)
    assert [tuple(l.kernel.shape) for l in sub] == [(3, 3, 1, 2), (3, 3, 2, 1), (9, 2), (2, 1)]
    assert sub[2].in_block == 9 and isinstance(sub[0], DenConv2D)
    assert [tuple(a.shape) for a, _ in sub_prev.values()] == [(3, 3, 1, 2), (3, 3, 2, 1), (9, 2)]
    full = net.logits(x, 2).numpy()[:, 0]
    part = net.forward([v for l in sub for v in (l.kernel, l.bias)], x).numpy()[:, 0]
    np.testing.assert_allclose(part, full, rtol=1e-5, atol=1e-6)
    before = [l.numpy() for l in net.hidden]
    for l in sub:
        k, b = l.numpy()
        l.assign(k + 1, b + 1)
    union(net, 2, sel, sub)
    k2 = net.hidden[1].kernel.numpy()
    np.testing.assert_array_equal(k2[:, :, [0, 2], 1], before[1][0][:, :, [0, 2], 1] + 1)
    np.testing.assert_array_equal(k2[..., 0], before[1][0][..., 0])
    np.testing.assert_array_equal(k2[:, :, 1, 1], before[1][0][:, :, 1, 1])
    d = net.hidden[2].kernel.numpy()
    np.testing.assert_array_equal(d[9:18][:, [0, 2]], before[2][0][9:18][:, [0, 2]] + 1)
    np.testing.assert_array_equal(d[:9], before[2][0][:9])


# ----------------------------------------------------------------------------- prune, split
def grown_net():
    """The tiny network after a task-2 expansion by 2: c1 [1,1,1,2,2], c2 [1,1,2,2] over
    5 channels, dense [1,1,1,1,2,2] over 4 filter blocks, head 2 of 6 rows."""
    rng = np.random.RandomState(4)
    r = lambda *s: rng.randn(*s).astype(np.float32)
    net = DENNetwork([DenConv2D(r(3, 3, 1, 5), r(5), [1, 1, 1, 2, 2], name="c1"),
                      DenConv2D(r(3, 3, 5, 4), r(4), [1, 1, 2, 2], name="c2"),
                      DenDense(r(36, 6), r(6), [1, 1, 1, 1, 2, 2], in_block=9, name="d")],
                     input_size=36)
    net.forward = TINY_FORWARD
    net.add_head(2, r(6, 10), r(10))
    return net


def test_prune_deletes_zeroed_filters_with_their_channels_and_dense_blocks():
    net = grown_net()
    (k1, b1), (k2, b2), (w3, b3) = net.hidden_values()
    k1[..., 4] = 0  # new c1 filter 4: all zero
    k2[..., 3] = 0  # new c2 filter 3: all zero
    k2[0, 0, 0, 2] = 0  # c2 filter 2: one zero is not all zero
    w3[:, 5] = 0  # new dense unit 5: all zero
    for l, k, b in zip(net.hidden, (k1, k2, w3), (b1, b2, b3)):
        l.assign(k, b)
    before = [l.kernel.numpy() for l in net.hidden] + [net.heads[2].kernel.numpy()]
    kept, deleted = prune(ctx_for(net, k=2), repeated=9)
    assert kept == [1, 1, 1] and [d.tolist() for d in deleted] == [[4], [3], [5]]
    k1, k2, d = (l.kernel.numpy() for l in net.hidden)
    np.testing.assert_array_equal(k1, before[0][..., :4])
    np.testing.assert_array_equal(k2, before[1][:, :, :4, :3])  # channel 4 gone with filter 4
    rows = np.r_[0:27]  # filter 3's block, rows 27..35, gone with it
    np.testing.assert_array_equal(d, before[2][rows][:, :5])
    np.testing.assert_array_equal(net.heads[2].kernel.numpy(), before[3][:5])
    assert [list(l.birth) for l in net.hidden] == [[1, 1, 1, 2], [1, 1, 2], [1, 1, 1, 1, 2]]


def test_duplicating_a_filter_copies_its_channel_and_its_dense_block():
    net = tiny_net(task=2)
    before = [l.kernel.numpy() for l in net.hidden]
    duplicate(ctx_for(net), [np.array([1]), np.array([0]), np.array([2])])
    k1, k2, d = (l.kernel.numpy() for l in net.hidden)
    assert (k1.shape, k2.shape, d.shape) == ((3, 3, 1, 4), (3, 3, 4, 3), (27, 5))
    np.testing.assert_array_equal(k1[..., 3], before[0][..., 1])  # the copy of filter 1
    np.testing.assert_array_equal(k2[:, :, 3, :2], before[1][:, :, 1, :])  # ... its channel
    np.testing.assert_array_equal(k2[..., 2], k2[..., 0])  # copy of c2's filter 0
    np.testing.assert_array_equal(d[18:27, :4], before[2][0:9])  # ... its flatten block
    np.testing.assert_array_equal(d[:, 4], d[:, 2])  # copy of dense unit 2
    assert [list(l.birth) for l in net.hidden] == [[1, 1, 1, 2], [1, 1, 2], [1, 1, 1, 1, 2]]
    assert net.heads[2].kernel.shape == (5, 10)


def test_split_thresholds_per_layer_kind_and_drift_per_whole_filter():
    net = tiny_net()
    prev = net.hidden_values()
    k1 = prev[0][0].copy()
    k1[..., 0] += 0.01  # 9 entries of 0.01: filter drift 0.03 (no entry above 0.02)
    w3 = prev[2][0].copy()
    w3[0, 1] += 0.03  # dense unit 1: drift 0.03
    net.hidden[0].kernel.assign(k1)
    net.hidden[2].kernel.assign(w3)
    lines = []
    chosen, n_cand = choose_units(net, prev, spl_thr=0.05, ex_k=5, log=lines.append,
                                  spl_thr_conv=0.02)
    assert [c.tolist() for c in chosen] == [[0], [], []] and n_cand == [1, 0, 0]
    chosen, _ = choose_units(net, prev, spl_thr=0.025, ex_k=5, spl_thr_conv=0.04)
    assert [c.tolist() for c in chosen] == [[], [], [1]]


# ----------------------------------------------------------------------------- architectures
@pytest.mark.parametrize("name,shape,block", [("lenet", (28, 28, 1), 16),
                                              ("lenet", (32, 32, 3), 25),
                                              ("conv5", (28, 28, 1), 16),
                                              ("conv5", (32, 32, 3), 16)])
def test_architecture_sizes_and_base_capacity(name, shape, block):
    cfg = DENConfig(arch=name, dims=(10,))
    net = archs.build(cfg, toy_init(), int(np.prod(shape)), shape)
    spec = NAMED[name]
    convs = [l for l in net.hidden if isinstance(l, DenConv2D)]
    assert [l.n_out for l in convs] == [b.filters for b in spec.convs]
    assert [l.padding for l in convs] == [b.padding for b in spec.convs]
    assert all(l.kernel.shape[:2] == (5, 5) for l in convs)
    dense = net.hidden[len(convs):]
    assert [l.n_out for l in dense] == list(spec.fc)
    assert dense[0].in_block == block and dense[0].n_in == spec.convs[-1].filters
    assert net.n_params() == net.base_n_params and net.capacity() == 1.0
    assert net.logits(tf.zeros([2, int(np.prod(shape))]), 1).shape == (2, 10)
    assert net.stamp(1)[0] == int(np.prod(shape))


def test_documented_sizes():
    """The sizes README and den_tf/model/archs/specs.py state."""
    lenet, conv5 = NAMED["lenet"], NAMED["conv5"]
    assert [(b.filters, b.kernel, b.padding, b.pool_size, b.pool_stride) for b in lenet.convs] == \
        [(20, 5, "VALID", 2, 2), (50, 5, "VALID", 2, 2)] and lenet.fc == (800, 500)
    assert [(b.filters, b.pool_size) for b in conv5.convs] == \
        [(64, 3), (128, 3), (256, 0), (256, 0), (128, 3)] and conv5.fc == (384, 192)
    assert lenet.maps((28, 28, 1)) == [(12, 12, 20), (4, 4, 50)]
    assert conv5.maps((32, 32, 3))[-1] == (4, 4, 128)


def test_conv_settings_are_checked():
    DENConfig(arch="lenet", dims=(10,)).validate(784, 10, 55000)
    assert DENConfig(arch="lenet").validate(784, 10, 55000).dims == (10,)  # --n_classes
    with pytest.raises(ConfigError, match="reads only the head's size: give --dims=10"):
        DENConfig(arch="lenet", dims=(784, 312, 128, 10)).validate()  # never ignored
    DENConfig(arch="conv5", dims=(10,)).validate(3072, 10, 50000, (32, 32, 3))
    with pytest.raises(ConfigError, match="--arch=vgg"):
        DENConfig(arch="vgg").validate()
    with pytest.raises(ConfigError, match="--n_classes=10"):
        DENConfig(arch="lenet", dims=(7,)).validate()
    with pytest.raises(ConfigError, match="too small"):
        DENConfig(arch="lenet", dims=(10,)).validate(144, 10, 55000)
    with pytest.raises(ConfigError, match="not a square"):
        DENConfig(arch="lenet", dims=(10,)).validate(700, 10, 55000)
    with pytest.raises(ConfigError, match="--spl_thr_conv"):
        DENConfig(arch="lenet", dims=(10,), spl_thr_conv=-1.0).validate()
    with pytest.raises(ConfigError, match="at least 3 sizes"):
        DENConfig(dims=(784, 10), n_classes=10).validate()  # the MLP still needs them


def test_cli_rejects_bad_conv_flags_in_one_line(tmp_path, mnist_dir):
    for flag, needle in (("--arch=vgg", "--arch"), ("--spl_thr_conv=-0.5", "spl_thr_conv")):
        p = run_main([f"--data_dir={mnist_dir}", flag], cwd=str(tmp_path))
        err = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(err) == 1 and needle in err[0], p.stderr
    p = run_main([f"--data_dir={mnist_dir}", "--dims=10"], cwd=str(tmp_path))
    assert p.returncode == 2 and "at least 3 sizes" in p.stderr  # mlp: dims in full


# ----------------------------------------------------------------------------- a real run
LENET_ITERS = 100


@pytest.fixture(scope="module")
def lenet_run(mnist):
    """Convolutional DEN (lenet) on 3 real MNIST tasks: task 1 the images as they are,
    tasks 2 and 3 pixel-permuted (max-pooling over scrambled pixels learns slowly, so
    task 1 is the one that must learn); 100 iterations per phase, batch 32; validation
    and test sets cut to 1000 and 2000 images to keep it fast."""
    data = ImageData(mnist.train,
                     Split(mnist.validation.pixels[:1000], mnist.validation.labels[:1000]),
                     Split(mnist.test.pixels[:2000], mnist.test.labels[:2000]))
    cfg = DENConfig(arch="lenet", dims=(10,), max_iter=LENET_ITERS, batch_size=32, n_tasks=3,
                    train_seed=3)
    rng = np.random.RandomState(1004)
    tasks = TaskSet(data, [np.arange(784)] + [rng.permutation(784) for _ in range(2)], rng)
    lines = []
    trainer = DENTrainer(cfg, tasks, log=lines.append)
    out = api.run(cfg, data, log=lines.append, trainer=trainer)
    return {"trainer": trainer, "out": out, "log": lines, "cfg": cfg, "tasks": tasks}


def test_lenet_den_learns_and_grows_filters(lenet_run):
    out, trainer = lenet_run["out"], lenet_run["trainer"]
    auroc = out["auroc_matrix"]
    assert auroc[0][0] > 0.95
    assert auroc[2][0] > 0.95  # task 1 kept after two more tasks
    assert out["units_per_layer"][0] == [20, 50, 800, 500]
    for t in (1, 2):
        rec = trainer.records[t]
        assert rec.expanded and rec.kept[0] > 0 and rec.kept[1] > 0  # filters added
    sizes = out["units_per_layer"][-1]
    assert sizes[0] > 20 and sizes[1] > 50
    convs = trainer.network.hidden[:2]
    assert all(isinstance(l, DenConv2D) for l in convs)
    assert [l.units_at(1) for l in convs] == [20, 50]
    assert out["capacity"][0] == 1.0 and out["capacity"][-1] > out["capacity"][1] > 1.0
    assert any("Expanding 1th hidden unit" in l for l in lenet_run["log"])


def test_lenet_checkpoint_round_trip(lenet_run, tmp_path):
    trainer = lenet_run["trainer"]
    folder = checkpoint.save(trainer, str(tmp_path / "ck"))
    state = json.load(open(os.path.join(folder, checkpoint.STATE)))
    layers = state["network"]["layers"]
    assert [layers[f"hidden{i}"]["kind"] for i in (1, 2, 3, 4)] == ["conv", "conv", "dense", "dense"]
    back = api.restore(folder, lenet_run["cfg"], lenet_run["tasks"])
    a, b = trainer.network, back.network
    for la, lb in zip(a.hidden, b.hidden):
        assert type(la) is type(lb) and la.options() == lb.options()
        np.testing.assert_array_equal(la.kernel.numpy(), lb.kernel.numpy())
        np.testing.assert_array_equal(la.bias.numpy(), lb.bias.numpy())
        np.testing.assert_array_equal(la.birth, lb.birth)
    assert b.stamps == a.stamps and b.forward == a.forward
    assert b.capacity() == a.capacity() and b.n_params() == a.n_params()
    x = tf.constant(lenet_run["tasks"].data.test.images[:64])
    for t in (1, 2, 3):
        assert np.array_equal(a.logits(x, t).numpy(), b.logits(x, t).numpy())


def test_lenet_export_serves_raw_images(lenet_run, tmp_path):
    net, tasks = lenet_run["trainer"].network, lenet_run["tasks"]
    transforms = [{"kind": "identity"}] + [{"kind": "permute", "permutation": p}
                                           for p in tasks.permutations[1:]]
    path = export(net, str(tmp_path / "model"), transforms)
    model = tf.saved_model.load(path)
    raw = tasks.data.test.images[:50]
    for t in (1, 2, 3):
        got = model.signatures["serving_default"](images=tf.constant(raw),
                                                  task_id=tf.constant(t))["probabilities"]
        x = raw[:, tasks.permutations[t - 1]]
        want = tf.sigmoid(net.logits(tf.constant(x), t)).numpy()
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert model.timestamps.numpy().tolist() == [net.stamps[t] for t in (1, 2, 3)]


def test_cli_runs_lenet_end_to_end(tmp_path, mnist_dir):
    """--arch=lenet --dims=10 through the command line: 2 tasks, 2 steps per phase,
    without XLA (TensorFlow's own convolution gradients); the log has one expansion line
    per layer (2 conv + 2 dense) and the results name the architecture."""
    p = run_main([f"--data_dir={mnist_dir}", "--arch=lenet", "--dims=10", "--n_tasks=2",
                  "--max_iter=2", "--batch_size=16", "--train_seed=1", "--noxla",
                  "--figure=false", "--progress=off", "--log_file=run.log",
                  "--results=run.json", "--checkpoint_dir=ck"], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads((tmp_path / "run.json").read_text())
    assert res["config"]["arch"] == "lenet" and res["config"]["spl_thr_conv"] == 0.02
    assert res["units_per_layer"][0] == [20, 50, 800, 500]
    assert sum("Expanding" in l for l in p.stdout.splitlines()) == 4
    assert (tmp_path / "ck" / "task-002").is_dir()
    # the shape lines print each layer's real kernel: conv 5x5 of 1 channel into 20
    # filters, 5x5 of 20 into 50, then the dense layers (50 filters x 4x4 = 800 rows)
    lines = [l for l in (tmp_path / "run.log").read_text().splitlines() if ", shape : " in l]
    assert lines[:4] == [" [*] task 1, shape : [5, 5, 1, 20]",
                         " [*] task 2, shape : [5, 5, 20, 50]",
                         " [*] task 3, shape : [800, 800]", " [*] task 4, shape : [800, 500]"]
    assert lines[4:8] == lines[:4]  # task 1's overall evaluation
    a, b, c, d = res["units_per_layer"][1]  # after task 2's expansion
    assert lines[8:12] == [f" [*] task 1, shape : [5, 5, 1, {a}]",
                          f" [*] task 2, shape : [5, 5, {a}, {b}]",
                          f" [*] task 3, shape : [{b * 16}, {c}]",
                          f" [*] task 4, shape : [{c}, {d}]"]
    from den_tf.reference import compare_logs  # reads them: each layer's units
    tasks = compare_logs.parse((tmp_path / "run.log").read_text())
    assert [t.sizes for t in tasks] == res["units_per_layer"]


def test_kernel_shapes_of_a_timestamp():
    """A convolutional network's shape lines are its kernels' shapes at the timestamp
    (an older task's: fewer filters and fewer flatten rows); the MLP's are the
    timestamp's pairs, as the original prints them."""
    from den_tf.io import loglines
    net = tiny_net()
    assert net.kernel_shapes(net.stamp(1)) == [[3, 3, 1, 3], [3, 3, 3, 2], [18, 4]]
    assert net.kernel_shapes([36, 2, 1, 3, 10]) == [[3, 3, 1, 2], [3, 3, 2, 1], [9, 3]]
    assert loglines.kernel_shape_lines(net.kernel_shapes(net.stamp(1)))[0] == \
        " [*] task 1, shape : [3, 3, 1, 3]"
    mlp = DENNetwork.create([784, 20, 12, 10], toy_init(0))
    stamp = [784, 20, 12, 10]
    assert mlp.kernel_shapes(stamp) == [[784, 20], [20, 12]]
    assert loglines.kernel_shape_lines(mlp.kernel_shapes(stamp)) == loglines.shape_lines(stamp)
