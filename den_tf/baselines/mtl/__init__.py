"""DNN-MTL (the paper's "DNN-MTL", Sec. 4.1): one network with every task's head trained
jointly on all tasks' data. Its card: no settings of its own; --permute_once does nothing
for it (its minibatches mix the tasks, each permuted in the step) and is refused; every
task must have the same number of classes (the pooled heads); the memory of one network
whose forward pass computes every head, validating on every task's validation set at
once. The method: `learner.MTL`.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

from den_tf._lazy import exports
from den_tf.baselines.footprint import holds, one_network
from den_tf.config.registry import MethodCard, register_method

CARD = register_method(MethodCard(
    "mtl", "den_tf.baselines.mtl.learner:MTL",
    "one network, every task's head trained jointly on all tasks (the paper's DNN-MTL)",
    memory=holds(one_network, pooled=True),
    paper=("Q2",), ignores=("permute_once",), equal_heads=True,
    owner="den_tf.baselines.mtl"))

__getattr__, __dir__ = exports(__name__, {"MTL": ".learner", "PooledTasks": ".learner",
                                          "pooled_forward": ".learner",
                                          "with_task": ".learner"})
__all__ = ["CARD", "MTL", "PooledTasks", "pooled_forward", "with_task"]
