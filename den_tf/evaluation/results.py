"""The results of a run as a dict (and JSON), and a readable summary table.

Continual-learning figures, as Avalanche / FACIL / Mammoth report them:
R[i][j] = AUROC of task j after learning task i (j <= i; None above the diagonal), the
same matrix for top-1 accuracy, their averages after each task, backward transfer
BWT = mean over j < T of (R[T][j] - R[j][j]) (negative: forgetting), per-task
forgetting (Chaudhry et al. 2018: task j's largest drop from its best figure before the
last task, max over j <= i < T of R[i][j] - R[T][j]; and its drop from right after it
was learned, R[j][j] - R[T][j]), the figure of each task right after learning it
(R[j][j]), capacity and units per layer after every task, sparsity, and time per phase.
Each "metrics" entry is given for AUROC and for accuracy. Forward transfer compares two
results (`forward_transfer`: a run against a reference that learns each task alone).
Every key is defined, with its formula, on docs/metrics.md.

No figure is NaN: a class without test examples is left out of its task's AUROC (the
rule of den_tf.evaluation.metrics) and named once, in "unscored_classes".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import List, Optional

import numpy as np

from den_tf.errors import ConfigError


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


def class_names(tasks, task: int, outputs) -> List[int]:
    """The class ids (the task's own labels) of output indices `outputs` of `task` in a
    task stream; the output indices themselves for a stream that names no class ids."""
    ids = tasks.class_ids(task) if hasattr(tasks, "class_ids") else None
    return [int(ids[j]) if ids is not None else int(j) for j in outputs]


def unscored_classes(trainer) -> List[List[int]]:
    """Per learned task j (index j - 1): the class ids (the task's own labels) left out
    of its AUROC, from its latest evaluation (the test set, hence the list, is the same
    in every evaluation); [] when every class is scored."""
    out = []
    for j in range(1, trainer.done + 1):
        s = next((row[j - 1] for row in reversed(trainer.scores) if len(row) >= j), None)
        out.append(class_names(trainer.tasks, j, getattr(s, "unscored", None) or []))
    return out


def _digest(payload: bytes) -> str:
    return hashlib.sha1(payload).hexdigest()[:16]


def _data_digest(tasks, n: int) -> Optional[str]:
    """A digest of the test splits (pixels, labels) of the data sets tasks 1..n draw
    from, each once; None when the stream holds no data (a loaded model's)."""
    if not n or not hasattr(tasks, "task"):
        return None
    h, seen = hashlib.sha1(), set()
    for t in range(1, n + 1):
        data = getattr(tasks.task(t), "data", None)
        if data is None or getattr(data, "test", None) is None:
            return None
        if id(data) in seen:
            continue
        seen.add(id(data))
        for a in (data.test.pixels, data.test.labels):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def stream_identity(tasks, n: int) -> dict:
    """What tasks 1..n of a stream are, enough to tell two streams apart without the
    data: its kind, each task's class ids, a digest of each task's input transform, and
    a digest of the test splits of the data sets the tasks draw from (None when the
    stream holds no data: a loaded model's)."""
    transforms = None
    if hasattr(tasks, "transform"):
        transforms = [_digest(json.dumps(tasks.transform(t).describe(), sort_keys=True)
                              .encode()) for t in range(1, n + 1)]
    return {"kind": getattr(tasks, "kind", None), "own": bool(getattr(tasks, "own", False)),
            "class_ids": [class_names(tasks, t, range(tasks.n_outputs(t)))
                          for t in range(1, n + 1)],
            "transforms": transforms,
            "data": _data_digest(tasks, n)}


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
        "config": trainer.config_record() if hasattr(trainer, "config_record")
        else cfg.asdict(),
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
        "unscored_classes": unscored_classes(trainer),
        "stream": stream_identity(trainer.tasks, trainer.done),
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


# ----------------------------------------------------------------------------- transfer
# The settings that say which tasks a run learned (results from before "stream" existed)
STREAM_SETTINGS = ("dataset", "task_stream", "task_seed", "class_groups", "class_order",
                   "n_classes")


def check_same_stream(run: dict, reference: dict, names=("run", "reference")) -> int:
    """The number of tasks both results learned; ConfigError (one line) when they are
    not results of the same tasks: another number of tasks, or another stream (its
    "stream" record, else the settings of STREAM_SETTINGS)."""
    for r, name in zip((run, reference), names):
        if not isinstance(r, dict) or "accuracy_matrix" not in r or "auroc_matrix" not in r:
            raise ConfigError(f"{name}: not a den_tf results dict (no accuracy_matrix)")
    n, m = len(run["accuracy_matrix"]), len(reference["accuracy_matrix"])
    if n != m:
        raise ConfigError(f"{names[0]} learned {n} tasks, {names[1]} {m}: forward transfer "
                          f"compares runs of the same tasks")
    a, b = run.get("stream"), reference.get("stream")
    if a and b:
        for key, what in (("class_ids", "class ids"), ("transforms", "input transforms"),
                          ("data", "test data")):
            if key == "data" and (a.get(key) is None or b.get(key) is None):
                continue  # (a loaded model's results hold no data digest)
            if a.get(key) != b.get(key):
                raise ConfigError(f"{names[0]} and {names[1]} learned other tasks (their "
                                  f"{what} differ): forward transfer compares runs of the "
                                  f"same tasks")
    else:
        ca, cb = run.get("config") or {}, reference.get("config") or {}
        for key in STREAM_SETTINGS:
            if ca.get(key) != cb.get(key):
                raise ConfigError(f"{names[0]} and {names[1]} learned other tasks "
                                  f"({key} {ca.get(key)!r} and {cb.get(key)!r}): forward "
                                  f"transfer compares runs of the same tasks")
    return n


def forward_transfer(run: dict, reference: dict, names=("run", "reference")) -> dict:
    """Forward transfer of `run` against `reference`, a run of the same tasks that learns
    each task alone (--method=stl), in the task-incremental form:

        FWT = 1 / (T - 1) * sum over t = 2..T of (R[t][t] - R_ref[t][t])

    R[t][t]: the figure on task t right after learning it (accuracy, and AUROC).
    Positive: what the run learned before task t helped it learn t. Returns {"accuracy",
    "auroc": FWT or None (fewer than two tasks, or a figure missing: MTL), "per_task":
    {"accuracy", "auroc": R[t][t] - R_ref[t][t] for t = 1..T}, "tasks": T,
    "reference_method"}. ConfigError when the two are not results of the same tasks
    (`check_same_stream`)."""
    t = check_same_stream(run, reference, names)
    out = {"tasks": t, "per_task": {},
           "reference_method": (reference.get("config") or {}).get("method", "den")}
    for kind in ("accuracy", "auroc"):
        mine = just_learned(run[f"{kind}_matrix"])
        ref = just_learned(reference[f"{kind}_matrix"])
        diff = [None if a is None or b is None else float(a - b) for a, b in zip(mine, ref)]
        out["per_task"][kind] = diff
        later = diff[1:]
        out[kind] = (float(np.mean(later)) if later and None not in later else None)
    return out
