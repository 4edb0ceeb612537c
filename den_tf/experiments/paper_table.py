"""The paper's comparison in one command (Yoon et al. 2018, Sec. 4.1 and appendix:
permuted MNIST, mean per-task AUROC after the last task, and capacity):

    python -m den_tf.experiments.paper_table --data_dir=../shared/mnist --seeds=3 --max_iter=4300

runs every method (--methods, default den,dnn,l2,ewc,progressive,stl,mtl) for train
seeds 1..--seeds through the sweep runner (`python -m den_tf.sweep`, one folder per
point under OUT/runs named `method=ewc__train_seed=1`, holding its log and
results.json; a finished point is skipped on a rerun), then writes

* OUT/table.md: per method the mean final AUROC +- the sample std over the seeds, the
  paper's figure beside it, capacity (parameters over one base network of --dims, every
  head included), wall time per run, the mean per-task AUROC after the last task;
* OUT/table.json: the same numbers, and every run's;
* OUT/figure.png (needs matplotlib): per-task AUROC after the last task for every
  method, and mean final AUROC against capacity.

Flags this tool does not know (--n_tasks, --dims, --lr, ...) go to every run, a method's
own setting (--ewc_lambda, --ex_k, ...) to that method's runs only (the sweep's rule);
the runs write no checkpoints and no figure of their own unless --checkpoints /
--figure is given. `--report_only` rewrites the table from OUT/runs without running
anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from den_tf.config import METHODS
from den_tf.io import png_bytes, pyplot
from den_tf.sweep import mean_std

ALL = METHODS
ORDER = ("stl", "mtl", "dnn", "l2", "ewc", "progressive", "den")  # the paper's order
LABEL = {"stl": "DNN-STL", "mtl": "DNN-MTL", "dnn": "DNN", "l2": "DNN-L2",
         "ewc": "DNN-EWC", "progressive": "DNN-Progressive", "den": "DEN"}
# The paper's appendix, permuted MNIST, mean per-task AUROC after 10 tasks (and DEN's
# capacity, "1.39 times" the base network). Plain fine-tuning (DNN) is not in its list.
PAPER = {"stl": 0.9994, "mtl": 0.9995, "l2": 0.9636, "ewc": 0.9732, "progressive": 0.9912,
         "den": 0.9965}
PAPER_CAPACITY = {"den": 1.39}


class TableError(Exception):
    """A problem with this tool's own arguments (one line for the user)."""


def sweep_command(methods: Sequence[str], seeds: Sequence[int], out: str,
                  fixed: Sequence[str], workers: int) -> List[str]:
    """The sweep runner's command line for the grid method x train_seed."""
    return ([sys.executable, "-m", "den_tf.sweep", "--name=paper_table",
             f"--out={os.path.join(out, 'runs')}", f"--workers={workers}",
             f"--grid=method={','.join(methods)}",
             f"--grid=train_seed={','.join(str(s) for s in seeds)}"] + list(fixed))


def collect(out: str, methods: Sequence[str], seeds: Sequence[int]) -> Dict[str, list]:
    """method -> [results dict of every complete run] from OUT/runs."""
    runs = {}
    for m in methods:
        runs[m] = []
        for s in seeds:
            path = os.path.join(out, "runs", f"method={m}__train_seed={s}", "results.json")
            try:
                with open(path) as f:
                    r = json.load(f)
            except (OSError, ValueError):
                continue
            if r.get("complete") is True:
                runs[m].append(r)
    return runs


def _mean_std(xs: List[float]):
    """(mean, sample std or None) of xs; (None, None) for none (den_tf.sweep.mean_std)."""
    m = mean_std(xs)
    return m["mean"], m["std"]


