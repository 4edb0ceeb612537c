"""The lock that keeps a second sweep out of a sweep's folder: `OUT/sweep.lock`, created
with O_EXCL, holding the pid, the host and the start time of the sweep that holds it. A
lock of a process that no longer runs on this host is stale and taken over, with a note.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Optional

from den_tf.sweep.grid import SweepError

LOCK_FILE = "sweep.lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _read_lock(path: str) -> Optional[dict]:
    try:
        with open(path) as f:
            d = json.load(f)
        return d if isinstance(d, dict) and isinstance(d.get("pid"), int) else None
    except (OSError, ValueError):
        return None


class Lock:
    """`OUT/sweep.lock`, created with O_EXCL, holding {"pid", "host", "started"}. A lock of
    a process that no longer runs on this host is stale: it is taken over, with a note."""

    def __init__(self, out: str):
        self.path = os.path.join(out, LOCK_FILE)
        self.held = False

    def acquire(self) -> str:
        """Takes the lock; returns a note ("" or the stale lock taken over); raises
        SweepError when another live sweep holds it."""
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        note = ""
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_lock(self.path)
                if holder is None:  # being written this instant, or left empty by a crash
                    time.sleep(0.5)
                    holder = _read_lock(self.path)
                if holder is None:
                    stale = "an unreadable lock"
                elif holder.get("host") == me["host"] and not _pid_alive(holder["pid"]):
                    stale = f"the stale lock of pid {holder['pid']} (no longer running)"
                else:
                    raise SweepError(
                        f"{os.path.dirname(self.path)} is in use by another sweep (pid "
                        f"{holder['pid']} on {holder.get('host')}, since "
                        f"{holder.get('started')}); if it is gone, remove {self.path}")
                if _read_lock(self.path) != holder:  # changed meanwhile: look again
                    continue
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                note = f"took over {stale}: {self.path}"
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return note
        raise SweepError(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self.held and (_read_lock(self.path) or {}).get("pid") == os.getpid():
            os.unlink(self.path)
        self.held = False
