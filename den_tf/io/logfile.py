"""Where the log is written: stdout and the log file, line by line (algorithm.md#log-lines:
every line the original prints; den_tf.io.loglines has their formats)."""

from __future__ import annotations

import sys
from typing import IO, List, Optional


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
