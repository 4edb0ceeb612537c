"""Choosing the baselines' strengths and column size on the VALIDATION split:

    python -m den_tf.experiments.select_baselines --data_dir=../shared/mnist --n_tasks=5 \\
        --max_iter=1000 --train_seed=1 --out=logs/baselines_selection

For every value of each grid (--l2_grid for `l2`'s --l2_pull, --ewc_grid for `ewc`'s
--ewc_lambda, --scale_grid for `progressive`'s --column_scale), one run of the method on
the task stream; after its last task, every task is scored with its own head on its
VALIDATION set (TF1's first 5000 training images, permuted per task; the test set is
never read for the choice) and the mean AUROC over the tasks is the criterion:

* l2, ewc: the value with the highest mean validation AUROC;
* progressive: the SMALLEST column whose mean validation AUROC is within --tolerance
  (0.001) of the best (a bigger column is never worse, only bigger).

Writes OUT/selection.json (every run's per-task validation AUROC, wall time, the chosen
values), OUT/selection.md (the same as tables) and OUT/runs/METHOD=VALUE.log (each run's
log). Runs already in OUT/selection.json with the same settings are kept (a rerun with
more grid values extends the table; a value run again replaces its row), and the choice
is made over all of a method's rows. The chosen values are the defaults of --l2_pull,
--ewc_lambda and --column_scale (their methods' cards: den_tf/baselines/<name>/__init__.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List, Sequence

from den_tf.config import DENConfig, config_for
from den_tf.datasets import load_dataset
from den_tf.errors import DENError
from den_tf.io import Log, loglines

# method -> (its setting, the grid's flag here, the default grid)
GRIDS = {"l2": ("l2_pull", "l2_grid", "1e-3,1e-2,1e-1,1"),
         "ewc": ("ewc_lambda", "ewc_grid", "10,100,1000,10000,100000"),
         "progressive": ("column_scale", "scale_grid", "0.125,0.25,0.5,1")}
TOLERANCE = 0.001


def choose(method: str, rows: List[dict], tolerance: float = TOLERANCE):
    """The chosen value of one method's rows ({"value", "val_auroc"}): see the module
    docstring."""
    best = max(r["val_auroc"] for r in rows)
    if method == "progressive":
        return min(r["value"] for r in rows if r["val_auroc"] >= best - tolerance)
    return max(rows, key=lambda r: (r["val_auroc"], -r["value"]))["value"]


def run_one(method: str, setting: str, value: float, data, base, log_path: str) -> dict:
    """One run of `method` with `setting`=value; its per-task validation AUROC."""
    from den_tf import api  # TensorFlow: after main has set its log level
    log = Log(log_path, stdout=False)
    try:
        cfg = config_for(base, method, **{setting: value})
        trainer = api.make_trainer(cfg, data, log=log)
        start = time.perf_counter()
        for t in range(1, cfg.tasks + 1):
            trainer.learn_task(t)
        wall = time.perf_counter() - start
        val = [s.auroc for s in trainer.validation_scores(cfg.tasks)]
        log(loglines.ours(f"validation AUROC per task after task {cfg.tasks}: "
                        + " ".join(f"{v:.4f}" for v in val)))
    finally:
        log.close()
    return {"method": method, "setting": setting, "value": value, "val_per_task": val,
            "val_auroc": sum(val) / len(val), "capacity": trainer.capacity(), "wall_s": wall}


def markdown(rows: List[dict], chosen: Dict[str, float], settings: dict,
             commands: Sequence[str]) -> str:
    lines = ["# Baselines' hyperparameters chosen on the validation split", "",
             "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), "",
             "Commands:", ""] + [f"    {c}" for c in commands] + ["",
             "| method | setting | value | mean validation AUROC | per task | capacity | "
             "wall s | chosen |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        mark = "**yes**" if chosen.get(r["method"]) == r["value"] else ""
        lines.append(f"| {r['method']} | --{r['setting']} | {r['value']:g} | "
                     f"{r['val_auroc']:.4f} | "
                     + " ".join(f"{v:.4f}" for v in r["val_per_task"])
                     + f" | {r['capacity']:.2f}x | {r['wall_s']:.0f} | {mark} |")
    lines += ["", "Criterion: l2 and ewc, the highest mean validation AUROC over the tasks "
              "after the last task; progressive, the smallest column within "
              f"{settings['tolerance']} of the best."]
    return "\n".join(lines) + "\n"


def _floats(text: str) -> List[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def main(argv: Sequence[str] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m den_tf.experiments.select_baselines",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default="MNIST_data")
    p.add_argument("--out", default=os.path.join("logs", "baselines_selection"))
    p.add_argument("--methods", default="l2,ewc,progressive")
    p.add_argument("--n_tasks", type=int, default=5)
    p.add_argument("--max_iter", type=int, default=1000)
    p.add_argument("--train_seed", type=int, default=1)
    p.add_argument("--task_seed", type=int, default=1004)
    p.add_argument("--dims", default="784,312,128,10")
    p.add_argument("--tolerance", type=float, default=TOLERANCE,
                   help="progressive: smallest column within this of the best")
    for m, (setting, flag, grid) in GRIDS.items():
        p.add_argument(f"--{flag}", default=grid, help=f"values of --{setting} for {m}")
    a = p.parse_args(argv)
    chosen_methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    bad = [m for m in chosen_methods if m not in GRIDS]
    try:
        if bad:
            raise ValueError(f"--methods: {bad[0]} has nothing to choose (one of "
                             f"{', '.join(GRIDS)})")
        values = {m: _floats(getattr(a, GRIDS[m][1])) for m in chosen_methods}
        dims = tuple(int(d) for d in a.dims.split(","))
    except ValueError as e:
        print(f"den_tf.experiments.select_baselines: error: {e}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        data = load_dataset("mnist", a.data_dir)
        base = DENConfig(max_iter=a.max_iter, n_tasks=a.n_tasks, train_seed=a.train_seed,
                         task_seed=a.task_seed, dims=dims)
        base.validate(data.input_size, data.n_classes, len(data.train))
    except DENError as e:
        print(f"den_tf.experiments.select_baselines: error: {e}", file=sys.stderr)
        return e.exit_code
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    settings = {"n_tasks": a.n_tasks, "max_iter": a.max_iter, "train_seed": a.train_seed,
                "task_seed": a.task_seed, "dims": a.dims, "tolerance": a.tolerance}
    path = os.path.join(a.out, "selection.json")
    rows, commands = [], []
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        if old.get("settings") == settings:
            rows = old["runs"]
            commands = old.get("commands") or [old["command"]]
    commands.append("python -m den_tf.experiments.select_baselines "
                    + " ".join(sys.argv[1:] if argv is None else argv))
    for m in chosen_methods:
        setting = GRIDS[m][0]
        for v in values[m]:
            r = run_one(m, setting, v, data, base,
                        os.path.join(a.out, "runs", f"{m}={v:g}.log"))
            rows = [x for x in rows if (x["method"], x["value"]) != (m, v)] + [r]
            rows.sort(key=lambda x: (list(GRIDS).index(x["method"]), x["value"]))
            print(f"{m} --{setting}={v:g}: mean validation AUROC {r['val_auroc']:.4f} "
                  f"({r['wall_s']:.0f} s)", flush=True)
            chosen = {k: choose(k, [x for x in rows if x["method"] == k], a.tolerance)
                      for k in GRIDS if any(x["method"] == k for x in rows)}
            with open(path, "w") as f:
                json.dump({"settings": settings, "runs": rows, "chosen": chosen,
                           "commands": commands}, f, indent=1)
            with open(os.path.join(a.out, "selection.md"), "w") as f:
                f.write(markdown(rows, chosen, settings, commands))
        print(f"{m}: chosen --{setting}={chosen[m]:g}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
