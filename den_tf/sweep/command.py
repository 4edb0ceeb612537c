"""Many runs at once: a grid over flags, each point one run of the command line.

    python -m den_tf.sweep --name=q14 --grid=prox_order=l1_then_gl,gl_only \\
        --grid=train_seed=1,2,3 --data_dir=../shared/mnist --max_iter=200

Every flag the sweep does not know is passed through to every run. A grid value list is
split on commas, or on `|` when it holds one (`--grid="paper=|Q4,Q6|all"`); an empty
value leaves that flag at its default. Before any point starts, every grid value (and
every fixed `--flag=value` of a flag of den_tf.cli) is parsed and checked by its flag's
rule (den_tf.sweep.values): a grid flag that is not a flag of the run, or a value its
flag refuses, is one line naming the flag and the value, exit status 2. Each point runs `python -m den_tf.cli` with its
flags, in a folder of its own under `--out` (default `logs/sweeps/NAME`) named after
the point's grid values (`prox_order=gl_only__train_seed=1`), holding `point.json` (the
point's flags and full argument list), `run.log`, `results.json`, `stdout.txt`,
`stderr.txt`, `status.json` (exit status, error line, wall time, host) and `checkpoints/`.
`sweep.json` at the top holds the grid, the fixed flags and the points.

Runs go to local worker processes (`--workers`, default: as many as the cores and the
memory hold; each run's TensorFlow gets its share of the cores, `--threads`), or with
`--ray=ADDRESS|auto|local` to Ray tasks (`--cpus_per_run`, `--gpus_per_run`; Ray is an
optional extra, `pip install den_tf[ray]`). `--ray=local` starts an in-process Ray on
127.0.0.1 without dashboard or usage statistics.

A point whose `results.json` says `"complete": true` is skipped on a rerun, so a killed
sweep reruns only what did not finish; a failed point is reported with its error line and
the others go on (exit status 1 names the failed points). A lock file (`sweep.lock`)
keeps a second sweep out of the same folder. At the end, and with `--report` alone, the
report (`report.md`, `report.json`, `report.png`: den_tf.sweep.report) is written. The
sweep launches runs the way a user would, and is never imported by the library.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import sys
import time
from typing import Optional, Sequence

from den_tf.errors import ConfigError
from den_tf.io import files
from den_tf.preflight import check_dir_output
from den_tf.sweep import execution, report
from den_tf.sweep.grid import (
    SweepError,
    check_grid,
    defining_args,
    flag_names,
    is_complete,
    parse_grid,
    point_name,
    points,
    run_args,
)
from den_tf.sweep.lock import Lock
from den_tf.sweep.progress import Progress
from den_tf.sweep.report import SEED_FLAGS
from den_tf.sweep.resources import cpu_count, default_workers

SWEEP_FILE = report.SWEEP_FILE
SWEEP_OPTIONS = ("name", "out", "grid", "workers", "threads", "ray", "cpus_per_run",
                 "gpus_per_run", "report")
Terminated = execution.Terminated  # SIGTERM reached the sweep


# ----------------------------------------------------------------------------- the folder
def check_out(out: str) -> None:
    """--out must be a folder this process can create and write (made if missing; the
    same check and wording as every output of a run, den_tf.preflight)."""
    try:
        check_dir_output("out", out, make=True)
    except ConfigError as e:
        raise SweepError(str(e)) from None


def clear_point(folder: str) -> None:
    """Removes what an earlier, unfinished run of the point left (it starts afresh)."""
    for name in execution.SHIPPED_FILES + ("status.json",):
        try:
            os.remove(os.path.join(folder, name))
        except FileNotFoundError:
            pass
    shutil.rmtree(os.path.join(folder, "checkpoints"), ignore_errors=True)


# ----------------------------------------------------------------------------- command line
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        raise SweepError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m den_tf.sweep", allow_abbrev=False,
                                description=__doc__.split("\n\n")[0],
                                epilog="Any other flag is passed to every run (python -m "
                                       "den_tf.cli --help lists them).")
    p.add_argument("--name", default="sweep", help="Name of the sweep (default folder).")
    p.add_argument("--out", default=None, help="Folder of the sweep (default: "
                   "logs/sweeps/NAME).")
    p.add_argument("--grid", action="append", default=[], metavar="FLAG=V1,V2",
                   help="A flag and its values (repeat for more flags).")
    p.add_argument("--workers", type=int, default=None, help="Runs at once (default: as "
                   "many as the cores and the memory hold; with --ray: tasks in flight, "
                   "default all; with --ray=local also Ray's CPUs: workers x cpus_per_run).")
    p.add_argument("--threads", type=int, default=None, help="TensorFlow threads per run "
                   "(default: cores // workers; with --ray: cpus_per_run).")
    p.add_argument("--ray", default=None, metavar="ADDRESS|auto|local",
                   help="Run each point as a Ray task (pip install 'den_tf[ray]').")
    p.add_argument("--cpus_per_run", type=float, default=None, help="With --ray: CPUs per "
                   "task (default 1).")
    p.add_argument("--gpus_per_run", type=float, default=None, help="With --ray: GPUs per "
                   "task (default 0).")
    p.add_argument("--report", action="store_true", help="Only write the report of --out.")
    return p


def _say(message: str) -> None:
    print(f"den_tf.sweep: {message}", file=sys.stderr, flush=True)


def _report(out: str) -> str:
    r = report.write_report(out)
    fig = "report.png" if r["figure"] else r["figure_note"]
    return (f"report: {os.path.join(out, 'report.md')}, report.json, {fig} "
            f"({r['complete']} complete run{'s' * (r['complete'] != 1)} in {len(r['groups'])} "
            f"group{'s' * (len(r['groups']) != 1)}, "
            f"{len(r['incomplete'])} not complete)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return _main(argv)
    except SweepError as e:
        _say(f"error: {e}")
        return 2


def _main(argv) -> int:
    a, fixed = _parser().parse_known_args(argv)
    out = a.out or os.path.join("logs", "sweeps", a.name)
    if a.report:
        if not os.path.isdir(out):
            raise SweepError(f"--out={out}: no such folder")
        if not any(os.path.isfile(os.path.join(out, n, "point.json")) for n in os.listdir(out)):
            raise SweepError(f"--out={out}: no sweep points in it")
        print(_report(out), flush=True)
        return 0

    grid = parse_grid(a.grid)
    fixed_names = flag_names(fixed)
    for n in fixed_names:
        if n in execution.MANAGED_FLAGS:
            raise SweepError(f"--{n}: set by the sweep for every point (outputs go to --out)")
    for n, _ in grid:
        if n in execution.MANAGED_FLAGS or n in SWEEP_OPTIONS:
            raise SweepError(f"--grid={n}=...: {n} cannot be swept")
        if n in fixed_names:
            raise SweepError(f"--{n} is both in the grid and fixed")
    check_grid(grid, fixed)
    if a.workers is not None and a.workers < 1:
        raise SweepError(f"--workers={a.workers}: must be at least 1")
    if a.threads is not None and a.threads < 1:
        raise SweepError(f"--threads={a.threads}: must be at least 1")
    if a.ray is None and (a.cpus_per_run is not None or a.gpus_per_run is not None):
        raise SweepError("--cpus_per_run and --gpus_per_run: only with --ray (local runs "
                         "use --workers and --threads)")
    cpus = 1.0 if a.cpus_per_run is None else a.cpus_per_run
    gpus = 0.0 if a.gpus_per_run is None else a.gpus_per_run
    if cpus <= 0 or gpus < 0:
        raise SweepError("--cpus_per_run must be > 0 and --gpus_per_run >= 0")

    todo = points(grid)
    names = [point_name(pt) for pt in todo]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SweepError(f"two points share the folder name {dup} (values differing only "
                         f"in '/' or ',')")

    if a.ray is not None:
        try:
            executor = execution.RayExecutor(
                a.ray, cpus, gpus, a.threads or max(1, int(cpus)),
                local_cpus=(math.ceil(a.workers * cpus) if a.workers else None),
                in_flight=a.workers)
        except ImportError:
            raise SweepError(execution.RAY_INSTALL) from None
        kind = "ray"
    else:
        workers = a.workers or default_workers(a.threads or 1)
        threads = a.threads or max(1, cpu_count() // workers)
        executor = execution.LocalExecutor(workers, threads)
        kind = "local"

    check_out(out)
    lock = Lock(out)
    note = lock.acquire()
    if note:
        _say(f"note: {note}")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    progress = None
    try:
        jobs, skipped = [], 0
        for pt, name in zip(todo, names):
            folder = os.path.join(out, name)
            if is_complete(folder):
                stored = _read_json(os.path.join(folder, "point.json")).get("args")
                if stored is not None and defining_args(stored) != defining_args(run_args(pt, fixed)):
                    raise SweepError(
                        f"{folder} was run with other flags ({' '.join(defining_args(stored))}); "
                        f"use another --out, or remove that folder to rerun it")
                skipped += 1
            else:
                jobs.append(execution.Job(name, folder, run_args(pt, fixed)))
        if kind == "ray":
            where = _start_ray(executor, a.ray) if jobs else "Ray (not started: nothing to run)"
            signal.signal(signal.SIGTERM, _on_sigterm)  # ray.init put its own in place
            execution.check_stop()
        else:
            where = (f"{executor.workers} local worker{'s' * (executor.workers > 1)}, "
                     f"{executor.threads} TensorFlow thread{'s' * (executor.threads > 1)} each")
        sweep = _read_json(os.path.join(out, SWEEP_FILE))
        known = [n for n in sweep.get("points", []) if n not in names]
        files.write_json(os.path.join(out, SWEEP_FILE), {
            "name": a.name, "grid": [[n, v] for n, v in grid], "fixed": list(fixed),
            "seed_flags": list(SEED_FLAGS), "points": names + known,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S")})
        for job in jobs:
            os.makedirs(job.folder, exist_ok=True)
            clear_point(job.folder)
            files.write_json(os.path.join(job.folder, "point.json"), {
                "flags": todo[names.index(job.name)],
                "args": job.run_args + execution.managed_args(job.folder)})

        print(f"sweep {out}: {len(todo)} point{'s' * (len(todo) != 1)}, {skipped} already "
              f"complete, {len(jobs)} to run on {where}", flush=True)
        progress = Progress(len(todo), skipped, kind)
        executor.run(jobs, progress.point_done)
        print(_report(out), flush=True)
    except (KeyboardInterrupt, Terminated) as e:
        done = progress.done if progress else 0
        _say(f"{'terminated' if isinstance(e, Terminated) else 'interrupted'}: {done} of "
             f"{len(todo)} points done; rerun the same command to finish the others")
        return 143 if isinstance(e, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if kind == "ray":
            executor.stop()
        lock.release()

    if progress.failed:
        _say(f"{len(progress.failed)} of {len(todo)} points failed: "
             + "; ".join(f"{n}: {err}" for n, err in progress.failed)
             + " (rerun the same command to retry them)")
        return 1
    return 0


def _start_ray(executor, address: str) -> str:
    try:
        return executor.start()
    except Exception as e:  # cannot start or reach it: one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SweepError(f"--ray={address}: {type(e).__name__}: {first}") from None


def _read_json(path: str) -> dict:
    try:
        with open(path) as f:
            d = json.load(f)
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def _on_sigterm(signum, frame):
    execution.STOP.set()  # the executor's loop raises Terminated within a second


if __name__ == "__main__":
    sys.exit(main())
