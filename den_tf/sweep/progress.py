"""A sweep's progress: one line per finished point, with done/total and an ETA from this
session's pace, and each point's `status.json` (exit status, error line, wall time, host).
"""

from __future__ import annotations

import json
import os
import time
from typing import List

from den_tf.io import files
from den_tf.sweep.grid import is_complete
from den_tf.sweep.report import DEFAULT_VALUE


def duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """One line per finished point, with done/total and an ETA from this session's pace."""

    def __init__(self, total: int, done: int, executor: str):
        self.total, self.done, self.executor = total, done, executor
        self.finished, self.start = 0, time.monotonic()
        self.failed: List[tuple] = []

    def point_done(self, job, r: dict) -> None:
        folder = job.folder
        if "files" in r:  # a Ray task: its files come back with it; results.json last
            shipped = r.pop("files")
            for name in sorted(shipped, key=lambda n: n == "results.json"):
                files.write_bytes(os.path.join(folder, name), shipped[name])
        complete = is_complete(folder)
        ok = r["status"] == 0 and complete
        if r["status"] == 0 and not complete:
            r["error"] = "exit status 0 but results.json is not complete"
        status = {"ok": ok, "status": r["status"], "error": r.get("error", ""),
                  "wall_s": r["wall_s"], "host": r.get("host", ""),
                  "executor": self.executor, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        files.write_json(os.path.join(folder, "status.json"), status)
        self.done += 1
        self.finished += 1
        left = self.total - self.done
        eta = (time.monotonic() - self.start) / self.finished * left
        with open(os.path.join(folder, "point.json")) as f:
            flags = " ".join(f"{k}={v if v != '' else DEFAULT_VALUE}"
                             for k, v in json.load(f)["flags"].items())
        if ok:
            with open(os.path.join(folder, "results.json")) as f:
                avg = json.load(f).get("final_avg_perf")
            what = f"ok, final avg_perf {avg:.4f}" if avg is not None else "ok"
        else:
            what = f"FAILED ({r['error']})"
            self.failed.append((job.name, r["error"]))
        print(f"[{self.done}/{self.total}] {job.name} ({flags}): {what}, "
              f"{duration(r['wall_s'])}" + (f"; ETA {duration(eta)}" if left else ""),
              flush=True)
