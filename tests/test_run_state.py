"""Around a run: determinism, checkpoints, kill-and-resume, eval mode, SavedModel export,
TensorBoard summaries and the results figure."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT, run_main

ARGS = ["--n_tasks=3", "--max_iter=100", "--train_seed=11", "--log_file=run.log",
        "--results=run.json", "--tensorboard_dir=tb", "--checkpoint_dir=ck", "--progress=off"]


def without_timing(path):
    d = json.load(open(path))
    d.pop("timing")
    return d


def log_lines(path):
    return [l for l in open(path).read().split("\n") if "wall time" not in l]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mnist_dir):
    """Two uninterrupted runs with the same seed, in two folders."""
    out = []
    for name in ("a", "b"):
        d = tmp_path_factory.mktemp(name)
        p = run_main([f"--data_dir={mnist_dir}"] + ARGS, cwd=str(d))
        assert p.returncode == 0, p.stderr[-2000:]
        out.append(d)
    return out


def test_same_seed_same_log_and_results(runs):
    a, b = runs
    assert log_lines(a / "run.log") == log_lines(b / "run.log")
    assert without_timing(a / "run.json") == without_timing(b / "run.json")
    assert len(log_lines(a / "run.log")) > 50


def test_a_different_seed_gives_a_different_run(runs, tmp_path, mnist_dir):
    args = [a if not a.startswith("--train_seed") else "--train_seed=12" for a in ARGS]
    args = [a for a in args if not a.startswith("--n_tasks")] + ["--n_tasks=1"]
    p = run_main([f"--data_dir={mnist_dir}"] + args, cwd=str(tmp_path))
    assert p.returncode == 0
    ours = json.load(open(tmp_path / "run.json"))["auroc_matrix"][0][0]
    assert ours != json.load(open(runs[0] / "run.json"))["auroc_matrix"][0][0]


def test_killed_run_resumes_to_the_same_results(runs, tmp_path, mnist_dir):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    cmd = [sys.executable, os.path.join(ROOT, "main.py"), f"--data_dir={mnist_dir}"] + ARGS
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = tmp_path / "run.log"
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until task 2 is in its selective retraining
        if log.exists() and " [*] Selective retraining" in log.read_text():
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)  # in the middle of a phase of task 2
    proc.wait()
    assert (tmp_path / "ck" / "LATEST").read_text().strip() == "task-001"
    assert not (tmp_path / "ck" / "task-002").exists()
    # the last completed task's checkpoint loads
    p = run_main([f"--data_dir={mnist_dir}", "--mode=eval", "--checkpoint_dir=ck",
                  "--log_file=eval.log"], cwd=str(tmp_path))
    assert p.returncode == 0 and " [*] Evaluation, Task:1, test_acc: " in p.stdout
    p = run_main([f"--data_dir={mnist_dir}", "--resume"] + ARGS, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    assert "restored" in p.stdout and "\tTASK 1 TRAINING" not in p.stdout
    assert without_timing(tmp_path / "run.json") == without_timing(runs[0] / "run.json")


def test_resume_refuses_other_settings(runs, tmp_path, mnist_dir):
    os.symlink(runs[0] / "ck", tmp_path / "ck")
    args = [a for a in ARGS if not a.startswith("--max_iter")] + ["--max_iter=50"]
    p = run_main([f"--data_dir={mnist_dir}", "--resume"] + args, cwd=str(tmp_path))
    assert p.returncode == 1 and "--max_iter=50 differs from the checkpoint's value 100" in p.stderr


def last_overall_block(text):
    block = text[text.rindex("\n OVERALL EVALUATION"):]
    return [l for l in block.split("\n") if l and not l.startswith(" [den_tf]")]


def test_eval_mode_reproduces_the_final_evaluation(runs, mnist_dir):
    a = runs[0]
    p = run_main([f"--data_dir={mnist_dir}", "--mode=eval", "--checkpoint_dir=ck",
                  "--log_file=eval.log"], cwd=str(a))
    assert p.returncode == 0, p.stderr[-2000:]
    assert last_overall_block((a / "eval.log").read_text()) == last_overall_block(
        (a / "run.log").read_text())
    assert " [den_tf] summary: AUROC" in (a / "eval.log").read_text()


def test_export_matches_the_live_model_in_a_fresh_process(runs, mnist_dir, mnist):
    a = runs[0]
    p = run_main([f"--data_dir={mnist_dir}", "--mode=export", "--checkpoint_dir=ck",
                  "--export_dir=sm", "--log_file=export.log"], cwd=str(a))
    assert p.returncode == 0, p.stderr[-2000:]
    from den_tf import api
    from den_tf.datasets.streams import make_tasks
    from den_tf.io import checkpoint
    folder = checkpoint.latest(str(a / "ck"))
    cfg = checkpoint.saved_config(folder)
    tasks = make_tasks(mnist, cfg.tasks, cfg.task_seed)
    trainer = api.restore(folder, cfg, tasks)
    want = {}
    for t in (1, 3):
        x = tasks.data.test.images[:64][:, tasks.permutations[t - 1]]
        np.save(a / f"x{t}.npy", x)
        want[t] = 1 / (1 + np.exp(-trainer.network.logits(x, t).numpy()))
    code = ("import sys, numpy as np; sys.modules['den_tf'] = None\n"
            "import tensorflow as tf\n"
            "m = tf.saved_model.load('sm')\n"
            "f = m.signatures['serve_transformed']\n"
            "for t in (1, 3):\n"
            "    x = np.load(f'x{t}.npy')\n"
            "    np.save(f'y{t}.npy', f(images=tf.constant(x), task_id=tf.constant(t))['probabilities'].numpy())\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=a, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    for t in (1, 3):
        got = np.load(a / f"y{t}.npy")
        assert got.shape == (64, 10)
        np.testing.assert_allclose(got, want[t], atol=1e-6)


def test_tensorboard_events_match_the_log(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    a = runs[0]
    acc = EventAccumulator(str(a / "tb"), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    from tensorboard.util import tensor_util
    values = {t: [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(t)]
              for t in tags["tensors"]}
    scalars = {t: [(s, float(v)) for s, v in ev] for t, ev in values.items()
               if ev and ev[0][1].ndim == 0}
    log = (a / "run.log").read_text()
    res = json.load(open(a / "run.json"))
    avg = [float(x) for x in re.findall(r"avg_perf: (\d\.\d{4})", log)]
    assert [s for s, _ in scalars["avg_perf"]] == [1, 2, 3]
    assert [v for _, v in scalars["avg_perf"]] == pytest.approx(avg, abs=5e-5)
    assert scalars["test_auroc/task1"][-1][1] == pytest.approx(res["auroc_matrix"][2][0], abs=1e-6)
    assert [v for _, v in scalars["units/layer1"]] == [u[0] for u in res["units_per_layer"]]
    assert [v for _, v in scalars["capacity"]] == pytest.approx(res["capacity"], rel=1e-6)
    assert [v for _, v in scalars["sparsity"]] == pytest.approx(res["sparsity"], rel=1e-6)
    # the validation AUROC of the split phases is the one their iteration lines print
    split_lines = re.findall(r"iter: 100, val loss: (\d\.\d{4}), val perf: (\d\.\d{4})\n   \[\*\] split", log)
    assert [v for _, v in scalars["val_auroc/split"]] == pytest.approx(
        [float(p) for _, p in split_lines], abs=5e-5)
    for tag in ("train_loss/train", "learning_rate/expand", "val_loss/selective"):
        assert scalars[tag] and all(np.isfinite(v) for _, v in scalars[tag])
    image = values["results"][-1][1]  # the results figure, as TensorBoard stores images
    assert image.dtype == object and image[2][:8] == b"\x89PNG\r\n\x1a\n"


def test_results_figure(runs, tmp_path):
    a = runs[0]
    assert (a / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from den_tf.io import figures
    assert figures.main([str(a / "run.json"), "--out", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").stat().st_size > 10000


def test_progress_bar_on_request_keeps_the_log_lines(tmp_path, mnist_dir):
    p = run_main([f"--data_dir={mnist_dir}", "--n_tasks=2", "--max_iter=100", "--train_seed=2",
                  "--progress=on", "--log_file=p.log", "--checkpoints=false"], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    assert "task 2 expand" in p.stdout and "loss:" in p.stdout and "100/100" in p.stdout
    log = (tmp_path / "p.log").read_text()
    assert "task 2 expand" not in log and "\x1b[K" not in log  # the file has log lines only
    assert " [*] Split & Duplication" in log
    assert not (tmp_path / "checkpoints").exists()
