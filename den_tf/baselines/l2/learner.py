"""DNN-L2 (the paper's "DNN-L2", Sec. 4.1): fine-tuning with an L2 pull toward the
previous task's weights.

Task t > 1 trains like `dnn`, plus l2_pull * sum ||W_l - W_l^{t-1}||^2 / 2 over every
hidden layer's weights and biases (W^{t-1}: their values at the end of task t-1); the
heads are per task and need no pull. The strength (--l2_pull) is chosen on the
validation split (`den_tf.experiments.select_baselines`).
"""

from __future__ import annotations

from den_tf.baselines.dnn import DNN


class L2(DNN):
    """DNN with an L2 pull toward the previous task's hidden weights."""

    name = "l2"

    def describe(self) -> str:
        return (f"l2: dnn plus l2_pull={self.config.l2_pull:g} * ||W - W(previous task)||^2 / 2 "
                f"on the hidden layers")

    def begin_task(self, t, data) -> None:
        super().begin_task(t, data)
        self.anchor = self.network.hidden_values()  # the end of task t-1

    def penalty(self, t):
        if t == 1:
            return 0.0, {}, {}
        return self.config.l2_pull, dict(enumerate(self.anchor)), {}

