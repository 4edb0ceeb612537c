"""python -m den_tf.sweep: a 2x2 grid of tiny real runs (2 tasks, max_iter 30, a 20-unit
hidden layer, no XLA: a few seconds each), locally and through an in-process Ray; the
report's numbers against the results JSONs; rerun, failure, kill and lock handling.

The tests after the first reuse its sweep folder (copied), so that each runs at most one
extra point; every sweep is a subprocess, as a user starts it."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import require_ray

from den_tf.sweep import report
from den_tf.sweep.grid import (
    SweepError,
    check_grid,
    defining_args,
    is_complete,
    parse_grid,
    point_name,
    points,
)
from den_tf.sweep.lock import LOCK_FILE, Lock
from den_tf.sweep.resources import default_workers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--n_tasks=2", "--max_iter=30", "--figure=false", "--noxla", "--dims=784,20,10"]
GRID = ["--grid=lr=0.001,0.002", "--grid=train_seed=1,2"]
NAMES = ["lr=0.001__train_seed=1", "lr=0.001__train_seed=2",
         "lr=0.002__train_seed=1", "lr=0.002__train_seed=2"]
# What a run computes (everything in results.json but timing, config paths and the flag)
FIGURES = ("auroc_matrix", "accuracy_matrix", "avg_perf", "avg_accuracy", "final_avg_perf",
           "bwt_auroc", "capacity", "units_per_layer", "sparsity", "tasks")


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    env.update(extra)
    return env


def run_sweep(args, cwd, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "den_tf.sweep"] + list(args), cwd=cwd,
                          env=env or _env(), capture_output=True, text=True, timeout=timeout)


def results(out, name):
    with open(os.path.join(out, name, "results.json")) as f:
        return json.load(f)


def figures(r):
    return {k: r[k] for k in FIGURES}


def original_lines(folder):
    """The log lines in the original's format (not ours: those name paths and times)."""
    with open(os.path.join(folder, "run.log")) as f:
        lines = [l for l in f.read().splitlines() if "[den_tf]" not in l]
    assert any("avg_perf" in l for l in lines)
    return lines


def mtimes(out, names, files=("results.json", "run.log", "status.json", "stdout.txt")):
    return {(n, f): os.stat(os.path.join(out, n, f)).st_mtime_ns for n in names for f in files}


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, mnist_dir):
    d = tmp_path_factory.mktemp("sweeps")
    out = str(d / "local")
    # (one TensorFlow thread per run, as every sweep here that compares figures with
    # this one: a run's last digits depend on its thread count)
    args = [f"--out={out}", "--workers=2", "--threads=1", f"--data_dir={mnist_dir}"] + GRID + TINY
    p = run_sweep(args, cwd=str(d))
    assert p.returncode == 0, p.stdout + p.stderr
    return {"out": out, "args": args, "cwd": str(d), "proc": p, "mnist": mnist_dir}


