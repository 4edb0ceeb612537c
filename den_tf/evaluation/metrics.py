"""Figures the original prints, written with numpy (algorithm.md#auroc).

`mean_auroc` is the original's "perf" (`test_perf`, `val perf`, `test_acc`): the mean
over classes of the one-vs-rest ROC AUC of the sigmoid outputs (Q3: it is AUROC, not
accuracy). Ties count as the trapezoidal ROC counts them, half a pair each, which is the
Mann-Whitney statistic with mid-ranks. All classes are ranked in one vectorised pass.

The rule for classes that cannot be scored (docs/metrics.md): the one-vs-rest AUROC of a
class needs at least one positive and one negative example; a task's AUROC is the mean
over the classes that have both (`scorable`), and the others are left out (and named by
the caller: den_tf.evaluation.scoring, the log and the results). When every class has
both, the mean is computed exactly as the original's (the same numpy operations in the
same order: bit for bit the same figure). A split with no class that can be scored has
no AUROC: InputError (the task streams refuse such a task when they are built).
"""

from __future__ import annotations

import numpy as np

from den_tf.errors import InputError


def auroc_per_class(scores, labels) -> np.ndarray:
    """One-vs-rest ROC AUC of every column of `scores` [n, k] against binary `labels`.

    A class with no positive or no negative example has no AUC: nan.
    """
    s = np.asarray(scores)
    y = np.asarray(labels) > 0.5
    if s.ndim == 1:
        s, y = s[:, None], y[:, None]
    n, k = s.shape
    order = np.argsort(s, axis=0, kind="stable")
    s_sorted = np.take_along_axis(s, order, 0).T  # [k, n]: one row per class
    y_sorted = np.take_along_axis(y, order, 0).T
    starts = np.ones_like(s_sorted, dtype=bool)
    starts[:, 1:] = s_sorted[:, 1:] != s_sorted[:, :-1]  # a new tie group begins
    group = np.cumsum(starts.ravel()) - 1  # groups never span two classes
    position = np.tile(np.arange(1, n + 1, dtype=np.float64), k)
    mid_rank = (np.bincount(group, weights=position) / np.bincount(group))[group]
    cls = np.repeat(np.arange(k), n)
    pos_rank_sum = np.bincount(cls, weights=mid_rank * y_sorted.ravel(), minlength=k)
    n_pos = y_sorted.sum(axis=1).astype(np.float64)
    n_neg = n - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos_rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def scorable(labels) -> np.ndarray:
    """bool [k]: which classes (columns of the labels [n, k]) have at least one positive
    and one negative example, the two an AUROC needs."""
    y = np.asarray(labels) > 0.5
    if y.ndim == 1:
        y = y[:, None]
    n_pos = y.sum(axis=0)
    return (n_pos > 0) & (n_pos < len(y))


def mean_auroc(scores, labels) -> float:
    """The original's perf: mean one-vs-rest AUROC over the classes that can be scored
    (`scorable`; every class, as the original, when all have positive and negative
    examples). InputError when no class can be scored."""
    per_class = auroc_per_class(scores, labels)
    ok = scorable(labels)
    if ok.all():
        return float(np.mean(per_class))  # the original's figure, bit for bit
    if not ok.any():
        raise InputError(f"no class of these {len(ok)} has both positive and negative "
                         f"examples: the AUROC is undefined")
    return float(np.mean(per_class[ok]))


def unscorable(labels) -> list:
    """The output indices (0-based, ascending) of the classes `mean_auroc` leaves out."""
    return [int(j) for j in np.flatnonzero(~scorable(labels))]


def top1_accuracy(scores, labels) -> float:
    """Fraction of examples whose highest score is their label (not printed by the
    original; reported in the results file)."""
    return float(np.mean(np.argmax(scores, 1) == np.argmax(labels, 1)))
