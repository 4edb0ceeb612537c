"""Scoring a task on its own timestamp and head (algorithm.md#evaluation).

Task j is evaluated on W_l[:units of l-1 at j, :units of l at j] and head j: units added
after task j are cut away (the network's `params_for(j)` gives exactly those slices).
The figures: the mean sigmoid CE, the mean one-vs-rest AUROC (the original's "perf",
Q3) and top-1 accuracy beside it.

A class without positive or without negative examples in (x, y) cannot be scored: the
AUROC is the mean over the other classes (den_tf.evaluation.metrics, docs/metrics.md),
and `TaskScore.unscored` names the left-out classes by their OUTPUT INDICES in the task's
head (0-based; what the arrays alone can say). The results and the log translate them
into the task's own class ids (`class_ids(t)[j]`), the names a user gave.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Sequence

import numpy as np

from den_tf.errors import InputError
from den_tf.evaluation.metrics import mean_auroc, top1_accuracy, unscorable
from den_tf.model.forward import predict
from den_tf.model.network import DENNetwork


@dataclasses.dataclass
class TaskScore:
    task: int
    loss: float  # mean sigmoid CE
    auroc: float  # the original's perf / test_acc (Q3)
    accuracy: float  # top-1, reported beside it
    # output indices of the classes left out of `auroc` (no positive or no negative
    # example in the test set); empty when every class is scored
    unscored: List[int] = dataclasses.field(default_factory=list)


def score_params(task: int, params: Sequence, forward: Callable, x, y,
                 xla: bool = True) -> TaskScore:
    """Figures of `task` on (x, y) with the network `forward(params, x)`."""
    loss, probs = predict(params, x, y, xla, forward)
    p, labels = probs.numpy(), np.asarray(y)
    try:
        auroc = mean_auroc(p, labels)
    except InputError as e:
        raise InputError(f"task {task}: {e}") from None
    return TaskScore(task, float(loss), auroc, top1_accuracy(p, labels), unscorable(labels))


def score(network: DENNetwork, task: int, x, y, xla: bool = True) -> TaskScore:
    """Test figures of `task` on (x, y), with its timestamp and head."""
    return score_params(task, network.params_for(task), network.forward, x, y, xla)