def test_local_grid_runs_and_report_has_groups_and_numbers(local_sweep):
    out, p = local_sweep["out"], local_sweep["proc"]
    assert sorted(n for n in os.listdir(out) if os.path.isdir(os.path.join(out, n))) == NAMES
    assert "4 points, 0 already complete, 4 to run on 2 local workers, " in p.stdout
    for n in NAMES:
        folder = os.path.join(out, n)
        for f in ("point.json", "run.log", "results.json", "stdout.txt", "stderr.txt",
                  "status.json", "checkpoints"):
            assert os.path.exists(os.path.join(folder, f)), (n, f)
        with open(os.path.join(folder, "point.json")) as f:
            point = json.load(f)
        lr, seed = n.replace("lr=", "").replace("train_seed=", "").split("__")
        assert point["flags"] == {"lr": lr, "train_seed": seed}
        assert f"--lr={lr}" in point["args"] and f"--train_seed={seed}" in point["args"]
        r = results(out, n)
        assert r["complete"] is True and r["config"]["lr"] == float(lr)
        assert r["config"]["train_seed"] == int(seed) and r["tasks_learned"] == 2
        with open(os.path.join(folder, "run.log")) as f:
            assert "--threads=" in f.readline() + f.readline()  # TF limited to its share
        # one progress line per point: name, flags, final avg_perf, wall time
        line = next(l for l in p.stdout.splitlines() if f"] {n} (" in l)
        assert f"lr={lr} train_seed={seed}" in line and "ok" in line
        assert f"final avg_perf {r['final_avg_perf']:.4f}" in line and " s" in line
    counts = [l.split("]")[0] for l in p.stdout.splitlines() if l.startswith("[")]
    assert counts == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert "ETA" in p.stdout

    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    assert rep["group_flags"] == ["lr"] and "ddof=1" in rep["std"]
    assert [g["flags"] for g in rep["groups"]] == [{"lr": "0.001"}, {"lr": "0.002"}]
    assert rep["incomplete"] == [] and rep["complete"] == 4
    with open(os.path.join(out, "report.md")) as f:
        md = f.read()
    for g in rep["groups"]:
        lr = g["flags"]["lr"]
        rs = [results(out, f"lr={lr}__train_seed={s}") for s in (1, 2)]
        assert g["runs"] == 2 and g["points"] == [f"lr={lr}__train_seed={s}" for s in (1, 2)]
        assert g["seeds"] == [{"train_seed": "1"}, {"train_seed": "2"}]

        def check(stat, values):
            assert stat["mean"] == pytest.approx(np.mean(values), rel=1e-12, abs=1e-15)
            assert stat["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-9, abs=1e-15)

        check(g["final_avg_perf"], [r["final_avg_perf"] for r in rs])
        check(g["capacity"], [r["capacity"][-1] for r in rs])
        check(g["wall_s"], [r["timing"]["wall_s"] for r in rs])
        assert len(g["task_auroc"]) == 2
        for j in range(2):
            check(g["task_auroc"][j], [r["auroc_matrix"][-1][j] for r in rs])
        avg = g["final_avg_perf"]
        assert f"| {lr} | 2 | train_seed=1; train_seed=2 | {avg['mean']:.4f} ± " \
               f"{avg['std']:.4f} |" in md
    assert "ddof=1" in md
    with open(os.path.join(out, "report.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_rerun_runs_nothing(local_sweep):
    out = local_sweep["out"]
    before = mtimes(out, NAMES)
    p = run_sweep(local_sweep["args"], cwd=local_sweep["cwd"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "4 points, 4 already complete, 0 to run" in p.stdout
    assert not [l for l in p.stdout.splitlines() if l.startswith("[")]
    assert mtimes(out, NAMES) == before
    assert not os.path.exists(os.path.join(out, LOCK_FILE))


def test_failed_point_is_reported_and_the_others_finish(local_sweep, tmp_path):
    """A point that passes the grid's checks but fails in its run (a batch larger than the
    training set: a rule of the data) is reported with its error line; the others run."""
    out = str(tmp_path / "fail")
    shutil.copytree(local_sweep["out"], out)
    bad, good = "lr=0.001__train_seed=1__batch_size=100000", \
        "lr=0.001__train_seed=1__batch_size=default"
    # two workers, as the first sweep: the same TensorFlow threads per run, the same sums
    p = run_sweep([f"--out={out}", "--workers=2", "--threads=1", f"--data_dir={local_sweep['mnist']}",
                   "--grid=lr=0.001", "--grid=train_seed=1", "--grid=batch_size=100000,"]
                  + TINY, cwd=str(tmp_path))
    assert p.returncode == 1, p.stdout + p.stderr
    error = "den_tf: error: --batch_size=100000: must be at most the training set size 55000"
    lines = [l for l in p.stdout.splitlines() if l.startswith("[")]
    assert lines[0].startswith(f"[1/2] {bad} (lr=0.001 train_seed=1 batch_size=100000): "
                               f"FAILED")
    assert error in lines[0]
    assert lines[1].startswith(f"[2/2] {good} (lr=0.001 train_seed=1 batch_size=default): "
                               f"ok, final avg_perf")
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith(f"den_tf.sweep: 1 of 2 points failed: {bad}: " + error)
    with open(os.path.join(out, bad, "status.json")) as f:
        st = json.load(f)
    assert st["ok"] is False and st["status"] == 2 and st["error"] == error
    # the point that ran reproduces the first sweep's run of the same flags (seeded)
    assert figures(results(out, good)) == figures(results(local_sweep["out"], NAMES[0]))
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    assert rep["incomplete"] == [{"point": bad, "flags": {"lr": "0.001", "train_seed": "1",
                                                          "batch_size": "100000"},
                                  "error": error}]
    assert [(g["flags"]["lr"], g["flags"]["batch_size"], g["runs"]) for g in rep["groups"]] \
        == [("0.001", "", 3), ("0.002", "", 2)]
    with open(os.path.join(out, "report.md")) as f:
        assert f"- `{bad}`: {error}" in f.read()


BAD_GRIDS = [  # (grid and fixed arguments, what the one error line says)
    (["--grid=max_iter=abc,30"], "--grid=max_iter=...: --max_iter=abc: must be an integer"),
    (["--grid=max_iter=0,30"], "--max_iter=0: must be a positive integer"),
    (["--grid=lr=-1,0.001"], "--lr=-1.0: must be a finite number > 0"),
    (["--grid=lr=fast"], "--lr=fast: must be a number"),
    (["--grid=train_seed=1,5000000000"], "--train_seed=5000000000: must be an integer from 0"),
    (["--grid=seed=-1"], "--seed=-1: must be an integer from 0"),
    (["--grid=ewc_lambda=-3"], "--ewc_lambda=-3.0: must be a finite number >= 0"),
    (["--grid=xla=maybe"], "--xla=maybe: must be true or false"),
    (["--grid=arch=mlp,resnet"], "--arch=resnet: no such architecture (did you mean lenet?)"),
    (["--grid=method=den,sgd"], "--method=sgd: must be one of den, dnn"),
    (["--grid=tasks=permuted,shuffled"], "--tasks=shuffled: must be one of permuted"),
    (["--grid=paper=Q4|Q99"], "--paper=Q99: unknown switch 'Q99'"),
    (["--grid=class_groups=0,1;2,3|0,1;a"], "--class_groups=0,1;a: groups of class ids"),
    (["--grid=dims=784,x,10|784,20,10"], "--dims=784,x,10: must be a comma-separated list of "
                                         "integers"),
    (["--grid=dims=784,0,10|784,20,10"], "--dims=784,0,10: every size must be a positive integer"),
    (["--grid=dims=784,10|784,20,10"], "point dims=784+10: --dims=784,10: needs at least 3 "
                                       "sizes"),
    (["--grid=arch=lenet,mlp", "--dims=10"], "point arch=mlp: --dims=10: needs at least 3"),
    (["--grid=no_such_flag=1,2"], "--grid=no_such_flag=...: no_such_flag is not a flag of "
                                  "python -m den_tf.cli"),
    (["--grid=lr=0.001", "--max_iter=x"], "--max_iter=x: must be an integer"),
]


@pytest.mark.parametrize("args,message", BAD_GRIDS, ids=[" ".join(a) for a, _ in BAD_GRIDS])
def test_bad_grid_values_are_refused_before_any_point(tmp_path, args, message):
    """Every grid value is parsed and checked by its flag's rule before a point starts:
    one line naming the flag and the value, exit 2, nothing created."""
    p = run_sweep([f"--out={tmp_path}/s", "--n_tasks=2"] + args, cwd=str(tmp_path))
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1, (args, p.stdout, p.stderr)
    assert err[0].startswith("den_tf.sweep: error: ") and message in err[0], err
    assert err[0].endswith("(no point was run)") or "not a flag" in err[0]
    assert not os.path.exists(tmp_path / "s") and "Traceback" not in p.stderr


def test_good_grid_values_pass_the_checks():
    grid = parse_grid(["max_iter=0x10,30", "paper=|Q4,Q6|all", "xla=false,T",
                       "class_groups=0,1;2,3", "arch=lenet,conv5", "dims=10",
                       "data_dir=a/b", "lr=1e-3"])
    check_grid(grid, ["--n_tasks=2", "--noxla", "--max_iter", "5"])


def test_the_sweep_knows_every_flag_of_the_run_as_the_run_defines_it():
    """den_tf.sweep.values mirrors den_tf/flags.py without absl: the same names, kinds and
    enum values (a flag added there must be added here)."""
    from den_tf import flags as den_flags
    from den_tf.sweep import values
    den_flags.define_flags()
    kinds = {"IntegerParser": "integer", "FloatParser": "float", "BooleanParser": "boolean",
             "ListParser": "list", "ArgumentParser": "string", "EnumParser": "enum"}
    ours = {}
    for name in den_flags.FLAGS:
        if "den_tf" not in str(den_flags.FLAGS.find_module_defining_flag(name)):
            continue  # absl's own (--flagfile, --helpfull, ...)
        parser = den_flags.FLAGS[name].parser
        ours[name] = kinds.get(type(parser).__name__, type(parser).__name__)
        if ours[name] == "enum":
            assert tuple(parser.enum_values) == values.enum_values(name), name
    theirs = values.kinds()
    # An enum of registered names (methods, data sets, streams) is an absl string, since an
    # --import may register more; the sweep checks its value against the registry.
    registered = {n for n, k in theirs.items() if k == "enum" and ours.get(n) == "string"}
    assert registered == {"method", "dataset", "tasks"}
    for n in registered:
        assert values.enum_values(n), n
        with pytest.raises(Exception, match=f"--{n}=nonesuch: must be one of"):
            values.check_value(n, "nonesuch")
        ours[n] = "enum"
    assert ours == theirs


def test_ray_local_gives_the_same_results(local_sweep, tmp_path):
    require_ray()  # a skip on a clone without the extra; a failure in CI (it has it)
    out = str(tmp_path / "ray")
    args = [f"--out={out}", "--ray=local", "--workers=2",
            f"--data_dir={local_sweep['mnist']}"] + GRID + TINY
    p = run_sweep(args, cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    # an in-process Ray on the loopback address, with the CPUs of 2 workers
    assert "on Ray 2." in p.stdout and "at local (this node 127.0.0.1; in all CPUs 2," in p.stdout
    for n in NAMES:
        assert figures(results(out, n)) == figures(results(local_sweep["out"], n)), n
        folder = os.path.join(out, n)
        for f in ("point.json", "run.log", "stdout.txt", "stderr.txt", "status.json"):
            assert os.path.isfile(os.path.join(folder, f)), (n, f)
        assert not os.path.exists(os.path.join(folder, "checkpoints"))  # not shipped back
        with open(os.path.join(folder, "status.json")) as f:
            st = json.load(f)
        assert st["ok"] and st["executor"] == "ray" and st["wall_s"] > 0
        assert original_lines(folder) == original_lines(os.path.join(local_sweep["out"], n))
    with open(os.path.join(out, "report.json")) as f:
        ray_rep = json.load(f)
    with open(os.path.join(local_sweep["out"], "report.json")) as f:
        local_rep = json.load(f)
    for a, b in zip(ray_rep["groups"], local_rep["groups"]):
        assert {k: a[k] for k in ("flags", "runs", "final_avg_perf", "task_auroc", "capacity")} \
            == {k: b[k] for k in ("flags", "runs", "final_avg_perf", "task_auroc", "capacity")}
    assert len(ray_rep["groups"]) == 2


def _runs_of(out):
    """Pids of the den_tf.cli processes writing into `out` (Linux /proc)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if "den_tf.cli" in cmd and out in cmd:
            pids.append(int(pid))
    return pids


def _start_until_running(cmd, cwd, log):
    """Starts a sweep in its own process group; returns once `log` (its point's run.log:
    the run is training) exists."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    while not os.path.exists(log):
        if proc.poll() is not None or time.time() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the sweep did not start its run: " + "".join(proc.communicate()))
        time.sleep(0.1)
    return proc


def test_stopped_and_killed_sweeps_rerun_what_is_left_and_the_lock_refuses_a_second(
        local_sweep, tmp_path):
    out = str(tmp_path / "kill")
    shutil.copytree(local_sweep["out"], out)
    redo = NAMES[3]
    shutil.rmtree(os.path.join(out, redo))
    kept = mtimes(out, NAMES[:3])
    args = [f"--out={out}", "--workers=1", "--threads=1",
            f"--data_dir={local_sweep['mnist']}"] + GRID + TINY
    cmd = [sys.executable, "-m", "den_tf.sweep"] + args
    lock = os.path.join(out, LOCK_FILE)
    log = os.path.join(out, redo, "run.log")

    # SIGTERM to the sweep alone: it stops its run, frees the lock, says what is left
    first = _start_until_running(cmd, str(tmp_path), log)
    try:
        second = run_sweep(args, cwd=str(tmp_path))
        assert second.returncode == 2
        err = second.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("den_tf.sweep: error: ")
        assert f"in use by another sweep (pid {first.pid} on " in err[0]
        assert _runs_of(out)
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate()
    assert first.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == (
        "den_tf.sweep: terminated: 3 of 4 points done; rerun the same command to finish "
        "the others")
    assert not os.path.exists(lock) and not _runs_of(out)

    # SIGKILL to the process group, mid-run: the lock stays behind, stale
    os.remove(log)
    killed = _start_until_running(cmd, str(tmp_path), log)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate()
    assert not is_complete(os.path.join(out, redo))
    with open(lock) as f:
        assert json.load(f)["pid"] == killed.pid

    p = run_sweep(args, cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"took over the stale lock of pid {killed.pid} (no longer running)" in p.stderr
    assert "4 points, 3 already complete, 1 to run" in p.stdout
    assert figures(results(out, redo)) == figures(results(local_sweep["out"], redo))
    assert mtimes(out, NAMES[:3]) == kept
    assert not os.path.exists(lock)
    with open(os.path.join(out, "report.json")) as f:
        assert [g["runs"] for g in json.load(f)["groups"]] == [2, 2]


def test_report_alone_and_without_matplotlib(local_sweep, tmp_path, monkeypatch):
    out = str(tmp_path / "copy")
    shutil.copytree(local_sweep["out"], out)
    for f in ("report.md", "report.json", "report.png"):
        os.remove(os.path.join(out, f))
    p = run_sweep([f"--out={out}", "--report"], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "4 complete runs in 2 groups, 0 not complete" in p.stdout
    with open(os.path.join(out, "report.json")) as f:
        again = json.load(f)
    with open(os.path.join(local_sweep["out"], "report.json")) as f:
        assert again == json.load(f)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    rep = report.write_report(out)
    assert rep["figure"] is None and "matplotlib is not installed" in rep["figure_note"]
    assert not os.path.exists(os.path.join(out, "report.png"))
    with open(os.path.join(out, "report.md")) as f:
        assert "Figure: no figure: matplotlib is not installed" in f.read()


def test_sweep_errors_are_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    fake = tmp_path / "noray" / "ray"  # an installation without Ray
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    cases = [
        ([f"--out={blocker}/sub", "--grid=train_seed=1"], None, "is a file, not a folder"),
        ([f"--out={blocker}", "--grid=train_seed=1"], None, "is a file, a folder is needed"),
        ([f"--out={tmp_path}/none", "--report"], None, "no such folder"),
        ([f"--out={tmp_path}/a", "--grid=lr"], None, "expected FLAG=VALUE"),
        ([f"--out={tmp_path}/a", "--grid=lr=1", "--log_file=x"], None, "set by the sweep"),
        ([f"--out={tmp_path}/a", "--grid=lr=1", "--lr=2"], None, "both in the grid and fixed"),
        ([f"--out={tmp_path}/a", "--grid=lr=1", "--cpus_per_run=2"], None, "only with --ray"),
        ([f"--out={tmp_path}/a", "--grid=lr=1", "--ray=local"],
         _env(PYTHONPATH=f"{fake.parent}{os.pathsep}{ROOT}"),
         "--ray needs Ray, an optional extra: pip install 'den_tf[ray]'"),
    ]
    for args, env, message in cases:
        p = run_sweep(args, cwd=str(tmp_path), env=env)
        err = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(err) == 1, (args, p.stderr)
        assert err[0].startswith("den_tf.sweep: error: ") and message in err[0], (args, err)
    assert not os.path.exists(tmp_path / "a")  # nothing created before the checks


def test_default_workers_fit_cores_and_memory():
    gib = 1024 ** 3
    assert default_workers(1, cores=8, memory=5 * gib) == 2  # memory bound
    assert default_workers(2, cores=8, memory=100 * gib) == 4  # cores bound
    assert default_workers(1, cores=1, memory=0) == 1  # at least one
    assert default_workers(1, cores=6, memory=None) == 6


def test_grid_names_and_lock_of_a_live_process(tmp_path):
    grid = parse_grid(["paper=|Q4,Q6|all", "data_dir=a/b"])
    names = [point_name(p) for p in points(grid)]
    assert names == ["paper=default__data_dir=a_b", "paper=Q4+Q6__data_dir=a_b",
                     "paper=all__data_dir=a_b"]
    lock = Lock(str(tmp_path))
    assert lock.acquire() == ""
    other = Lock(str(tmp_path))
    with pytest.raises(SweepError, match=f"pid {os.getpid()} on "):
        other.acquire()
    lock.release()
    assert not os.path.exists(tmp_path / LOCK_FILE)


def test_a_point_is_the_same_run_whatever_path_names_its_data(tmp_path, monkeypatch):
    """A rerun from another working directory (`../shared/mnist` against the absolute
    path it names) is the same run; another data folder or another flag is not, and
    where the outputs go never counts."""
    (tmp_path / "shared" / "mnist").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "main").mkdir()
    monkeypatch.chdir(tmp_path / "main")
    stored = [f"--data_dir={tmp_path}/shared/mnist", "--max_iter=5", "--log_file=a/run.log"]
    same = ["--max_iter=5", "--data_dir=../shared/mnist", "--log_file=b/run.log"]
    assert defining_args(stored) == defining_args(same)
    assert defining_args(stored) != defining_args(["--data_dir=../other", "--max_iter=5"])
    assert defining_args(stored) != defining_args(["--data_dir=../shared/mnist",
                                                   "--max_iter=6"])
