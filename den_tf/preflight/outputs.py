"""Outputs a run can write, checked before the first training step.

Pure functions, no flags: the command line (`den_tf/cli.py`) calls them with the flag
names and values, and each raises `ConfigError` (exit status 2) with one line naming the
flag, the path (or the settings) and the reason, before TensorFlow is even imported.

* `check_dir_output(flag, path)`: `path` is, or can be made, a folder we can create
  files in (made now with `make=True`, else when first written).
* `check_file_output(flag, path)`: `path` is not a folder, and its folder can hold new
  files; with `append=True` an existing file need only open for appending (the log).
* `check_path_given(flag, path, instead)`: the one rule for an output flag given an
  empty value (`--checkpoint_dir=`): refused, saying what leaving the flag out does.
"""

from __future__ import annotations

import errno
import os
import tempfile
from typing import Optional

from den_tf.errors import ConfigError

# ----------------------------------------------------------------------------- outputs
_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
}


def reason(e: OSError, where: Optional[str] = None) -> str:
    """A short, lower-case reason for an OSError, naming `where` it happened (default:
    the error's file name; "" names no place)."""
    name = getattr(e, "filename", None)
    if e.errno in (errno.EEXIST, errno.ENOTDIR) and name:
        top = _existing_ancestor(name)
        if os.path.lexists(top) and not os.path.isdir(top):
            return f"{top} is a file, not a folder"
    where = name if where is None else where
    if e.errno in _REASONS:
        text = _REASONS[e.errno]
    elif e.errno == errno.ENOENT and where and os.path.isdir(where):
        text = "the file system takes no new files there"
    elif e.strerror:
        text = e.strerror[0].lower() + e.strerror[1:]
    else:
        text = str(e) or type(e).__name__
    return f"{where}: {text}" if where else text


def _existing_ancestor(path: str) -> str:
    """The nearest of path's ancestors (or path itself) that exists."""
    p = os.path.abspath(path)
    while not os.path.lexists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def _writable_folder(prefix: str, folder: str, make: bool) -> None:
    """`folder` can hold new files: it exists as a folder and takes a probe file, or it
    is missing and its nearest existing ancestor is a folder that takes one (then every
    missing level can be made there). With `make` the missing levels are made now; else
    when first written, as the writers do (a run that stops early leaves no empty
    folders). One-line ConfigError naming the place and the reason, if not."""
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise ConfigError(f"{prefix}: {folder} is a file, a folder is needed")
    top = _existing_ancestor(folder)
    if not os.path.isdir(top):
        raise ConfigError(f"{prefix}: {top} is a file, not a folder")
    if make and top != os.path.abspath(folder):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"{prefix}: cannot be created ({reason(e, top)})") from None
        top = folder
    verb = "written" if os.path.isdir(folder) else "created"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".den_tf-probe-", dir=top)
    except OSError as e:
        raise ConfigError(f"{prefix}: cannot be {verb} ({reason(e, top)})") from None
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError:
        pass


def check_path_given(flag: str, path: str, instead: str) -> None:
    """An output flag given on the command line names a path: an empty (or blank) value
    is refused, never read as the default or as "none"; `instead` says what leaving the
    flag out does."""
    if not str(path).strip():
        raise ConfigError(f"--{flag}={path}: an empty path; {instead}")


def check_dir_output(flag: str, path: str, make: bool = False) -> str:
    """Checks that `path` is, or can be made, a folder files can be written in (see
    `_writable_folder`); returns it. Raises ConfigError naming --flag, the path and why."""
    prefix = f"--{flag}={path}"
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ConfigError(f"{prefix}: is a file, a folder is needed")
    _writable_folder(prefix, path, make)
    return path


def check_dir_kind(flag: str, path: str) -> None:
    """A folder that is only read (eval, export): it must not be a file."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ConfigError(f"--{flag}={path}: is a file, a folder is needed")


def check_file_output(flag: str, path: str, append: bool = False,
                      what: Optional[str] = None, make: bool = False) -> str:
    """Checks that file `path` can be written: not a folder, and its folder can hold new
    files (a file is written as a temporary one, then renamed over; see
    `_writable_folder`, which `make` passes on). With `append` (the log), an existing
    file need only open for appending. `what` names a path the flag only implies
    ("figure file" for the PNG next to --results). Returns path."""
    prefix = f"--{flag}={path}" if what is None else f"--{flag}: {what} {path}"
    if os.path.isdir(path):
        raise ConfigError(f"{prefix}: is a folder, a file is needed")
    if append and os.path.lexists(path):
        try:
            with open(path, "a"):
                pass
        except OSError as e:
            raise ConfigError(f"{prefix}: cannot be written ({reason(e, path)})") from None
        return path
    _writable_folder(prefix, os.path.dirname(os.path.abspath(path)), make)
    return path
