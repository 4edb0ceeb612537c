"""The one phase runner: the step's arithmetic, masks, the run_epoch loop, XLA on/off."""

import numpy as np
import pytest
import tensorflow as tf

from den_tf.datasets.tensors import TaskTensors
from den_tf.den.expansion import expansion_spec
from den_tf.den.first_task import first_task_spec
from den_tf.den.selective import head_spec
from den_tf.engine.randomness import RandomBatches, RecordedBatches
from den_tf.engine.runner import PhaseRunner
from den_tf.errors import NumericalError
from den_tf.model.forward import mean_sigmoid_ce, mlp_logits
from tests.helpers import toy_hyper, toy_init, toy_network, toy_task


def test_one_step_is_tf1_adam_then_l1():
    net = toy_network()
    data = toy_task()
    hyper = toy_hyper(max_iter=1, l2_lambda=0.0, l1_lambda=0.003)
    before = [v.numpy() for v in net.variables_for(1)]
    idx = np.arange(32)[None]
    with tf.GradientTape() as tape:
        params = [tf.constant(b) for b in before]
        tape.watch(params)
        loss = mean_sigmoid_ce(tf.gather(data.train_y, idx[0]),
                               mlp_logits(params, tf.gather(data.train_x, idx[0])))
    grads = [g.numpy() for g in tape.gradient(loss, params)]
    PhaseRunner(first_task_spec(net), hyper, xla=False).run(data, RecordedBatches({"t1_train": idx}))
    for b, g, after in zip(before, grads, net.variables_for(1)):
        m, v = 0.1 * g, 0.001 * g * g  # first step from zero moments
        alpha = 0.01 * np.sqrt(1 - 0.999) / (1 - 0.9)
        new = b - m * alpha / (np.sqrt(v) + 1e-8)
        new = np.where(np.abs(new) < 0.003, 0.0, new - 0.003 * np.sign(new))
        np.testing.assert_allclose(after.numpy(), new, atol=2e-6)


def test_learning_rate_staircase():
    net = toy_network()
    r = PhaseRunner(first_task_spec(net), toy_hyper(batch=32, lr=0.5), xla=False)
    for step, want in ((0, 0.5), (12, 0.5), (13, 0.5 * 0.95), (24, 0.5 * 0.95), (25, 0.5 * 0.95 ** 2)):
        r.step.assign(float(step))  # floor(step * 32 / 400)
        assert float(r.learning_rate()) == pytest.approx(want, rel=1e-6)


def test_frozen_entries_never_move_and_trainable_ones_do():
    net = toy_network()
    init = toy_init(3)
    net.stamps[1] = net.stamp(1)
    net.add_head(2, init.glorot("w", (8, 10)), init.glorot("b", (10,)))
    for i, l in enumerate(net.hidden):
        l.append_units(init.glorot("bw", (l.n_in, 2)), init.glorot("bb", (2,)), 2)
        if i:
            l.append_inputs(init.glorot("tw", (2, l.n_out)))
    net.heads[2].append_inputs(init.glorot("r", (2, 10)))
    spec = expansion_spec(net, 2)
    before = [(l.kernel.numpy(), l.bias.numpy(), l.kernel_mask, l.bias_mask) for l in net.hidden]
    PhaseRunner(spec, toy_hyper(max_iter=40), xla=True).run(toy_task(), RandomBatches(400, 32, 0))
    for l, (k, b, km, bm) in zip(net.hidden, before):
        k2, b2 = l.numpy()
        assert np.array_equal(k2[~km], k[~km]) and np.array_equal(b2[~bm], b[~bm])
        assert not np.array_equal(k2[km], k[km])


