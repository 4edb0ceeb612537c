"""The results of a run as a dict (and JSON), and a readable summary table.

Continual-learning figures, as Avalanche / FACIL / Mammoth report them:
R[i][j] = AUROC of task j after learning task i (j <= i; None above the diagonal), the
same matrix for top-1 accuracy, their averages after each task, backward transfer
BWT = mean over j < T of (R[T][j] - R[j][j]) (negative: forgetting), capacity and units
per layer after every task, sparsity, and time per phase.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

import numpy as np


def _matrix(scores, attr: str) -> List[List[Optional[float]]]:
    n = len(scores)
    return [[getattr(s[j], attr) if j < len(s) else None for j in range(n)] for s in scores]


def backward_transfer(matrix) -> Optional[float]:
    """Mean over tasks j < T of R[T][j] - R[j][j]; None with fewer than two tasks, or
    when a task has no figure right after it was learned (MTL has no sequence)."""
    t = len(matrix)
    if t < 2:
        return None
    pairs = [(matrix[t - 1][j], matrix[j][j]) for j in range(t - 1)]
    if any(a is None or b is None for a, b in pairs):
        return None
    return float(np.mean([a - b for a, b in pairs]))


def _mean(row) -> Optional[float]:
    """Mean of a row's figures; None for a row without any (MTL before its last task)."""
    xs = [x for x in row if x is not None]
    return float(np.mean(xs)) if xs else None


TIMING_KEYS = ("phases", "wall_s", "eval_s")


def build(trainer, wall_s: float, extra: Optional[dict] = None) -> dict:
    """Everything a run reports, JSON-ready. Everything but the "timing" section is a
    function of the settings and the seed (same seed, same figures)."""
    cfg = trainer.config
    auroc = _matrix(trainer.scores, "auroc")
    acc = _matrix(trainer.scores, "accuracy")
    avg = [_mean(row) for row in auroc]
    avg_acc = [_mean(row) for row in acc]
    tasks, per_task = [], []
    for r in trainer.records:
        d = dataclasses.asdict(r)
        per_task.append({"task": r.task, **{k: d.pop(k) for k in TIMING_KEYS}})
        d.pop("selection", None)  # long, and rarely wanted in JSON
        tasks.append(d)
    out = {
        "config": dataclasses.asdict(cfg),
        "tasks_learned": trainer.done,
        "auroc_matrix": auroc,
        "accuracy_matrix": acc,
        "avg_perf": avg,
        "avg_accuracy": avg_acc,
        "final_avg_perf": avg[-1] if avg else None,
        "bwt_auroc": backward_transfer(auroc),
        "bwt_accuracy": backward_transfer(acc),
        "capacity": [r.capacity for r in trainer.records],
        "units_per_layer": [r.sizes for r in trainer.records],
        "sparsity": [r.sparsity for r in trainer.records],
        "tasks": tasks,
        "timing": {"wall_s": wall_s, "per_task": per_task},
    }
    out.update(extra or {})
    return out


def phase_totals(results: dict) -> dict:
    """Seconds of training, compilation and validation summed over all phases."""
    tot = {"train_s": 0.0, "compile_s": 0.0, "validate_s": 0.0, "eval_s": 0.0}
    for t in results["timing"]["per_task"]:
        tot["eval_s"] += t["eval_s"]
        for p in t["phases"].values():
            for k in ("train_s", "compile_s", "validate_s"):
                tot[k] += p[k]
    return tot
