"""Shared fixtures and where the tests' data comes from.

* MNIST: $DEN_TF_MNIST, else ../shared/mnist, else den_tf's own route: `load_mnist` into
  den_tf's cache folder ($DEN_TF_CACHE or ~/.cache/den_tf, subfolder mnist), which fetches
  it once when the machine has network.
* The step-level recordings of the original (36 MB, not in the repository):
  $DEN_TF_TRACE, else ../shared/trace.
* The original's logs ship with den_tf (logs/original): always there.
* Ray (the sweep's Ray test): the optional extra den_tf[ray] (`require_ray`).

When MNIST, the recordings or Ray cannot be had, the tests that need them skip with one line
saying what is missing and how to get it; DEN_TF_REQUIRE_DATA=1 (set by .ci/run) turns
every such skip into a failure. A variable that names a folder that is not there is a
failure too (it was asked for).
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = os.path.join(ROOT, "..", "shared")
TRACE_FILES = ("trace_default.npz", "trace_prune_split.npz")
# Fashion-MNIST's IDX files, as Debian's dataset-fashion-mnist package installs them
# (.ci/run installs it).
FASHION_MNIST_DIR = os.environ.get("DEN_TF_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")

# The mutation check (tests/mutation/run.py) runs tests itself; it is not a test module.
collect_ignore = ["mutation"]


def require_ray():
    """The sweep's Ray test needs the optional extra den_tf[ray]: without it the test
    skips (a fresh clone set up with requirements.txt alone), or fails when
    DEN_TF_REQUIRE_DATA is set (CI installs the extra and must run the test)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        _unavailable("Ray is not installed (the optional extra): pip install 'ray>=2.40' "
                     "(den_tf[ray])")


def _unavailable(what: str):
    """Skips the test with one line, or fails it when DEN_TF_REQUIRE_DATA is set."""
    if os.environ.get("DEN_TF_REQUIRE_DATA", "") not in ("", "0"):
        pytest.fail(f"{what} [DEN_TF_REQUIRE_DATA is set: missing data is a failure]",
                    pytrace=False)
    pytest.skip(what)


def _from_variable(var: str, check):
    """The folder named by environment variable `var`, if set; a failure if unusable."""
    path = os.environ.get(var)
    if path and not check(path):
        pytest.fail(f"{var}={path}: not a folder holding the expected files", pytrace=False)
    return path


def _has_mnist(d):
    from den_tf.datasets.idx import FILES
    return all(os.path.exists(os.path.join(d, f)) or os.path.exists(os.path.join(d, f[:-3]))
               for f in FILES.values())


def _has_traces(d):
    return all(os.path.isfile(os.path.join(d, f)) for f in TRACE_FILES)


def find_mnist() -> str:
    """A folder with the four MNIST IDX files (or a skip saying why there is none)."""
    path = _from_variable("DEN_TF_MNIST", _has_mnist)
    if path:
        return path
    shared = os.path.join(SHARED, "mnist")  # SHARED read at call time: tests patch it
    if _has_mnist(shared):
        return shared
    from den_tf.datasets.base import cache_dir
    from den_tf.datasets.idx import load_mnist
    from den_tf.errors import DataError
    cache = cache_dir("mnist")
    try:
        load_mnist(cache)  # reads it when cached, else fetches it (checks the network first)
    except DataError as e:
        _unavailable(f"MNIST not found (no DEN_TF_MNIST, no ../shared/mnist) and not "
                     f"fetched: {e}. Set DEN_TF_MNIST to a folder with the four IDX files, "
                     f"or run once with network to fetch them into {cache}")
    return cache


@pytest.fixture(scope="session")
def mnist_dir():
    return find_mnist()


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from den_tf.datasets.idx import read_mnist
    return read_mnist(mnist_dir)


def find_traces() -> str:
    """The folder of the original's step-level recordings (or a skip saying why not)."""
    path = _from_variable("DEN_TF_TRACE", _has_traces)
    if path:
        return path
    shared = os.path.join(SHARED, "trace")
    if _has_traces(shared):
        return shared
    _unavailable(f"the original's step-level recordings ({', '.join(TRACE_FILES)}; 36 MB, "
                 f"not in the repository) not found: set DEN_TF_TRACE to the folder that "
                 f"holds them (the project's shared data, shared/trace)")


@pytest.fixture(scope="session")
def fashion_mnist_dir():
    if not os.path.exists(os.path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")):
        _unavailable(f"Fashion-MNIST is not installed at {FASHION_MNIST_DIR} (apt-get install "
                     f"dataset-fashion-mnist, or set DEN_TF_FASHION_MNIST)")
    return FASHION_MNIST_DIR


@pytest.fixture(scope="session")
def trace_dir():
    return find_traces()


@pytest.fixture(scope="session")
def original_logs():
    """The folder of the original's logs bundled with den_tf (logs/original)."""
    from den_tf.reference.compare_logs import original_logs_dir
    return original_logs_dir()


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
