"""DNN-STL (the paper's "DNN-STL", Sec. 4.1): a separate base network per task. Its card:
no settings of its own; the memory of one base network per task. The method:
`learner.STL`.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

from den_tf._lazy import exports
from den_tf.baselines.footprint import holds, one_per_task
from den_tf.config.registry import MethodCard, register_method

CARD = register_method(MethodCard(
    "stl", "den_tf.baselines.stl.learner:STL",
    "a separate base network (hidden layers and head) per task (the paper's DNN-STL)",
    memory=holds(one_per_task),
    paper=("Q2",), owner="den_tf.baselines.stl"))

__getattr__, __dir__ = exports(__name__, {"STL": ".learner"})
__all__ = ["CARD", "STL"]
