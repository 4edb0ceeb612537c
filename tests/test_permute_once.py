"""--permute_once (issue 22, speed): the phase runner draws a permuted task's minibatches
from its training pixels permuted once (TaskTensors.train_view) instead of permuting each
minibatch inside the compiled step; off, the default, nothing changes."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from den_tf.config import BASELINES, DENConfig, config_for
from den_tf.datasets.base import to_float
from den_tf.datasets.tensors import TaskTensors
from den_tf.datasets.transforms import Permute
from den_tf.den.expansion import expansion_spec
from den_tf.engine.randomness import RecordedBatches
from den_tf.engine.runner import Hyper, PhaseRunner
from den_tf.errors import ConfigError
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


def test_a_phase_drawing_its_own_minibatches_copies_no_pixels():
    """MTL's union draws its minibatches itself (PhaseSpec.batch): no copy of a task's
    pixels is made for it."""
    data = toy_permuted()
    spec = expansion_spec(grown((D, 48, 40, 10), 2), 2)
    own = dataclasses.replace(spec, batch=lambda idx: None)
    x, kind, _ = PhaseRunner(own, toy_hyper(permute_once=True), xla=True).source(data)
    assert x is data.train_x and kind is Permute


@pytest.mark.parametrize("method", BASELINES)
def test_permute_once_reaches_the_steps_of_den_and_of_every_baseline(method):
    from den_tf.api import method_class
    from tests.test_baselines import ToyStream
    assert not DENConfig().permute_once  # the default: the minibatches permuted in the step
    cfg = DENConfig(permute_once=True)
    assert Hyper.from_config(cfg.validate(), 55000).permute_once  # DEN's phases
    given = DENConfig(dims=(20, 12, 8, 10), permute_once=True)
    if method == "mtl":  # its minibatches mix the tasks: the setting would do nothing
        with pytest.raises(ConfigError, match=r"^--permute_once=True: does nothing with "
                                              r"--method=mtl \(leave it out\)$"):
            config_for(given, method).validate()
        return
    base = config_for(given, method).validate()
    assert method_class(method)(base, ToyStream(2)).hyper(400).permute_once
    assert "permute_once" in checkpoint.free_settings()  # a resumption may change it


SPLIT = ["--n_classes=5", "--dims=784,312,128,5"]  # 2 tasks of 5 classes
REFUSED = {"split": "only with a task stream that permutes pixels (--tasks=split does not)",
           "rotated": "only with a task stream that permutes pixels (--tasks=rotated does not)",
           "mtl": "does nothing with --method=mtl (leave it out)"}


@pytest.mark.parametrize("case,more", [("split", ["--tasks=split"] + SPLIT),
                                       ("rotated", ["--tasks=rotated"]),
                                       ("mtl", ["--method=mtl"]), ("den", []),
                                       ("ewc", ["--method=ewc"])])
def test_permute_once_where_it_does_nothing_is_refused(tmp_path, mnist_dir, monkeypatch,
                                                       capsys, case, more):
    """A setting that would do nothing is refused in one line, before any work (the
    library's contract: an inapplicable setting is refused, not stored)."""
    from den_tf import cli

    def stop():
        raise _Stop("past the checks")

    monkeypatch.setattr(cli, "_import_tensorflow_quietly", stop)
    status, _, err = run_in_process(
        ["--permute_once", "--n_tasks=2", "--max_iter=5",
         f"--data_dir={mnist_dir}", f"--log_file={tmp_path / 'run.log'}"] + more, capsys)
    if case in REFUSED:
        assert status == 2 and err.strip().splitlines() == [
            f"den_tf: error: --permute_once=True: {REFUSED[case]}"], err
        assert not (tmp_path / "run.log").exists()
    else:
        assert status == 1 and "_Stop: past the checks" in err, err
