"""DNN (the paper's "DNN", Sec. 4.1): one network fine-tuned task after task, a head per
task, nothing holding the earlier tasks' weights. Its card: no settings of its own; the
memory of one network with a head per task. The method: `learner.DNN`.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

from den_tf._lazy import exports
from den_tf.baselines.footprint import holds, one_network
from den_tf.config.registry import MethodCard, register_method

CARD = register_method(MethodCard(
    "dnn", "den_tf.baselines.dnn.learner:DNN",
    "one network fine-tuned on every task, one head per task (the paper's DNN)",
    memory=holds(one_network),
    paper=("Q2",), owner="den_tf.baselines.dnn"))

__getattr__, __dir__ = exports(__name__, {"DNN": ".learner"})
__all__ = ["CARD", "DNN"]