def test_xla_and_plain_graph_agree():
    """Same phase, same minibatches, with and without XLA: equal within 1e-5 (float32
    sums reassociated by XLA's fusion; 60 steps at lr 0.01)."""
    data = toy_task()
    idx = np.random.RandomState(0).randint(0, 400, (60, 32))
    outs = []
    for xla in (True, False):
        net = toy_network(seed=4)
        r = PhaseRunner(first_task_spec(net), toy_hyper(max_iter=60), xla=xla).run(
            data, RecordedBatches({"t1_train": idx}))
        outs.append(([v.numpy() for v in net.variables_for(1)], r))
    for a, b in zip(outs[0][0], outs[1][0]):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert outs[0][1].last_loss == pytest.approx(outs[1][1].last_loss, abs=1e-5)


def test_run_epoch_early_stop_divides_by_ten():
    """With a learning rate too small to move anything, the validation loss is constant:
    the mean over the window (always / 10) stops changing once 10 losses are in, so the
    phase stops at the 11th validation, iteration 1100."""
    net = toy_network()
    r = PhaseRunner(first_task_spec(net), toy_hyper(max_iter=3000, lr=1e-30, l1_lambda=0.0,
                                                    l2_lambda=0.0), xla=True)
    res = r.run(toy_task(), RandomBatches(400, 32, 0))
    assert res.iters == 1100 and len(res.history) == 11


def test_head_phase_runs_one_step_from_max_iter_over_ten():
    net = toy_network()
    init = toy_init(1)
    net.add_head(2, init.glorot("w", (8, 10)), init.glorot("b", (10,)))
    lines = []
    res = PhaseRunner(head_spec(net, 2, 990), toy_hyper(max_iter=990), xla=False).run(
        toy_task(), RandomBatches(400, 32, 0), on_iteration=lambda *a: lines.append(a))
    # counter starts at 99.0; one step -> 100.0, which is a validation point (printed)
    assert res.iters == 100.0 and res.steps == 1
    assert lines and lines[0][0] == 100.0 and lines[0][2] is not None


def test_non_finite_loss_stops_the_phase_with_task_phase_and_step():
    data = toy_task()
    bad = tf.tensor_scatter_nd_update(data.train_x, [[5, 0]], [np.nan])
    data = TaskTensors(bad, data.train_y, data.val_x, data.val_y, data.test_x, data.test_y)
    idx = np.zeros((20, 32), np.int32)
    idx[3, 0] = 5  # step 4 sees the NaN image
    with pytest.raises(NumericalError, match=r"task 1, phase train, step 4"):
        PhaseRunner(first_task_spec(toy_network()), toy_hyper(max_iter=20), xla=True).run(
            data, RecordedBatches({"t1_train": idx}))


@pytest.mark.parametrize("xla", [True, False])
@pytest.mark.parametrize("printing", [True, False])
def test_validation_in_the_chunk_is_the_separate_prediction_bit_for_bit(xla, printing):
    """The validation computed inside the compiled chunk (CE, and the outputs the perf is
    taken from) equals, to the bit, that of the network's separate prediction."""
    from den_tf.engine.callbacks import Callback
    from den_tf.evaluation.metrics import mean_auroc
    from den_tf.model.forward import predict

    data = toy_task()
    seen = []

    class Check(Callback):
        def on_phase_begin(self, spec, runner):
            self.runner = runner

        def on_validation(self, spec, iteration, loss, perf):
            r = self.runner
            ce, probs = predict(r.params, data.val_x, data.val_y, r.xla, spec.forward)
            alone = (float(ce), mean_auroc(probs.numpy(), data.val_y.numpy()) if printing
                     else None)
            seen.append(((loss, perf), alone))
            seen.append((r.validate(data, with_perf=printing), alone))  # a zero-step chunk

    spec = first_task_spec(toy_network(seed=2))
    spec.printing = printing
    PhaseRunner(spec, toy_hyper(max_iter=250), xla=xla).run(
        data, RandomBatches(400, 32, 0), callbacks=[Check()])
    assert len(seen) == 4 and all(repr(a) == repr(b) for a, b in seen)  # repr: nan == nan
    assert all((a[1] is None) == (not printing) for a, _ in seen)
