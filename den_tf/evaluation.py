"""Evaluation of a task on its own timestamp and head (spec "End of every task").

Task j is evaluated on W_l[:units of l-1 at j, :units of l at j] and head j: units added
after task j are cut away. The overall evaluation after task t covers tasks 1..t and
prints the shapes, the AUROC of each task, and their mean (avg_perf).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List

import numpy as np

from den_tf import logfmt
from den_tf.metrics import mean_auroc, top1_accuracy
from den_tf.network import DENNetwork
from den_tf.runner import predict


@dataclasses.dataclass
class TaskScore:
    task: int
    loss: float  # mean sigmoid CE
    auroc: float  # the original's perf / test_acc (Q3)
    accuracy: float  # top-1, reported beside it


def score(network: DENNetwork, task: int, x, y, xla: bool = True) -> TaskScore:
    """Test figures of `task` on (x, y), with its timestamp and head."""
    loss, probs = predict(network.params_for(task), x, y, xla, network.forward)
    p, labels = probs.numpy(), np.asarray(y)
    return TaskScore(task, float(loss), mean_auroc(p, labels), top1_accuracy(p, labels))


def overall_evaluation(network: DENNetwork, upto: int, test_set: Callable[[int], tuple],
                       log: Callable[[str], None], xla: bool = True) -> List[TaskScore]:
    """The original's overall evaluation after task `upto`: every task 1..upto on its own
    test set (`test_set(j)` gives its permuted images and labels)."""
    log(logfmt.OVERALL)
    scores = []
    for j in range(1, upto + 1):
        for line in logfmt.shape_lines(network.stamps[j]):
            log(line)
        x, y = test_set(j)
        s = score(network, j, x, y, xla)
        log(logfmt.evaluation(j, s.auroc))
        scores.append(s)
    log(logfmt.avg_perf(sum(s.auroc for s in scores) / float(upto)))
    return scores
