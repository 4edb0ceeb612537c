"""Many runs at once: a grid over flags, each point one run of the command line.

    python -m den_tf.sweep --name=q14 --grid=prox_order=l1_then_gl,gl_only \\
        --grid=train_seed=1,2,3 --data_dir=../shared/mnist --max_iter=200

Every flag the sweep does not know is passed through to every run. A grid value list is
split on commas, or on `|` when it holds one (`--grid="paper=|Q4,Q6|all"`); an empty
value leaves that flag at its default. Each point runs `python -m den_tf.cli` with its
flags, in a folder of its own under `--out` (default `logs/sweeps/NAME`) named after
the point's grid values (`prox_order=gl_only__train_seed=1`), holding `point.json` (the
point's flags and full argument list), `run.log`, `results.json`, `stdout.txt` and
`stderr.txt`.

A point whose `results.json` says `"complete": true` is skipped on a rerun, so a killed
sweep reruns only what did not finish. The sweep launches runs the way a user would, and
is never imported by the library.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

SEED_FLAGS = ("train_seed", "task_seed", "seed")
DEFAULT_VALUE = "default"  # how an empty grid value (the flag's default) is named


class SweepError(Exception):
    """A problem with the sweep's own arguments or folder (one line for the user)."""


# ----------------------------------------------------------------------------- the grid
def parse_grid(specs: Sequence[str]) -> List[tuple]:
    """[(flag, [values])] from `--grid=flag=v1,v2` arguments, in the order given."""
    grid, seen = [], set()
    for spec in specs:
        if "=" not in spec:
            raise SweepError(f"--grid={spec}: expected FLAG=VALUE[,VALUE...]")
        name, values = spec.split("=", 1)
        name = name.strip().lstrip("-")
        if not name:
            raise SweepError(f"--grid={spec}: no flag name")
        if name in seen:
            raise SweepError(f"--grid={spec}: flag {name} is already in the grid")
        seen.add(name)
        sep = "|" if "|" in values else ","
        vals = [v.strip() for v in values.split(sep)]
        if len(set(vals)) != len(vals):
            raise SweepError(f"--grid={spec}: a value is repeated")
        grid.append((name, vals))
    return grid


def points(grid: Sequence[tuple]) -> List[Dict[str, str]]:
    """Every combination of the grid's values, as {flag: value}, first flag slowest."""
    names = [n for n, _ in grid]
    return [dict(zip(names, combo)) for combo in itertools.product(*[v for _, v in grid])]


def point_name(point: Dict[str, str]) -> str:
    """The folder name of a point: `flag=value` joined by `__` (grid order)."""
    parts = []
    for k, v in point.items():
        v = v if v != "" else DEFAULT_VALUE
        parts.append(f"{k}={v.replace('/', '_').replace(',', '+')}")
    return "__".join(parts) if parts else "run"


def point_args(point: Dict[str, str], fixed: Sequence[str], folder: str) -> List[str]:
    """The command-line arguments of one point's run."""
    args = list(fixed) + [f"--{k}={v}" for k, v in point.items() if v != ""]
    return args + [f"--log_file={os.path.join(folder, 'run.log')}",
                   f"--results={os.path.join(folder, 'results.json')}",
                   f"--checkpoint_dir={os.path.join(folder, 'checkpoints')}",
                   "--progress=off"]


def is_complete(folder: str) -> bool:
    """Whether the point's run finished (its results JSON says so)."""
    try:
        with open(os.path.join(folder, "results.json")) as f:
            return json.load(f).get("complete") is True
    except (OSError, ValueError):
        return False


# ----------------------------------------------------------------------------- one run
def run_point(args: List[str], folder: str, threads: Optional[int] = None,
              env: Optional[dict] = None) -> dict:
    """Runs `python -m den_tf.cli ARGS` with its output in `folder`; returns what happened:
    {"status": exit status, "wall_s": seconds, "error": last stderr line or ""}."""
    os.makedirs(folder, exist_ok=True)
    run_env = dict(os.environ if env is None else env, TF_CPP_MIN_LOG_LEVEL="2")
    if threads:
        args = list(args) + [f"--threads={threads}"]
    start = time.perf_counter()
    with open(os.path.join(folder, "stdout.txt"), "w") as out, \
            open(os.path.join(folder, "stderr.txt"), "w") as err:
        status = subprocess.call([sys.executable, "-m", "den_tf.cli"] + list(args),
                                 stdout=out, stderr=err, env=run_env)
    wall = time.perf_counter() - start
    error = ""
    if status != 0:
        with open(os.path.join(folder, "stderr.txt")) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        error = lines[-1] if lines else f"exit status {status}"
    return {"status": status, "wall_s": wall, "error": error}


# ----------------------------------------------------------------------------- command line
def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m den_tf.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--name", default="sweep")
    p.add_argument("--out", default=None)
    p.add_argument("--grid", action="append", default=[])
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    a, fixed = p.parse_known_args(argv)
    out = a.out or os.path.join("logs", "sweeps", a.name)
    try:
        todo = points(parse_grid(a.grid))
    except SweepError as e:
        print(f"den_tf.sweep: error: {e}", file=sys.stderr)
        return 2
    try:  # issue 9: the sweep's folder is checked before any run
        from den_tf.errors import ConfigError
        from den_tf.outputs import check_dir_output
        check_dir_output("out", out, make=True)
    except ConfigError as e:
        print(f"den_tf.sweep: error: {e}", file=sys.stderr)
        return 2
    done = 0
    for pt in todo:
        folder = os.path.join(out, point_name(pt))
        if is_complete(folder):
            done += 1
            continue
        args = point_args(pt, fixed, folder)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "point.json"), "w") as f:
            json.dump({"flags": pt, "args": args}, f, indent=1)
        r = run_point(args, folder, a.threads)
        done += 1
        print(f"[{done}/{len(todo)}] {point_name(pt)}: status {r['status']}, "
              f"{r['wall_s']:.0f} s {r['error']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
