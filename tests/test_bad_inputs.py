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


# ----------------------------------------------------------------------------- numbers
BAD_NUMBERS = [
    ("--task_seed=5000000000", "numpy's seeds"),
    ("--task_seed=-1", "numpy's seeds"),
    ("--train_seed=99999999999999999999999", "numpy's seeds"),
    ("--seed=4294967296", "numpy's seeds"),
    ("--max_iter=99999999999999999999999", "at most 2147483647"),
    ("--threads=99999999999999999999", "at most 2147483647"),
    ("--ewc_samples=3000000000", "at most 2147483647"),
]


@pytest.mark.parametrize("flag,rule", BAD_NUMBERS, ids=[b[0] for b in BAD_NUMBERS])
def test_numbers_out_of_range_are_refused_before_the_log_is_opened(tmp_path, mnist_dir, flag,
                                                                   rule):
    p = run_main([f"--data_dir={mnist_dir}", "--log_file=run.log", "--max_iter=20",
                  "--n_tasks=1", "--dims=784,20,20,10", flag], cwd=str(tmp_path), timeout=120)
    check(p, 2, f"den_tf: error: {flag}: ", rule)  # the flag and its value first
    assert not (tmp_path / "run.log").exists()


def test_every_numeric_flag_has_a_range_rule():
    """Every integer flag refuses 2**40 (above every count's and seed's range), every
    number flag nan, through the validators registered at parsing."""
    from absl import flags

    from den_tf import flags as den_flags
    den_flags.define_flags()
    numeric = {f.name: f for f in den_flags.FLAGS.get_flags_for_module("den_tf.flags")
               if f.flag_type() in ("int", "float")}
    assert {"task_seed", "train_seed", "seed", "threads", "max_iter", "lr"} <= set(numeric)
    for name, f in numeric.items():
        assert f.validators, f"--{name} has no range rule"
        bad = 2 ** 40 if f.flag_type() == "int" else float("nan")
        with pytest.raises(flags.ValidationError):
            for v in f.validators:
                v.checker(bad)
            raise AssertionError(f"--{name}={bad} passes its rules")  # (not a ValidationError)


# ----------------------------------------------------------------------------- outputs
OUTPUT_FLAGS = ["log_file", "results", "checkpoint_dir", "export_dir", "tensorboard_dir",
                "csv_log"]


@pytest.mark.parametrize("name", OUTPUT_FLAGS)
def test_an_empty_output_path_is_refused_before_any_work(tmp_path, mnist_dir, name):
    p = run_main([f"--data_dir={mnist_dir}", "--max_iter=20", "--n_tasks=1",
                  "--dims=784,20,20,10", f"--{name}="], cwd=str(tmp_path), timeout=120)
    check(p, 2, f"--{name}=: an empty path", "leave the flag out")
    assert os.listdir(tmp_path) == []  # no log, no results, no checkpoint


# ----------------------------------------------------------------------------- checkpoints
TINY = ["--max_iter=20", "--n_tasks=2", "--dims=784,20,20,10", "--train_seed=1",
        "--checkpoint_dir=ck", "--nofigure", "--progress=off"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, mnist_dir):
    """A 2-task run with its checkpoints in ck/ and its results in run.json."""
    d = tmp_path_factory.mktemp("tiny")
    p = run_main([f"--data_dir={mnist_dir}", "--log_file=run.log"] + TINY, cwd=str(d))
    assert p.returncode == 0, p.stderr[-2000:]
    return d


def copy_of(tiny_run, tmp_path):
    import shutil
    shutil.copytree(tiny_run / "ck", tmp_path / "ck")
    return tmp_path


DIFFERENT = [
    ("--dataset=fashion_mnist", "mnist"),
    ("--tasks=rotated", "permuted"),
    ("--task_seed=7", "1004"),
    ("--n_tasks=3", "2"),
    ("--n_classes=5", "10"),
    ("--dims=784,30,20,10", "784,20,20,10"),
    ("--arch=lenet", "mlp"),
    ("--class_order=shuffled", "ascending"),
    ("--class_groups=0,1;2,3", "none"),
]


# every flag in eval; export shares eval's check: two of them
CASES = ([("eval",) + d for d in DIFFERENT]
         + [("export",) + d for d in DIFFERENT if d[0] in ("--tasks=rotated", "--arch=lenet")])


