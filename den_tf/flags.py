"""Command-line flags of den_tf, defined in one place.

The original script's flags keep their names and defaults (spec "Flags and their
defaults"); the port's own follow. Validators reject a bad value while the command line
is parsed, before any work, with one line naming the flag, the value and the rule.

Imports: den_tf.errors, den_tf.config, den_tf.datasets, den_tf.model.
"""

from __future__ import annotations

import dataclasses

from absl import flags

from den_tf.config import (
    BASELINE_RULES,
    DEN_RULES,
    METHODS,
    PAPER_SWITCHES,
    PROX_ORDERS,
    BaselineConfig,
    DENConfig,
    check_nonnegative_int,
    check_seed,
    config_for,
    optional,
    parse_class_groups,
    parse_paper,
)
from den_tf.datasets import CLASS_ORDERS, DATASETS, DEFAULT_DATA_DIRS, TASK_STREAMS
from den_tf.errors import ConfigError
from den_tf.model.archs.specs import ARCHS, CONV_ARCHS

FLAGS = flags.FLAGS
_D = DENConfig()
_B = BaselineConfig()
# DEN's own settings, and the baselines' own: each has no effect on the other.
DEN_ONLY = ("l1_lambda", "gl_lambda", "regular_lambda", "ex_k", "loss_thr", "spl_thr",
            "spl_thr_conv", "prox_order")
BASELINE_ONLY = ("l2_pull", "ewc_lambda", "ewc_samples", "column_scale")


