"""`compare_logs --summary`: one row of figures per log, checked against the log's own
lines read independently here."""

import io
import re

import numpy as np
import pytest

from den_tf.reference import compare_logs


def figures_by_hand(text):
    last = text[text.rindex(" OVERALL EVALUATION"):]
    evals = [float(x) for x in re.findall(r"Evaluation, Task:\d+, test_acc: ([\d.]+)", last)]
    ce = [float(x) for x in re.findall(r"nn_test_loss: ([\d.]+)", text)]
    added = sum(sum(int(v) for v in m.split(","))
                for m in re.findall(r"Total expansions: \[([\d, ]+)\]", text))
    return evals, ce, added


@pytest.mark.parametrize("name", ["den_tf1_default.log", "den_tf1_default_run2.log"])
def test_summary_of_the_original_logs(name):
    text = open(compare_logs.original_log(name)).read()
    evals, ce, added = figures_by_hand(text)
    s = compare_logs.summary(compare_logs.parse(text))
    assert s["final avg_perf"] == float(re.findall(r"avg_perf: ([\d.]+)", text)[-1])
    assert s["AUROC T2..T"] == pytest.approx(np.mean(evals[1:]), abs=1e-12)
    assert s["test CE"] == pytest.approx(np.mean(ce)) and len(ce) == 10
    assert s["test CE T2..T"] == pytest.approx(np.mean(ce[1:]))
    assert s["units added"] == added and added > 100


def test_summary_table_rows_and_mean(capsys):
    logs = [compare_logs.original_log(n) for n in ("den_tf1_default.log", "den_tf1_default_run2.log")]
    assert compare_logs.main(["--summary"] + logs) == 0
    assert "| mean ± sd (2 logs) | 0.9966 ± 0.0001 |" in capsys.readouterr().out
    out = io.StringIO()
    named = [(p, compare_logs.parse(open(p).read())) for p in logs]
    compare_logs.summary_table(named, out=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 + 2 + 1 and lines[-1].startswith("| mean ± sd (2 logs) | 0.9966 ± 0.0001 |")
    assert "| 0.9965 | 0.99617 |" in lines[2] and "| 0.9967 | 0.99639 |" in lines[3]


def test_summary_of_an_unreadable_log_is_one_line(tmp_path, capsys):
    (tmp_path / "x.log").write_text("nothing\n")
    assert compare_logs.main(["--summary", str(tmp_path / "x.log")]) == 2
    assert "no task found" in capsys.readouterr().err


def test_summary_says_which_tasks_it_averaged(tmp_path, capsys):
    """Each row names the tasks its log holds; a log without task 1 (resumed) or with gaps
    gets a line saying its figures average only those; test CE T2..T stays the tasks
    numbered 2 and above."""
    full = open(compare_logs.original_log()).read()
    resumed = tmp_path / "resumed.log"
    resumed.write_text(full[full.index("\tTASK 3 TRAINING"):full.index("\tTASK 6 TRAINING")])
    assert compare_logs.main([str(resumed), "--summary", compare_logs.original_log()]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("| capacity | tasks |")
    assert out[2].endswith("| 3..5 |") and out[3].endswith("| 1..10 |")
    assert out[-2] == (f"{resumed}: holds tasks 3..5 only (a resumed or partial log?): its "
                       f"figures average those tasks")
    assert out[-1] == "each log's figures average the tasks it holds (column tasks)"
    s = compare_logs.summary(compare_logs.parse(resumed.read_text()))
    ce = [float(x) for x in re.findall(r"nn_test_loss: ([\d.]+)", resumed.read_text())]
    assert s["tasks"] == "3..5" and s["test CE T2..T"] == pytest.approx(np.mean(ce))
