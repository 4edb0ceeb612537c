"""The settings every run has, whatever its method, and those of the command line alone
(outputs, modes), each defined once (`den_tf.config.registry.Setting`).

The original script's flags keep their names and defaults (docs/algorithm.md#benchmark;
its DEN-only flags are defined by DEN itself, den_tf/den/__init__.py); the port's own
follow. A method's, a task stream's and an architecture's own settings are defined in
their modules.

Imports: den_tf.errors.
"""

from __future__ import annotations

from den_tf.config import rules
from den_tf.config.registry import DATASETS, METHODS, STREAMS, Setting, define, resolve_arch
from den_tf.errors import ConfigError

# Departures of the original code from the paper that a switch turns into what the paper
# says (docs/faithfulness.md). Q1 is --n_tasks, Q3 the results' accuracy beside the
# AUROC, Q13 is always the paper's, Q14 is --prox_order and Q15 is --task_seed.
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


def parse_paper(values) -> tuple:
    """The switches of a --paper list (`Q4,Q6`, `all`, or empty), sorted by number;
    raises ConfigError naming an unknown one."""
    if isinstance(values, str):
        values = values.split(",")
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


def _paper_rule(name: str, value) -> None:
    parse_paper(value)


def _class_groups_rule(name: str, value) -> None:
    rules.parse_class_groups(value)


def _arch_rule(name: str, value) -> None:
    resolve_arch(value)


def _dims_rule(name: str, value) -> None:
    rules.check_dims(value, 1)


def _modules_rule(name: str, value) -> None:
    for m in value or ():
        if not all(part.isidentifier() for part in str(m).split(".")):
            raise ConfigError(f"--{name}={','.join(value)}: {m!r} is not a module name")


# The settings that say which of den_tf's built-in task streams a run learns (its data
# set, stream, seed and classes): a stream of your own says its tasks itself, so they are
# refused with one (den_tf.DEN) and left out of what such a run records.
BUILTIN_STREAM_SETTINGS = ("dataset", "task_stream", "task_seed", "n_classes",
                           "class_groups", "class_order")

SHARED = define(
    # --- the original's flags every method reads ---
    Setting("max_iter", "integer", 4300, "Iterations per training phase.",
            rules.check_positive_int, group="original"),
    Setting("lr", "float", 0.001, "Initial learning rate (x0.95 per epoch of the task's "
            "training examples, staircase).", rules.check_positive_float, group="original"),
    Setting("batch_size", "integer", 256, "Minibatch size (at most every task's training "
            "set).", rules.check_positive_int, group="original"),
    Setting("checkpoint_dir", "string", "checkpoints",
            "Folder of the per-task checkpoints (unused by the original). An empty value "
            "is refused (--nocheckpoints writes none).", rules.check_text, resume="free",
            output=True, group="original"),
    Setting("dims", "list", (784, 312, 128, 10),
            "Layer sizes including input and output, e.g. 784,312,128,10 (any number of "
            "hidden layers). An --arch other than mlp has its own hidden sizes and reads "
            "only the head's size: --dims=10 (default: --n_classes).",
            _dims_rule, convert=rules.dims_of, learned=True, group="original",
            default_text="784,312,128,10"),
    Setting("n_classes", "integer", 10,
            "Classes per task (the head's size: the last --dims size; with --tasks=split "
            "a part of the data set's classes); also the number of tasks unless --n_tasks "
            "(Q1).", rules.check_positive_int, learned=True, group="original"),
    Setting("l2_lambda", "float", 0.0001, "Weight decay.", rules.check_nonnegative_float,
            group="original"),
    # --- the data and the task stream ---
    Setting("dataset", "enum", "mnist",
            "Data set, read from --data_dir (fetched into it when its files are not "
            "there).", choices=DATASETS.names, learned=True, group="data"),
    Setting("task_stream", "enum", "permuted",
            "Task stream: permuted (every task sees all classes with the pixels in its own "
            "random order: the original's benchmark), split (the classes in groups, one per "
            "task; then --n_classes and the last --dims size are the classes PER TASK), "
            "rotated (task t sees every image rotated by 180*(t-1)/n_tasks degrees).",
            flag="tasks", choices=STREAMS.names, learned=True, group="data"),
    Setting("n_tasks", "integer", None,
            "Number of tasks (default: --n_classes, as the original, Q1; with "
            "--class_groups their number). A model object learns as long as tasks come: "
            "there it is a cap.", rules.optional(rules.check_positive_int), learned=True,
            resume="free", group="data", default_text="n_classes"),
    Setting("task_seed", "integer", 1004,
            "Seed of the task stream: the tasks' pixel permutations (np.random.seed, then "
            "one permutation per task, as the original); split: the shuffled class order. "
            "Without --train_seed, the duplicates' random biases (Q10) continue this "
            "generator, as in the original.", rules.check_seed, learned=True, group="data"),
    # --- the run ---
    Setting("train_seed", "integer", None,
            "Seed of the training randomness: initial values, minibatches, duplicates' "
            "biases. Default: unseeded (drawn afresh every run, as the original); given, the "
            "run is repeatable bit for bit. The tasks do not depend on it.",
            rules.optional(rules.check_seed), default_text="(unseeded)"),
    Setting("paper", "list", (),
            "Departures of the original code from the paper to do as the paper says: a "
            "list such as Q4,Q6, or all (a baseline follows Q2 only). Default: none, the "
            "original's behaviour. "
            + "; ".join(f"{q}: {d}" for q, d in PAPER_SWITCHES.items()) + ".",
            _paper_rule, convert=parse_paper, default_text="(none)"),
    Setting("allow_tf32", "boolean", False,
            "Allow TensorFloat-32 matmuls on GPUs that have them (faster, about 10 mantissa "
            "bits). Default off: full float32, as the original.", rules.check_bool,
            flag="tf32", resume="free"),
    Setting("xla", "boolean", True, "Compile the training steps with XLA (jit_compile).",
            rules.check_bool, resume="free"),
    Setting("permute_once", "boolean", False,
            "Permuted tasks: draw the minibatches from the task's training pixels permuted "
            "once (a copy of them per task) instead of permuting every minibatch inside the "
            "step. The same pixels and faster steps, but XLA:CPU then computes the first "
            "layer's product by another routine, so the results differ in their last bits "
            "(default off: the previous port's sums to the bit).", rules.check_bool,
            resume="free"),
    Setting("arch", "string", "mlp",
            "Network: a registered name (mlp: the original's, sizes from --dims; lenet; "
            "conv5) or a layer spec, comma-separated convK layers then fcU layers, e.g. "
            "conv32k5p2,conv64k5p2,fc256 (docs/conv.md#your-own-network). Every "
            "convolutional filter and dense unit is a DEN unit.", _arch_rule, learned=True,
            group="network"),
    Setting("method", "enum", "den",
            "den: DEN (the original's algorithm), or a baseline of the paper (Sec. 4.1) on "
            "the same tasks, heads, optimizer settings and max_iter: dnn, l2, ewc, "
            "progressive, stl, mtl (docs/baselines.md). A setting of another method is "
            "refused.", choices=METHODS.names, learned=True, group="method"),
)

