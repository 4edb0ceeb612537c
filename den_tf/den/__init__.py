"""DEN itself (Yoon et al. 2018): the trainer that runs a task start to end, and its
phases, one module each, in the order a task runs them (algorithm.md#later-tasks):

* `trainer`: `DENTrainer`, one task start to end
  (algorithm.md#task-1, #later-tasks, #end-of-task);
* `first_task`: task 1, everything trains;
* `selective`: steps 1-4: train the new head, select the subnetwork, retrain it, union;
* `expansion`: steps 6-7: add ex_k units per hidden layer (filters, in a convolutional
  layer), train them with group sparsity, prune the units whose incoming weights are all
  zero;
* `split`: step 8: find drifted units, duplicate them, retrain;
* `context`: `PhaseContext`, what every phase of a task needs.

Each phase builds a `PhaseSpec` and hands it to the one compiled runner
(`den_tf.engine.runner`) through `PhaseContext.run`.

This module is DEN's card (den_tf.config.registry.MethodCard): its own settings (the
original's DEN flags, and the port's spl_thr_conv, prox_order, capacity_bucket), its
memory estimate and the --paper switches it follows. No TensorFlow here: the trainer's
modules are imported when first used.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

from den_tf._lazy import exports
from den_tf.config import rules
from den_tf.config.registry import SETTINGS, Footprint, MethodCard, Setting, register_method
from den_tf.config.shared import PAPER_SWITCHES
from den_tf.errors import ConfigError

# docs/faithfulness.md#q14: on the new blocks of an expansion, the original applies L1
# and group lasso with no order between them. l1_then_gl: L1, then group lasso; gl_only:
# group lasso alone on those blocks (what the recordings show for some blocks);
# gl_then_l1: group lasso, then L1. Entries outside the group blocks always get L1 alone.
PROX_ORDERS = ("l1_then_gl", "gl_only", "gl_then_l1")
# The default, settled by measurement (docs/faithfulness.md#q14): three seeded full
# default runs with each of l1_then_gl and gl_only; gl_only came closer to the original's
# logs on every figure (final avg_perf, AUROC of tasks 2..10, test CE, units added).
DEFAULT_PROX_ORDER = "gl_only"


def grown_size(n: int, ex_k: int, n_tasks: int, split_all: bool = False) -> int:
    """The most units (a convolutional layer's: filters) a DEN hidden layer of n units at
    task 1 can have after n_tasks tasks.

    Task 1 trains the layer as given. Every later task can expand it by ex_k units
    (docs/algorithm.md#expansion; pruning may keep all of them) and then duplicate units
    it had when the task started (docs/algorithm.md#split: the split candidates are the
    task-start units): at most min(ex_k, n) of them, the ex_k least drifted. So n -> n +
    ex_k + min(ex_k, n) per task, for tasks 2..n_tasks. `split_all` (--paper=Q8: every
    unit that drifted above the threshold is split, no ex_k cap): all n can be duplicated,
    so n -> n + ex_k + n, a layer can more than double every task.
    """
    n = int(n)
    for _ in range(max(0, n_tasks - 1)):
        n = n + ex_k + (n if split_all else min(ex_k, n))
    return n


def max_hidden_sizes(dims, ex_k: int, n_tasks: int, split_all: bool = False) -> list:
    """The most units each hidden layer of the MLP of `dims` can reach (`grown_size`)."""
    return [grown_size(d, ex_k, n_tasks, split_all) for d in dims[1:-1]]


def memory(config, arch, input_size, image_shape, n_tasks, worst=False):
    """The largest network a DEN run can grow to (`grown_size` of every hidden layer),
    one head of dims[-1] outputs per task. `worst`: with --paper=Q8 every drifted unit
    may be split (`split_all`): that worst case, else None."""
    if worst and not config.follows_paper("Q8"):
        return None
    units = [grown_size(u, config.ex_k, n_tasks, worst) for u in arch.units(config.dims)]
    n_out = int(config.dims[-1])
    flags = f"--ex_k={config.ex_k} --dims={rules.fmt_dims(config.dims)} --n_tasks={n_tasks}"
    if config.arch != SETTINGS.get("arch").default:
        flags = f"--arch={config.arch} {flags}"
    advice = "a smaller --ex_k or fewer --n_tasks fit"
    if worst:
        given = "all" if set(config.paper) == set(PAPER_SWITCHES) else ",".join(config.paper)
        flags += f" --paper={given}"
        advice = ("with Q8 every drifted unit is split; if every unit drifted in every task "
                  "the network would grow to")
    return Footprint(arch.parameter_count(input_size, image_shape, units, n_out, n_tasks),
                     arch.activations(input_size, image_shape, units, n_out), 0,
                     arch.describe(units, image_shape), flags=flags, grows=True,
                     advice=advice)


def check(config) -> None:
    """Settings DEN cannot run: a capacity bucket on a network that is not all dense."""
    if config.capacity_bucket and not config.architecture.dense_only:
        raise ConfigError(f"--capacity_bucket={config.capacity_bucket}: pads the hidden "
                          f"units of a network of dense layers only; --arch={config.arch} "
                          f"has convolutional ones (leave it at 0)")


CARD = register_method(MethodCard(
    "den", "den_tf.den.trainer:DENTrainer",
    "DEN: selective retraining, expansion with group sparsity, split and duplication, "
    "timestamps (Yoon et al. 2018)",
    settings=(
        Setting("l1_lambda", "float", 0.00001, "L1 proximal threshold.",
                rules.check_nonnegative_float, group="original", default_text="0.00001"),
        Setting("gl_lambda", "float", 0.001, "Group-lasso proximal threshold.",
                rules.check_nonnegative_float, group="original"),
        Setting("regular_lambda", "float", 0.5, "Pull toward the previous task's weights.",
                rules.check_nonnegative_float, group="original"),
        Setting("ex_k", "integer", 10, "Units added per hidden layer when expanding.",
                rules.check_positive_int, group="original"),
        Setting("loss_thr", "float", 0.01, "Expand when the loss is not below this.",
                rules.check_nonnegative_float, group="original"),
        Setting("spl_thr", "float", 0.05, "Drift above which a unit is split (dense "
                "layers).", rules.check_nonnegative_float, group="original"),
        Setting("spl_thr_conv", "float", 0.02, "Drift above which a filter of a "
                "convolutional layer is split (paper Sec. 4: 0.02).",
                rules.check_nonnegative_float, group="network"),
        Setting("prox_order", "enum", DEFAULT_PROX_ORDER,
                "Q14: order of the proximal steps on the new blocks of an expansion (the "
                "original races L1 and group lasso there). l1_then_gl: L1 then group lasso; "
                "gl_only: group lasso alone on those blocks; gl_then_l1: group lasso then "
                "L1.", choices=PROX_ORDERS),
        Setting("capacity_bucket", "integer", 0,
                "DEN on a network of dense layers: pad the hidden sizes to multiples of "
                "this inside the training phases (padded units frozen at zero), so that "
                "growth within a bucket reuses a compiled phase instead of compiling anew; "
                "worth it where compiling costs much against a step (a GPU). 0 (default): "
                "the exact shapes, the original's sums to the bit; other values give the "
                "same results within float rounding.", rules.check_nonnegative_int,
                resume="free", default_text="0 (exact shapes)"),
    ),
    memory=memory, paper=tuple(PAPER_SWITCHES), check=check, checkpoints=True,
    owner="den_tf.den"))


__getattr__, __dir__ = exports(__name__, {
    "DENTrainer": ".trainer", "TaskRecord": ".trainer", "PhaseContext": ".context",
    "first_task_spec": ".first_task", "selective_spec": ".selective",
    "select_units": ".selective", "subnetwork": ".selective",
    "expansion_spec": ".expansion", "split_spec": ".split",
})
__all__ = ["DENTrainer", "TaskRecord", "PhaseContext", "first_task_spec", "selective_spec",
           "select_units", "subnetwork", "expansion_spec", "split_spec"]
