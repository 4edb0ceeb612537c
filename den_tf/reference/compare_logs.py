"""Compare two DEN logs: `python -m den_tf.reference.compare_logs OURS [THEIRS] [--tol 0.002]`;
or summarise several: `python -m den_tf.reference.compare_logs --summary LOG [LOG ...]`.

THEIRS defaults to the original code's full default run, bundled with den_tf
(`logs/original/den_tf1_default.log` in a checkout, `den_tf/reference_logs/` once
installed; see `original_logs_dir`).

Reads logs in the original's format (den_tf's, the original code's, and the variant whose
shape lines read ` [*] task 1, shape of layer 1 : [784, 312]`); lines of den_tf's own
(prefixed ` [den_tf] `) are ignored. The two logs are compared on the tasks they have in common (a 3-task
run against the original's 10-task log: tasks 1..3), and a line says which. Prints one
table row per task: test_perf right after training, test_acc after the last task
compared (the last task both logs have), avg_perf after the task, units added per layer,
split counts, layer sizes; then capacity (at the last task compared). Exits with status 1
when an AUROC figure differs by more than --tol, 2 when a log cannot be read or the two
have no task in common.

`--summary` prints one row per log, each figure averaged over the tasks that log holds
(the column "tasks" lists them; a line names every log that lacks some, such as a
resumed or partial run's).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from typing import Dict, List, Optional

import numpy as np

from den_tf.io.loglines import PREFIX

_HEADER = re.compile(r"^\tTASK (\d+) TRAINING$")
_EXPANDING = re.compile(r"^   \[\*\] Expanding (\d+)th hidden unit, (\d+) unit added")
_SPLIT_N = re.compile(r"^   \[\*\] split N in layer(\d+): (\d+) / (\d+)$")
_TOTAL = re.compile(r"^   \[\*\] Total expansions: \[([\d, ]*)\]$")
# [rows, units] for a dense layer, [kh, kw, channels in, filters] for a convolution.
_SHAPE = re.compile(r"^ \[\*\] task (\d+), shape(?: of layer (\d+))? : \[(\d+(?:, \d+)+)\]$")
_RESULT = re.compile(r"^ \[\*\] Task: (\d+), nn_test_loss: ([\d.naif-]+), test_perf: "
                     r"([\d.naif-]+), sparsity\(avg\): ([\d.naif-]+)$")
_EVAL = re.compile(r"^ \[\*\] Evaluation, Task:(\d+), test_acc: ([\d.naif-]+)$")
_AVG = re.compile(r"^   \[\*\] avg_perf: ([\d.naif-]+)$")
_OVERALL = re.compile(r"^ OVERALL EVALUATION$")


@dataclasses.dataclass
class TaskLog:
    task: int
    added: Dict[int, int] = dataclasses.field(default_factory=dict)  # layer -> units kept
    split: Dict[int, tuple] = dataclasses.field(default_factory=dict)  # layer -> (n, cand)
    total: Optional[List[int]] = None
    sizes: Optional[List[int]] = None  # hidden sizes after the task
    test_loss: Optional[float] = None
    test_perf: Optional[float] = None
    sparsity: Optional[float] = None
    evals: Dict[int, float] = dataclasses.field(default_factory=dict)  # after this task
    stamps: Dict[int, List[int]] = dataclasses.field(default_factory=dict)
    avg_perf: Optional[float] = None


class LogError(Exception):
    pass


# The original's logs that ship with den_tf (logs/original/README.md: how they were made).
ORIGINAL_DEFAULT_LOG = "den_tf1_default.log"


def original_logs_dir() -> str:
    """The folder of the original code's logs bundled with den_tf: `den_tf/reference_logs`
    in an installed den_tf (setup.py ships `logs/original` there), else `logs/original`
    beside the package in a checkout. Raises LogError when neither holds them."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # den_tf/
    places = [os.path.join(pkg, "reference_logs"),
              os.path.join(os.path.dirname(pkg), "logs", "original")]
    for d in places:
        if os.path.isfile(os.path.join(d, ORIGINAL_DEFAULT_LOG)):
            return d
    raise LogError(f"the original's logs are missing (looked in {' and '.join(places)})")


