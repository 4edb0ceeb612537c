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
