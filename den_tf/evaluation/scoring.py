"""Scoring a task on its own timestamp and head (spec "End of every task").

Task j is evaluated on W_l[:units of l-1 at j, :units of l at j] and head j: units added
after task j are cut away (the network's `params_for(j)` gives exactly those slices).
The figures: the mean sigmoid CE, the mean one-vs-rest AUROC (the original's "perf",
Q3) and top-1 accuracy beside it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from den_tf.evaluation.metrics import mean_auroc, top1_accuracy
from den_tf.model.forward import predict
from den_tf.model.network import DENNetwork


@dataclasses.dataclass
class TaskScore:
    task: int
    loss: float  # mean sigmoid CE
    auroc: float  # the original's perf / test_acc (Q3)
    accuracy: float  # top-1, reported beside it


def score_params(task: int, params: Sequence, forward: Callable, x, y,
                 xla: bool = True) -> TaskScore:
    """Figures of `task` on (x, y) with the network `forward(params, x)`."""
    loss, probs = predict(params, x, y, xla, forward)
    p, labels = probs.numpy(), np.asarray(y)
    return TaskScore(task, float(loss), mean_auroc(p, labels), top1_accuracy(p, labels))


def score(network: DENNetwork, task: int, x, y, xla: bool = True) -> TaskScore:
    """Test figures of `task` on (x, y), with its timestamp and head."""
    return score_params(task, network.params_for(task), network.forward, x, y, xla)