def original_log(name: str = ORIGINAL_DEFAULT_LOG) -> str:
    """The path of one bundled log of the original, e.g. "den_tf1_max_iter200.log"."""
    return os.path.join(original_logs_dir(), name)


def parse(text: str) -> List[TaskLog]:
    """The per-task figures of a log."""
    tasks: List[TaskLog] = []
    cur: Optional[TaskLog] = None
    in_overall = False
    shapes: Dict[int, List[int]] = {}
    for raw in text.splitlines():
        line = raw.rstrip("\n")
        if line.startswith(PREFIX):
            continue
        m = _HEADER.match(line)
        if m:
            cur = TaskLog(int(m.group(1)))
            tasks.append(cur)
            in_overall, shapes = False, {}
            continue
        if cur is None:
            continue
        if _OVERALL.match(line):
            in_overall, shapes = True, {}
            continue
        m = _SHAPE.match(line)
        if m:
            layer = int(m.group(2) or m.group(1))
            shapes[layer] = [int(d) for d in m.group(3).split(", ")]
            continue
        m = _EXPANDING.match(line)
        if m:
            cur.added[int(m.group(1))] = int(m.group(2))
            continue
        m = _SPLIT_N.match(line)
        if m:
            cur.split[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
            continue
        m = _TOTAL.match(line)
        if m:
            cur.total = [int(x) for x in m.group(1).split(",") if x.strip()]
            continue
        m = _RESULT.match(line)
        if m:
            cur.test_loss, cur.test_perf, cur.sparsity = (float(m.group(i)) for i in (2, 3, 4))
            cur.sizes = _sizes(shapes)
            shapes = {}
            continue
        m = _EVAL.match(line)
        if m and in_overall:
            j = int(m.group(1))
            cur.evals[j] = float(m.group(2))
            cur.stamps[j] = _stamp(shapes)
            shapes = {}
            continue
        m = _AVG.match(line)
        if m:
            cur.avg_perf = float(m.group(1))
    return tasks


def _sizes(shapes: Dict[int, List[int]]) -> Optional[List[int]]:
    return [shapes[k][-1] for k in sorted(shapes)] if shapes else None


def _stamp(shapes: Dict[int, List[int]]) -> Optional[List[int]]:
    if not shapes:
        return None
    ks = sorted(shapes)
    return [shapes[ks[0]][-2]] + [shapes[k][-1] for k in ks]


def capacity(tasks: List[TaskLog], n_out: int = 10) -> Optional[float]:
    """Parameters of the final network (hidden layers at their final sizes, each head at
    its task's timestamp) relative to the base network (task 1's sizes, one head)."""
    if not tasks or not tasks[-1].stamps:
        return None
    stamps = tasks[-1].stamps
    final, base = stamps[max(stamps)], stamps[min(stamps)]
    dense = lambda dims: sum(dims[i] * dims[i + 1] + dims[i + 1] for i in range(len(dims) - 1))
    heads = sum(s[-1] * n_out + n_out for s in stamps.values())
    return (dense(final) + heads) / (dense(base) + base[-1] * n_out + n_out)


def _f(x, fmt="%.4f"):
    return "-" if x is None else fmt % x


def _d(a, b):
    return None if a is None or b is None else a - b


def span(ids) -> str:
    """Task numbers for a reader: "1..10" when consecutive, else "1, 3, 5"."""
    ids = list(ids)
    if len(ids) > 2 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}..{ids[-1]}"
    return ", ".join(str(i) for i in ids) or "none"


