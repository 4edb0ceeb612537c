"""Weight gradients only where a phase trains (issue 22, item 3): the expansion's new
blocks (spec step 6: `bw`, the new units' columns; `tw`, the rows of the new units below)
lie in a kernel's trailing rows and columns, and the runner gives such kernels to the
forward pass as `TrailingGrad`, whose gradient is computed on those blocks only."""

import numpy as np
import pytest
import tensorflow as tf

from den_tf.den.expansion import expansion_spec
from den_tf.engine.randomness import RecordedBatches
from den_tf.engine.program import trailing_blocks
from den_tf.engine.runner import PhaseRunner
from den_tf.model.conv import conv2d
from den_tf.model.forward import MIN_BLOCK, TrailingGrad, matmul, mlp_logits
from tests.helpers import toy_hyper, toy_init, toy_network, toy_task


def grown(dims=(20, 48, 40, 10), k=2):
    """A toy network after task 2's expansion by k units per layer (spec step 6)."""
    net = toy_network(dims)
    init = toy_init(3)
    net.stamps[1] = net.stamp(1)
    net.add_head(2, init.glorot("w", (dims[-2], 10)), init.glorot("b", (10,)))
    for i, layer in enumerate(net.hidden):
        layer.append_units(init.glorot("bw", (layer.n_in, k)), init.glorot("bb", (k,)), 2)
        if i:
            layer.append_inputs(init.glorot("tw", (k, layer.n_out)))
    net.heads[2].append_inputs(init.glorot("r", (k, 10)))
    return net


def test_the_expansions_masks_are_trailing_blocks_and_other_masks_are_not():
    net = grown()
    expansion_spec(net, 2)
    l1, l2 = net.hidden
    assert trailing_blocks(l1.kernel_mask) == (20, 48)  # no new rows: the new columns
    assert trailing_blocks(l2.kernel_mask) == (48, 40)  # tw rows and bw columns
    assert trailing_blocks(True) is None and trailing_blocks(np.ones((4, 5), bool)) is None
    m = np.asarray(l1.kernel_mask).copy()
    m[0, 0] = True  # one trainable entry in the old block: not the pattern
    assert trailing_blocks(m) is None


def _grads(op, x, k, blocks):
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, k])
        ours = tf.reduce_sum(tf.sin(op(x, TrailingGrad(k, *blocks))))
        whole = tf.reduce_sum(tf.sin(op(x, k)))
    return ours, whole, tape.gradient(ours, [x, k]), tape.gradient(whole, [x, k])


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_trailing_gradient_is_the_whole_one_on_its_blocks_and_zero_elsewhere(kind):
    rng = np.random.RandomState(0)
    if kind == "dense":
        x = tf.constant(rng.rand(64, 100).astype(np.float32))
        k = tf.constant(rng.randn(100, 80).astype(np.float32) / 10)
        blocks, op = (90, 70), matmul
    else:
        x = tf.constant(rng.rand(4, 6, 6, 40).astype(np.float32))
        k = tf.constant(rng.randn(3, 3, 40, 44).astype(np.float32) / 10)
        blocks, op = (36, 40), lambda a, b: conv2d(a, b, "SAME")
    ours, whole, (dx, dk), (dx_w, dk_w) = _grads(op, x, k, blocks)
    assert float(ours) == float(whole)  # the forward pass is the same computation
    np.testing.assert_array_equal(dx.numpy(), dx_w.numpy())  # the input gradient too
    n_in, n_out = k.shape[-2], k.shape[-1]
    row0, col0 = min(blocks[0], n_in - MIN_BLOCK), min(blocks[1], n_out - MIN_BLOCK)
    assert row0 > 0 and col0 > 0
    covered = np.zeros(k.shape, bool)
    covered[..., row0:, :] = True
    covered[..., col0:] = True
    assert (~covered).any()  # something is left out
    dk, dk_w = dk.numpy(), dk_w.numpy()
    np.testing.assert_allclose(dk[covered], dk_w[covered], rtol=1e-6, atol=1e-7)
    assert not dk[~covered].any() and dk_w[~covered].any()


def test_an_expansion_phase_trains_the_same_with_and_without_trailing_gradients():
    """Same minibatches, the expansion phase run with the MLP's forward (TrailingGrad
    kernels) and with a forward that does not take them (whole gradients): the same
    weights (within float sums' order), the frozen entries unmoved in both."""
    idx = np.random.RandomState(0).randint(0, 400, (60, 32))
    out, runners = [], []
    for forward in (mlp_logits, lambda params, x: mlp_logits(params, x)):
        net = grown()
        net.forward = forward
        before = [l.kernel.numpy() for l in net.hidden]
        spec = expansion_spec(net, 2)
        runner = PhaseRunner(spec, toy_hyper(max_iter=60, lr=0.01), xla=True)
        runner.run(toy_task(d=20), RecordedBatches({"t2_expand": idx}))
        runners.append(runner)
        for layer, k in zip(net.hidden, before):
            m = np.asarray(layer.kernel_mask)
            assert np.array_equal(layer.kernel.numpy()[~m], k[~m])
            assert not np.array_equal(layer.kernel.numpy()[m], k[m])
        out.append([v.numpy() for v in net.variables_for(2)])
    assert sorted(runners[0]._trailing) == [0, 2] and not runners[1]._trailing
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
