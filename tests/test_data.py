"""The TF1 split, pixel values and task permutations on the real MNIST (tests/conftest.py
says where it comes from)."""

import gzip
import os

import numpy as np
import pytest

from den_tf.datasets.idx import read_idx, read_mnist
from den_tf.datasets.streams import make_tasks, task_permutations


def test_tf1_split_sizes_and_order(mnist, mnist_dir):
    assert (len(mnist.train), len(mnist.validation), len(mnist.test)) == (55000, 5000, 10000)
    raw = read_idx(os.path.join(mnist_dir, "train-images-idx3-ubyte.gz"), 2051)
    labels = read_idx(os.path.join(mnist_dir, "train-labels-idx1-ubyte.gz"), 2049)
    # validation = the FIRST 5000 training images, train = the remaining 55000
    np.testing.assert_array_equal(mnist.validation.images,
                                  raw[:5000].astype(np.float32) * np.float32(1 / 255))
    np.testing.assert_array_equal(mnist.train.images[:3],
                                  raw[5000:5003].astype(np.float32) * np.float32(1 / 255))
    np.testing.assert_array_equal(mnist.train.labels.argmax(1), labels[5000:])
    assert mnist.train.labels.dtype == np.float32 and mnist.train.labels.sum(1).max() == 1


def test_pixels_are_tf1s_float32(mnist, mnist_dir):
    raw = read_idx(os.path.join(mnist_dir, "train-images-idx3-ubyte.gz"), 2051)
    # the well-known MNIST training mean (shared/mnist/README.md): the files are intact
    assert raw.mean(dtype=np.float64) / 255 == pytest.approx(0.1306604762738429, abs=1e-12)
    allpix = np.concatenate([mnist.validation.images, mnist.train.images])
    # TF1: uint8 -> float32, times float32(1/255) (not a division, not float64)
    np.testing.assert_array_equal(allpix, raw.astype(np.float32) * np.float32(1.0 / 255.0))
    assert allpix.dtype == np.float32 and allpix.max() == np.float32(255) * np.float32(1 / 255)


def test_permutations_are_the_originals(trace_dir):
    perms, rng = task_permutations(10, 1004)
    np.random.seed(1004)
    for p in perms:
        np.testing.assert_array_equal(p, np.random.permutation(784))
    # the RandomState goes on like the global one (duplicate biases, Q10)
    assert rng.rand() == np.random.rand()
    with np.load(os.path.join(trace_dir, "trace_default.npz")) as z:
        np.testing.assert_array_equal(perms[1], z["permutation/task2"])


def test_more_than_ten_tasks_keep_the_first_ten(mnist):
    ts = make_tasks(mnist, 12)
    assert ts.n_tasks == 12
    np.testing.assert_array_equal(ts.permutations[9], task_permutations(10)[0][9])


def test_uncompressed_files_are_read_too(tmp_path, mnist_dir):
    for name in os.listdir(mnist_dir):
        if name.endswith(".gz"):
            with gzip.open(os.path.join(mnist_dir, name)) as f:
                (tmp_path / name[:-3]).write_bytes(f.read())
    d = read_mnist(str(tmp_path))
    assert len(d.train) == 55000
