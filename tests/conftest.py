"""Shared fixtures: the real MNIST of ../shared/mnist (or $DEN_TF_MNIST) and the
step-level recordings of ../shared/trace (or $DEN_TF_TRACE)."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MNIST_DIR = os.environ.get("DEN_TF_MNIST", os.path.join(ROOT, "..", "shared", "mnist"))
TRACE_DIR = os.environ.get("DEN_TF_TRACE", os.path.join(ROOT, "..", "shared", "trace"))
REFERENCE_DIR = os.environ.get("DEN_TF_REFERENCE",
                               os.path.join(ROOT, "..", "shared", "reference"))

# The mutation check (tests/mutation/run.py) runs tests itself; it is not a test module.
collect_ignore = ["mutation"]


def _need(path):
    # Not a skip: the data is part of the test environment (CI has ../shared).
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: the tests read MNIST, the traces and the reference "
                    f"logs from ../shared (or DEN_TF_MNIST / DEN_TF_TRACE / DEN_TF_REFERENCE)")
    return path


@pytest.fixture(scope="session")
def mnist_dir():
    return _need(MNIST_DIR)


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from den_tf.data import read_mnist
    return read_mnist(mnist_dir)


@pytest.fixture(scope="session")
def trace_dir():
    return _need(TRACE_DIR)


@pytest.fixture(scope="session")
def reference_dir():
    return _need(REFERENCE_DIR)


def run_main(args, cwd, timeout=900):
    """Runs `python main.py ARGS` in a subprocess; returns the CompletedProcess."""
    import subprocess
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py")] + list(args),
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, mnist_dir):
    """One real run of main.py: 3 tasks, max_iter 200, seeded (the CLI smoke run)."""
    import json
    d = tmp_path_factory.mktemp("smoke")
    log, res = d / "smoke.log", d / "smoke.json"
    p = run_main([f"--data_dir={mnist_dir}", "--n_tasks=3", "--max_iter=200", "--train_seed=7",
                  f"--log_file={log}", f"--results={res}"], cwd=str(d))
    assert p.returncode == 0, p.stderr[-3000:]
    return {"stdout": p.stdout, "stderr": p.stderr, "log": log.read_text(),
            "results": json.loads(res.read_text()), "dir": d}
