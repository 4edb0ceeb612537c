"""The callback interface: how a run is watched (a progress bar, TensorBoard, a CSV log:
den_tf.io).

The trainer and the phase runner call every callback at the same points:
`on_phase_begin`, `on_chunk` (after every compiled chunk of up to 100 steps),
`on_validation` (every 100 steps), `on_phase_end`, `on_task_end`, `on_evaluation`
(after the overall evaluation of a task). None of them changes what is computed or
printed in the original's format.
"""

from __future__ import annotations

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