def define_flags() -> None:
    """Defines every flag (idempotent)."""
    if "max_iter" in FLAGS:
        return
    # --- the original's flags ---
    flags.DEFINE_integer("max_iter", _D.max_iter, "Iterations per training phase.")
    flags.DEFINE_float("lr", _D.lr, "Initial learning rate (decays 0.95 per epoch, staircase).")
    flags.DEFINE_integer("batch_size", _D.batch_size, "Minibatch size.")
    flags.DEFINE_string("checkpoint_dir", _D.checkpoint_dir,
                        "Directory for per-task checkpoints (unused by the original). An "
                        "empty value is refused (--nocheckpoints writes none).")
    flags.DEFINE_list("dims", [str(d) for d in _D.dims],
                      "Layer sizes including input and output, e.g. 784,312,128,10. With a "
                      "convolutional --arch only the last entry (the head's size, = "
                      "--n_classes) is read: e.g. --dims=10.")
    flags.DEFINE_integer("n_classes", _D.n_classes,
                         "Classes per task (the head's size: the last --dims size; with "
                         "--tasks=split a part of the data set's classes); also the number "
                         "of tasks unless --n_tasks (Q1).")
    flags.DEFINE_float("l1_lambda", _D.l1_lambda, "L1 proximal threshold.")
    flags.DEFINE_float("l2_lambda", _D.l2_lambda, "Weight decay.")
    flags.DEFINE_float("gl_lambda", _D.gl_lambda, "Group-lasso proximal threshold.")
    flags.DEFINE_float("regular_lambda", _D.regular_lambda,
                       "Pull toward the previous task's weights.")
    flags.DEFINE_integer("ex_k", _D.ex_k, "Units added per hidden layer when expanding.")
    flags.DEFINE_float("loss_thr", _D.loss_thr, "Expand when the loss is not below this.")
    flags.DEFINE_float("spl_thr", _D.spl_thr, "Drift above which a unit is split (dense "
                       "layers).")
    flags.DEFINE_float("spl_thr_conv", _D.spl_thr_conv, "Drift above which a filter of a "
                       "convolutional layer is split (paper Sec. 4: 0.02).")
    flags.DEFINE_enum("arch", _D.arch, list(ARCHS),
                      "Network: mlp (the original's, sizes from --dims); lenet (the paper's "
                      "submission CNN: 5x5 conv 20 and 50 filters, VALID, each + 2x2 max-pool, "
                      "fc 800-500, head); conv5 (camera-ready: five 5x5 conv 64-128-256-256-128, "
                      "SAME, 3x3/2 max-pool after conv 1, 2 and 5 as AlexNet, fc 384-192, "
                      "head). Every conv filter and fc unit is a DEN unit.")
    # --- the port's own ---
    flags.DEFINE_enum("dataset", _D.dataset, list(DATASETS),
                      "Data set: mnist, fashion_mnist (IDX files), cifar10, cifar100 (the "
                      "python-version archives). Read from --data_dir, fetched into it "
                      "through tensorflow-datasets when its files are not there.")
    flags.DEFINE_string("data_dir", "",
                        "Folder of the data set's files: the four IDX files "
                        "(train-images-idx3-ubyte.gz, ...) for mnist and fashion_mnist; "
                        "cifar-10-python.tar.gz or cifar-10-batches-py/, "
                        "cifar-100-python.tar.gz or cifar-100-python/ for CIFAR. Default: "
                        + ", ".join(f"{v} ({k})" for k, v in DEFAULT_DATA_DIRS.items()) + ".")
    flags.DEFINE_enum("tasks", _D.task_stream, list(TASK_STREAMS),
                      "Task stream. permuted: every task sees all classes with the pixels in "
                      "its own random order (the original's benchmark); split: the classes "
                      "in n_tasks groups of consecutive class ids (then --n_classes and the "
                      "last --dims size are the classes PER TASK, and n_tasks * n_classes "
                      "must be the data set's classes, e.g. cifar100: --n_tasks=10 "
                      "--n_classes=10); rotated: task t sees every image rotated by "
                      "180*(t-1)/n_tasks degrees.")
    flags.DEFINE_string("class_groups", "",
                        "--tasks=split: the classes of each task, explicitly: groups "
                        "separated by ';', class ids by ',' (e.g. '0,1;2,3;4,5'); any sizes "
                        "(each task's head has its group's size; the last --dims size is "
                        "the widest); the number of tasks is the number of groups. Default: "
                        "--n_tasks groups of equal size, in --class_order.")
    flags.DEFINE_enum("class_order", _D.class_order, list(CLASS_ORDERS),
                      "--tasks=split without --class_groups: the order the equal groups "
                      "are cut from: ascending class ids, or shuffled (seeded by "
                      "--task_seed).")
    flags.DEFINE_integer("n_tasks", None, "Number of tasks (default: n_classes, as the "
                         "original, spec Q1).")
    flags.DEFINE_integer("task_seed", _D.task_seed,
                         "Seed of the task stream: the tasks' pixel permutations "
                         "(np.random.seed then one permutation per task). Default 1004, the "
                         "original's. Without --train_seed, the duplicates' random biases (Q10) "
                         "continue this generator, as in the original.")
    flags.DEFINE_integer("train_seed", None,
                         "Seed of the training randomness: initial values, minibatches, "
                         "duplicates' random biases. Default: unseeded (drawn afresh every run, "
                         "as the original); given, the run is repeatable bit for bit. The "
                         "tasks do not depend on it.")
    flags.DEFINE_integer("seed", None, "Deprecated: it used to seed both the tasks and the "
                         "training. Now the same as --train_seed (a warning says so); the tasks "
                         "keep --task_seed.")
    flags.DEFINE_list("paper", [],
                      "Departures of the original code from the paper to do as the paper "
                      "says (spec 'What the paper says instead'): a list such as Q4,Q6, or "
                      "all. Default: none, the original's behaviour. "
                      + "; ".join(f"{q}: {d}" for q, d in PAPER_SWITCHES.items()) + ".")
    flags.DEFINE_boolean("tf32", False, "Allow TensorFloat-32 matmuls on GPUs that have "
                         "them (faster, about 10 mantissa bits). Default off: full float32, "
                         "as the original.")
    flags.DEFINE_enum("prox_order", _D.prox_order, list(PROX_ORDERS),
                      "Spec Q14: order of the proximal steps on the new blocks of an "
                      "expansion (the original races L1 and group lasso there). l1_then_gl: "
                      "L1 then group lasso; gl_only: group lasso alone on those blocks; "
                      "gl_then_l1: group lasso then L1.")
    flags.DEFINE_string("log_file", "", "Log file (default: logs/den_tf_<date-time>.log). "
                        "An empty value is refused (leave the flag out for the default).")
    flags.DEFINE_string("results", "", "Results JSON (default: the log file's name with "
                        ".json). An empty value is refused (leave the flag out for the "
                        "default).")
    flags.DEFINE_boolean("xla", _D.xla, "Compile the training steps with XLA (jit_compile).")
    flags.DEFINE_integer("capacity_bucket", _D.capacity_bucket,
                         "DEN on the MLP: pad the hidden sizes to multiples of this inside "
                         "the training phases (padded units frozen at zero), so that growth "
                         "within a bucket reuses a compiled phase instead of compiling "
                         "anew; worth it where compiling costs much against a step (a "
                         "GPU). 0 (default): the exact shapes, the original's sums to the "
                         "bit; other values give the same results within float rounding.")
    flags.DEFINE_boolean("permute_once", _D.permute_once,
                         "Permuted tasks: draw the minibatches from the task's training "
                         "pixels permuted once (a copy of them per task) instead of "
                         "permuting every minibatch inside the step. The same pixels and "
                         "faster steps, but XLA:CPU then computes the first layer's product "
                         "by another routine, so the results differ in their last bits "
                         "(default off: the previous port's sums to the bit).")
    flags.DEFINE_enum("mode", "train", ["train", "eval", "export"],
                      "train: run DEN; eval: print the overall evaluation of the latest "
                      "checkpoint in --checkpoint_dir; export: write it as a SavedModel to "
                      "--export_dir. eval and export use what the checkpoint learned (its "
                      "data set, task stream and network) on its own data: a --dataset, "
                      "--tasks, --task_seed, --n_tasks, --n_classes, --class_groups, "
                      "--class_order, --arch, --dims or --method given that differs, or a "
                      "--data_dir holding other data, is refused.")
    flags.DEFINE_boolean("resume", False, "Continue the run of the latest checkpoint in "
                         "--checkpoint_dir with its next task.")
    flags.DEFINE_boolean("checkpoints", True, "Write a checkpoint after every task.")
    flags.DEFINE_string("tensorboard_dir", "", "Write TensorBoard summaries here (default: "
                        "none). An empty value is refused (leave the flag out for none).")
    flags.DEFINE_string("csv_log", "", "Write a CSV row per evaluated task here (tasks "
                        "learned, task, AUROC, accuracy, CE, capacity, units; appended to "
                        "an existing file; default: none). An empty value is refused "
                        "(leave the flag out for none).")
    flags.DEFINE_enum("progress", "auto", ["auto", "on", "off"],
                      "Progress bar per phase (auto: when stdout is a terminal).")
    flags.DEFINE_string("export_dir", "", "Write the learned network as a SavedModel here "
                        "(after training, or in --mode=export; default: none). An empty "
                        "value is refused (leave the flag out for none).")
    flags.DEFINE_boolean("figure", True, "Write the results figure (PNG, needs matplotlib) "
                         "next to the results JSON (its path is --results' with .png).")
    flags.DEFINE_boolean("verbose", False, "Show tracebacks of errors.")
    # --- the baselines (den_tf/baselines/; README "Baselines") ---
    flags.DEFINE_enum("method", "den", list(METHODS),
                      "den: DEN (the original's algorithm). Baselines of the paper (Sec. 4.1), "
                      "on the same tasks, heads, optimizer settings and max_iter: dnn "
                      "(fine-tuning), l2 (pull toward the previous task's weights), ewc "
                      "(Kirkpatrick et al. 2017), progressive (Rusu et al. 2016), stl (a "
                      "network per task), mtl (all tasks jointly). DEN's own flags "
                      "(l1_lambda, gl_lambda, regular_lambda, ex_k, loss_thr, spl_thr, "
                      "spl_thr_conv, prox_order) do not apply to the baselines; of --paper, a "
                      "baseline follows Q2 (zero biases in every network it builds) and "
                      "refuses the others, which describe DEN's own steps.")
    flags.DEFINE_float("l2_pull", _B.l2_pull,
                       "--method=l2: strength of the pull l2_pull * ||W - W(previous task)||^2 "
                       "/ 2 on the hidden layers (chosen on the validation split).")
    flags.DEFINE_float("ewc_lambda", _B.ewc_lambda,
                       "--method=ewc: lambda of Kirkpatrick et al.'s Eq. 3, lambda/2 * sum_s "
                       "sum_i F_s,i (theta_i - theta*_s,i)^2 (chosen on the validation split).")
    flags.DEFINE_integer("ewc_samples", _B.ewc_samples,
                         "--method=ewc: training examples of each task the diagonal "
                         "(empirical) Fisher averages over.")
    flags.DEFINE_float("column_scale", _B.column_scale,
                       "--method=progressive: hidden sizes of each task's column, as a "
                       "fraction of --dims' hidden sizes (chosen on the validation split).")
    flags.DEFINE_integer("threads", 0, "CPU threads for TensorFlow's ops (intra- and "
                         "inter-op); 0: TensorFlow's default (all cores). A sweep running "
                         "several runs at once gives each its share.")

    for name, rule in {**DEN_RULES, **BASELINE_RULES, "seed": optional(check_seed),
                       "threads": check_nonnegative_int}.items():
        flags.register_validator(name, _rule(name, rule))
    flags.register_validator("dims", _rule("dims", _dims))
    flags.register_validator("class_groups",
                             _rule("class_groups", lambda name, v: parse_class_groups(v)))
    flags.register_validator("paper", _rule("paper", lambda name, v: parse_paper(v)))


