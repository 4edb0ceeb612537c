"""DNN-EWC (the paper's "DNN-EWC", Sec. 4.1): elastic weight consolidation (Kirkpatrick
et al. 2017, Eq. 3). Its card: --ewc_lambda and --ewc_samples; the memory of one network
with a head per task plus the Fisher sums (`EWC_BYTES` per hidden weight and bias). The
method: `learner.EWC`.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

from den_tf._lazy import exports
from den_tf.baselines.footprint import holds, one_network
from den_tf.config import rules
from den_tf.config.registry import MethodCard, Setting, register_method

# Chosen on the validation split by `python -m den_tf.experiments.select_baselines`.
EWC_LAMBDA = 3.0
EWC_SAMPLES = 1000

# What EWC holds per hidden weight and bias besides what the usual factor counts (its
# pull's target is the task-start copy that factor budgets): the sum of the Fishers, of
# F * theta and the last task's values, in float64 (24), the anchors and the Fisher as
# float32 for the phase (8), the Fisher as the pull's padded weights (4); and while a
# task's Fisher is computed, one chunk's per-example gradients (`diagonal_fisher`: a
# jacobian over FISHER_CHUNK examples) and their squares. A count, not a measurement.
FISHER_CHUNK = 100
EWC_BYTES = 24 + 8 + 4 + 2 * 4 * FISHER_CHUNK

CARD = register_method(MethodCard(
    "ewc", "den_tf.baselines.ewc.learner:EWC",
    "dnn plus the EWC penalty of Kirkpatrick et al. 2017 on the hidden layers (the paper's "
    "DNN-EWC)",
    settings=(
        Setting("ewc_lambda", "float", EWC_LAMBDA,
                "lambda of Kirkpatrick et al.'s Eq. 3, lambda/2 * sum_s sum_i F_s,i "
                "(theta_i - theta*_s,i)^2 (chosen on the validation split).",
                rules.check_nonnegative_float),
        Setting("ewc_samples", "integer", EWC_SAMPLES,
                "Training examples of each task the diagonal (empirical) Fisher averages "
                "over.", rules.check_positive_int),
    ),
    memory=holds(one_network, extra_per_param=EWC_BYTES),
    paper=("Q2",), owner="den_tf.baselines.ewc"))

__getattr__, __dir__ = exports(__name__, {"EWC": ".learner", "diagonal_fisher": ".learner"})
__all__ = ["CARD", "EWC", "EWC_BYTES", "EWC_LAMBDA", "EWC_SAMPLES", "diagonal_fisher"]
