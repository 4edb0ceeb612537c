"""The report of a sweep: pure functions over its folder (`python -m den_tf.sweep --out=DIR
--report` calls them; a paper-table tool can too).

A sweep folder holds one folder per point with `point.json` ({"flags": {...}, "args":
[...]}) and, once the run finished, `results.json` ("complete": true). The points are
grouped by their non-seed grid flags (seed flags: train_seed, task_seed, seed); each group
reports the number of complete runs and the mean and the sample standard deviation
(ddof=1; none for a single run) of the final avg_perf, of every task's AUROC after the last
task (the last row of the AUROC matrix), of the final capacity and of the run's wall time
(the results JSON's timing.wall_s: the run itself, without the interpreter's start).

    points = load_points(out)          # every point folder, complete or not
    report = aggregate(points)         # groups, means, standard deviations (a dict)
    text = markdown(report)            # the table
    write_report(out)                  # report.md, report.json, report.png
"""

from __future__ import annotations

import json
import os
import statistics
from typing import Dict, List, Optional, Sequence

from den_tf.io import files, png_bytes, pyplot

SEED_FLAGS = ("train_seed", "task_seed", "seed")
DEFAULT_VALUE = "default"  # how an empty grid value (the flag at its default) is shown
STD_NOTE = "sample standard deviation (ddof=1); null for a single run"
SWEEP_FILE = "sweep.json"


# ----------------------------------------------------------------------------- reading
def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _error_line(folder: str) -> str:
    """Why a point is not complete: status.json's error, else stderr's last line."""
    status = _read_json(os.path.join(folder, "status.json"))
    if status and status.get("error"):
        return status["error"]
    try:
        with open(os.path.join(folder, "stderr.txt"), encoding="utf-8", errors="replace") as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
    except OSError:
        lines = []
    return lines[-1] if lines else "not run yet, or interrupted"


def load_points(out: str) -> List[dict]:
    """Every point folder of the sweep in `out`: [{"name", "flags", "results" (the results
    JSON when complete, else None), "error" (why not, else "")}], in grid order (the order
    of sweep.json's points, then any other folders by name)."""
    names = sorted(n for n in os.listdir(out)
                   if os.path.isfile(os.path.join(out, n, "point.json")))
    sweep = _read_json(os.path.join(out, SWEEP_FILE)) or {}
    order = {n: i for i, n in enumerate(sweep.get("points", []))}
    names.sort(key=lambda n: (order.get(n, len(order)), n))
    points = []
    for name in names:
        folder = os.path.join(out, name)
        point = _read_json(os.path.join(folder, "point.json")) or {}
        results = _read_json(os.path.join(folder, "results.json"))
        complete = bool(results) and results.get("complete") is True
        points.append({"name": name, "flags": dict(point.get("flags", {})),
                       "results": results if complete else None,
                       "error": "" if complete else _error_line(folder)})
    return points


# ----------------------------------------------------------------------------- figures
def mean_std(values: Sequence[float]) -> dict:
    """{"mean", "std", "n"}: the sample standard deviation (ddof=1), None for one value."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else None, "n": len(vals)}


def final_task_auroc(results: dict) -> List[float]:
    """Each task's AUROC after the last task (the last row of the AUROC matrix)."""
    rows = results.get("auroc_matrix") or [[]]
    return [x for x in rows[-1] if x is not None]


def group_flags(points: Sequence[dict], seed_flags: Sequence[str] = SEED_FLAGS) -> List[str]:
    """The non-seed grid flags of the points, in the order they first appear."""
    names: List[str] = []
    for p in points:
        for k in p["flags"]:
            if k not in seed_flags and k not in names:
                names.append(k)
    return names


def aggregate(points: Sequence[dict], seed_flags: Sequence[str] = SEED_FLAGS) -> dict:
    """Groups by the non-seed grid flags; mean and standard deviation per group (a dict,
    JSON-ready). Points that are not complete are listed under "incomplete" and left out."""
    keys = group_flags(points, seed_flags)
    groups: Dict[tuple, dict] = {}
    incomplete = []
    for p in points:
        flags = {k: p["flags"].get(k, "") for k in keys}
        g = groups.setdefault(tuple(flags.items()), {"flags": flags, "points": [],
                                                     "seeds": [], "_results": []})
        if p["results"] is None:
            incomplete.append({"point": p["name"], "flags": p["flags"], "error": p["error"]})
            continue
        g["points"].append(p["name"])
        g["seeds"].append({k: v for k, v in p["flags"].items() if k in seed_flags})
        g["_results"].append(p["results"])
    out = []
    for g in groups.values():
        rs = g.pop("_results")
        if not rs:
            continue
        per_task = [final_task_auroc(r) for r in rs]
        n_tasks = max(len(t) for t in per_task)
        g.update(
            runs=len(rs),
            final_avg_perf=mean_std([r.get("final_avg_perf") for r in rs]),
            task_auroc=[mean_std([t[j] for t in per_task if j < len(t)])
                        for j in range(n_tasks)],
            capacity=mean_std([(r.get("capacity") or [None])[-1] for r in rs]),
            wall_s=mean_std([(r.get("timing") or {}).get("wall_s") for r in rs]))
        out.append(g)
    return {"std": STD_NOTE, "seed_flags": list(seed_flags), "group_flags": keys,
            "points": len(points), "complete": sum(g["runs"] for g in out),
            "groups": out, "incomplete": incomplete}