# the flag of each DENConfig setting whose flag has another name
_FLAG_OF = {v: k for k, v in ConfigError.SETTING_OF_FLAG.items()}


def given_settings(f=FLAGS) -> set:
    """The settings (DENConfig and BaselineConfig field names, and "method") whose flags
    were given on the command line (--seed gives train_seed)."""
    out = {field.name for field in dataclasses.fields(BaselineConfig)
           if _FLAG_OF.get(field.name, field.name) in f
           and f[_FLAG_OF.get(field.name, field.name)].present}
    if f["seed"].present:
        out.add("train_seed")
    return out


def given_training_flags(f=FLAGS, learned=()) -> list:
    """The flags given of the settings that only shape training (every DEN setting but
    `learned`, the checkpoint folder and --xla), in the order they are defined: what
    --mode=eval and --mode=export ignore (they use the checkpoint's)."""
    skip = (set(learned) | {"checkpoint_dir", "xla", "capacity_bucket", "permute_once"}
            | set(BASELINE_ONLY))
    out = [_FLAG_OF.get(x.name, x.name) for x in dataclasses.fields(DENConfig)
           if x.name not in skip and f[_FLAG_OF.get(x.name, x.name)].present]
    return out + (["seed"] if f["seed"].present else [])


def _rule(name: str, check):
    """A flag validator applying the config's rule `check(name, value)`: a bad value is
    one line, "flag --name=value: the rule" (absl names the flag and the value)."""
    def validate(value):
        try:
            check(name, value)
        except ConfigError as e:
            msg = str(e)
            if msg.startswith(f"--{name}"):  # the flag and value are absl's to name
                msg = msg.split(": ", 1)[1]
            raise flags.ValidationError(msg) from None
        except (TypeError, ValueError):
            raise flags.ValidationError("invalid value") from None
        return True
    validate.__name__ = f"validate_{name}"
    return validate