COMMAND = define(
    Setting("data_dir", "string", "",
            "Folder of the data set's files (docs/datasets.md). Default: each data set's "
            "own folder (MNIST_data for mnist, as the original).", rules.check_text,
            command=True, group="data", default_text="(per data set)"),
    Setting("seed", "integer", None,
            "Deprecated: it used to seed both the tasks and the training. Now the same as "
            "--train_seed (a warning says so); the tasks keep --task_seed. Refused together "
            "with --train_seed.", rules.optional(rules.check_seed), command=True,
            default_text="(none)"),
    Setting("log_file", "string", "",
            "Log file (default: logs/den_tf_<date-time>.log). An empty value is refused "
            "(leave the flag out for the default).", rules.check_text, command=True,
            output=True, group="outputs", default_text="logs/den_tf_<date-time>.log"),
    Setting("results", "string", "",
            "Results JSON (default: the log file's name with .json). An empty value is "
            "refused (leave the flag out for the default).", rules.check_text, command=True,
            output=True, group="outputs", default_text="(the log's name, .json)"),
    Setting("mode", "enum", "train",
            "train: learn the tasks; eval: the overall evaluation of the latest checkpoint "
            "in --checkpoint_dir; export: write it as a SavedModel to --export_dir. eval and "
            "export use what the checkpoint learned (its data set, task stream and network) "
            "on its own data: a flag of those given that differs, or a --data_dir holding "
            "other data, is refused.", choices=("train", "eval", "export"), command=True,
            group="outputs"),
    Setting("resume", "boolean", False, "Continue the run of the latest checkpoint in "
            "--checkpoint_dir with its next task.", rules.check_bool, command=True,
            group="outputs"),
    Setting("checkpoints", "boolean", True, "Write a checkpoint after every task.",
            rules.check_bool, command=True, group="outputs"),
    Setting("tensorboard_dir", "string", "",
            "Write TensorBoard summaries here (default: none). An empty value is refused "
            "(leave the flag out for none).", rules.check_text, command=True, output=True,
            group="outputs", default_text="(none)"),
    Setting("csv_log", "string", "",
            "Write a CSV row per evaluated task here (tasks learned, task, AUROC, accuracy, "
            "CE, capacity, units; appended to an existing file; default: none). An empty "
            "value is refused (leave the flag out for none).", rules.check_text,
            command=True, output=True, group="outputs", default_text="(none)"),
    Setting("progress", "enum", "auto", "Progress bar per phase (auto: when stdout is a "
            "terminal).", choices=("auto", "on", "off"), command=True, group="outputs"),
    Setting("export_dir", "string", "",
            "Write the learned network as a SavedModel here (after training, or in "
            "--mode=export; default: none). An empty value is refused (leave the flag out "
            "for none).", rules.check_text, command=True, output=True, group="outputs",
            default_text="(none)"),
    Setting("figure", "boolean", True, "Write the results figure (PNG, needs matplotlib) "
            "next to the results JSON (its path is --results' with .png).",
            rules.check_bool, command=True, output=True, group="outputs"),
    Setting("verbose", "boolean", False, "Show tracebacks of errors.", rules.check_bool,
            command=True, group="outputs"),
    Setting("threads", "integer", 0, "CPU threads for TensorFlow's ops (intra- and "
            "inter-op); 0: TensorFlow's default (all cores). A sweep running several runs "
            "at once gives each its share.", rules.check_nonnegative_int, command=True,
            default_text="0 (all cores)"),
    Setting("import", "list", (),
            "Python modules to import before anything else, e.g. --import=my_methods: each "
            "registers its own methods, architectures, data sets or task streams (and "
            "their flags) through den_tf's public API (docs/extending.md).",
            _modules_rule, command=True, default_text="(none)"),
    owner="den_tf.config.shared",
)
