"""DNN-L2 (the paper's "DNN-L2", Sec. 4.1): fine-tuning with an L2 pull toward the
previous task's hidden weights. Its card: the pull's strength --l2_pull; the memory of
one network with a head per task (the anchor is the task-start copy the usual factor
counts). The method: `learner.L2`.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

from den_tf._lazy import exports
from den_tf.baselines.footprint import holds, one_network
from den_tf.config import rules
from den_tf.config.registry import MethodCard, Setting, register_method

# Chosen on the validation split by `python -m den_tf.experiments.select_baselines`
# (logs/baselines_selection/).
L2_PULL = 0.001

CARD = register_method(MethodCard(
    "l2", "den_tf.baselines.l2.learner:L2",
    "dnn plus an L2 pull toward the previous task's hidden weights (the paper's DNN-L2)",
    settings=(Setting("l2_pull", "float", L2_PULL,
                      "Strength of the pull l2_pull * ||W - W(previous task)||^2 / 2 on the "
                      "hidden layers (chosen on the validation split).",
                      rules.check_nonnegative_float),),
    memory=holds(one_network),
    paper=("Q2",), owner="den_tf.baselines.l2"))

__getattr__, __dir__ = exports(__name__, {"L2": ".learner"})
__all__ = ["CARD", "L2", "L2_PULL"]