def _dims(name, v):
    try:
        dims = [int(d) for d in v]
    except ValueError:
        raise ConfigError("must be a comma-separated list of integers") from None
    # A convolutional --arch reads only the last size (validators run once every flag is
    # parsed, so --arch holds its value here).
    if len(dims) < (1 if FLAGS["arch"].value in CONV_ARCHS else 3):
        raise ConfigError("needs at least 3 sizes (input, hidden layers, output)")
    if any(d < 1 for d in dims):
        raise ConfigError("every size must be a positive integer")


SEED_DEPRECATED = ("--seed is deprecated: it now sets only the training randomness, as "
                   "--train_seed={value} (the tasks keep --task_seed={task_seed}); use "
                   "--train_seed and --task_seed")


def deprecation_warnings(f=FLAGS) -> list:
    """One line for every deprecated flag given, and for every flag given that the
    method does not use."""
    out = []
    if f.seed is not None:
        out.append(SEED_DEPRECATED.format(value=f.seed, task_seed=f.task_seed))
    unused = DEN_ONLY if f.method != "den" else BASELINE_ONLY
    for name in unused:
        if f[name].present:
            out.append(f"--{name} has no effect with --method={f.method}")
    if f.permute_once and f.tasks != "permuted":
        out.append(f"--permute_once has no effect with --tasks={f.tasks} (its tasks "
                   f"permute no pixels)")
    elif f.permute_once and f.method == "mtl":
        out.append("--permute_once has no effect with --method=mtl (its minibatches mix "
                   "the tasks, each permuted in the step)")
    return out


def config_from_flags(f=FLAGS) -> DENConfig:
    """The DENConfig the parsed flags describe."""
    if f.seed is not None and f.train_seed is not None:
        raise ConfigError(f"--seed={f.seed}: deprecated, and --train_seed={f.train_seed} is "
                          f"given too; give --train_seed only")
    train_seed = f.train_seed if f.train_seed is not None else f.seed
    cfg = DENConfig(
        max_iter=f.max_iter, lr=f.lr, batch_size=f.batch_size, checkpoint_dir=f.checkpoint_dir,
        dims=tuple(int(d) for d in f.dims), n_classes=f.n_classes, l1_lambda=f.l1_lambda,
        l2_lambda=f.l2_lambda, gl_lambda=f.gl_lambda, regular_lambda=f.regular_lambda,
        ex_k=f.ex_k, loss_thr=f.loss_thr, spl_thr=f.spl_thr, n_tasks=f.n_tasks,
        dataset=f.dataset, task_stream=f.tasks, task_seed=f.task_seed, train_seed=train_seed,
        prox_order=f.prox_order, paper=parse_paper(f.paper), allow_tf32=f.tf32, xla=f.xla,
        capacity_bucket=f.capacity_bucket, permute_once=f.permute_once, arch=f.arch,
        spl_thr_conv=f.spl_thr_conv, class_groups=parse_class_groups(f.class_groups),
        class_order=f.class_order)
    if f.method == "den":
        return cfg
    return config_for(cfg, f.method, l2_pull=f.l2_pull, ewc_lambda=f.ewc_lambda,
                      ewc_samples=f.ewc_samples, column_scale=f.column_scale)
