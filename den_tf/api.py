"""`run(config, data)`: a whole run, returning its results dict.

The loop of the original's benchmark script (spec "The benchmark"): for every task,
learn it, then evaluate every task learned so far. The method is DEN for a DENConfig,
and the baseline a BaselineConfig names (`method_class`).

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation, den_tf.engine, den_tf.io, den_tf.learner, den_tf.den, den_tf.baselines, den_tf.preflight.
"""

from __future__ import annotations

import importlib
import time
from typing import Callable, Optional, Sequence

from den_tf.config import METHODS, DENConfig, method_of
from den_tf.datasets import ImageData, TaskStream, make_stream
from den_tf.datasets.streams import check_stream
from den_tf.den.trainer import DENTrainer
from den_tf.engine import numerics
from den_tf.engine.randomness import BatchSource, InitSource
from den_tf.errors import ConfigError
from den_tf.evaluation import results
from den_tf.io import loglines
from den_tf.model.archs import image_shape_of


def method_class(name: str):
    """The class that runs --method `name`: DEN's trainer (den_tf.den), or the baseline
    of den_tf.baselines.<name> (each baseline module names its class `METHOD`)."""
    if name not in METHODS:
        raise ConfigError(f"--method={name}: must be one of {', '.join(METHODS)}")
    if name == "den":
        return DENTrainer
    return importlib.import_module(f"den_tf.baselines.{name}").METHOD


def restore(folder: str, config: DENConfig, tasks: TaskStream, log=None,
            callbacks: Sequence = ()) -> DENTrainer:
    """A DEN trainer in the state the checkpoint in `folder` recorded (den_tf.io.checkpoint;
    refused when a setting of `config` that shapes the run differs from the checkpoint's)."""
    from den_tf.io import checkpoint
    return checkpoint.restore_into(DENTrainer(config, tasks, log=log, callbacks=callbacks),
                                   folder)


def make_task_stream(config: DENConfig, data: ImageData) -> TaskStream:
    """The task stream the config names (config.task_stream, config.tasks tasks,
    config.task_seed) on `data`, checked against the config: `data` must be the data set
    config.dataset names, every task's head the last --dims size, every task's training
    set at least one minibatch."""
    config.validate(data.input_size, data.n_classes, len(data.train), image_shape_of(data))
    if getattr(data, "name", config.dataset) != config.dataset:
        raise ConfigError(f"--dataset={config.dataset}: the data given is {data.name}")
    tasks = make_stream(data, config.task_stream, config.tasks, config.task_seed)
    check_stream(tasks, config.dims[-1], config.batch_size)
    return tasks


def make_trainer(config: DENConfig, data: ImageData, *, batches: Optional[BatchSource] = None,
                 init: Optional[InitSource] = None, log: Optional[Callable[[str], None]] = None,
                 callbacks: Sequence = (), tasks: Optional[TaskStream] = None) -> DENTrainer:
    """A trainer for a new run on the tasks of `data` the config names (permuted MNIST
    by default): DENTrainer, or the baseline config.method names; `tasks` reuses a stream
    `make_task_stream(config, data)` already made."""
    if tasks is None:
        tasks = make_task_stream(config, data)
    cls = method_class(method_of(config))
    return cls(config, tasks, batches, init, log, callbacks)


def run(config: DENConfig, data: ImageData, *, batches: Optional[BatchSource] = None,
        init: Optional[InitSource] = None, log: Optional[Callable[[str], None]] = None,
        callbacks: Sequence = (),
        on_task_end: Optional[Callable[[DENTrainer], None]] = None,
        trainer: Optional[DENTrainer] = None) -> dict:
    """Learns the config.tasks tasks of config.task_stream; returns the results dict.

    `trainer` continues a run restored from a checkpoint; `on_task_end(trainer)` is
    called after every task's overall evaluation (checkpoints hook in there).
    """
    config.validate(data.input_size, data.n_classes, len(data.train), image_shape_of(data))
    numerics.configure(config.allow_tf32)
    log = log or (lambda line: None)
    if trainer is None:
        trainer = make_trainer(config, data, batches=batches, init=init, log=log,
                               callbacks=callbacks)
    start = time.perf_counter()
    for t in range(trainer.done + 1, config.tasks + 1):
        trainer.learn_task(t)
        trainer.evaluate_all(t)
        if on_task_end is not None:
            on_task_end(trainer)
    wall = time.perf_counter() - start
    out = results.build(trainer, wall)
    for line in loglines.summary_lines(out):
        log(line)
    return out