def compare(ours: List[TaskLog], theirs: List[TaskLog], tol: float, n_out: int = 10,
            out=None) -> int:
    """Prints the comparison table over the tasks both logs have (a line says which);
    returns the exit status (2: no task in common)."""
    out = out or sys.stdout
    o_ids, t_ids = [t.task for t in ours], [t.task for t in theirs]
    common = sorted(set(o_ids) & set(t_ids))
    if not common:
        print(f"compare_logs: error: the logs have no task in common: ours has tasks "
              f"{span(o_ids)}, theirs {span(t_ids)}", file=sys.stderr)
        return 2
    if o_ids == t_ids:
        print(f"tasks compared: {span(common)} (both logs have the same tasks)", file=out)
    else:
        print(f"tasks compared: {span(common)}, the tasks both logs have (ours has "
              f"{span(o_ids)}, theirs {span(t_ids)}); test_acc and capacity after task "
              f"{common[-1]}", file=out)
    by_o, by_t = {t.task: t for t in ours}, {t.task: t for t in theirs}
    ours, theirs = [by_o[j] for j in common], [by_t[j] for j in common]
    last_o, last_t = ours[-1], theirs[-1]
    acc_label = ("final test_acc" if common[-1] == o_ids[-1] == t_ids[-1]
                 else f"test_acc after task {common[-1]}")
    worst = 0.0
    head = (f"{'task':>4} | {'test_perf ours/theirs/diff':^27} | {acc_label:^27} | "
            f"{'avg_perf':^27} | {'added ours/theirs':^17} | {'split ours/theirs':^17} | "
            f"sizes ours/theirs")
    print(head, file=out)
    print("-" * len(head), file=out)
    for o, t in zip(ours, theirs):
        j = o.task
        trip = []
        for a, b in ((o.test_perf, t.test_perf), (last_o.evals.get(j), last_t.evals.get(j)),
                     (o.avg_perf, t.avg_perf)):
            d = _d(a, b)
            if d is not None:
                worst = max(worst, abs(d))
            trip.append(f"{_f(a)} {_f(b)} {_f(d, '%+.4f'):>7}")
        added = lambda x: ",".join(str(x.added[k]) for k in sorted(x.added)) or "-"
        split = lambda x: ",".join(str(x.split[k][0]) for k in sorted(x.split)) or "-"
        sizes = lambda x: ",".join(str(s) for s in x.sizes) if x.sizes else "-"
        print(f"{j:>4} | {trip[0]:>27} | {trip[1]:>27} | {trip[2]:>27} | "
              f"{added(o):>8}/{added(t):<8} | {split(o):>8}/{split(t):<8} | "
              f"{sizes(o)}/{sizes(t)}", file=out)
    co, ct = capacity(ours, n_out), capacity(theirs, n_out)
    print(f"capacity (all heads at their timestamps, vs one base network): "
          f"ours {_f(co, '%.3fx')}, theirs {_f(ct, '%.3fx')}", file=out)
    status = 0 if worst <= tol + 1e-12 else 1
    print(f"largest AUROC difference: {worst:.4f} (tolerance {tol:.4f}): "
          f"{'PASS' if status == 0 else 'FAIL'}", file=out)
    return status


SUMMARY_COLUMNS = ("final avg_perf", "AUROC T2..T", "test CE", "test CE T2..T",
                   "units added", "final sizes", "capacity", "tasks")
TEXT_COLUMNS = ("final sizes", "tasks")  # not averaged over the logs


def summary(tasks: List[TaskLog], n_out: int = 10) -> dict:
    """One run's figures: final avg_perf; mean AUROC after the last task of tasks 2..T
    (the tasks that went through selective retraining, expansion and split); mean test CE
    (`nn_test_loss` right after each task) over all tasks and over tasks 2..T; units added
    over the run (the sum of every "Total expansions" list); final hidden sizes; capacity;
    and the tasks the log holds ("tasks", e.g. "1..10"): every figure averages those
    only (a resumed or partial log's are fewer)."""
    last = tasks[-1]
    later = [last.evals[j] for j in sorted(last.evals) if j > 1]
    ce = [t.test_loss for t in tasks if t.test_loss is not None]
    ce_later = [t.test_loss for t in tasks if t.test_loss is not None and t.task > 1]
    return {
        "final avg_perf": last.avg_perf,
        "AUROC T2..T": sum(later) / len(later) if later else None,
        "test CE": sum(ce) / len(ce) if ce else None,
        "test CE T2..T": sum(ce_later) / len(ce_later) if ce_later else None,
        "units added": sum(sum(t.total or []) for t in tasks),
        "final sizes": last.sizes,
        "capacity": capacity(tasks, n_out),
        "tasks": span(t.task for t in tasks),
    }


