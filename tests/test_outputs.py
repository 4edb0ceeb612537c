"""Issue 9: every output checked before the first step, settings that cannot fit the
machine refused up front, and a write that fails at the end loses nothing."""

import errno
import json
import os
import shutil
import subprocess
import sys

import pytest

from den_tf import preflight
from den_tf.baselines.ewc import EWC_BYTES
from den_tf.baselines.progressive import column_units
from den_tf.config import Config, method_card, resolve_arch
from den_tf.den import grown_size, max_hidden_sizes
from den_tf.errors import ConfigError
from den_tf.model.archs import LENET
from den_tf.io.writes import Writes
from tests.conftest import ROOT, run_main

TINY = ["--max_iter=5", "--train_seed=1", "--progress=off", "--nofigure"]


def one_error_line(p, status, *needles):
    """Failed with `status`, before any training, with one line in our words."""
    err = p.stderr.strip().splitlines()
    assert p.returncode == status, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr + p.stdout
    assert len(err) == 1 and err[0].startswith("den_tf: error: "), p.stderr
    for n in needles:
        assert n in err[0], (n, err[0])
    assert "TASK 1 TRAINING" not in p.stdout


def unwritable_folder(tmp_path):
    """A folder no file can be created in: a read-only one (chmod 555) when that stops
    us; as root it does not, and then a sysfs folder, which refuses new files to root."""
    d = tmp_path / "readonly"
    d.mkdir()
    os.chmod(d, 0o555)
    try:
        (d / "probe").write_text("x")
    except OSError:
        return str(d)
    (d / "probe").unlink()
    if os.path.isdir("/sys/kernel"):
        return "/sys/kernel"
    pytest.skip("running as root (chmod does not stop writes) and no /sys to stand in")


# ----------------------------------------------------------------------------- the four cases
@pytest.fixture
def etc_file(tmp_path):
    """A file where a folder is expected (the issue used /etc/passwd)."""
    f = tmp_path / "passwd"
    f.write_text("root:x:0:0\n")
    return str(f)


def test_checkpoint_dir_is_a_file(tmp_path, mnist_dir, etc_file):
    p = run_main([f"--data_dir={mnist_dir}", f"--checkpoint_dir={etc_file}"] + TINY,
                 cwd=str(tmp_path))
    one_error_line(p, 2, f"--checkpoint_dir={etc_file}", "is a file, a folder is needed")
    assert open(etc_file).read() == "root:x:0:0\n"


def test_results_where_nothing_can_be_written(tmp_path, mnist_dir):
    p = run_main([f"--data_dir={mnist_dir}", "--results=/proc/x.json"] + TINY,
                 cwd=str(tmp_path))
    one_error_line(p, 2, "--results=/proc/x.json", "cannot be written")


def test_network_that_cannot_fit_in_memory(tmp_path, mnist_dir):
    p = run_main([f"--data_dir={mnist_dir}", "--n_tasks=3", "--max_iter=5", "--ex_k=100000"],
                 cwd=str(tmp_path))
    one_error_line(p, 2, "--ex_k=100000", "--dims=784,312,128,10", "--n_tasks=3", "GiB",
                   "available")


def test_tensorboard_dir_under_a_file(tmp_path, mnist_dir, etc_file):
    tb = os.path.join(etc_file, "x")
    p = run_main([f"--data_dir={mnist_dir}", f"--tensorboard_dir={tb}"] + TINY,
                 cwd=str(tmp_path))
    one_error_line(p, 2, f"--tensorboard_dir={tb}", f"{etc_file} is a file")
    assert "FailedPrecondition" not in p.stderr and "function_node" not in p.stderr


@pytest.mark.parametrize("flag", ["log_file", "results", "export_dir", "checkpoint_dir"])
def test_read_only_folder(tmp_path, mnist_dir, flag):
    ro = unwritable_folder(tmp_path)
    path = os.path.join(ro, "out.log" if flag in ("log_file", "results") else "sub")
    p = run_main([f"--data_dir={mnist_dir}", f"--{flag}={path}"] + TINY, cwd=str(tmp_path))
    one_error_line(p, 2, f"--{flag}={path}", ro)
    assert "cannot be" in p.stderr


def test_figure_path_taken_by_a_folder(tmp_path, mnist_dir):
    (tmp_path / "r.png").mkdir()
    p = run_main([f"--data_dir={mnist_dir}", f"--results={tmp_path / 'r.json'}",
                  "--max_iter=5", "--progress=off"], cwd=str(tmp_path))
    one_error_line(p, 2, "--figure", str(tmp_path / "r.png"), "is a folder")


