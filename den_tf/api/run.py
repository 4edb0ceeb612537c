"""A whole run from a config: `run(config, data)` learns the tasks the config names on a
data set and returns the results dict (what `python main.py` does, without its files).

Every method runs the loop of the original's benchmark script
(docs/algorithm.md#benchmark): for every task, learn it, then evaluate every task
learned so far. The method is the one the config names (`method_class`: its card in the
method registry, den_tf.config.registry).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable, Optional, Sequence

import tensorflow as tf

from den_tf.config import Config
from den_tf.config.registry import DATASETS, method_card
from den_tf.datasets import ImageData, TaskStream, stream_for
from den_tf.den.trainer import DENTrainer
from den_tf.engine import numerics
from den_tf.engine.randomness import BatchSource, InitSource
from den_tf.errors import ConfigError
from den_tf.evaluation import results
from den_tf.io import loglines
from den_tf.model.archs import image_shape_of


def method_class(name: str):
    """The learner class of method `name` (its card's: DEN's trainer, den_tf.den; a
    baseline of den_tf.baselines; a user's registered method)."""
    return method_card(name).learner_class()


def restore(folder: str, config: Config, tasks: TaskStream, log=None,
            callbacks: Sequence = ()) -> DENTrainer:
    """A DEN trainer in the state the checkpoint in `folder` recorded (den_tf.io.checkpoint;
    refused when a setting of `config` that shapes the run differs from the checkpoint's)."""
    from den_tf.io import checkpoint
    return checkpoint.restore_into(DENTrainer(config, tasks, log=log, callbacks=callbacks),
                                   folder)


def make_task_stream(config: Config, data: ImageData) -> TaskStream:
    """The task stream the config names (config.task_stream, config.tasks tasks,
    config.task_seed) on `data`, checked against the config: `data` must not be another
    built-in data set than config.dataset (any other name is a user's), every task's head
    the last --dims size, every task's training set at least one minibatch."""
    config.validate(data.input_size, data.n_classes, len(data.train), image_shape_of(data))
    name = getattr(data, "name", config.dataset)
    if name != config.dataset and name in DATASETS:
        raise ConfigError(f"--dataset={config.dataset}: the data given is {name}")
    return stream_for(config, data)


def make_trainer(config: Config, data: ImageData, *, batches: Optional[BatchSource] = None,
                 init: Optional[InitSource] = None, log: Optional[Callable[[str], None]] = None,
                 callbacks: Sequence = (), tasks: Optional[TaskStream] = None) -> DENTrainer:
    """A trainer for a new run on the tasks of `data` the config names (permuted MNIST
    by default): DENTrainer, or the baseline config.method names; `tasks` reuses a stream
    `make_task_stream(config, data)` already made."""
    if tasks is None:
        tasks = make_task_stream(config, data)
    cls = method_class(config.method)
    return cls(config, tasks, batches, init, log, callbacks)


def run(config: Config, data: ImageData, *, batches: Optional[BatchSource] = None,
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
    quiet_retracing()
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


class _RetracingFilter(logging.Filter):
    def filter(self, record) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


_FILTER = _RetracingFilter()


def quiet_retracing() -> None:
    """Keeps TensorFlow's retracing warnings out of a library run: every phase is a new
    compiled function by design (its shapes change as the network grows)."""
    logger = tf.get_logger()
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