# ----------------------------------------------------------------------------- writing
def _pm(stat: dict, digits: int) -> str:
    if stat["mean"] is None:
        return "-"
    s = f"{stat['mean']:.{digits}f}"
    return s + (f" ± {stat['std']:.{digits}f}" if stat["std"] is not None else "")


def _label(flags: dict) -> str:
    return ", ".join(f"{k}={v if v != '' else DEFAULT_VALUE}" for k, v in flags.items()) \
        or "all runs"


def _seeds(seeds: List[dict]) -> str:
    if not any(seeds):
        return "-"
    return "; ".join(",".join(f"{k}={v}" for k, v in s.items()) or "-" for s in seeds)


def markdown(report: dict, title: str = "Sweep report", figure: Optional[str] = None) -> str:
    """The report as markdown: one row per group, then each task's final AUROC."""
    keys = report["group_flags"] or ["group"]

    def cells(g):
        if not report["group_flags"]:
            return ["all runs"]
        return [(v if v != "" else DEFAULT_VALUE) for v in g["flags"].values()]

    lines = [f"# {title}", "",
             f"{report['points']} points, {report['complete']} complete (in the tables), "
             f"{len(report['incomplete'])} not complete. Rows: the non-seed grid flags "
             f"(seed flags: {', '.join(report['seed_flags'])}). Figures are mean ± std over "
             f"the runs of a row; std is the sample standard deviation (ddof=1), none for a "
             f"single run. Wall time is the run's own (its results JSON's timing.wall_s).",
             "",
             "| " + " | ".join(keys + ["runs", "seeds", "final avg_perf (AUROC)",
                                      "capacity", "wall time (s)"]) + " |",
             "|" + " --- |" * (len(keys) + 5)]
    for g in report["groups"]:
        lines.append("| " + " | ".join(cells(g) + [
            str(g["runs"]), _seeds(g["seeds"]), _pm(g["final_avg_perf"], 4),
            _pm(g["capacity"], 3), _pm(g["wall_s"], 1)]) + " |")
    n_tasks = max([len(g["task_auroc"]) for g in report["groups"]] or [0])
    if n_tasks:
        lines += ["", "AUROC of each task after the last task:", "",
                  "| " + " | ".join(keys + [f"T{j + 1}" for j in range(n_tasks)]) + " |",
                  "|" + " --- |" * (len(keys) + n_tasks)]
        for g in report["groups"]:
            ts = [_pm(s, 4) for s in g["task_auroc"]] + ["-"] * (n_tasks - len(g["task_auroc"]))
            lines.append("| " + " | ".join(cells(g) + ts) + " |")
    if report["incomplete"]:
        lines += ["", "Not complete (left out):", ""]
        lines += [f"- `{p['point']}`: {p['error']}" for p in report["incomplete"]]
    if figure is not None:
        lines += ["", f"Figure: {figure}"]
    return "\n".join(lines) + "\n"


def figure_png(report: dict) -> bytes:
    """Mean AUROC of each task after the last task, with a ±std band, one line per group
    (PNG bytes). Needs matplotlib (ImportError without it)."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for g in report["groups"]:
        stats = g["task_auroc"]
        x = list(range(1, len(stats) + 1))
        mean = [s["mean"] for s in stats]
        ax.plot(x, mean, marker="o", label=f"{_label(g['flags'])} ({g['runs']} runs)")
        if any(s["std"] is not None for s in stats):
            std = [s["std"] or 0.0 for s in stats]
            ax.fill_between(x, [m - s for m, s in zip(mean, std)],
                            [m + s for m, s in zip(mean, std)], alpha=0.2)
        ax.set_xticks(x)
    ax.set_xlabel("task")
    ax.set_ylabel("AUROC after the last task")
    ax.set_title("mean ± std (sample, ddof=1) over the runs of each group")
    ax.grid(alpha=0.3)
    if report["groups"]:
        ax.legend(fontsize=8)
    return png_bytes(fig)


def write_report(out: str, seed_flags: Sequence[str] = SEED_FLAGS) -> dict:
    """Writes out/report.md, out/report.json and (with matplotlib) out/report.png; returns
    the report, with "figure" the PNG's file name or None and "figure_note" why not."""
    report = aggregate(load_points(out), seed_flags)
    report["figure"], report["figure_note"] = None, ""
    png = os.path.join(out, "report.png")
    if report["groups"]:
        try:
            files.write_bytes(png, figure_png(report))
            report["figure"] = "report.png"
        except ImportError:
            report["figure_note"] = "no figure: matplotlib is not installed (pip install .[plot])"
    else:
        report["figure_note"] = "no figure: no complete run"
    if report["figure"] is None and os.path.exists(png):
        os.remove(png)  # a stale figure of an earlier report would mislead
    title = f"Sweep report: {os.path.basename(os.path.normpath(out))}"
    text = markdown(report, title, report["figure"] or report["figure_note"])
    files.write_bytes(os.path.join(out, "report.md"), text.encode("utf-8"))
    files.write_bytes(os.path.join(out, "report.json"),
           json.dumps(report, indent=1).encode("utf-8"))
    return report
