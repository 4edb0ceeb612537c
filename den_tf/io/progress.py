"""A progress bar per training phase (a Keras Progbar: task, phase, step, loss), drawn on
the terminal only; the log lines stay intact (it clears its line before each)."""

from __future__ import annotations

import sys

from den_tf.engine.callbacks import Callback


class ProgressBar(Callback):
    """A Keras Progbar per phase: task, phase, step, loss (terminal only)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.bar = None

    def on_phase_begin(self, spec, runner) -> None:
        import keras

        task, phase = spec.task, spec.phase
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
