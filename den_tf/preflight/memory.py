"""Memory for the largest network a run holds, checked before the first training step.

Pure functions, no flags, no TensorFlow: `check_memory` raises `ConfigError` (exit status
2) with one line naming the settings and the sizes.

What a run holds is its method's own estimate (`MethodCard.memory`, a
`den_tf.config.registry.Footprint`: DEN's in den_tf/den/__init__.py, each baseline's in
den_tf/baselines/<name>/__init__.py), made from the architecture's sizes
(den_tf.model.archs: `units`, `parameter_count`, `activations`). Here: the bytes such a
network needs at its peak (`peak_bytes`), the data's (`data_bytes`), what the machine
has (`available_memory`), and the refusal (`check_memory`, `check_run_memory`).
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

from den_tf.config.registry import Footprint, method_card, resolve_arch
from den_tf.errors import ConfigError
from den_tf.model.archs.specs import MLP, image_shape_of

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
# largest network (every hidden weight trains, docs/algorithm.md#split): the variable
# (4), Adam's two moments (8), the task-start copy the pull compares with, padded (4)
# and as numpy (4), its mask (1), the gradient and the step's temporaries (new m, v and
# value, the proximal step: ~16), the numpy copies a growth makes of a layer (8), and the
# expansion phase's moments and masks (11), alive until the split's runner replaces it:
# ~56 in all; 51-52 measured (above); 64 leaves a margin.
PARAM_FACTOR = 64
# Bytes per activation (float32, one per example and hidden unit) of the widest forward
# pass, the overall evaluation on a test set: the matmul output and its relu, both held
# for the next layer. Training and evaluation peak at different times, so adding both
# terms overestimates: a margin.
ACTIVATION_FACTOR = 8


# ----------------------------------------------------------------------------- the MLP's
def parameter_count(dims: Sequence[int], hidden: Sequence[int], n_tasks: int) -> int:
    """Weights and biases of an MLP with these hidden sizes, one head per task (each no
    wider than the top hidden layer)."""
    return MLP().parameter_count(int(dims[0]), None, hidden, int(dims[-1]), n_tasks)


def peak_bytes(net: Footprint, n_tasks: int, data_bytes: int = 0,
               eval_rows: int = 10000) -> int:
    """The memory (bytes) a run holding `net` needs at its peak: BASE_BYTES +
    PER_TASK_BYTES per task (TensorFlow, compiled phases) + data_bytes (the data set as
    loaded and as tensors) + PARAM_FACTOR per parameter + net.extra + ACTIVATION_FACTOR
    per activation of a forward pass over `eval_rows` examples (the largest of the
    validation and test sets)."""
    return (BASE_BYTES + PER_TASK_BYTES * n_tasks + int(data_bytes)
            + PARAM_FACTOR * net.params + int(net.extra)
            + ACTIVATION_FACTOR * eval_rows * net.activations)


def eval_rows(n_validation: int, n_test: int, pooled_tasks: int = 0) -> int:
    """Examples of the widest forward pass: the larger of the validation and test sets;
    a method that validates on `pooled_tasks` tasks' validation sets at once (mtl, its
    Footprint says) that many validation sets."""
    return int(max(max(1, pooled_tasks) * n_validation, n_test))


def data_bytes(data, pooled_tasks: int = 0) -> int:
    """Bytes the data set takes during a run (a `den_tf.datasets.ImageData`): every split as
    loaded (uint8 pixels, float32 labels), the training split again as resident tensors,
    and per task the float32 permuted validation and test images (numpy and tensor) plus
    one more permuted test set at a time for the overall evaluation. `pooled_tasks`
    (`mtl`): that many tasks' validation sets pooled as one float32 tensor, with the
    task index column, and their labels."""
    splits = (data.train, data.validation, data.test)
    loaded = sum(s.pixels.nbytes + s.labels.nbytes for s in splits)
    resident = data.train.pixels.nbytes + data.train.labels.nbytes
    d = data.train.pixels.shape[1]
    permuted = 2 * 4 * d * (len(data.validation) + 2 * len(data.test))
    labels = data.validation.labels.shape[1]
    pooled = 4 * pooled_tasks * len(data.validation) * (d + 1 + labels)
    return int(loaded + resident + permuted + pooled)


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


def check_memory(footprint: Footprint, n_tasks: int, data_bytes: int = 0,
                 eval_rows: int = 10000, available: Optional[int] = None,
                 worst: Optional[Footprint] = None,
                 warn: Optional[Callable[[str], None]] = None) -> int:
    """Refuses (ConfigError) a run whose `footprint` (its method's estimate) does not fit
    in `available` bytes (default: `available_memory()`; no check when unknown); the line
    names the settings the estimate depends on and what would fit. `worst`: a worst case
    the method only warns about (DEN with --paper=Q8: if every unit drifted in every
    task), said through `warn` when it does not fit. Returns the estimate."""
    need = peak_bytes(footprint, n_tasks, data_bytes, eval_rows)
    if available is None:
        available = available_memory()
    if available is not None and need > available:
        verb = "the network can grow to" if footprint.grows else "the run holds"
        raise ConfigError(f"{footprint.flags}: {verb} {footprint.what}, which need about "
                          f"{_gib(need)} of memory; {_gib(available)} is available "
                          f"({footprint.advice})")
    if worst is not None and available is not None and warn is not None:
        worst_need = peak_bytes(worst, n_tasks, data_bytes, eval_rows)
        if worst_need > available:
            warn(f"{worst.flags}: {worst.advice} {worst.what}, about {_gib(worst_need)} of "
                 f"memory against {_gib(available)} available (the run goes on)")
    return need


def check_run_memory(config, data, available: Optional[int] = None,
                     warn: Optional[Callable[[str], None]] = None) -> Optional[int]:
    """`check_memory` of a run of `config` on `data` (an ImageData): the method's own
    estimate (its card's `memory`) on the architecture and the data's images, for
    config.tasks tasks. None when the method gives no estimate."""
    card = method_card(config.method)
    if card.memory is None:
        return None
    arch = resolve_arch(config.arch)
    shape = arch.image_shape(data.input_size, image_shape_of(data))
    fp = card.memory(config, arch, data.input_size, shape, config.tasks)
    worst = card.memory(config, arch, data.input_size, shape, config.tasks, worst=True)
    return check_memory(fp, config.tasks, data_bytes(data, fp.pooled_tasks),
                        eval_rows(len(data.validation), len(data.test), fp.pooled_tasks),
                        available, worst, warn)
