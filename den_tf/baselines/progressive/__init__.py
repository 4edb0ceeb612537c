"""DNN-Progressive (the paper's "DNN-Progressive", Sec. 4.1): progressive neural networks
(Rusu et al. 2016, Eq. 1), a column per task with lateral connections from the earlier
columns. Its card: the column size --column_scale; the memory of a column per task and
their laterals; it builds columns of a layer stack (the MLP, lenet, conv5, any layer
spec), not of an architecture of another kind. The method: `learner.Progressive`.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

from __future__ import annotations

from den_tf._lazy import exports
from den_tf.baselines.footprint import flags
from den_tf.baselines.progressive.columns import column_units
from den_tf.config import rules
from den_tf.config.registry import Footprint, MethodCard, Setting, register_method
from den_tf.errors import ConfigError

# Chosen on the validation split by `python -m den_tf.experiments.select_baselines` (the
# smallest --column_scale whose mean validation AUROC is within 0.001 of the best).
COLUMN_SCALE = 0.5


def memory(config, arch, input_size, image_shape, n_tasks, worst=False):
    """One column per task with its head; column k also has a lateral weight matrix (no
    bias) from each earlier column into each of its hidden layers after the first and
    into its head; task k's forward pass runs columns 1..k. Exact for dense columns; with
    convolutional layers each pair of columns' laterals counts as one more column (an
    over-estimate)."""
    if worst:
        return None
    units = column_units(arch.units(config.dims), config.column_scale)
    n_out = int(config.dims[-1])
    column = arch.parameter_count(input_size, image_shape, units, n_out, 1)
    pairs = n_tasks * (n_tasks - 1) // 2
    if arch.dense_only:
        lateral = sum(a * b for a, b in zip(units, units[1:] + [n_out]))
        params = n_tasks * column + lateral * pairs
    else:
        params = column * (n_tasks + pairs)
    acts = arch.activations(input_size, image_shape, units, 0)
    return Footprint(params, n_tasks * acts + n_out,
                     0, f"{n_tasks} columns of {arch.describe(units, image_shape)} with "
                        f"lateral weights",
                     flags(config, n_tasks, f"--column_scale={config.column_scale:g}"),
                     "a smaller --column_scale, smaller --dims or fewer --n_tasks fit")


def check(config) -> None:
    if not hasattr(config.architecture, "stack_for"):
        raise ConfigError(f"--method=progressive: builds its columns of a layer stack (mlp, "
                          f"lenet, conv5 or a layer spec); --arch={config.arch} is not one")


CARD = register_method(MethodCard(
    "progressive", "den_tf.baselines.progressive.learner:Progressive",
    "a column per task with lateral connections from the earlier columns, which stay "
    "frozen (Rusu et al. 2016; the paper's DNN-Progressive)",
    settings=(Setting("column_scale", "float", COLUMN_SCALE,
                      "Hidden sizes (units, filters) of each task's column, as a fraction of "
                      "the architecture's (chosen on the validation split).",
                      rules.check_positive_float),),
    memory=memory, paper=("Q2",), check=check, owner="den_tf.baselines.progressive"))

__getattr__, __dir__ = exports(__name__, {"Progressive": ".learner",
                                          "column_forward": ".learner",
                                          "conv_column_forward": ".learner"})
__all__ = ["CARD", "COLUMN_SCALE", "Progressive", "column_units", "column_forward",
           "conv_column_forward", "memory"]
