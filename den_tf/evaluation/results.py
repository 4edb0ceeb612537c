"""The results of a run as a dict (and JSON), and a readable summary table.

Continual-learning figures, as Avalanche / FACIL / Mammoth report them:
R[i][j] = AUROC of task j after learning task i (j <= i; None above the diagonal), the
same matrix for top-1 accuracy, their averages after each task, backward transfer
BWT = mean over j < T of (R[T][j] - R[j][j]) (negative: forgetting), per-task
forgetting (Chaudhry et al. 2018: task j's largest drop from its best figure before the
last task, max over j <= i < T of R[i][j] - R[T][j]; and its drop from right after it
was learned, R[j][j] - R[T][j]), the figure of each task right after learning it
(R[j][j]), capacity and units per layer after every task, sparsity, and time per phase.
Each "metrics" entry is given for AUROC and for accuracy.
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


def forgetting(matrix) -> dict:
    """Per task j < T: "max": the largest drop from its best figure before the last task
    (max over j <= i < T of R[i][j] - R[T][j]); "end": its drop from right after it was
    learned (R[j][j] - R[T][j]); their means over j < T ("mean_max", "mean_end"). None
    where a figure is missing (MTL)."""
    t = len(matrix)
    out = {"max": [], "end": [], "mean_max": None, "mean_end": None}
    if t < 2:
        return out
    for j in range(t - 1):
        col = [matrix[i][j] for i in range(j, t)]
        if any(x is None for x in col):
            out["max"].append(None)
            out["end"].append(None)
            continue
        out["max"].append(float(max(col[:-1]) - col[-1]))
        out["end"].append(float(col[0] - col[-1]))
    for key in ("max", "end"):
        out[f"mean_{key}"] = _mean(out[key])
    return out


def just_learned(matrix) -> List[Optional[float]]:
    """R[j][j]: every task's figure right after it was learned."""
    return [matrix[j][j] if j < len(matrix[j]) else None for j in range(len(matrix))]


def metrics(matrix) -> dict:
    """The figures the field reports, from one matrix (AUROC or accuracy)."""
    avg = [_mean(row) for row in matrix]
    return {"final_average": avg[-1] if avg else None, "average": avg,
            "bwt": backward_transfer(matrix), "forgetting": forgetting(matrix),
            "just_learned": just_learned(matrix)}


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
        "metrics": {"auroc": metrics(auroc), "accuracy": metrics(acc)},
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
