"""Memory for the largest network a run can grow to, checked before the first training
step (spec steps 6 and 8: expansion and duplication bound the growth).

Pure functions, no flags, no TensorFlow: `check_memory` raises `ConfigError` (exit
status 2) with one line naming the settings and the sizes.

* `max_hidden_sizes`, `estimate_peak_bytes`, `available_memory`, `check_memory`: the
  largest sizes a run can reach, the memory they take, and the refusal when it exceeds
  what the machine has. DEN on the MLP or a convolutional arch (`conv_max_sizes`), with
  --paper=Q8's unbounded splits (`grown_size`), or a baseline, which does not grow
  (`baseline_network`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional, Sequence, Tuple

from den_tf.config import COLUMN_SCALE, PAPER_SWITCHES, column_units
from den_tf.errors import ConfigError
from den_tf.model.archs.specs import CONV_ARCHS  # sizes and geometry only: no TensorFlow


def grown_size(n: int, ex_k: int, n_tasks: int, split_all: bool = False) -> int:
    """The most units (a convolutional layer's: filters) a DEN hidden layer of n units at
    task 1 can have after n_tasks tasks.

    Task 1 trains the layer as given. Every later task can expand it by ex_k units (spec
    step 6; pruning may keep all of them) and then duplicate units it had when the task
    started (spec step 8: the split candidates are the task-start units): at most
    min(ex_k, n) of them, the ex_k least drifted. So n -> n + ex_k + min(ex_k, n) per
    task, for tasks 2..n_tasks, and the largest size is the one after the last task.
    `split_all` (--paper=Q8, paper Sec. 3 "Network split/duplication": every unit that
    drifted above the threshold is split, no ex_k cap): all n can be duplicated, so
    n -> n + ex_k + n, a layer can more than double every task.
    """
    n = int(n)
    for _ in range(max(0, n_tasks - 1)):
        n = n + ex_k + (n if split_all else min(ex_k, n))
    return n


def max_hidden_sizes(dims: Sequence[int], ex_k: int, n_tasks: int,
                     split_all: bool = False) -> list:
    """The most units each hidden layer of the MLP (dims[1:-1]) can reach, and reach
    within a task: `grown_size` of each (spec steps 6 and 8; `split_all`: --paper=Q8)."""
    return [grown_size(d, ex_k, n_tasks, split_all) for d in dims[1:-1]]


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


def _conv_spec(arch):
    """A convolutional architecture: its name in CONV_ARCHS (den_tf/model/archs/specs.py), or a
    ConvArch itself."""
    return CONV_ARCHS[arch] if isinstance(arch, str) else arch


def conv_max_sizes(arch, ex_k: int, n_tasks: int, split_all: bool = False) -> Tuple[list, list]:
    """The most filters of every convolutional layer and units of every fully connected
    hidden layer of a convolutional DEN network (`--arch=lenet`, `conv5`): each is a DEN
    layer (paper Sec. 4; den_tf/den/expansion.py runs the same steps on filters), so
    each grows by `grown_size` (spec steps 6 and 8; `split_all`: --paper=Q8) from the
    architecture's sizes."""
    spec = _conv_spec(arch)
    return ([grown_size(b.filters, ex_k, n_tasks, split_all) for b in spec.convs],
            [grown_size(u, ex_k, n_tasks, split_all) for u in spec.fc])


def conv_parameter_count(arch, image_shape: Sequence[int], filters: Sequence[int],
                         fc: Sequence[int], n_out: int, n_tasks: int) -> int:
    """Weights and biases of a convolutional network with these filters and fully
    connected sizes, one head per task, as den_tf/model/archs/conv.py builds it: a size x size x
    c_in x filters kernel and a bias per filter per convolutional layer; the first dense
    layer takes filters_of_the_last_conv x flat_block rows (each filter's H*W block of
    the channel-major flatten, `ConvArch.flat_block`); the other dense layers and the
    heads as in the MLP (`parameter_count`)."""
    spec = _conv_spec(arch)
    n, c = 0, int(image_shape[2])
    for blk, f in zip(spec.convs, filters):
        n += blk.size * blk.size * c * int(f) + int(f)
        c = int(f)
    rows = c * spec.flat_block(image_shape)
    for units in fc:
        n += rows * int(units) + int(units)
        rows = int(units)
    return int(n + n_tasks * (rows * int(n_out) + int(n_out)))


def conv_activations(arch, image_shape: Sequence[int], filters: Sequence[int],
                     fc: Sequence[int], n_out: int) -> int:
    """Activations per example of a convolutional network's forward pass
    (den_tf.model.conv.ConvForward): every convolution's output map, H*W*filters at its
    resolution BEFORE its max-pooling (the pooled map is at most a quarter of it: within
    ACTIVATION_FACTOR's margin), every fully connected hidden unit and the head's
    outputs."""
    spec = _conv_spec(arch)
    h, w = int(image_shape[0]), int(image_shape[1])
    n = 0
    for blk, f in zip(spec.convs, filters):
        ch, cw = dataclasses.replace(blk, pool=0).out_hw(h, w)  # the convolution alone
        n += ch * cw * int(f)
        h, w = blk.out_hw(h, w)  # and its pooling: the next layer's input
    return int(n + sum(int(u) for u in fc) + int(n_out))


@dataclasses.dataclass(frozen=True)
class Largest:
    """The largest network(s) a run holds at once: `params` weights and biases,
    `activations` per example of the widest forward pass, `extra` bytes held besides
    (per-parameter state PARAM_FACTOR does not cover), and `what`, the words the
    refusal uses for it."""

    params: int
    activations: int
    extra: int = 0
    what: str = ""


def largest_network(dims: Sequence[int], ex_k: int, n_tasks: int, arch: str = "mlp",
                    image_shape: Optional[Sequence[int]] = None,
                    split_all: bool = False) -> Largest:
    """The largest network a DEN run can grow to (spec steps 6 and 8; `split_all`:
    --paper=Q8's splits): the MLP of --dims (`max_hidden_sizes`) or a convolutional
    architecture on `image_shape` (H, W, C; `conv_max_sizes`), with one head of dims[-1]
    outputs per task."""
    n_out = int(dims[-1])
    if arch in CONV_ARCHS:
        if image_shape is None:
            raise ValueError(f"--arch={arch}: the memory estimate needs the image shape")
        filters, fc = conv_max_sizes(arch, ex_k, n_tasks, split_all)
        shape = "x".join(str(int(d)) for d in image_shape)
        return Largest(conv_parameter_count(arch, image_shape, filters, fc, n_out, n_tasks),
                       conv_activations(arch, image_shape, filters, fc, n_out), 0,
                       f"convolutional layers of {filters} filters and fully connected "
                       f"layers of {fc} units (on {shape} images)")
    hidden = max_hidden_sizes(dims, ex_k, n_tasks, split_all)
    return Largest(parameter_count(dims, hidden, n_tasks), sum(hidden) + n_out, 0,
                   f"hidden sizes {hidden}")


# EWC (den_tf/baselines/ewc.py) holds, per hidden weight and bias, besides what
# PARAM_FACTOR counts (its pull's target is the task-start copy it budgets): the sum of
# the Fishers, of F * theta and the last task's values, in float64 (24), the anchors and
# the Fisher as float32 for the phase (8), the Fisher as the pull's padded weights (4);
# and while a task's Fisher is computed, one chunk's per-example gradients
# (`diagonal_fisher`: a jacobian over EWC_FISHER_CHUNK examples) and their squares. A
# count, not a measurement. l2's anchor is the task-start copy PARAM_FACTOR counts.
EWC_FISHER_CHUNK = 100
EWC_BYTES = 24 + 8 + 4 + 2 * 4 * EWC_FISHER_CHUNK


def conv_baseline_network(method: str, arch, image_shape: Sequence[int], n_out: int,
                          n_tasks: int, column_scale: float = COLUMN_SCALE) -> Largest:
    """`baseline_network` on a convolutional architecture: the architecture's network at
    its initial sizes (stl: one per task; progressive: one column of column_scale times
    its filters and units per task, each pair of columns' laterals counted as one more
    column, an over-estimate)."""
    spec = _conv_spec(arch)
    filters, fc = [b.filters for b in spec.convs], list(spec.fc)
    if method == "progressive":
        filters, fc = ([max(1, int(round(column_scale * f))) for f in filters],
                       [max(1, int(round(column_scale * u))) for u in fc])
    one = conv_parameter_count(arch, image_shape, filters, fc, n_out, 1)
    acts = conv_activations(arch, image_shape, filters, fc, n_out)
    shape = "x".join(str(int(d)) for d in image_shape)
    if method in ("stl", "progressive"):
        pairs = n_tasks * (n_tasks - 1) // 2 if method == "progressive" else 0
        return Largest(one * (n_tasks + pairs), acts * (n_tasks if pairs else 1), 0,
                       f"{n_tasks} {'columns' if pairs else 'networks'} of {filters} "
                       f"filters and {fc} units (on {shape} images)")
    params = conv_parameter_count(arch, image_shape, filters, fc, n_out, n_tasks)
    hidden = conv_parameter_count(arch, image_shape, filters, fc, n_out, 0)
    extra = EWC_BYTES * hidden if method == "ewc" else 0
    return Largest(params, acts + (n_out * n_tasks if method == "mtl" else 0), extra,
                   f"a network of {filters} filters and {fc} units with {n_tasks} heads "
                   f"(on {shape} images)")


def baseline_network(method: str, dims: Sequence[int], n_tasks: int,
                     column_scale: float = COLUMN_SCALE) -> Largest:
    """What a baseline (--method, den_tf/baselines/) holds after n_tasks tasks: nothing
    grows by ex_k (no expansion, no split).

    * `dnn`, `l2`, `ewc`, `mtl`: the base network of --dims and one head per task (`ewc`
      also its Fisher sums and anchors: EWC_BYTES per hidden parameter; `mtl`'s pooled
      forward pass computes every task's head for every example);
    * `stl`: one base network (hidden layers and head) per task; one at a time in a
      forward pass;
    * `progressive` (Rusu et al. 2016, Eq. 1): one column per task, hidden sizes
      `column_units`, with its head; column k also has a lateral weight matrix (no bias)
      from each earlier column into each of its hidden layers after the first and into
      its head; task k's forward pass runs columns 1..k.
    """
    hidden = [int(d) for d in dims[1:-1]]
    n_out = int(dims[-1])
    if method == "stl":
        return Largest(n_tasks * parameter_count(dims, hidden, 1), sum(hidden) + n_out, 0,
                       f"{n_tasks} base networks of hidden sizes {hidden}")
    if method == "progressive":
        units = column_units(dims, column_scale)
        column = parameter_count(dims, units, 1)  # with its head
        lateral = sum(a * b for a, b in zip(units, units[1:] + [n_out]))  # from one column
        params = n_tasks * column + lateral * n_tasks * (n_tasks - 1) // 2
        return Largest(params, n_tasks * sum(units) + n_out, 0,
                       f"{n_tasks} columns of hidden sizes {units} with lateral weights")
    params = parameter_count(dims, hidden, n_tasks)
    activations = sum(hidden) + n_out * (1 + (n_tasks if method == "mtl" else 0))
    extra = EWC_BYTES * parameter_count(dims, hidden, 0) if method == "ewc" else 0
    return Largest(params, activations, extra,
                   f"a network of hidden sizes {hidden} with {n_tasks} heads")


def eval_rows(n_validation: int, n_test: int, method: str = "den", n_tasks: int = 1) -> int:
    """Examples of the widest forward pass: the larger of the validation and test sets;
    for `mtl`, whose early stopping validates on every task's validation set at once
    (den_tf/baselines/mtl.py, `PooledTasks`), n_tasks validation sets."""
    pooled = n_tasks * n_validation if method == "mtl" else n_validation
    return int(max(pooled, n_test))


def peak_bytes(net: Largest, n_tasks: int, data_bytes: int = 0,
               eval_rows: int = 10000) -> int:
    """The memory (bytes) a run holding `net` needs at its peak: BASE_BYTES +
    PER_TASK_BYTES per task (TensorFlow, compiled phases) + data_bytes (the data set as
    loaded and as tensors) + PARAM_FACTOR per parameter + net.extra + ACTIVATION_FACTOR
    per activation of a forward pass over `eval_rows` examples (the largest of the
    validation and test sets)."""
    return (BASE_BYTES + PER_TASK_BYTES * n_tasks + int(data_bytes)
            + PARAM_FACTOR * net.params + int(net.extra)
            + ACTIVATION_FACTOR * eval_rows * net.activations)


def estimate_peak_bytes(dims: Sequence[int], ex_k: int, n_tasks: int,
                        data_bytes: int = 0, eval_rows: int = 10000, arch: str = "mlp",
                        image_shape: Optional[Sequence[int]] = None,
                        split_all: bool = False) -> int:
    """The memory (bytes) the largest network this run can grow to (`largest_network`)
    needs at its peak (`peak_bytes`)."""
    return peak_bytes(largest_network(dims, ex_k, n_tasks, arch, image_shape, split_all),
                      n_tasks, data_bytes, eval_rows)


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


def check_memory(dims: Sequence[int], ex_k: int, n_tasks: int, data_bytes: int = 0,
                 eval_rows: int = 10000, available: Optional[int] = None,
                 arch: str = "mlp", image_shape: Optional[Sequence[int]] = None,
                 paper: Sequence[str] = (), method: str = "den",
                 column_scale: float = COLUMN_SCALE,
                 warn: Optional[Callable[[str], None]] = None) -> int:
    """Refuses (ConfigError) settings whose largest network cannot fit: the estimate of
    `estimate_peak_bytes` against `available` bytes (default: `available_memory()`; no
    check when unknown). `method`: a baseline (`baseline_network`, which ignores ex_k and
    paper) or DEN. The line names the flags the estimate depends on. Returns the
    estimate.

    `paper`: the --paper switches. With Q8 every drifted unit can be split, and the
    worst case (every unit drifts in every task, `grown_size(split_all=True)`) doubles a
    layer per task: ten tasks of the default network would need hundreds of GiB, while a
    real run splits a few units (logs/paper_all: 409 / 198 units after ten tasks). So
    the refusal stays on the capped rule (at most ex_k duplicates, spec step 8), and a
    Q8 worst case that does not fit is only said, through `warn`, with the sizes."""
    if method != "den":
        net = (conv_baseline_network(method, arch, image_shape, dims[-1], n_tasks,
                                     column_scale) if arch in CONV_ARCHS
               else baseline_network(method, dims, n_tasks, column_scale))
    else:
        net = largest_network(dims, ex_k, n_tasks, arch, image_shape)
    need = peak_bytes(net, n_tasks, data_bytes, eval_rows)
    if available is None:
        available = available_memory()
    if available is not None and need > available and method != "den":
        flags = f"--method={method} --dims={','.join(str(d) for d in dims)} --n_tasks={n_tasks}"
        smaller = "smaller --dims or fewer --n_tasks fit"
        if method == "progressive":
            flags += f" --column_scale={column_scale:g}"
            smaller = "a smaller --column_scale, smaller --dims or fewer --n_tasks fit"
        raise ConfigError(f"{flags}: the run holds {net.what}, which need about "
                          f"{_gib(need)} of memory; {_gib(available)} is available "
                          f"({smaller})")
    flags = f"--ex_k={ex_k} --dims={','.join(str(d) for d in dims)} --n_tasks={n_tasks}"
    if arch != "mlp":
        flags = f"--arch={arch} {flags}"
    if available is not None and need > available:
        raise ConfigError(
            f"{flags}: the network can grow to {net.what}, which need about "
            f"{_gib(need)} of memory; {_gib(available)} is available (a smaller --ex_k "
            f"or fewer --n_tasks fit)")
    if "Q8" in paper and method == "den" and available is not None and warn is not None:
        worst = largest_network(dims, ex_k, n_tasks, arch, image_shape, split_all=True)
        worst_need = peak_bytes(worst, n_tasks, data_bytes, eval_rows)
        if worst_need > available:
            given = "all" if set(paper) == set(PAPER_SWITCHES) else ",".join(paper)
            warn(f"{flags} --paper={given}: with Q8 every drifted unit is split; if every "
                 f"unit drifted in every task the network would grow to {worst.what}, "
                 f"about {_gib(worst_need)} of memory against {_gib(available)} available "
                 f"(the run goes on: real runs split far fewer units)")
    return need
