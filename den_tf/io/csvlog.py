"""A CSV log of a run beside TensorBoard (a callback; `--csv_log=PATH` on the command
line): one row per evaluation of a task, after every task's overall evaluation
(algorithm.md#benchmark), flushed at once so that a crash loses nothing already evaluated.

Columns: `tasks_learned` (i), `task` (j, evaluated after learning task i), `auroc`
(the original's perf, Q3), `accuracy` (top-1), `loss` (mean sigmoid CE), `capacity`
(parameters over one base network after task i), `units` (hidden units per layer after
task i, as "312;128"). A file that exists gets its rows appended (a resumed run goes on
where it stopped); the header is written once.

Imports: nothing of den_tf but den_tf.engine (the callback interface).
"""

from __future__ import annotations

import csv
import os

from den_tf.engine.callbacks import Callback

COLUMNS = ("tasks_learned", "task", "auroc", "accuracy", "loss", "capacity", "units")


class CSVLogger(Callback):
    """Writes a row per evaluated task to `path` (see the module docstring)."""

    def __init__(self, path: str):
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        self._file = open(path, "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(COLUMNS)
            self._file.flush()

    def on_evaluation(self, trainer, task: int, scores) -> None:
        record = trainer.records[-1] if trainer.records else None
        capacity = getattr(record, "capacity", None)
        sizes = getattr(record, "sizes", None) or []
        for s in scores:
            self._writer.writerow([task, s.task, f"{s.auroc:.6f}", f"{s.accuracy:.6f}",
                                   f"{s.loss:.6f}",
                                   "" if capacity is None else f"{capacity:.6f}",
                                   ";".join(str(int(n)) for n in sizes)])
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
