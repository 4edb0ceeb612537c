"""The settings of a DEN run: the original script's flags plus the port's own.

The library takes a `DENConfig`; only the command line (`den_tf/flags.py`, `den_tf/cli.py`)
knows about absl. Defaults are the original's (spec: "Flags and their defaults").

Imports: den_tf.errors, den_tf.datasets, den_tf.model (names and sizes only: no TensorFlow).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

from den_tf.datasets import CLASS_ORDERS, DATASETS, TASK_STREAMS  # names only: no TensorFlow
from den_tf.errors import ConfigError
from den_tf.model.archs import specs  # sizes only: no TensorFlow

# Spec Q14: on the new blocks of an expansion, the original applies L1 and group lasso
# with no order between them. l1_then_gl: L1, then group lasso; gl_only: group lasso
# alone on those blocks (what the recordings show for some blocks); gl_then_l1: group
# lasso, then L1. Entries outside the group blocks always get L1 alone.
PROX_ORDERS = ("l1_then_gl", "gl_only", "gl_then_l1")
# The default, settled by measurement (README, "Q14"): three seeded full default runs
# with each of l1_then_gl and gl_only; gl_only came closer to the original's logs on
# every figure (final avg_perf, AUROC of tasks 2..10, test CE, units added).
DEFAULT_PROX_ORDER = "gl_only"

# The departures of the original code from the paper that a switch turns into what the
# paper says (spec "What the paper says instead"). Q1 is --n_tasks, Q3 the results'
# accuracy beside the AUROC, Q13 is always the paper's, Q14 is --prox_order and Q15 is
# --task_seed.
PAPER_SWITCHES = {
    "Q2": "new biases start at zero instead of glorot-uniform",
    "Q4": "the new head trains alone for max_iter/10 steps (with L1) before selection, "
          "instead of one step",
    "Q5": "selection starts from the top units connected to ANY output of the new head, "
          "not output 0 only",
    "Q6": "selective retraining trains the new task's full head, not one column shared "
          "by all outputs",
    "Q7": "expansion is decided on the retrained network's validation CE, not on the "
          "last minibatch's CE",
    "Q8": "every unit whose drift exceeds spl_thr is split, not the ex_k least drifted",
    "Q9": "split units' copies keep the retrained values and only the split originals "
          "are restored; other units keep their retrained values",
    "Q10": "a duplicate's bias is a copy of its original's, not U[0, 1)",
    "Q11": "the split phase retrains only when a unit was split",
    "Q12": "the timestamp's output size is the head's, not a literal 10 (printed shapes)",
}


# The switches that concern a baseline too (--method other than den): Q2, new biases at
# zero in every network it builds. The others describe DEN's own steps (spec steps 4-8,
# the timestamps) and are refused with a baseline.
BASELINE_PAPER = ("Q2",)


def parse_paper(values) -> tuple:
    """The switches of a --paper list (`Q4,Q6`, `all`, or empty), sorted by number;
    raises ConfigError naming an unknown one."""
    out = set()
    for v in values or ():
        v = str(v).strip()
        if not v:
            continue
        if v.lower() == "all":
            out.update(PAPER_SWITCHES)
            continue
        q = v.upper()
        if q not in PAPER_SWITCHES:
            known = ", ".join(PAPER_SWITCHES)
            raise ConfigError(f"--paper={','.join(map(str, values))}: unknown switch {v!r} "
                              f"(known: {known}, or all)")
        out.add(q)
    return tuple(sorted(out, key=lambda q: int(q[1:])))


@dataclasses.dataclass(frozen=True)
class DENConfig:
    # --- the original's flags, same names and defaults ---
    max_iter: int = 4300
    lr: float = 0.001
    batch_size: int = 256
    checkpoint_dir: str = "checkpoints"
    dims: tuple = (784, 312, 128, 10)
    n_classes: int = 10
    l1_lambda: float = 0.00001
    l2_lambda: float = 0.0001
    gl_lambda: float = 0.001
    regular_lambda: float = 0.5
    ex_k: int = 10
    loss_thr: float = 0.01
    spl_thr: float = 0.05
    # --- the port's own ---
    n_tasks: Optional[int] = None  # None: n_classes tasks, as the original (Q1)
    # The data set (den_tf.datasets.DATASETS) and the task stream (TASK_STREAMS):
    # "permuted" is the original's benchmark; with "split", n_classes is the number of
    # classes PER TASK (the head's size, dims[-1]) and n_tasks * n_classes must be the
    # data set's number of classes.
    dataset: str = "mnist"
    task_stream: str = "permuted"
    # Two seeds for two things (spec "The benchmark", Q10, Q15):
    # task_seed: the task stream (the pixel permutations), 1004 as the original. Without
    #   a train_seed, the duplicates' random biases continue its generator, as the
    #   original's global numpy RandomState does.
    # train_seed: the training randomness (initial values, minibatches, duplicates'
    #   biases); None draws it afresh every run, as the original; a value makes the run
    #   repeatable bit for bit.
    task_seed: int = 1004
    train_seed: Optional[int] = None
    # Spec Q14: the order of the proximal steps on the expansion's new blocks.
    prox_order: str = DEFAULT_PROX_ORDER
    # Departures of the original from the paper done as the paper says (PAPER_SWITCHES);
    # empty: the original's behaviour everywhere.
    paper: tuple = ()
    # Allow TensorFloat-32 matmuls on GPUs that have them (about 10 mantissa bits);
    # off: full float32, as the original.
    allow_tf32: bool = False
    xla: bool = True  # compile the hot steps with XLA (jit_compile)
    # The MLP's hidden sizes padded to multiples of capacity_bucket inside the
    # phase runner (padded units frozen at zero), so that growth within a bucket reuses
    # a compiled phase; 0: the exact shapes (the default; the original's sums to the bit).
    capacity_bucket: int = 0
    # Draw the minibatches of a permuted task from its training pixels permuted once
    # (one copy, the current task's) instead of permuting each minibatch in the step:
    # the same pixels, faster steps, but the first layer's sums may round otherwise on
    # XLA:CPU (False, the default: the previous port's sums to the bit).
    permute_once: bool = False
    # The network (den_tf.model.archs): "mlp" (the original's, sizes from dims), "lenet" (the
    # paper's submission CNN) or "conv5" (its camera-ready CNN); for the convolutional
    # ones dims is ignored except its last entry (the head size, = n_classes).
    arch: str = "mlp"
    # Split threshold of convolutional layers (paper Sec. 4: 0.02 for conv layers in the
    # submission); dense layers keep spl_thr.
    spl_thr_conv: float = 0.02
    # The split stream's classes: explicit groups, one per task, of any sizes (e.g.
    # ((0, 1), (2, 3), (4, 5)); empty: n_tasks groups of equal size), and the order the
    # equal groups are cut from ("ascending", or "shuffled" by task_seed).
    class_groups: tuple = ()
    class_order: str = "ascending"

    @property
    def tasks(self) -> int:
        """Number of tasks: n_tasks, else the number of class groups, else n_classes
        (spec Q1)."""
        if self.n_tasks is not None:
            return self.n_tasks
        return len(self.class_groups) if self.class_groups else self.n_classes

    @property
    def head_sizes(self) -> Optional[list]:
        """Each task's number of classes when explicit class groups set them, else None
        (every head the last dims size)."""
        return [len(g) for g in self.class_groups] if self.class_groups else None

    def follows_paper(self, q: str) -> bool:
        """Whether departure `q` (e.g. "Q6") is done as the paper says."""
        return q in self.paper

    @property
    def n_hidden(self) -> int:
        return len(self.dims) - 2

    def stream_for(self, data):
        """The task stream these settings name on `data` (task_stream, tasks, task_seed,
        class_order, class_groups: den_tf.datasets.make_stream), checked: every task's
        head the last dims size (the widest, with class groups), every task's training
        set at least one minibatch. No TensorFlow."""
        from den_tf.datasets import make_stream
        from den_tf.datasets.streams import check_stream
        tasks = make_stream(data, self.task_stream, self.tasks, self.task_seed,
                            self.class_order, self.class_groups or None)
        check_stream(tasks, self.dims[-1], self.batch_size, varying=bool(self.class_groups))
        return tasks

    def replace(self, **kw) -> "DENConfig":
        return dataclasses.replace(self, **kw)

    def validate(self, input_size: Optional[int] = None, n_classes_data: Optional[int] = None,
                 train_size: Optional[int] = None,
                 image_shape: Optional[Sequence[int]] = None) -> "DENConfig":
        """Checks every rule; raises ConfigError naming the flag, the value and the rule.

        The data-dependent rules (dims[0], dims[-1], batch_size; a convolutional arch's
        layers against the images: `image_shape` (H, W, C), or a square single-channel
        image of input_size) run when the data's sizes are given.
        """
        specs.check(self.arch)
        conv = self.arch in specs.CONV_ARCHS
        for name, rule in DEN_RULES.items():
            rule(name, getattr(self, name))
        check_dims(self.dims, min_sizes=1 if conv else 3)
        if self.capacity_bucket and conv:
            raise ConfigError(f"--capacity_bucket={self.capacity_bucket}: pads the MLP's "
                              f"hidden units only; --arch={self.arch} has none to pad (leave "
                              f"it at 0)")
        if tuple(self.paper) != parse_paper(self.paper):
            raise ConfigError(f"--paper={','.join(self.paper)}: must be a sorted list of "
                              f"known switches ({', '.join(PAPER_SWITCHES)})")
        if self.dataset not in DATASETS:
            raise ConfigError(f"--dataset={self.dataset}: must be one of {', '.join(DATASETS)}")
        if self.task_stream not in TASK_STREAMS:
            raise ConfigError(f"--tasks={self.task_stream}: must be one of "
                              f"{', '.join(TASK_STREAMS)}")
        if self.prox_order not in PROX_ORDERS:
            raise ConfigError(f"--prox_order={self.prox_order}: must be one of "
                              f"{', '.join(PROX_ORDERS)}")
        check_class_groups(self.class_groups, self.class_order, self.task_stream,
                           self.n_tasks, n_classes_data)
        if self.class_groups:
            widest = max(self.head_sizes)
            if self.dims[-1] != widest:
                raise ConfigError(
                    f"--dims={_fmt_dims(self.dims)}: the last size must be the widest class "
                    f"group's size {widest} (--class_groups)")
        elif self.dims[-1] != self.n_classes:
            raise ConfigError(
                f"--dims={_fmt_dims(self.dims)}: the last size must equal --n_classes="
                f"{self.n_classes}")
        if conv and input_size is not None:
            specs.check(self.arch, input_size, image_shape)
        elif input_size is not None and self.dims[0] != input_size:
            raise ConfigError(
                f"--dims={_fmt_dims(self.dims)}: the first size must equal the data's input "
                f"size {input_size}")
        if self.class_groups:
            pass  # (checked above: the groups' classes are the data's)
        elif n_classes_data is not None and self.task_stream == "split":
            if self.n_classes * self.tasks != n_classes_data:
                raise ConfigError(
                    f"--n_classes={self.n_classes}: with --tasks=split it is the number of "
                    f"classes per task, and {self.tasks} tasks of {self.n_classes} classes "
                    f"cover {self.n_classes * self.tasks}, but the data has {n_classes_data} "
                    f"classes; give --n_tasks and --n_classes with n_tasks * n_classes = "
                    f"{n_classes_data} (and the last --dims size = n_classes)")
        elif n_classes_data is not None and self.n_classes != n_classes_data:
            raise ConfigError(
                f"--n_classes={self.n_classes}: must equal the data's number of classes "
                f"{n_classes_data}")
        if train_size is not None and self.batch_size > train_size:
            raise ConfigError(
                f"--batch_size={self.batch_size}: must be at most the training set size "
                f"{train_size}")
        return self


def parse_class_groups(text) -> tuple:
    """--class_groups: groups separated by ";", class ids in a group by "," (e.g.
    "0,1;2,3;4,5"); a tuple of tuples. ConfigError naming the fault."""
    if isinstance(text, (tuple, list)):
        groups = text
    else:
        groups = [g for g in str(text).split(";") if g.strip()] if str(text).strip() else []
        try:
            groups = [[int(c) for c in g.replace(" ", "").split(",") if c] for g in groups]
        except ValueError:
            raise ConfigError(f"--class_groups={text}: groups of class ids separated by ';', "
                              f"ids by ',' (e.g. 0,1;2,3;4,5)") from None
    return tuple(tuple(int(c) for c in g) for g in groups)


def check_class_groups(groups, order: str, task_stream: str, n_tasks=None,
                       n_classes_data: Optional[int] = None) -> None:
    """The split stream's class settings: groups only with --tasks=split, none empty, no
    class twice, every id a class of the data; --n_tasks (when given) their number."""
    if order not in CLASS_ORDERS:
        raise ConfigError(f"--class_order={order}: must be one of {', '.join(CLASS_ORDERS)}")
    if order != "ascending" and task_stream != "split":
        raise ConfigError(f"--class_order={order}: only with --tasks=split")
    if not groups:
        return
    text = ";".join(",".join(str(c) for c in g) for g in groups)
    if task_stream != "split":
        raise ConfigError(f"--class_groups={text}: only with --tasks=split")
    if order != "ascending":
        raise ConfigError(f"--class_groups={text}: explicit groups have no --class_order "
                          f"(got {order})")
    flat = [c for g in groups for c in g]
    if any(len(g) == 0 for g in groups):
        raise ConfigError(f"--class_groups={text}: every group needs a class")
    if len(set(flat)) != len(flat):
        raise ConfigError(f"--class_groups={text}: a class is in two groups")
    if any(c < 0 for c in flat) or (n_classes_data is not None
                                    and max(flat) >= n_classes_data):
        raise ConfigError(f"--class_groups={text}: class ids must be 0.."
                          f"{(n_classes_data or 1) - 1} (the data's classes)")
    if n_tasks is not None and n_tasks != len(groups):
        raise ConfigError(f"--n_tasks={n_tasks}: --class_groups={text} has {len(groups)} "
                          f"groups, one per task")


def _fmt_dims(dims: Sequence) -> str:
    return ",".join(str(d) for d in dims)


# The largest count any integer setting may take (TensorFlow's int32 counters and
# shapes; far above any real run's).
INT_MAX = 2 ** 31 - 1


def _check_int_max(name: str, value) -> None:
    if value > INT_MAX:
        raise ConfigError(f"--{name}={value}: must be at most {INT_MAX}")


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"--{name}={value}: must be a positive integer")
    _check_int_max(name, value)


def check_positive_float(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"--{name}={value}: must be a finite number > 0")


def check_nonnegative_float(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"--{name}={value}: must be a finite number >= 0")


# numpy's seeds (RandomState, and the tf.random.Generator seeded alike): 0 .. 2**32 - 1.
SEED_MAX = 2 ** 32 - 1


def check_seed(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ConfigError(f"--{name}={value}: must be an integer from 0 to {SEED_MAX} "
                          f"(numpy's seeds)")


def check_nonnegative_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"--{name}={value}: must be an integer >= 0")
    _check_int_max(name, value)


def optional(check):
    """The rule `check`, or None (the setting's default: not given)."""
    def rule(name: str, value) -> None:
        if value is not None:
            check(name, value)
    rule.__name__ = f"optional_{check.__name__}"
    return rule


# One rule per setting, for the config and the command line alike (den_tf/flags.py
# registers them as its flags' validators, so a bad value is refused at parsing).
DEN_RULES = {
    "max_iter": check_positive_int, "batch_size": check_positive_int,
    "ex_k": check_positive_int, "n_classes": check_positive_int,
    "n_tasks": optional(check_positive_int), "lr": check_positive_float,
    "l1_lambda": check_nonnegative_float, "l2_lambda": check_nonnegative_float,
    "gl_lambda": check_nonnegative_float, "regular_lambda": check_nonnegative_float,
    "loss_thr": check_nonnegative_float, "spl_thr": check_nonnegative_float,
    "spl_thr_conv": check_nonnegative_float, "task_seed": check_seed,
    "capacity_bucket": check_nonnegative_int,
    "train_seed": optional(check_seed),
}
BASELINE_RULES = {
    "l2_pull": check_nonnegative_float, "ewc_lambda": check_nonnegative_float,
    "ewc_samples": check_positive_int, "column_scale": check_positive_float,
}


def check_dims(dims: Sequence, min_sizes: int = 3) -> None:
    """--dims: at least `min_sizes` positive integers (3 for the MLP: input, one or more
    hidden layers, output; 1 for a convolutional arch, which reads only the last)."""
    if len(dims) < min_sizes:
        if min_sizes >= 3:
            raise ConfigError(
                f"--dims={_fmt_dims(dims)}: needs at least 3 sizes (input, one or more hidden "
                f"layers, output)")
        raise ConfigError(f"--dims={_fmt_dims(dims)}: needs at least one size (the head's)")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ConfigError(f"--dims={_fmt_dims(dims)}: every size must be a positive integer")


# ----------------------------------------------------------------------------- methods
BASELINES = ("dnn", "l2", "ewc", "progressive", "stl", "mtl")

# Chosen on the validation split by `python -m den_tf.experiments.select_baselines` (README,
# logs/baselines_selection/).
L2_PULL = 0.001
EWC_LAMBDA = 3.0
COLUMN_SCALE = 0.5
EWC_SAMPLES = 1000


@dataclasses.dataclass(frozen=True)
class BaselineConfig(DENConfig):
    """DEN's settings plus the baselines' own. DEN's own flags (l1_lambda, gl_lambda,
    regular_lambda, ex_k, loss_thr, spl_thr, prox_order) have no effect here."""

    method: str = "dnn"
    l2_pull: float = L2_PULL  # l2: strength of the pull toward the previous task's weights
    ewc_lambda: float = EWC_LAMBDA  # ewc: lambda of lambda/2 * sum F (theta - theta*)^2
    ewc_samples: int = EWC_SAMPLES  # ewc: training examples the Fisher averages over
    column_scale: float = COLUMN_SCALE  # progressive: column size / base network's

    def validate(self, input_size=None, n_classes_data=None, train_size=None,
                 image_shape=None):
        super().validate(input_size, n_classes_data, train_size, image_shape)
        if self.method not in BASELINES:
            raise ConfigError(f"--method={self.method}: must be one of den, "
                              f"{', '.join(BASELINES)}")
        for name, rule in BASELINE_RULES.items():
            rule(name, getattr(self, name))
        if self.capacity_bucket:
            raise ConfigError(f"--capacity_bucket={self.capacity_bucket}: DEN's own (a "
                              f"baseline's network does not grow, --method={self.method} "
                              f"compiles each phase once); leave it at 0")
        own = [q for q in self.paper if q not in BASELINE_PAPER]
        if own:
            raise ConfigError(
                f"--paper={','.join(self.paper)}: {', '.join(own)}: DEN's own steps, not "
                f"--method={self.method}'s; a baseline follows only "
                f"{', '.join(BASELINE_PAPER)}")
        return self


def column_units(dims: Sequence[int], column_scale: float) -> list:
    """Hidden sizes of one progressive column (den_tf/baselines/progressive.py):
    column_scale x each hidden size of --dims, rounded, at least 1."""
    return [max(1, int(round(column_scale * h))) for h in dims[1:-1]]


# Every --method name: DEN and its baselines (den_tf.api maps each to its class).
METHODS = ("den",) + BASELINES


def method_of(config: DENConfig) -> str:
    """The method a config runs (a plain DENConfig runs DEN)."""
    return getattr(config, "method", "den")


def config_for(config: DENConfig, method: str, **settings) -> DENConfig:
    """The config of `method` with DEN's settings of `config`: DEN's own DENConfig for
    "den" (its results are unchanged), else a BaselineConfig with `settings` (l2_pull,
    ewc_lambda, ewc_samples, column_scale)."""
    base = {f.name: getattr(config, f.name) for f in dataclasses.fields(DENConfig)}
    if method == "den":
        return DENConfig(**base)
    return BaselineConfig(**base, method=method, **settings)
