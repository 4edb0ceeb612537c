"""DNN: one network fine-tuned task after task (the paper's "DNN", Sec. 4.1).

The base network of --dims with one sigmoid head per task (the same heads as DEN's):
task t adds a glorot head t, and every hidden layer and head t train for --max_iter
steps with nothing holding the earlier tasks' weights in place, so earlier tasks
drift (catastrophic forgetting). Task t is evaluated with head t on the final hidden
layers. `l2` and `ewc` are this method with a pull toward earlier weights.
"""

from __future__ import annotations

from den_tf.baselines.base import Method, OneNetwork


class DNN(OneNetwork, Method):
    """Fine-tuning with per-task heads (see the module docstring)."""

    name = "dnn"

    def describe(self) -> str:
        return "dnn: one network fine-tuned on every task, one head per task, no pull"

    def begin_task(self, t, data) -> None:
        if t == 1:
            self.build_network(1)
        else:
            self.add_head(t)

    def trainable(self, t) -> list:
        layers = self.network.layers_for(t)
        for layer in layers:
            layer.set_trainable(True, True)
        return layers