@pytest.mark.parametrize("mode,flag,saved", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_eval_and_export_refuse_a_flag_that_differs_from_the_checkpoint(
        tiny_run, tmp_path, mnist_dir, mode, flag, saved):
    p = run_main([f"--data_dir={mnist_dir}", f"--mode={mode}", "--checkpoint_dir=ck",
                  "--export_dir=sm", "--log_file=e.log", flag], cwd=str(copy_of(tiny_run, tmp_path)),
                 timeout=300)
    check(p, 2, f"{flag} differs from the checkpoint's value {saved}")
    assert not (tmp_path / "e.log").exists() and not (tmp_path / "sm").exists()


def test_eval_refuses_the_method_of_another_run(tiny_run, tmp_path, mnist_dir):
    p = run_main([f"--data_dir={mnist_dir}", "--mode=eval", "--checkpoint_dir=ck",
                  "--method=dnn"], cwd=str(copy_of(tiny_run, tmp_path)))
    check(p, 2, "--method=dnn")


def test_eval_alone_uses_the_checkpoint_and_one_set_of_rows(tiny_run, tmp_path, mnist_dir):
    """`--mode=eval --checkpoint_dir=ck` needs no other flag; the flags given that match
    the checkpoint pass; training flags are named as ignored; the table is the run's."""
    import json
    d = copy_of(tiny_run, tmp_path)
    p = run_main([f"--data_dir={mnist_dir}", "--mode=eval", "--checkpoint_dir=ck",
                  "--log_file=e.log", "--results=e.json", "--dims=784,20,20,10",
                  "--n_tasks=2", "--max_iter=5"], cwd=str(d), timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stderr.strip() == ("den_tf: warning: --mode=eval uses the checkpoint's training "
                                "settings; ignored: --max_iter")
    got = json.loads((d / "e.json").read_text())
    want = json.loads((tiny_run / "run.json").read_text())
    def cells(m):
        return [x for row in m for x in row]
    assert [x is None for x in cells(got["auroc_matrix"])] == [
        x is None for x in cells(want["auroc_matrix"])]
    assert [x for x in cells(got["auroc_matrix"]) if x is not None] == pytest.approx(
        [x for x in cells(want["auroc_matrix"]) if x is not None], abs=1e-3)
    assert got["bwt_auroc"] == pytest.approx(want["bwt_auroc"], abs=1e-3)


def test_eval_refuses_a_data_dir_of_other_data(tiny_run, tmp_path, fashion_mnist_dir):
    p = run_main([f"--data_dir={fashion_mnist_dir}", "--mode=eval", "--checkpoint_dir=ck",
                  "--log_file=e.log"], cwd=str(copy_of(tiny_run, tmp_path)), timeout=300)
    check(p, 2, f"--data_dir={fashion_mnist_dir}: holds other images than the mnist")
    assert not (tmp_path / "e.log").exists()


def test_eval_of_a_checkpoint_without_a_data_digest_refuses_rows_that_disagree(
        tiny_run, tmp_path, fashion_mnist_dir):
    """A checkpoint without the digest of its data (an older den_tf's): the evaluation
    must give the checkpoint's own last row, else nothing is written."""
    import json
    d = copy_of(tiny_run, tmp_path)
    state = d / "ck" / "task-002" / "state.json"
    s = json.loads(state.read_text())
    del s["data"]
    state.write_text(json.dumps(s))
    p = run_main([f"--data_dir={fashion_mnist_dir}", "--mode=eval", "--checkpoint_dir=ck",
                  "--log_file=e.log", "--results=e.json"], cwd=str(d), timeout=300)
    assert p.returncode == 2, p.stderr[-2000:]
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and "not the data it learned on" in err[0], err
    assert not (d / "e.json").exists()


def test_resume_with_nothing_left_says_so(tiny_run, tmp_path, mnist_dir):
    d = copy_of(tiny_run, tmp_path)
    p = run_main([f"--data_dir={mnist_dir}", "--resume", "--log_file=r.log"] + TINY,
                 cwd=str(d), timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    line = " [den_tf] nothing left to learn: the checkpoint has learned 2 tasks, the run has 2"
    assert line in p.stdout.splitlines() and line in (d / "r.log").read_text().splitlines()
    assert "TASK 1 TRAINING" not in p.stdout and "TASK 2 TRAINING" not in p.stdout


# ----------------------------------------------------------------------------- words
TRACKER = re.compile(r"\bissues? #?\d+|\(issue", re.IGNORECASE)


def test_no_tracker_numbers_in_help_messages_or_sources(tmp_path):
    p = run_main(["--help"], cwd=str(tmp_path), timeout=60)
    assert p.returncode == 0 and "--checkpoint_dir" in p.stdout
    assert not TRACKER.search(p.stdout), TRACKER.search(p.stdout)
    from tests.conftest import ROOT
    sources = [os.path.join(ROOT, "main.py"), os.path.join(ROOT, "flags.py")]
    for folder, _, names in os.walk(os.path.join(ROOT, "den_tf")):
        sources += [os.path.join(folder, n) for n in names if n.endswith(".py")]
    found = []
    for path in sources:
        with open(path) as f:
            found += [f"{os.path.relpath(path, ROOT)}:{i}: {line.strip()}"
                      for i, line in enumerate(f, 1) if TRACKER.search(line)]
    assert not found, found
