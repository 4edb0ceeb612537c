"""`run(config, data)`: a whole run, returning its results dict.

The loop of the original's benchmark script (spec "The benchmark"): for every task,
learn it, then evaluate every task learned so far. The method is DEN for a DENConfig,
and the baseline a BaselineConfig names (`den_tf.methods`).
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

from den_tf import methods, results
from den_tf.config import DENConfig
from den_tf.data import MnistData, make_tasks
from den_tf.sources import BatchSource, InitSource
from den_tf.trainer import DENTrainer


def make_trainer(config: DENConfig, data: MnistData, *, batches: Optional[BatchSource] = None,
                 init: Optional[InitSource] = None, log: Optional[Callable[[str], None]] = None,
                 callbacks: Sequence = ()) -> DENTrainer:
    """A trainer for a new run on the permuted-MNIST tasks of `data` (DENTrainer, or the
    baseline config.method names)."""
    config.validate(data.input_size, data.n_classes, len(data.train))
    tasks = make_tasks(data, config.tasks, config.task_seed)
    cls = methods.method_class(methods.method_of(config))
    return cls(config, tasks, batches, init, log, callbacks)


def run(config: DENConfig, data: MnistData, *, batches: Optional[BatchSource] = None,
        init: Optional[InitSource] = None, log: Optional[Callable[[str], None]] = None,
        callbacks: Sequence = (),
        on_task_end: Optional[Callable[[DENTrainer], None]] = None,
        trainer: Optional[DENTrainer] = None) -> dict:
    """Learns config.tasks permuted-MNIST tasks; returns the results dict.

    `trainer` continues a run restored from a checkpoint; `on_task_end(trainer)` is
    called after every task's overall evaluation (checkpoints hook in there).
    """
    config.validate(data.input_size, data.n_classes, len(data.train))
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
    for line in results.summary_lines(out):
        log(line)
    return out
