"""compare_logs on the original's logs bundled with den_tf (logs/original)."""

import io
import os

import pytest

from den_tf.reference import compare_logs


def ref(original_logs, name):
    return os.path.join(original_logs, name)


def test_parses_the_reference_log(original_logs):
    tasks = compare_logs.parse(open(ref(original_logs, "den_tf1_default.log")).read())
    assert [t.task for t in tasks] == list(range(1, 11))
    t2, t10 = tasks[1], tasks[9]
    assert t2.added == {2: 7, 1: 8} and t2.split == {1: (0, 0), 2: (0, 0)}
    assert t2.total == [8, 7] and t2.sizes == [320, 135]
    assert t10.test_perf == 0.9968 and t10.avg_perf == 0.9965 and t10.sizes == [390, 198]
    assert t10.evals[1] == 0.9996 and t10.stamps[3] == [784, 327, 144]
    # logs/original/README.md: capacity 1.40x
    assert compare_logs.capacity(tasks) == pytest.approx(1.3976, abs=1e-4)


def test_parses_the_shape_of_layer_variant(original_logs):
    tasks = compare_logs.parse(open(ref(original_logs, "published_dongkwan-kim_2300iter.log")).read())
    assert tasks[-1].sizes == [389, 202] and tasks[-1].avg_perf == 0.9957
    assert tasks[-1].stamps[2] == [784, 320, 138]


def test_two_original_runs_agree_within_their_spread(original_logs):
    out = io.StringIO()
    a = compare_logs.parse(open(ref(original_logs, "den_tf1_default_run2.log")).read())
    b = compare_logs.parse(open(ref(original_logs, "den_tf1_default.log")).read())
    assert compare_logs.compare(a, b, 0.002, out=out) == 0
    assert "largest AUROC difference: 0.0011" in out.getvalue()
    assert compare_logs.compare(a, b, 0.001, out=io.StringIO()) == 1


def test_cli_exit_codes(original_logs, tmp_path, capsys):
    r = ref(original_logs, "den_tf1_default.log")
    # two different runs of the original, 0.0011 apart (see the test above)
    assert compare_logs.main([ref(original_logs, "den_tf1_default_run2.log"), r]) == 0
    assert "largest AUROC difference: 0.0011 (tolerance 0.0020): PASS" in capsys.readouterr().out
    assert compare_logs.main([ref(original_logs, "den_tf1_default_run2.log"), r,
                              "--tol", "0.001"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert compare_logs.main([r, ref(original_logs, "den_tf1_max_iter200.log"),
                              "--tol", "0.002"]) == 1
    (tmp_path / "empty.log").write_text("hello\n")
    assert compare_logs.main([r, str(tmp_path / "empty.log")]) == 2
    assert compare_logs.main([r, str(tmp_path / "missing.log")]) == 2


def test_the_default_other_log_is_the_bundled_default_run(original_logs, capsys):
    assert compare_logs.original_log() == os.path.join(original_logs, "den_tf1_default.log")
    run2 = ref(original_logs, "den_tf1_default_run2.log")
    assert compare_logs.main([run2]) == 0
    out = capsys.readouterr().out
    first = out.split("\n")[0].split()
    assert first[0] == "theirs:" and os.path.samefile(first[1], compare_logs.original_log())
    assert "largest AUROC difference: 0.0011" in out
    assert compare_logs.main([ref(original_logs, "den_tf1_max_iter200.log")]) == 1


def test_missing_bundled_logs_are_one_error_line(monkeypatch, tmp_path, capsys):
    ours = tmp_path / "ours.log"
    ours.write_text(open(compare_logs.original_log()).read())
    # a den_tf whose package sits where neither logs/original nor reference_logs exist
    monkeypatch.setattr(compare_logs, "__file__", str(tmp_path / "den_tf" / "compare_logs.py"))
    with pytest.raises(compare_logs.LogError, match="the original's logs are missing"):
        compare_logs.original_logs_dir()
    assert compare_logs.main([str(ours)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compare_logs: error: the original's logs are missing")
    assert err.count("\n") == 1


def _tasks_of(text, first, last):
    """The part of a log from task `first`'s header to task `last`'s end (a partial run,
    or a resumed one when first > 1)."""
    start = text.index(f"\tTASK {first} TRAINING")
    end = text.index(f"\tTASK {last + 1} TRAINING") if f"\tTASK {last + 1} TRAINING" in text \
        else len(text)
    return text[start:end]


def test_a_shorter_run_is_compared_on_the_tasks_both_have(original_logs, tmp_path, capsys):
    """A 3-task log against the original's 10-task default log: tasks 1..3 compared, and
    one line says so; test_acc is the one after task 3 in both."""
    full = open(ref(original_logs, "den_tf1_default.log")).read()
    three = tmp_path / "three.log"
    three.write_text(full[:full.index("\tTASK 4 TRAINING")])
    assert compare_logs.main([str(three)]) == 0  # the same run's first three tasks
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("tasks compared: 1..3, the tasks both logs have (ours has 1..3, theirs "
                      "1..10); test_acc and capacity after task 3")
    assert "test_acc after task 3" in out[2]
    rows = [l for l in out if l[:4].strip().isdigit()]
    assert [int(r[:4]) for r in rows] == [1, 2, 3]
    assert out[-1] == "largest AUROC difference: 0.0000 (tolerance 0.0020): PASS"
    # against the other default run of the original: its first three tasks' figures
    a = compare_logs.parse(three.read_text())
    b = compare_logs.parse(open(ref(original_logs, "den_tf1_default_run2.log")).read())
    buf = io.StringIO()
    status = compare_logs.compare(a, b, 0.002, out=buf)
    worst = max(abs(x.test_perf - y.test_perf) for x, y in zip(a, b[:3]))
    worst = max(worst, max(abs(a[2].evals[j] - b[2].evals[j]) for j in (1, 2, 3)),
                max(abs(x.avg_perf - y.avg_perf) for x, y in zip(a, b[:3])))
    assert f"largest AUROC difference: {worst:.4f}" in buf.getvalue()
    assert status == (0 if worst <= 0.002 else 1)


def test_a_resumed_log_and_logs_without_common_tasks(original_logs, tmp_path, capsys):
    full = open(ref(original_logs, "den_tf1_default.log")).read()
    resumed = tmp_path / "resumed.log"
    resumed.write_text(_tasks_of(full, 3, 5))
    two = tmp_path / "two.log"
    two.write_text(_tasks_of(full, 1, 2))
    assert compare_logs.main([str(resumed)]) == 0
    out = capsys.readouterr().out
    assert "tasks compared: 3..5, the tasks both logs have (ours has 3..5" in out
    assert "largest AUROC difference: 0.0000" in out
    assert compare_logs.main([str(two), str(resumed)]) == 2
    cap = capsys.readouterr()
    assert cap.err == ("compare_logs: error: the logs have no task in common: ours has "
                       "tasks 1, 2, theirs 3..5\n")
    assert "Traceback" not in cap.out + cap.err


def test_the_full_logs_say_they_compare_every_task(original_logs, capsys):
    assert compare_logs.main([ref(original_logs, "den_tf1_default_run2.log")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "tasks compared: 1..10 (both logs have the same tasks)"
    assert "final test_acc" in out[2]


def test_summary_is_in_the_help(capsys):
    with pytest.raises(SystemExit) as e:
        compare_logs.main(["--help"])
    assert e.value.code == 0
    assert "--summary" in capsys.readouterr().out
