"""What a run needs from the machine, checked before the first training step: outputs it
can write, and memory for the largest network it can grow to (issue 9).

Pure functions, no flags: the command line (`den_tf/cli.py`) calls them with the flag
names and values, and each raises `ConfigError` (exit status 2) with one line naming the
flag, the path (or the settings) and the reason, before TensorFlow is even imported.

* `check_dir_output(flag, path)`: `path` is, or can be made, a folder we can create
  files in (made now with `make=True`, else when first written).
* `check_file_output(flag, path)`: `path` is not a folder, and its folder can hold new
  files; with `append=True` an existing file need only open for appending (the log).
* `max_hidden_sizes`, `estimate_peak_bytes`, `available_memory`, `check_memory`: the
  largest sizes a run can reach (spec steps 6 and 8), the memory they take, and the
  refusal when it exceeds what the machine has.
"""

from __future__ import annotations

import errno
import os
import tempfile
from typing import Optional, Sequence

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


# ----------------------------------------------------------------------------- memory
def max_hidden_sizes(dims: Sequence[int], ex_k: int, n_tasks: int) -> list:
    """The most units each hidden layer can reach, and reach within a task.

    Task 1 trains dims as given. Every later task can expand each hidden layer by ex_k
    units (spec step 6; pruning may keep all of them) and then duplicate up to ex_k of
    the units the layer had when the task started (spec step 8: the split candidates are
    the task-start units, so at most min(ex_k, n) of them). So n -> n + ex_k + min(ex_k, n)
    per task, for tasks 2..n_tasks, and the largest size is the one after the last task.
    """
    sizes = [int(d) for d in dims[1:-1]]
    for _ in range(max(0, n_tasks - 1)):
        sizes = [n + ex_k + min(ex_k, n) for n in sizes]
    return sizes


# The constants below are calibrated on measured peaks (ru_maxrss, 2 cores, TF 2 on CPU,
# --max_iter=5 --train_seed=1, at the sizes each run reached):
# * `main.py --n_tasks=2 --ex_k=10`: 1194 MiB, of which ~250 MiB data (`data_bytes`);
#   the README's full run (10 tasks): 1704 MiB. TensorFlow, XLA and one set of compiled
#   phases cost ~800 MiB, and every task ~60 MiB more (its phases are compiled anew for
#   its shapes, and kept): BASE_BYTES and PER_TASK_BYTES, rounded up.
# * the same run on 2000 training examples (activations negligible), ex_k 4000 and
#   8000 (22.3 M and 76.1 M parameters): 51 and 52 bytes per parameter above the ex_k
#   10 run.
# * `main.py --n_tasks=2`, ex_k 3000 and 6000 (13.8 M and 45.2 M parameters, evaluation
#   on 10000 test images of 6.7 k and 12.7 k hidden units): 1986 and 3654 MiB; the
#   estimate at the sizes reached says 2782 and 5157 MiB.
BASE_BYTES = 1 << 30
PER_TASK_BYTES = 80 << 20
# Bytes per parameter (float32 weight or bias) at the peak, the split phase of the
# largest network (spec step 8: every hidden weight trains): the variable (4), Adam's
# two moments (8), the task-start copy the pull compares with, padded (4) and as numpy
# (4), its mask (1), the gradient and the step's temporaries (new m, v and value, the
# proximal step: ~16), the numpy copies a growth makes of a layer (8), and the
# expansion phase's moments and masks (11), alive until the split's runner replaces it:
# ~56 in all; 51-52 measured (above); 64 leaves a margin.
PARAM_FACTOR = 64
# Bytes per activation (float32, one per example and hidden unit) of the widest forward
# pass, the overall evaluation on a test set: the matmul output and its relu, both held
# for the next layer. Training and evaluation peak at different times, so adding both
# terms overestimates: a margin.
ACTIVATION_FACTOR = 8


def parameter_count(dims: Sequence[int], hidden: Sequence[int], n_tasks: int) -> int:
    """Weights and biases of a network with these hidden sizes, one head per task (each
    no wider than the top hidden layer)."""
    sizes = [int(dims[0])] + [int(h) for h in hidden]
    n = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    n_out = int(dims[-1])
    return n + n_tasks * (sizes[-1] * n_out + n_out)


def estimate_peak_bytes(dims: Sequence[int], ex_k: int, n_tasks: int,
                        data_bytes: int = 0, eval_rows: int = 10000) -> int:
    """The memory (bytes) the largest network this run can grow to needs at its peak:
    BASE_BYTES + PER_TASK_BYTES per task (TensorFlow, compiled phases) + data_bytes (the
    data set as loaded and as tensors) + PARAM_FACTOR per parameter + ACTIVATION_FACTOR
    per activation of a forward pass over `eval_rows` examples (the largest of the
    validation and test sets)."""
    hidden = max_hidden_sizes(dims, ex_k, n_tasks)
    params = parameter_count(dims, hidden, n_tasks)
    activations = eval_rows * (sum(hidden) + int(dims[-1]))
    return (BASE_BYTES + PER_TASK_BYTES * n_tasks + int(data_bytes) + PARAM_FACTOR * params
            + ACTIVATION_FACTOR * activations)


def data_bytes(data) -> int:
    """Bytes the data set takes during a run (a `den_tf.data.MnistData`): every split as
    loaded (uint8 pixels, float32 labels), the training split again as resident tensors,
    and per task the float32 permuted validation and test images (numpy and tensor) plus
    one more permuted test set at a time for the overall evaluation."""
    splits = (data.train, data.validation, data.test)
    loaded = sum(s.pixels.nbytes + s.labels.nbytes for s in splits)
    resident = data.train.pixels.nbytes + data.train.labels.nbytes
    d = data.train.pixels.shape[1]
    permuted = 2 * 4 * d * (len(data.validation) + 2 * len(data.test))
    return int(loaded + resident + permuted)


def _read_int(path: str) -> Optional[int]:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> Optional[int]:
    """Bytes this process can still use: /proc/meminfo's MemAvailable (else the free
    pages os.sysconf reports), lowered to a cgroup's limit minus its usage when one is
    set. None when nothing says."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    for limit_file, usage_file in (
            ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
             "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < (1 << 60):
            room = max(0, limit - usage)
            avail = room if avail is None else min(avail, room)
    return avail


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def check_memory(dims: Sequence[int], ex_k: int, n_tasks: int, data_bytes: int = 0,
                 eval_rows: int = 10000, available: Optional[int] = None) -> int:
    """Refuses (ConfigError) settings whose largest network cannot fit: the estimate of
    `estimate_peak_bytes` against `available` bytes (default: `available_memory()`; no
    check when unknown). Returns the estimate."""
    need = estimate_peak_bytes(dims, ex_k, n_tasks, data_bytes, eval_rows)
    if available is None:
        available = available_memory()
    if available is not None and need > available:
        hidden = max_hidden_sizes(dims, ex_k, n_tasks)
        raise ConfigError(
            f"--ex_k={ex_k} --dims={','.join(str(d) for d in dims)} --n_tasks={n_tasks}: "
            f"the network can grow to hidden sizes {hidden}, which need about "
            f"{_gib(need)} of memory; {_gib(available)} is available (a smaller --ex_k "
            f"or fewer --n_tasks fit)")
    return need