# ----------------------------------------------------------------------------- the checks
def test_check_dir_output_missing_folders(tmp_path):
    d = tmp_path / "a" / "b"
    assert preflight.check_dir_output("x", str(d)) == str(d)
    assert not (tmp_path / "a").exists()  # made when first written
    assert os.listdir(tmp_path) == []  # the probe file is gone
    assert preflight.check_dir_output("x", str(d), make=True) == str(d)
    assert d.is_dir() and os.listdir(d) == []


def test_check_dir_output_refuses_files_and_paths_under_files(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(ConfigError, match=r"^--x=.*/f: is a file, a folder is needed$"):
        preflight.check_dir_output("x", str(f))
    with pytest.raises(ConfigError, match=r"^--x=.*/f/g/h: .*/f is a file, not a folder$"):
        preflight.check_dir_output("x", str(f / "g" / "h"))
    # a folder only read (eval, export) must not be a file either; missing is not our case
    with pytest.raises(ConfigError, match="is a file"):
        preflight.check_dir_kind("checkpoint_dir", str(f))
    preflight.check_dir_kind("checkpoint_dir", str(tmp_path / "missing"))


def test_check_file_output(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, a file is needed"):
        preflight.check_file_output("results", str(tmp_path))
    with pytest.raises(ConfigError, match=r"^--results=/proc/x\.json: cannot be written"):
        preflight.check_file_output("results", "/proc/x.json")
    p = tmp_path / "new" / "r.json"
    preflight.check_file_output("results", str(p))
    assert not p.parent.exists()
    preflight.check_file_output("log_file", str(p), append=True, make=True)
    assert p.parent.is_dir() and not p.exists()
    with pytest.raises(ConfigError, match=r"^--figure: figure file .*r\.png: is a folder"):
        (tmp_path / "r.png").mkdir()
        preflight.check_file_output("figure", str(tmp_path / "r.png"), what="figure file")


# ----------------------------------------------------------------------------- memory
# What a run holds is its method's own estimate (its card's `memory`), on the
# architecture's sizes; preflight turns it into bytes and refuses what cannot fit.
def footprint(method="den", n_tasks=10, input_size=784, image_shape=None, worst=False,
              **settings):
    cfg = Config(method=method, **settings)
    arch = resolve_arch(cfg.arch)
    shape = arch.image_shape(input_size, image_shape)
    return method_card(method).memory(cfg, arch, input_size, shape, n_tasks, worst)


def estimate(n_tasks=10, data_bytes=0, eval_rows=10000, **kw):
    return preflight.peak_bytes(footprint(n_tasks=n_tasks, **kw), n_tasks, data_bytes,
                                eval_rows)


def check(n_tasks, available, warn=None, **kw):
    return preflight.check_memory(footprint(n_tasks=n_tasks, **kw), n_tasks,
                                  available=available, warn=warn,
                                  worst=footprint(n_tasks=n_tasks, worst=True, **kw))


def test_largest_sizes():
    # ex_k expansion units plus up to min(ex_k, n) duplicates per task after the first
    assert max_hidden_sizes((784, 312, 128, 10), 10, 10) == [492, 308]
    assert max_hidden_sizes((784, 312, 128, 10), 10, 1) == [312, 128]
    assert max_hidden_sizes((784, 5, 10), 100, 2) == [110]  # 5 + 100 + 5
    assert max_hidden_sizes((784, 312, 128, 10), 100000, 3) == [300624, 300256]
    assert preflight.parameter_count((4, 0, 3), [5], 2) == 4 * 5 + 5 + 2 * (5 * 3 + 3)
    fp = footprint(n_tasks=10)
    assert fp.params == preflight.parameter_count((784, 312, 128, 10), [492, 308], 10)
    assert fp.activations == 492 + 308 + 10 and fp.what == "hidden sizes [492, 308]"


def test_memory_estimate_grows_with_every_setting():
    base = estimate()
    assert estimate(ex_k=20) > base
    assert estimate(n_tasks=11) > base
    assert estimate(dims=(784, 400, 128, 10)) > base
    assert estimate(data_bytes=1 << 30) == base + (1 << 30)


def test_memory_estimate_covers_measured_peaks(mnist):
    """The README's full run (10 tasks, defaults) peaked at 1704 MiB with MNIST; the
    estimate must not be below it, nor absurdly above (under twice)."""
    est = estimate(data_bytes=preflight.data_bytes(mnist))
    assert 1704 << 20 < est < 2 * (1704 << 20)


def test_check_memory_against_given_available_bytes():
    need = check(10, available=8 << 30)
    assert 0 < need < 8 << 30
    with pytest.raises(ConfigError) as e:
        check(10, available=need - 1)
    msg = str(e.value)
    assert msg.startswith("--ex_k=10 --dims=784,312,128,10 --n_tasks=10: the network can "
                          "grow to hidden sizes [492, 308]")
    assert "GiB" in msg and "\n" not in msg
    big = estimate(ex_k=100000, n_tasks=3)
    assert big > 1000 << 30  # 300 k x 300 k float32 weights alone are 336 GiB
    with pytest.raises(ConfigError, match=f"{big / (1 << 30):.1f} GiB of memory; 24.0 GiB"):
        check(3, available=24 << 30, ex_k=100000)


# ----------------------------------------------------------------------------- memory: conv
def test_conv_growth_and_parameter_count_by_hand():
    """A toy network on 6x6x1 images: one 3x3 VALID convolution of 2 filters with 2x2
    max-pooling (6 -> 4 -> 2, a flatten block of 2 x 2 = 4 rows per filter), one dense
    layer of 4 units, a head of 5. Filters and units grow as MLP units."""
    toy = dict(arch="conv2k3vp2,fc4", dims=(5,), n_classes=5, input_size=36, ex_k=3)
    # task 2, ex_k 3: 2 -> 2 + 3 + min(3, 2) = 7 filters; 4 -> 4 + 3 + 3 = 10 units
    fp = footprint(n_tasks=2, **toy)
    # kernel 3*3*1*7 + 7 biases; dense 7 filters x 4 rows = 28 rows -> 10 units; 2 heads
    assert fp.params == (9 * 7 + 7) + (28 * 10 + 10) + 2 * (10 * 5 + 5) == 470
    # per example: the 4x4 map of 7 filters before pooling, 10 units, 5 outputs
    assert fp.activations == 4 * 4 * 7 + 10 + 5
    assert "[7] filters" in fp.what and "[10] units" in fp.what
    assert footprint(n_tasks=1, **toy).params == (9 * 2 + 2) + (8 * 4 + 4) + (4 * 5 + 5)
    # lenet on MNIST, ex_k 10, 2 tasks: conv 20 -> 40 and 50 -> 70 filters, fc 800 -> 820,
    # 500 -> 520; 28 -> 24 -> 12 -> 8 -> 4, so the first dense layer has 70 x 16 rows
    assert [grown_size(u, 10, 2) for u in LENET.units()] == [40, 70, 820, 520]
    net = footprint(n_tasks=2, arch="lenet", ex_k=10)
    assert net.params == ((25 * 40 + 40) + (25 * 40 * 70 + 70) + (70 * 16 * 820 + 820)
                          + (820 * 520 + 520) + 2 * (520 * 10 + 10))
    assert net.activations == 24 * 24 * 40 + 8 * 8 * 70 + 820 + 520 + 10
    # at the initial sizes with one head: what the built network holds (test_conv checks
    # n_params() == base_n_params)
    for name, size, shape in (("lenet", 784, (28, 28, 1)), ("conv5", 3072, (32, 32, 3)),
                              ("conv5", 784, (28, 28, 1))):
        arch = resolve_arch(name)
        assert footprint(n_tasks=1, arch=name, input_size=size, image_shape=shape).params \
            == arch.parameter_count(size, shape, arch.units(), 10, 1)


def test_conv_estimate_counts_the_convolutional_network(mnist):
    """lenet's layers are counted: its filters grow by ex_k like units."""
    assert estimate(n_tasks=3, ex_k=100000, arch="lenet") > 1000 << 30
    # a measured peak: lenet, 2 tasks, ex_k 10, --max_iter=5 --train_seed=1: 2349 MiB
    est = estimate(n_tasks=2, data_bytes=preflight.data_bytes(mnist), arch="lenet")
    assert 2349 << 20 < est < 2 * (2349 << 20)
    with pytest.raises(ConfigError) as e:
        check(3, available=24 << 30, arch="lenet", ex_k=100000)
    msg = str(e.value)
    assert msg.startswith("--arch=lenet --ex_k=100000 --dims=10 --n_tasks=3: ")
    assert "[300040, 300100] filters" in msg and "\n" not in msg


def test_conv_network_that_cannot_fit_in_memory(tmp_path, mnist_dir):
    p = run_main(["--arch=lenet", "--dims=10", "--ex_k=100000", "--n_tasks=3", "--max_iter=5",
                  f"--data_dir={mnist_dir}"], cwd=str(tmp_path))
    one_error_line(p, 2, "--arch=lenet", "--ex_k=100000", "--dims=10", "--n_tasks=3", "GiB",
                   "available")
    assert p.stdout == ""  # no log line, no iteration line: nothing ran


class _Stop(Exception):
    """Raised where TensorFlow would be imported: the checks before it are done."""


def test_small_lenet_is_not_refused(tmp_path, mnist_dir, monkeypatch, capsys):
    """A normal small lenet setting passes the memory check (8 GiB free, faked) and goes
    on to import TensorFlow (stopped there: no training)."""
    from den_tf import cli
    seen = []
    real = preflight.memory.check_memory

    def spy(*args, **kw):
        seen.append(real(*args, **kw))
        return seen[-1]

    monkeypatch.setattr(preflight.memory, "available_memory", lambda: 8 << 30)
    monkeypatch.setattr(preflight.memory, "check_memory", spy)

    def stop():
        raise _Stop("past the checks")

    monkeypatch.setattr(cli, "_import_tensorflow_quietly", stop)
    status, out, err = run_in_process(
        ["--arch=lenet", "--dims=10", "--n_tasks=2", "--max_iter=5", f"--data_dir={mnist_dir}",
         f"--log_file={tmp_path / 'run.log'}"], capsys)
    assert status == 1 and "_Stop: past the checks" in err, err
    assert len(seen) == 1 and 3 << 30 < seen[0] < 8 << 30  # lenet counted: over 3 GiB


# ----------------------------------------------------------------------------- memory: Q8
def test_q8_growth_rule():
    """--paper=Q8: every drifted task-start unit can be split, no ex_k cap:
    n -> n + ex_k + n per task (the original's rule caps the duplicates at ex_k)."""
    assert grown_size(312, 10, 2) == 312 + 10 + 10
    assert grown_size(312, 10, 2, split_all=True) == 312 + 10 + 312 == 634
    assert grown_size(312, 10, 3, split_all=True) == 634 + 10 + 634
    assert max_hidden_sizes((784, 312, 128, 10), 10, 3, split_all=True) == [1278, 542]
    assert max_hidden_sizes((784, 312, 128, 10), 10, 1, split_all=True) == [312, 128]
    assert footprint(n_tasks=3, worst=True) is None  # without Q8, no worst case apart
    q8 = footprint(n_tasks=3, worst=True, paper=("Q8",))
    assert q8.what == "hidden sizes [1278, 542]"
    assert q8.params > footprint(n_tasks=3, paper=("Q8",)).params


def test_check_memory_with_q8():
    """Q8's worst case (every unit split in every task) is said, not refused; the capped
    rule still refuses what cannot fit, with or without Q8."""
    said = []
    need = check(8, available=8 << 30, warn=said.append)
    assert said == []  # no Q8: nothing to say
    assert check(8, available=8 << 30, warn=said.append, paper=("Q6", "Q8")) == need
    assert len(said) == 1
    msg = said[0]
    assert msg.startswith("--ex_k=10 --dims=784,312,128,10 --n_tasks=8 --paper=Q6,Q8: ")
    assert "[41206, 17654]" in msg and "the run goes on" in msg and "\n" not in msg
    said.clear()
    check(3, available=8 << 30, warn=said.append, paper=("Q8",))
    assert said == []  # its worst case fits: nothing said
    from den_tf.config import parse_paper
    check(8, available=8 << 30, warn=said.append, paper=parse_paper(["all"]))
    assert len(said) == 1 and "--n_tasks=8 --paper=all: " in said[0]
    with pytest.raises(ConfigError, match=r"^--ex_k=1000 --dims=784,312,128,10 --n_tasks=8: "):
        check(8, available=8 << 30, warn=said.append, paper=("Q8",), ex_k=1000)


@pytest.mark.parametrize("paper", ["Q8", "Q6"])
def test_q8_is_checked_by_the_command_line(tmp_path, mnist_dir, monkeypatch, capsys, paper):
    """8 tasks in 8 GiB (faked): both go on to TensorFlow's import (stopped there); with
    --paper=Q8 one warning line says the worst case first."""
    from den_tf import cli
    monkeypatch.setattr(preflight.memory, "available_memory", lambda: 8 << 30)

    def stop():
        raise _Stop("past the checks")

    monkeypatch.setattr(cli, "_import_tensorflow_quietly", stop)
    status, out, err = run_in_process(
        [f"--paper={paper}", "--n_tasks=8", "--max_iter=5", f"--data_dir={mnist_dir}",
         f"--log_file={tmp_path / 'run.log'}"], capsys)
    lines = err.strip().splitlines()
    assert status == 1 and "_Stop: past the checks" in lines[-1], err
    if paper == "Q8":
        assert len(lines) == 2, err
        assert lines[0].startswith("den_tf: warning: --ex_k=10 --dims=784,312,128,10 "
                                   "--n_tasks=8 --paper=Q8: with Q8 every drifted unit")
    else:
        assert len(lines) == 1, err


# ----------------------------------------------------------------------------- memory: baselines
def test_baseline_counts_by_hand():
    """--dims=6,4,2,3, 3 tasks; no ex_k growth for any baseline."""
    toy = dict(n_tasks=3, input_size=6, dims=(6, 4, 2, 3), n_classes=3)
    base = (6 * 4 + 4) + (4 * 2 + 2) + (2 * 3 + 3)  # 47: one network, one head
    stl = footprint("stl", **toy)
    assert (stl.params, stl.activations, stl.extra) == (3 * base, 4 + 2 + 3, 0)
    # progressive, column_scale 0.5: columns of [2, 1] units, each with its head (23);
    # laterals from one earlier column: 2 x 1 into hidden layer 2, 1 x 3 into the head
    assert column_units([4, 2], 0.5) == [2, 1]
    column = (6 * 2 + 2) + (2 * 1 + 1) + (1 * 3 + 3)
    prog = footprint("progressive", column_scale=0.5, **toy)
    assert prog.params == 3 * column + (2 * 1 + 1 * 3) * (0 + 1 + 2) == 84
    assert prog.activations == 3 * (2 + 1) + 3  # task 3 runs all three columns
    hidden_params = (6 * 4 + 4) + (4 * 2 + 2)
    for method in ("dnn", "l2", "ewc", "mtl"):
        net = footprint(method, **toy)
        assert net.params == hidden_params + 3 * (2 * 3 + 3)
        assert net.extra == (EWC_BYTES * hidden_params if method == "ewc" else 0)
        assert net.pooled_tasks == (3 if method == "mtl" else 0)
    assert footprint("mtl", **toy).activations == 4 + 2 + 3 + 3 * 3
    # the widest forward pass: mtl validates on every task's validation set at once
    assert preflight.eval_rows(5000, 10000) == preflight.eval_rows(5000, 10000, 0) == 10000
    assert preflight.eval_rows(5000, 10000, 3) == 15000


def test_baseline_counts_match_the_baselines():
    """The counts are what den_tf/baselines builds: STL's and progressive's n_params()
    after 3 tasks (progressive counts every column, head and lateral weight)."""
    from den_tf.baselines.progressive import Progressive
    from den_tf.baselines.stl import STL
    from tests.test_baselines import ToyStream
    dims = (20, 12, 8, 10)
    for cls, scale in ((STL, None), (Progressive, 0.5), (Progressive, 0.3)):
        own = {} if scale is None else {"column_scale": scale}
        cfg = Config(dims=dims, n_classes=10, method=cls.name, train_seed=1, **own)
        m = cls(cfg, ToyStream(3))  # (inputs of 20 values, 10 outputs per task)
        for k in (1, 2, 3):
            m.begin_task(k, None)
        fp = footprint(cls.name, n_tasks=3, input_size=20, dims=dims, n_classes=10, **own)
        assert fp.params == m.n_params()


@pytest.mark.parametrize("method,dims,refused", [
    ("stl", "784,8000,8000,10", True),  # 3 networks of 70 M parameters: 15 GiB
    ("dnn", "784,8000,8000,10", False),  # one network and 3 heads: 7 GiB
])
def test_baselines_are_checked_by_the_command_line(tmp_path, mnist_dir, monkeypatch, capsys,
                                                   method, dims, refused):
    """8 GiB free (faked), 3 tasks."""
    from den_tf import cli
    monkeypatch.setattr(preflight.memory, "available_memory", lambda: 8 << 30)

    def stop():
        raise _Stop("past the checks")

    monkeypatch.setattr(cli, "_import_tensorflow_quietly", stop)
    status, out, err = run_in_process(
        [f"--method={method}", f"--dims={dims}", "--n_tasks=3",
         "--max_iter=5", f"--data_dir={mnist_dir}", f"--log_file={tmp_path / 'run.log'}"],
        capsys)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    if refused:
        assert status == 2, err
        assert lines[0].startswith(f"den_tf: error: --method={method} --dims={dims} "
                                   f"--n_tasks=3: the run holds 3 base networks")
    else:
        assert status == 1 and "_Stop: past the checks" in lines[0]


def test_available_memory_is_read():
    avail = preflight.available_memory()
    assert avail is not None and 0 < avail


# ----------------------------------------------------------------------------- at the end
def run_in_process(args, capsys):
    """cli.main in this process (lets a test patch a writer); (status, stdout, stderr)."""
    from den_tf import cli
    status = cli.main(["main.py"] + list(args))
    out, err = capsys.readouterr()
    return status, out, err


def _enospc(path):
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


def test_disk_full_results_go_to_the_fallback(tmp_path, mnist_dir, monkeypatch, capsys):
    from den_tf.io import files
    real = files.write_json
    wanted = str(tmp_path / "res" / "r.json")

    def full_disk(path, out):
        if os.path.abspath(path) == wanted:
            raise _enospc(path)
        real(path, out)

    monkeypatch.setattr(files, "write_json", full_disk)
    log = tmp_path / "logs" / "run.log"
    status, out, err = run_in_process(
        [f"--data_dir={mnist_dir}", "--n_tasks=1", f"--log_file={log}", f"--results={wanted}",
         "--nocheckpoints"] + TINY, capsys)
    fallback = str(log) + ".results.json"
    lines = err.strip().splitlines()
    assert status == 4 and len(lines) == 1, err
    assert f"--results={wanted} (no space left on device)" in lines[0]
    assert lines[0].endswith(f"the results are in {fallback}")
    got = json.load(open(fallback))
    assert got["complete"] is True and got["tasks_learned"] == 1
    assert "warning: the results so far could not be written" in out  # after task 1
    assert not os.path.exists(wanted)


def test_disk_full_everywhere_results_on_stdout_and_log(tmp_path, mnist_dir, monkeypatch,
                                                        capsys):
    from den_tf.io import files, loglines

    def full_disk(path, out):
        raise _enospc(path)

    monkeypatch.setattr(files, "write_json", full_disk)
    log = tmp_path / "run.log"
    status, out, err = run_in_process(
        [f"--data_dir={mnist_dir}", "--n_tasks=1", f"--log_file={log}",
         f"--results={tmp_path / 'r.json'}", "--nocheckpoints"] + TINY, capsys)
    lines = err.strip().splitlines()
    assert status == 4 and len(lines) == 1, err
    assert "nor the fallback" in lines[0] and "results-json" in lines[0]
    assert f"stdout and {log}" in lines[0]
    tag = loglines.PREFIX + "results-json: "
    for text in (out, log.read_text()):
        line = [l for l in text.splitlines() if l.startswith(tag)]
        assert len(line) == 1
        got = json.loads(line[0][len(tag):])
        assert got["complete"] is True and got["tasks_learned"] == 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_log_file_on_a_full_disk(tmp_path, mnist_dir, capsys):
    """/dev/full: every write fails with ENOSPC, a real full disk for the log."""
    res = tmp_path / "r.json"
    status, out, err = run_in_process(
        [f"--data_dir={mnist_dir}", "--n_tasks=1", "--log_file=/dev/full",
         f"--results={res}", "--nocheckpoints"] + TINY, capsys)
    lines = err.strip().splitlines()
    assert status == 4 and len(lines) == 1, err
    assert "--log_file=/dev/full from line 1 on (no space left on device" in lines[0]
    assert lines[0].endswith(f"the results are in {res}")
    assert "TASK 1 TRAINING" in out and "avg_perf" in out  # stdout has every line
    assert json.load(open(res))["complete"] is True


def test_checkpoint_failure_warns_and_exits_4(tmp_path, mnist_dir, monkeypatch, capsys):
    from den_tf.io import checkpoint

    def full_disk(trainer, directory):
        raise _enospc(os.path.join(directory, "task-%03d" % trainer.done))

    monkeypatch.setattr(checkpoint, "save", full_disk)
    ck, res = tmp_path / "ck", tmp_path / "r.json"
    status, out, err = run_in_process(
        [f"--data_dir={mnist_dir}", "--n_tasks=1", f"--log_file={tmp_path / 'run.log'}",
         f"--results={res}", f"--checkpoint_dir={ck}"] + TINY, capsys)
    lines = err.strip().splitlines()
    assert status == 4 and len(lines) == 1, err
    assert f"the checkpoint of task 1 in --checkpoint_dir={ck} (no space left" in lines[0]
    assert lines[0].endswith(f"the results are in {res}")
    assert out.count("warning: the checkpoint of task 1") == 1
    assert json.load(open(res))["complete"] is True


def test_a_later_checkpoint_replaces_a_failed_one():
    """Checkpoint failures warn once; only the newest checkpoint matters for resuming, so
    a failure that a later task's checkpoint supersedes is no loss."""
    class Log:
        error = None
        lines = []

        def __call__(self, line):
            self.lines.append(line)

    def fail():
        raise _enospc("/ck/task-001")

    w = Writes(Log(), "run.log", (OSError,))
    w.where = "r.json"
    w.checkpoint(fail, 1, "/ck")
    w.checkpoint(fail, 2, "/ck")
    assert len(w.log.lines) == 1 and "task 1" in w.log.lines[0]
    w.checkpoint(lambda: None, 3, "/ck")
    w.finish()  # no loss: no error
    w.checkpoint(fail, 4, "/ck")
    with pytest.raises(Exception, match="checkpoint of task 4") as e:
        w.finish()
    assert e.value.exit_code == 4


def test_results_folder_removed_during_the_run_is_made_again(tmp_path, mnist_dir,
                                                             monkeypatch, capsys):
    """Removed after the results so far were written: the final write makes it again."""
    from den_tf.io import files
    real = files.write_json
    res = tmp_path / "res" / "r.json"

    def then_remove(path, out):
        real(path, out)
        if not out.get("complete"):
            shutil.rmtree(res.parent)

    monkeypatch.setattr(files, "write_json", then_remove)
    status, out, err = run_in_process(
        [f"--data_dir={mnist_dir}", "--n_tasks=1", f"--log_file={tmp_path / 'run.log'}",
         f"--results={res}", "--nocheckpoints"] + TINY, capsys)
    assert status == 0, err
    assert json.load(open(res))["complete"] is True


def test_results_folder_replaced_by_a_file_during_the_run(tmp_path, mnist_dir):
    """A real run (subprocess): once task 2 starts, the results folder is removed and a
    file takes its name. The run finishes, the results land in the fallback next to the
    log, and the one error line names both; exit 4."""
    res_dir, log = tmp_path / "res", tmp_path / "logs" / "run.log"
    res = res_dir / "r.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    p = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "main.py"), f"--data_dir={mnist_dir}",
         "--n_tasks=2", "--max_iter=5", "--train_seed=1", "--progress=off", "--nocheckpoints",
         f"--log_file={log}", f"--results={res}"],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in p.stdout:
        seen.append(line)
        if "TASK 2 TRAINING" in line:
            shutil.rmtree(res_dir)
            res_dir.write_text("not a folder\n")
    stdout = "".join(seen)
    err = p.stderr.read()
    status = p.wait(timeout=600)
    lines = err.strip().splitlines()
    fallback = str(log) + ".results.json"
    assert status == 4 and len(lines) == 1, err
    assert lines[0].startswith("den_tf: error: the run finished, but could not write: ")
    assert f"--results={res} ({res_dir} is a file, not a folder)" in lines[0]
    assert lines[0].endswith(f"the results are in {fallback}")
    got = json.load(open(fallback))
    assert got["complete"] is True and got["tasks_learned"] == 2
    assert "TASK 2 TRAINING" in stdout and f"results: {fallback}" in stdout
    assert res_dir.read_text() == "not a folder\n"


# ----------------------------------------------------------------------------- sweeps
def test_sweep_out_folder_is_checked(tmp_path, capsys):
    from den_tf import sweep
    f = tmp_path / "taken"
    f.write_text("")
    assert sweep.main([f"--out={f}", "--grid=max_iter=5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"den_tf.sweep: error: --out={f}: is a file, a folder is needed"]