def summarise(runs: Dict[str, list], n_seeds: int) -> List[dict]:
    """One row per method (paper's order): mean +- std of the final avg AUROC, capacity,
    wall time, per-task AUROC after the last task (means over the seeds)."""
    rows = []
    for m in [m for m in ORDER if m in runs]:
        rs = runs[m]
        final = [r["final_avg_perf"] for r in rs]
        mean, std = _mean_std(final)
        per_task = None
        if rs:
            last = [r["auroc_matrix"][-1] for r in rs]
            per_task = [sum(c) / len(c) for c in zip(*last)]
        rows.append({
            "method": m, "label": LABEL[m], "runs": len(rs), "seeds": n_seeds,
            "final_auroc": mean, "std": std, "per_seed": final,
            "paper": PAPER.get(m), "paper_capacity": PAPER_CAPACITY.get(m),
            "capacity": _mean_std([r["capacity"][-1] for r in rs])[0],
            "wall_s": _mean_std([r["timing"]["wall_s"] for r in rs])[0],
            "per_task": per_task,
            "n_tasks": len(rs[0]["auroc_matrix"]) if rs else None,
        })
    return rows


def markdown(rows: List[dict], command: str, wall: Optional[float]) -> str:
    n_tasks = {r["n_tasks"] for r in rows if r["n_tasks"]}
    lines = ["# DEN and the paper's baselines on permuted MNIST", "",
             f"Command: `{command}`" + (f" ({wall:.0f} s)" if wall is not None else ""), "",
             "| method | final mean AUROC (ours) | paper | capacity (ours) | paper capacity "
             "| wall time per run | runs |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["final_auroc"] is None:
            ours = "no complete run"
        else:
            ours = f"{r['final_auroc']:.4f}" + (f" +- {r['std']:.4f}" if r["std"] is not None
                                                  else " (one seed)")
        paper = f"{r['paper']:.4f}" if r["paper"] is not None else "not in the paper's list"
        cap = f"{r['capacity']:.2f}x" if r["capacity"] is not None else "-"
        pcap = f"{r['paper_capacity']:.2f}x" if r["paper_capacity"] else "-"
        wall_s = f"{r['wall_s']:.0f} s" if r["wall_s"] is not None else "-"
        lines.append(f"| {r['label']} | {ours} | {paper} | {cap} | {pcap} | {wall_s} | "
                     f"{r['runs']}/{r['seeds']} |")
    lines += ["", "Per-task AUROC after the last task (mean over the seeds):", "",
              "| method | " + " | ".join(f"T{j + 1}" for j in range(max(n_tasks or {0})))
              + " |", "| --- |" + " --- |" * max(n_tasks or {0})]
    for r in rows:
        if r["per_task"]:
            lines.append(f"| {r['label']} | " + " | ".join(f"{x:.4f}" for x in r["per_task"])
                         + " |")
    lines += ["",
              "AUROC: the mean over tasks of each task's mean one-vs-rest AUROC on its test "
              "set, after the last task (the original's avg_perf). +- is the sample standard "
              "deviation over the training seeds (--train_seed 1..N; the tasks are the same, "
              "--task_seed). Capacity: every parameter the method holds after the last "
              "task (every head included), over one base network of --dims. Wall time: "
              "the training run's own (the results' timing.wall_s), mean over the seeds.",
              "The paper's figures (Yoon et al. 2018, appendix; 10 tasks, 4300 iterations) "
              "list no plain fine-tuning baseline: DNN is ours only. DNN-MTL trains all "
              "tasks jointly (no sequence). Settings of the baselines: README "
              "\"Baselines\"."]
    return "\n".join(lines) + "\n"


def figure_png(rows: List[dict]) -> bytes:
    """Per-task AUROC after the last task, and mean final AUROC against capacity."""
    plt = pyplot()
    import matplotlib.ticker  # (matplotlib: optional, pyplot() has checked it is there)

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.6))
    for r in rows:
        if r["per_task"]:
            a.plot(range(1, len(r["per_task"]) + 1), r["per_task"], marker="o",
                   label=r["label"])
    a.set_xticks(range(1, max(len(r["per_task"] or []) for r in rows) + 1))
    a.set_title("AUROC of every task after the last task")
    a.set_xlabel("task")
    a.set_ylabel("test AUROC (mean over seeds)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    for r in rows:
        if r["final_auroc"] is None:
            continue
        b.errorbar([r["capacity"]], [r["final_auroc"]], yerr=[r["std"] or 0.0], fmt="o",
                   capsize=3)
        b.annotate(r["label"], (r["capacity"], r["final_auroc"]), fontsize=8,
                   xytext=(4, 4), textcoords="offset points")
    b.set_xscale("log")
    b.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%gx"))
    b.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    caps = [r["capacity"] for r in rows if r["capacity"] is not None]
    if caps:
        b.set_xticks([v for v in (1, 1.5, 2, 3, 5, 10, 20, 50, 100)
                      if min(caps) / 1.2 <= v <= max(caps) * 1.2])
    b.set_title("final mean AUROC against capacity")
    b.set_xlabel("capacity (x one base network, log scale)")
    b.set_ylabel("final mean AUROC")
    b.grid(alpha=0.3)
    return png_bytes(fig)


def write_report(out: str, methods, seeds, command: str, wall: Optional[float]) -> List[dict]:
    rows = summarise(collect(out, methods, seeds), len(seeds))
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(markdown(rows, command, wall))
    with open(os.path.join(out, "table.json"), "w") as f:
        json.dump({"command": command, "wall_s": wall, "rows": rows}, f, indent=1)
    try:
        png = figure_png(rows)
    except ImportError:
        print("den_tf.experiments.paper_table: no figure: matplotlib is not installed", file=sys.stderr)
    else:
        with open(os.path.join(out, "figure.png"), "wb") as f:
            f.write(png)
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m den_tf.experiments.paper_table",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--max_iter", type=int, default=4300, help="Iterations per phase.")
    p.add_argument("--seeds", type=int, default=3, help="Train seeds 1..N per method.")
    p.add_argument("--methods", default=",".join(ALL), help="Comma-separated methods.")
    p.add_argument("--data_dir", default="MNIST_data")
    p.add_argument("--out", default=os.path.join("logs", "paper_table"))
    p.add_argument("--workers", type=int, default=1, help="Runs at once (the sweep's).")
    p.add_argument("--report_only", action="store_true",
                   help="Only write the table from OUT/runs.")
    a, fixed = p.parse_known_args(argv)
    try:
        methods = [m.strip() for m in a.methods.split(",") if m.strip()]
        for m in methods:
            if m not in ALL:
                raise TableError(f"--methods: unknown method {m} (one of {', '.join(ALL)})")
        if not methods:
            raise TableError("--methods: none given")
        if a.seeds < 1 or a.max_iter < 1 or a.workers < 1:
            raise TableError("--seeds, --max_iter and --workers must be positive")
    except TableError as e:
        print(f"den_tf.experiments.paper_table: error: {e}", file=sys.stderr)
        return 2
    seeds = list(range(1, a.seeds + 1))
    os.makedirs(a.out, exist_ok=True)
    command = "python -m den_tf.experiments.paper_table " + " ".join(argv)
    wall = None
    if a.report_only:  # the command and wall time of the run that made the table
        try:
            with open(os.path.join(a.out, "table.json")) as f:
                old = json.load(f)
            command, wall = old["command"], old["wall_s"]
        except (OSError, ValueError, KeyError):
            pass
    else:
        start = time.perf_counter()
        cmd = sweep_command(methods, seeds, a.out,
                            [f"--data_dir={a.data_dir}", f"--max_iter={a.max_iter}",
                             "--nofigure", "--nocheckpoints"] + fixed, a.workers)
        status = subprocess.call(cmd)
        wall = time.perf_counter() - start
        if status != 0:  # the table of what did finish is still written
            print(f"den_tf.experiments.paper_table: warning: the sweep exited with status {status}",
                  file=sys.stderr)
    rows = write_report(a.out, methods, seeds, command, wall)
    print(os.path.join(a.out, "table.md"))
    missing = [r["label"] for r in rows if r["runs"] < r["seeds"]]
    if missing:
        print(f"den_tf.experiments.paper_table: warning: runs missing for {', '.join(missing)} (see "
              f"{os.path.join(a.out, 'runs')})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
