"""compare_logs on the reference logs of the original."""

import io
import os

import pytest

from den_tf import compare_logs


def ref(reference_dir, name):
    return os.path.join(reference_dir, name)


def test_parses_the_reference_log(reference_dir):
    tasks = compare_logs.parse(open(ref(reference_dir, "den_tf1_default.log")).read())
    assert [t.task for t in tasks] == list(range(1, 11))
    t2, t10 = tasks[1], tasks[9]
    assert t2.added == {2: 7, 1: 8} and t2.split == {1: (0, 0), 2: (0, 0)}
    assert t2.total == [8, 7] and t2.sizes == [320, 135]
    assert t10.test_perf == 0.9968 and t10.avg_perf == 0.9965 and t10.sizes == [390, 198]
    assert t10.evals[1] == 0.9996 and t10.stamps[3] == [784, 327, 144]
    # README of the reference: capacity 1.40x
    assert compare_logs.capacity(tasks) == pytest.approx(1.3976, abs=1e-4)


def test_parses_the_shape_of_layer_variant(reference_dir):
    tasks = compare_logs.parse(open(ref(reference_dir, "published_dongkwan-kim_2300iter.log")).read())
    assert tasks[-1].sizes == [389, 202] and tasks[-1].avg_perf == 0.9957
    assert tasks[-1].stamps[2] == [784, 320, 138]


def test_two_original_runs_agree_within_their_spread(reference_dir):
    out = io.StringIO()
    a = compare_logs.parse(open(ref(reference_dir, "den_tf1_default_run2.log")).read())
    b = compare_logs.parse(open(ref(reference_dir, "den_tf1_default.log")).read())
    assert compare_logs.compare(a, b, 0.002, out=out) == 0
    assert "largest AUROC difference: 0.0011" in out.getvalue()
    assert compare_logs.compare(a, b, 0.001, out=io.StringIO()) == 1


def test_cli_exit_codes(reference_dir, tmp_path, capsys):
    r = ref(reference_dir, "den_tf1_default.log")
    # two different runs of the original, 0.0011 apart (see the test above)
    assert compare_logs.main([ref(reference_dir, "den_tf1_default_run2.log"), r]) == 0
    assert "largest AUROC difference: 0.0011 (tolerance 0.0020): PASS" in capsys.readouterr().out
    assert compare_logs.main([ref(reference_dir, "den_tf1_default_run2.log"), r,
                              "--tol", "0.001"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert compare_logs.main([r, ref(reference_dir, "den_tf1_max_iter200.log"),
                              "--tol", "0.002"]) == 1
    (tmp_path / "empty.log").write_text("hello\n")
    assert compare_logs.main([r, str(tmp_path / "empty.log")]) == 2
    assert compare_logs.main([r, str(tmp_path / "missing.log")]) == 2
