"""What a command-line run does when an output cannot be written after training has
started (den_tf.cli; the library's own calls raise instead): nothing learned is lost, and
the run ends with one line naming every loss (exit status 4, `den_tf.errors.WriteError`).

* A checkpoint, or the results so far, that cannot be written after a task: one warning
  line in the log, and training goes on (the next task tries again); a failed
  checkpoint only counts at the end when no later task's checkpoint replaced it.
* The final results: the results path, else `<log file>.results.json`, else the log
  line (stdout and log file) " [den_tf] results-json: {...}".
* The figure, the SavedModel, and the log file itself: noted, and named at the end.

A failure's reason is worded as the checks before the run word it (den_tf.preflight).
"""

from __future__ import annotations

import json

from den_tf.errors import WriteError
from den_tf.io import files, loglines
from den_tf.preflight import reason


class Writes:
    """The write policy of one run (the module docstring): `checkpoint` and
    `partial_results` after each task, `attempt` for the figure and the SavedModel,
    `results` for the final results, then `finish`, which raises WriteError naming every
    loss (final results, figure, SavedModel, the last checkpoint, log lines) and where
    the results are. `errors`: the exceptions that count as a failed write (OSError,
    and TensorFlow's for a checkpoint or the SavedModel)."""

    def __init__(self, log, log_path: str, errors: tuple):
        self.log, self.log_path, self.errors = log, log_path, errors
        self.failed = []  # "what (reason)" of every loss
        self.where = None  # where the final results are
        self.checkpoint_failure = None
        self.warned = set()

    def _warn(self, kind: str, text: str) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            self.log(loglines.ours(f"warning: {text}"))

    def _reason(self, e) -> str:
        if isinstance(e, OSError):
            return reason(e, where="")
        return str(getattr(e, "message", e)).splitlines()[0]

    def checkpoint(self, save, task: int, folder: str) -> None:
        try:
            save()
            self.checkpoint_failure = None  # the newest checkpoint holds everything
        except self.errors as e:
            self.checkpoint_failure = (f"the checkpoint of task {task} in --checkpoint_dir="
                                       f"{folder} ({self._reason(e)})")
            self._warn("checkpoint", f"{self.checkpoint_failure} was not written; training "
                                     f"goes on, the next task's checkpoint is tried")

    def partial_results(self, write, path: str) -> None:
        try:
            write()
        except self.errors as e:
            self._warn("partial", f"the results so far could not be written to {path} "
                                  f"({self._reason(e)}); training goes on")

    def attempt(self, what: str, write) -> None:
        try:
            write()
        except self.errors as e:
            self.failed.append(f"{what} ({self._reason(e)})")

    def results(self, out: dict, path: str) -> None:
        try:
            files.write_json(path, out)
            self.where = path
            return
        except OSError as e:
            self.failed.append(f"--results={path} ({self._reason(e)})")
        fallback = self.log_path + ".results.json"
        try:
            files.write_json(fallback, out)
            self.where = fallback
            self.log(loglines.ours(f"results: {fallback} (--results={path} failed)"))
            return
        except OSError as e:
            self.failed[-1] += f", nor the fallback {fallback} ({self._reason(e)})"
        self.log(loglines.ours("results-json: " + json.dumps(out)))
        self.where = ("stdout" + ("" if self.log.error else f" and {self.log_path}")
                      + " on the line starting '" + loglines.PREFIX + "results-json: '")

    def finish(self) -> None:
        lost = list(self.failed)
        if self.checkpoint_failure:
            lost.append(self.checkpoint_failure)
        if self.log.error is not None:
            since = f" from line {self.log.lost_from} on" if self.log.lost_from else ""
            lost.append(f"--log_file={self.log_path}{since} ({reason(self.log.error, '')}; "
                        f"stdout has every line)")
        if lost:
            raise WriteError(f"the run finished, but could not write: {'; '.join(lost)}; "
                             f"the results are in {self.where}")
