"""Watching a run: the callback interface, a progress bar, and TensorBoard summaries.

The trainer and the phase runner call every callback at the same points:
`on_phase_begin`, `on_chunk` (after every compiled chunk of up to 100 steps),
`on_validation` (every 100 steps), `on_phase_end`, `on_task_end`, `on_evaluation`
(after the overall evaluation of a task). None of them changes what is computed or
printed in the original's format.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence


class Callback:
    """No-op base: override what you need."""

    def on_phase_begin(self, spec, runner) -> None:
        pass

    def on_chunk(self, spec, iteration, loss: float, lr: float) -> None:
        pass

    def on_validation(self, spec, iteration, loss: float, perf: Optional[float]) -> None:
        pass

    def on_phase_end(self, spec, result) -> None:
        pass

    def on_task_end(self, trainer, record) -> None:
        pass

    def on_evaluation(self, trainer, task: int, scores) -> None:
        pass

    def before_log_line(self) -> None:
        """Called before a log line goes to the terminal (lets a bar clear its line)."""


def call(callbacks: Sequence[Callback], name: str, *args) -> None:
    for cb in callbacks:
        getattr(cb, name)(*args)


class ProgressBar(Callback):
    """A Keras Progbar per phase: task, phase, step, loss (terminal only)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.bar = None

    def on_phase_begin(self, spec, runner) -> None:
        import keras

        task, phase = spec.name[1:].split("_", 1)
        total = 1 if spec.one_step else int((runner.hyper.max_iter if spec.stop_iter is None
                                                   else spec.stop_iter) - spec.start_iter)
        self._start = spec.start_iter
        self.stream.write(f"task {task} {phase}\n")
        self.bar = keras.utils.Progbar(total, width=30, stateful_metrics=["loss", "lr"],
                                       unit_name="step")

    def on_chunk(self, spec, iteration, loss, lr) -> None:
        if self.bar is not None:
            self.bar.update(int(iteration - self._start), [("loss", loss), ("lr", lr)])

    def on_phase_end(self, spec, result) -> None:
        if self.bar is not None:
            self.stream.write("\n")
            self.stream.flush()
        self.bar = None

    def before_log_line(self) -> None:
        if self.bar is not None:  # clear the bar's line; it redraws on its next update
            self.stream.write("\r\033[K")


class TensorBoard(Callback):
    """tf.summary scalars: per phase (train loss, learning rate, validation loss and
    AUROC, on a global step counter), per task (test AUROC of every learned task,
    avg_perf, units per layer, capacity, sparsity), and the results figure."""

    def __init__(self, logdir: str):
        import tensorflow as tf

        self.tf = tf
        self.writer = tf.summary.create_file_writer(logdir)
        self.global_step = 0
        self._last_iter = 0

    def on_phase_begin(self, spec, runner) -> None:
        self._last_iter = spec.start_iter

    def on_chunk(self, spec, iteration, loss, lr) -> None:
        self.global_step += int(round(iteration - self._last_iter))
        self._last_iter = iteration
        phase = spec.name.split("_", 1)[1]
        with self.writer.as_default(step=self.global_step):
            self.tf.summary.scalar(f"train_loss/{phase}", loss)
            self.tf.summary.scalar(f"learning_rate/{phase}", lr)

    def on_validation(self, spec, iteration, loss, perf) -> None:
        phase = spec.name.split("_", 1)[1]
        with self.writer.as_default(step=self.global_step):
            self.tf.summary.scalar(f"val_loss/{phase}", loss)
            if perf is not None:
                self.tf.summary.scalar(f"val_auroc/{phase}", perf)

    def on_task_end(self, trainer, record) -> None:
        t = record.task
        with self.writer.as_default(step=t):
            for i, n in enumerate(record.sizes):
                self.tf.summary.scalar(f"units/layer{i + 1}", n)
            self.tf.summary.scalar("capacity", record.capacity)
            self.tf.summary.scalar("sparsity", record.sparsity)
            self.tf.summary.scalar("test_perf", record.test_perf)
        self.writer.flush()

    def on_evaluation(self, trainer, task, scores) -> None:
        with self.writer.as_default(step=task):
            for s in scores:
                self.tf.summary.scalar(f"test_auroc/task{s.task}", s.auroc)
                self.tf.summary.scalar(f"test_accuracy/task{s.task}", s.accuracy)
            self.tf.summary.scalar("avg_perf", sum(s.auroc for s in scores) / len(scores))
        self.writer.flush()

    def image(self, name: str, png: bytes, step: int) -> None:
        """Adds a PNG (e.g. the results figure)."""
        img = self.tf.image.decode_png(png, channels=4)[None]
        with self.writer.as_default(step=step):
            self.tf.summary.image(name, img)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
