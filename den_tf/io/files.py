"""Writing a file so that a crash at any moment leaves either the old file or the new
one, never half of one: the bytes go to a temporary file in the same folder, then a
rename replaces the target (atomic on POSIX file systems). Every writer of den_tf (the
results JSON, figures, checkpoints' state, a sweep's files) goes through here.

Imports: nothing of den_tf.
"""

from __future__ import annotations

import json
import os
import tempfile


def write_bytes(path: str, data: bytes, durable: bool = False, mode: int = 0o644) -> str:
    """Writes `data` to `path` atomically (its folder is made when missing); `durable`:
    flushed to disk before the rename (checkpoints). Returns path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_text(path: str, text: str, durable: bool = False) -> str:
    return write_bytes(path, text.encode("utf-8"), durable)


def write_json(path: str, data, indent: int = 1, durable: bool = False) -> str:
    """Writes `data` as strict JSON: a NaN or an infinity is refused (ValueError), never
    written as the `NaN` / `Infinity` other JSON readers reject."""
    return write_text(path, json.dumps(data, indent=indent, allow_nan=False), durable)
