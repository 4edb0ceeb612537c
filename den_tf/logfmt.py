"""Every log line the original prints, in its exact format, in one place (spec: the
print formats of "Task t > 1", "End of every task"), plus our own prefixed lines.

Lines the original does not print start with PREFIX, so that the original-format lines
stay comparable line by line.
"""

from __future__ import annotations

import sys
from typing import IO, List, Optional, Sequence

PREFIX = " [den_tf] "


def task_header(t: int) -> str:
    # print("\n\n\tTASK %d TRAINING\n") prints two blank lines, the title and one more.
    return "\n\n\tTASK %d TRAINING\n" % t


def iteration(it, val_loss: float, val_perf: float) -> str:
    return " [*] iter: %d, val loss: %.4f, val perf: %.4f" % (it, val_loss, val_perf)


SELECTIVE = " [*] Selective retraining"
EXPANSION = " [*] Network expansion (training)"
SPLIT = " [*] Split & Duplication"
OVERALL = "\n OVERALL EVALUATION"


def expanding(layer: int, added: int, repeated) -> str:
    return "   [*] Expanding %dth hidden unit, %d unit added, (valid, repeated: %d)" % (
        layer, added, repeated)


def split_count(layer: int, chosen: int, candidates: int) -> str:
    return "   [*] split N in layer%d: %d / %d" % (layer, chosen, candidates)


def split_done(loss: float, perf: float, repeated) -> str:
    return "   [*] split, loss: %.4f, nn_perf: %.4f(valid) repeated: %d" % (loss, perf, repeated)


def total_expansions(per_layer: Sequence[int]) -> str:
    return "   [*] Total expansions: %s" % [int(n) for n in per_layer]


def shape(layer: int, dims: Sequence[int]) -> str:
    # The original prints the LAYER index after "task" (spec "End of every task").
    return " [*] task %d, shape : %s" % (layer, [int(d) for d in dims])


def task_result(t: int, loss: float, perf: float, sparsity: float) -> str:
    return " [*] Task: %d, nn_test_loss: %.4f, test_perf: %.4f, sparsity(avg): %.4f" % (
        t, loss, perf, sparsity)


def evaluation(t: int, perf: float) -> str:
    return " [*] Evaluation, Task:%s, test_acc: %.4f" % (str(t), perf)


def avg_perf(perf: float) -> str:
    return "   [*] avg_perf: %.4f" % perf


def shape_lines(stamp: Sequence[int]) -> List[str]:
    """One shape line per hidden layer of a timestamp [in, h1, ..., hL, out]."""
    return [shape(i + 1, [stamp[i], stamp[i + 1]]) for i in range(len(stamp) - 2)]


def ours(text: str) -> str:
    """A line of our own (not in the original's log)."""
    return PREFIX + text


class Log:
    """Writes lines to stdout (optional) and to a file, flushing every line so that a
    crash loses nothing already printed.

    A failed write to the file (disk full, ...) does not stop the run: the file is
    dropped, `error` keeps the OSError and `lost_from` the number of the first line the
    file lacks; the stream still gets every line (the caller reports it at the end)."""

    def __init__(self, path: Optional[str] = None, stdout: bool = True,
                 stream: Optional[IO] = None, before_write=()):
        self.stream = stream if stream is not None else (sys.stdout if stdout else None)
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.lines: List[str] = []
        self.before_write = list(before_write)  # e.g. a progress bar clearing its line
        self.error: Optional[OSError] = None
        self.lost_from: Optional[int] = None

    def __call__(self, text: str) -> None:
        first = len(self.lines) + 1
        self.lines.extend(text.split("\n"))
        for hook in self.before_write:
            hook()
        if self.stream is not None:
            self.stream.write(text + "\n")
            self.stream.flush()
        if self.file is not None:
            try:
                self.file.write(text + "\n")
                self.file.flush()
            except OSError as e:
                self.error, self.lost_from = e, first
                self._drop_file()

    def _drop_file(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass
        self.file = None

    def close(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError as e:
                self.error = self.error or e
            self.file = None
