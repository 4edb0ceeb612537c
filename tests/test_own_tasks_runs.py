"""DEN on a user's own tasks, the longer runs (the streams, the model object and the bad
inputs are in tests/test_own_tasks.py, whose helpers these use): the baselines on a
convolutional arch through the model object, examples/own_tasks.py as the docs page
shows it, and the command line's class groups with the CSV log."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import den_tf
from den_tf.datasets import from_arrays
from tests.test_own_tasks import ROOT, task_dicts


@pytest.mark.parametrize("method", ["stl", "progressive", "dnn"])
def test_baselines_on_a_convolutional_arch(mnist, method, tmp_path):
    """lenet under every baseline kind (one network, a network per task, columns with
    convolutional laterals): learns, saves and loads exactly."""
    s = from_arrays(task_dicts(mnist, groups=([0, 1], [2, 3]), n_train=80, n_test=30))
    own = {"column_scale": 0.25} if method == "progressive" else {}
    model = den_tf.DEN(method=method, arch="lenet", max_iter=40, batch_size=32,
                       train_seed=1, dims=(2,), **own)
    r = model.learn(s)
    assert r["auroc_matrix"][1][1] > 0.6, r["auroc_matrix"]
    x = s.tasks[1].data.test.pixels[:10].reshape(-1, 28, 28, 1)
    want = model.predict(x, task=2)
    model.save(str(tmp_path / "m"))
    np.testing.assert_array_equal(den_tf.load(str(tmp_path / "m")).predict(x, 2).probabilities,
                                  want.probabilities)
    if method == "progressive":  # task 1's column never moved
        before = model.learner.columns[1][0].kernel.numpy()
        assert model.learner.columns[1][0].KIND == "conv"
        assert len(model.learner.laterals[2][1]) == 1
        assert model.learner.laterals[2][1][0].KIND == "conv"
        np.testing.assert_array_equal(before, model.learner.columns[1][0].kernel.numpy())


def test_examples_script_runs(fashion_mnist_dir, tmp_path):
    """examples/own_tasks.py, as the docs page shows it, on tiny settings."""
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "own_tasks.py"),
                        f"--data_dir={fashion_mnist_dir}", "--max_iter=40", "--per_class=150",
                        f"--out={tmp_path}"], capture_output=True, text=True, env=env,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "identical predictions: True" in r.stdout
    assert os.path.isdir(tmp_path / "den_savedmodel")
    assert "EWC (from tf.data): final mean AUROC" in r.stdout


def test_cli_class_groups_and_csv_log(fashion_mnist_dir, tmp_path):
    from conftest import run_main
    log, csv = tmp_path / "run.log", tmp_path / "run.csv"
    p = run_main([f"--data_dir={fashion_mnist_dir}", "--dataset=fashion_mnist",
                  "--tasks=split", "--class_groups=0,1;2,3,4", "--dims=784,16,8,3",
                  "--n_classes=3", "--max_iter=30", "--train_seed=1", "--nocheckpoints",
                  "--figure=false", f"--log_file={log}", f"--csv_log={csv}",
                  f"--results={tmp_path / 'r.json'}"], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.load(open(tmp_path / "r.json"))
    assert r["config"]["class_groups"] == [[0, 1], [2, 3, 4]]
    assert [t["stamp"] for t in r["tasks"]] and r["tasks_learned"] == 2
    assert len(csv.read_text().splitlines()) == 1 + 1 + 2
    bad = run_main([f"--data_dir={fashion_mnist_dir}", "--dataset=fashion_mnist",
                    "--tasks=split", "--class_groups=0,1;1,2", "--dims=784,16,8,2",
                    "--n_classes=2"], cwd=str(tmp_path))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == (
        "den_tf: error: --class_groups=0,1;1,2: a class is in two groups")