def summary_table(named: List[tuple], n_out: int = 10, out=None) -> None:
    """Prints one row per (name, tasks) and, for two or more logs, their mean and sample
    standard deviation (ddof=1)."""
    out = out or sys.stdout
    rows = [(name, summary(tasks, n_out)) for name, tasks in named]
    fmt = {"final avg_perf": "%.4f", "AUROC T2..T": "%.5f", "test CE": "%.4f",
           "test CE T2..T": "%.4f", "units added": "%d", "capacity": "%.3fx"}
    print("| log | " + " | ".join(SUMMARY_COLUMNS) + " |", file=out)
    print("|" + " --- |" * (len(SUMMARY_COLUMNS) + 1), file=out)
    for name, r in rows:
        cells = [("-" if r[c] is None else ",".join(map(str, r[c]))) if c == "final sizes"
                 else r[c] if c == "tasks" else _f(r[c], fmt[c]) for c in SUMMARY_COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |", file=out)
    if len(rows) > 1:
        cells = []
        for c in SUMMARY_COLUMNS:
            vals = [r[c] for _, r in rows if r[c] is not None and c not in TEXT_COLUMNS]
            if c in TEXT_COLUMNS or len(vals) < 2:
                cells.append("")
                continue
            sd = fmt[c].replace("x", "").replace("%d", "%.1f")
            cells.append(f"{fmt[c].replace('%d', '%.1f') % np.mean(vals)} ± "
                         f"{sd % np.std(vals, ddof=1)}")
        print(f"| mean ± sd ({len(rows)} logs) | " + " | ".join(cells) + " |", file=out)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--summary" in argv:
        argv.remove("--summary")
        return summary_main(argv)
    p = argparse.ArgumentParser(prog="python -m den_tf.reference.compare_logs",
                                description="Compare two DEN logs on the tasks both "
                                "have (OURS against THEIRS, by default the original's "
                                "default run), or summarise several with --summary.")
    p.add_argument("--summary", action="store_true",
                   help="instead: one row of figures per log given (LOG [LOG ...]), each "
                        "averaged over the tasks that log holds, and their mean")
    p.add_argument("ours")
    p.add_argument("theirs", nargs="?", default=None,
                   help=f"the other log (default: the original's {ORIGINAL_DEFAULT_LOG}, "
                        f"bundled with den_tf)")
    p.add_argument("--tol", type=float, default=0.002, help="largest AUROC difference allowed")
    p.add_argument("--n_classes", type=int, default=10, help="outputs per head (capacity)")
    a = p.parse_args(argv)
    if a.theirs is None:
        try:
            a.theirs = original_log()
        except LogError as e:
            print(f"compare_logs: error: {e}", file=sys.stderr)
            return 2
        rel = os.path.relpath(a.theirs)
        print(f"theirs: {a.theirs if rel.startswith('..') else rel} (the original code's "
              f"default run)")
    try:
        logs = [read_log(path) for path in (a.ours, a.theirs)]
    except LogError as e:
        print(f"compare_logs: error: {e}", file=sys.stderr)
        return 2
    return compare(logs[0], logs[1], a.tol, a.n_classes)


def read_log(path: str) -> List[TaskLog]:
    """The parsed tasks of the log at `path`; LogError (one line) when it cannot be read
    or holds no task."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            parsed = parse(f.read())
    except OSError as e:
        raise LogError(f"{path}: {e.strerror}") from None
    if not parsed:
        raise LogError(f"{path}: no task found (not a DEN log?)")
    return parsed


def summary_main(argv) -> int:
    """`python -m den_tf.reference.compare_logs --summary LOG [LOG ...]`: the summary table."""
    p = argparse.ArgumentParser(prog="python -m den_tf.reference.compare_logs --summary",
                                description="One row of figures per DEN log (ours or the "
                                            "original's), and their mean.")
    p.add_argument("logs", nargs="+")
    p.add_argument("--n_classes", type=int, default=10, help="outputs per head (capacity)")
    a = p.parse_args(argv)
    try:
        named = [(path, read_log(path)) for path in a.logs]
    except LogError as e:
        print(f"compare_logs: error: {e}", file=sys.stderr)
        return 2
    summary_table(named, a.n_classes)
    for path, tasks in named:
        ids = [t.task for t in tasks]
        if ids != list(range(1, len(ids) + 1)):
            print(f"{path}: holds tasks {span(ids)} only (a resumed or partial log?): its "
                  f"figures average those tasks")
    print("each log's figures average the tasks it holds (column tasks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
