"""Bad flags and broken data files: one line naming the cause, the right exit status, no
traceback, and no training started (issue: bad input, faults and determinism)."""

import gzip
import os
import re
import struct

import pytest

from tests.conftest import run_main

FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def check(p, status, *needles):
    err = p.stderr.strip().splitlines()
    assert p.returncode == status, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    assert len(err) == 1 and err[0].startswith("den_tf: error: "), p.stderr
    for n in needles:
        assert n in err[0], (n, err[0])
    assert "TASK 1 TRAINING" not in p.stdout  # failed before any work


BAD_FLAGS = [
    ("--max_iter=0", "--max_iter=0", "positive integer"),
    ("--max_iter=-5", "--max_iter=-5", "positive integer"),
    ("--max_iter=abc", "max_iter", "abc"),
    ("--batch_size=0", "--batch_size=0", "positive integer"),
    ("--ex_k=0", "--ex_k=0", "positive integer"),
    ("--n_tasks=0", "--n_tasks=0", "positive integer"),
    ("--n_classes=-1", "--n_classes=-1", "positive integer"),
    ("--lr=0", "--lr=0.0", "> 0"),
    ("--lr=-0.1", "--lr=-0.1", "> 0"),
    ("--lr=nan", "--lr=nan", "finite"),
    ("--l1_lambda=-1e-5", "--l1_lambda=-1e-05", ">= 0"),
    ("--l2_lambda=inf", "--l2_lambda=inf", "finite"),
    ("--gl_lambda=-0.001", "--gl_lambda=-0.001", ">= 0"),
    ("--regular_lambda=nan", "--regular_lambda=nan", "finite"),
    ("--loss_thr=-0.01", "--loss_thr=-0.01", ">= 0"),
    ("--spl_thr=-1", "--spl_thr=-1.0", ">= 0"),
    ("--dims=784,10", "--dims=['784', '10']", "at least 3 sizes"),
    ("--dims=784,0,10", "--dims=", "positive integer"),
    ("--dims=784,abc,10", "--dims=", "integers"),
    ("--dims=784,312,128,7", "--dims=784,312,128,7", "--n_classes=10"),
    ("--no_such_flag=1", "no_such_flag", "Unknown command line flag"),
    ("--mode=predict", "--mode", "predict"),
]


@pytest.mark.parametrize("flag,name,rule", BAD_FLAGS, ids=[b[0] for b in BAD_FLAGS])
def test_bad_flag(tmp_path, mnist_dir, flag, name, rule):
    check(run_main([f"--data_dir={mnist_dir}", flag], cwd=str(tmp_path)), 2, name, rule)


def test_positional_argument(tmp_path, mnist_dir):
    check(run_main([f"--data_dir={mnist_dir}", "extra"], cwd=str(tmp_path)), 2, "extra")


@pytest.mark.parametrize("flags,needles", [
    (["--dims=100,312,128,10"], ["--dims=100,312,128,10", "input size 784"]),
    (["--batch_size=60000"], ["--batch_size=60000", "training set size 55000"]),
    (["--n_classes=5", "--dims=784,312,128,5"], ["--n_classes=5", "number of classes 10"]),
    (["--mode=export"], ["--mode=export", "--export_dir"]),
    (["--resume", "--checkpoint_dir=nothing_here"], ["nothing_here", "no checkpoint"]),
    (["--mode=eval", "--checkpoint_dir=nothing_here"], ["nothing_here", "no checkpoint"]),
], ids=["dims-vs-data", "batch-vs-data", "classes-vs-data", "export-needs-dir",
        "resume-nothing", "eval-nothing"])
def test_settings_that_do_not_fit_the_data_or_the_mode(tmp_path, mnist_dir, flags, needles):
    check(run_main([f"--data_dir={mnist_dir}"] + flags, cwd=str(tmp_path)), 2 if "resume" not in
          " ".join(flags) and "eval" not in " ".join(flags) else 1, *needles)


# ----------------------------------------------------------------------------- data
def broken_copy(tmp_path, mnist_dir, name, content: bytes):
    d = tmp_path / "data"
    d.mkdir()
    for f in FILES:
        if f != name:
            os.symlink(os.path.join(mnist_dir, f), d / f)
    if content is not None:
        (d / name).write_bytes(content)
    return d


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def real(mnist_dir, name):
    return open(os.path.join(mnist_dir, name), "rb").read()


BAD_DATA = {
    "missing-file": ("t10k-labels-idx1-ubyte.gz", lambda m: None, ["t10k-labels", "not found"]),
    "wrong-magic": ("train-images-idx3-ubyte.gz",
                    lambda m: gz(struct.pack(">IIII", 2049, 60000, 28, 28)),
                    ["train-images", "wrong IDX magic number 2049"]),
    "truncated-gzip": ("train-images-idx3-ubyte.gz", lambda m: real(m, "train-images-idx3-ubyte.gz")[:5000],
                       ["train-images", "truncated gzip"]),
    "corrupt-gzip": ("t10k-images-idx3-ubyte.gz", lambda m: b"\x1f\x8b\x08\x00" + b"\x07" * 500,
                     ["t10k-images", "corrupt or truncated gzip"]),
    "count-mismatch": ("train-labels-idx1-ubyte.gz",
                       lambda m: gz(struct.pack(">II", 2049, 100) + bytes(100)),
                       ["train-labels", "100 labels for 60000 images"]),
    "wrong-image-size": ("t10k-images-idx3-ubyte.gz",
                         lambda m: gz(struct.pack(">IIII", 2051, 10000, 20, 28)),
                         ["t10k-images", "20x28, expected 28x28"]),
    "label-out-of-range": ("t10k-labels-idx1-ubyte.gz",
                           lambda m: gz(struct.pack(">II", 2049, 10000) + bytes([3] * 9999 + [12])),
                           ["t10k-labels", "label 12 out of range"]),
    "short-body": ("t10k-labels-idx1-ubyte.gz",
                   lambda m: gz(struct.pack(">II", 2049, 10000) + bytes(50)),
                   ["t10k-labels", "truncated or padded"]),
    "empty-file": ("train-labels-idx1-ubyte.gz", lambda m: b"", ["train-labels", "too short"]),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_file(tmp_path, mnist_dir, case):
    name, make, needles = BAD_DATA[case]
    d = broken_copy(tmp_path, mnist_dir, name, make(mnist_dir))
    check(run_main([f"--data_dir={d}"], cwd=str(tmp_path)), 1, *needles)


def test_missing_data_dir_fails_fast_without_network(tmp_path):
    p = run_main([f"--data_dir={tmp_path / 'nowhere'}"], cwd=str(tmp_path), timeout=60)
    check(p, 1, "nowhere", "MNIST IDX files not found")
    assert not (tmp_path / "nowhere").exists()  # nothing half-made left behind


def test_data_dir_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    check(run_main([f"--data_dir={tmp_path / 'f'}"], cwd=str(tmp_path)), 1, "not a directory")


def test_non_finite_loss_stops_with_task_phase_and_step(tmp_path, mnist_dir):
    p = run_main([f"--data_dir={mnist_dir}", "--lr=1e30", "--max_iter=200",
                  "--log_file=nan.log", "--checkpoint_dir=ck"], cwd=str(tmp_path))
    assert p.returncode == 3 and "Traceback" not in p.stderr
    err = p.stderr.strip().splitlines()[-1]
    assert re.match(r"den_tf: error: task 1, phase train, step \d+: the training loss is nan", err)
    assert not (tmp_path / "ck").exists()  # no half-made checkpoint
