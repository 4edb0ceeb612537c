"""--permute_once (issue 22, speed): the phase runner draws a permuted task's minibatches
from its training pixels permuted once (TaskTensors.train_view) instead of permuting each
minibatch inside the compiled step; off, the default, nothing changes."""

import numpy as np
import pytest
import tensorflow as tf

from den_tf.config import DENConfig, config_for
from den_tf.datasets.base import to_float
from den_tf.datasets.tensors import TaskTensors
from den_tf.datasets.transforms import Permute
from den_tf.den.expansion import expansion_spec
from den_tf.engine.randomness import RecordedBatches
from den_tf.engine.runner import Hyper, PhaseRunner
from den_tf.io import checkpoint
from tests.helpers import toy_hyper
from tests.test_outputs import _Stop, run_in_process
from tests.test_trailing_grads import grown

D, STEPS = 20, 60


def toy_permuted(permuted_pixels=False):
    """A learnable toy task of uint8 pixels under a fixed permutation: its Permute
    transform (`permuted_pixels` False), or the same task as an untransformed one whose
    stored pixels are already permuted (True)."""
    rng = np.random.RandomState(3)
    pixels = rng.randint(0, 256, (600, D)).astype(np.uint8)
    perm = rng.permutation(D)
    x = to_float(pixels)[:, perm]  # what the task's images are
    y = np.eye(10, dtype=np.float32)[np.argmax(x @ rng.randn(D, 10).astype(np.float32), 1)]
    c = tf.constant
    train = pixels[:, perm] if permuted_pixels else pixels
    return TaskTensors(c(train[:400]), c(y[:400]), c(x[400:500]), c(y[400:500]),
                       c(x[500:]), c(y[500:]),
                       transform=None if permuted_pixels else Permute(perm))


def expansion(data, permute_once):
    """Task 2's expansion phase of the grown toy network on `data`: (weights, result,
    runner)."""
    net = grown((D, 48, 40, 10), 2)
    spec = expansion_spec(net, 2)
    idx = np.random.RandomState(0).randint(0, 400, (STEPS, 32))
    runner = PhaseRunner(spec, toy_hyper(max_iter=STEPS, permute_once=permute_once), xla=True)
    result = runner.run(data, RecordedBatches({spec.name: idx}))
    return [v.numpy() for v in net.variables_for(2)], result, runner


def test_a_phase_with_permute_once_trains_on_the_pixels_permuted_once():
    data = toy_permuted()
    # the source: the task's pixels permuted once, no transform left for the step
    off = PhaseRunner(expansion_spec(grown((D, 48, 40, 10), 2), 2), toy_hyper(), xla=True)
    x, kind, _ = off.source(data)
    assert x is data.train_x and kind is Permute
    w_once, once, runner = expansion(data, True)
    x, kind, params = runner.source(data)
    assert kind is None and params == {}
    np.testing.assert_array_equal(x.numpy(), data.train_x.numpy()[:, data.transform.permutation])
    # it trains as on a task whose stored pixels are permuted: the same program, to the bit
    w_stored, stored, _ = expansion(toy_permuted(permuted_pixels=True), False)
    for a, b in zip(w_once, w_stored):
        np.testing.assert_array_equal(a, b)
    assert once.last_loss == stored.last_loss
    # and as the default, which permutes every minibatch in the step, within float rounding
    w_step, step, _ = expansion(data, False)
    for a, b in zip(w_once, w_step):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert once.iters == step.iters
    np.testing.assert_allclose(once.last_loss, step.last_loss, rtol=1e-4)
    # a validation after the phase reads the same source: no second compilation
    runner.validate(data, with_perf=False)
    assert runner.program.chunk.experimental_get_tracing_count() == 1


def test_permute_once_is_a_setting_of_every_method_that_a_resumption_may_change():
    assert not DENConfig().permute_once  # the default: the minibatches permuted in the step
    cfg = DENConfig(permute_once=True)
    assert Hyper.from_config(cfg.validate(), 55000).permute_once
    assert Hyper.from_config(config_for(cfg, "ewc").validate(), 55000).permute_once
    assert "permute_once" in checkpoint.FREE


SPLIT = ["--n_classes=5", "--dims=784,312,128,5"]  # 2 tasks of 5 classes


@pytest.mark.parametrize("tasks,more,warned", [("split", SPLIT, True), ("rotated", [], True),
                                               ("permuted", [], False)])
def test_permute_once_off_permuted_tasks_is_named_useless(tmp_path, mnist_dir, monkeypatch,
                                                          capsys, tasks, more, warned):
    from den_tf import cli
    from den_tf import flags as den_flags
    seen = {}
    real = den_flags.config_from_flags
    monkeypatch.setattr(den_flags, "config_from_flags",
                        lambda f: seen.setdefault("cfg", real(f)))

    def stop():
        raise _Stop("past the checks")

    monkeypatch.setattr(cli, "_import_tensorflow_quietly", stop)
    status, _, err = run_in_process(
        ["--permute_once", f"--tasks={tasks}", "--n_tasks=2", "--max_iter=5",
         f"--data_dir={mnist_dir}", f"--log_file={tmp_path / 'run.log'}"] + more, capsys)
    assert status == 1 and "_Stop: past the checks" in err, err
    assert seen["cfg"].permute_once
    warning = (f"den_tf: warning: --permute_once has no effect with --tasks={tasks} "
               f"(its tasks permute no pixels)")
    assert (warning in err) == warned, err
