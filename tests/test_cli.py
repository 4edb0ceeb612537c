"""main.py end to end on the real data: the smoke run, the no-expansion path, three
hidden layers."""

import json
import re

import pytest

from tests.conftest import run_main


def test_smoke_run_prints_every_phase_grows_and_learns(smoke_run):
    log, res = smoke_run["log"], smoke_run["results"]
    for line in (" [*] Selective retraining", " [*] Network expansion (training)",
                 " [*] Split & Duplication", " OVERALL EVALUATION"):
        assert log.count(line) >= 2 if "OVERALL" not in line else log.count(line) == 3
    assert len(re.findall(r"Expanding \dth hidden unit", log)) == 4
    assert len(re.findall(r"split, loss: ", log)) == 2
    assert len(re.findall(r" \[\*\] iter: \d+, val loss", log)) == 3 * 2  # task 1 + 2 splits
    sizes = res["units_per_layer"]
    assert sizes[0] == [312, 128] and sizes[-1][0] > 312 and sizes[-1][1] > 128
    assert res["capacity"][-1] > 1.0
    final = res["auroc_matrix"][-1]
    assert len(final) == 3 and min(final) > 0.95  # real learning on every task
    assert res["final_avg_perf"] == pytest.approx(sum(final) / 3)
    m = re.findall(r"avg_perf: (\d\.\d{4})", log)
    assert float(m[-1]) == pytest.approx(res["final_avg_perf"], abs=5e-5)
    assert re.search(r" \[den_tf\] wall time: \d+\.\d s", log)


def test_no_expansion_path_finishes(tmp_path, mnist_dir):
    """--loss_thr=1.0: the retrained network stands (Q13: the original crashes here)."""
    p = run_main([f"--data_dir={mnist_dir}", "--n_tasks=2", "--max_iter=100", "--train_seed=3",
                  "--loss_thr=1.0", f"--log_file={tmp_path / 'a.log'}"], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    log = (tmp_path / "a.log").read_text()
    assert "Network expansion" not in log and "Split & Duplication" not in log
    assert "   [*] Total expansions: [0, 0]" in log
    assert " [*] Evaluation, Task:2, test_acc: " in log
    res = json.loads((tmp_path / "a.json").read_text())
    assert res["tasks"][1]["expanded"] is False and res["units_per_layer"][1] == [312, 128]
    # The union of step 4 stands: the retrained hidden blocks moved task 1's figures.
    # (Task 2's head only ever trained its column 0 here, Q6, so its AUROC is low.)
    assert res["auroc_matrix"][1][0] != res["auroc_matrix"][0][0]
    assert 0.5 < res["auroc_matrix"][1][1] < 1.0


def test_three_hidden_layers(tmp_path, mnist_dir):
    p = run_main([f"--data_dir={mnist_dir}", "--dims=784,100,60,40,10", "--n_tasks=2",
                  "--max_iter=100", "--train_seed=5", "--spl_thr=0.01",
                  f"--log_file={tmp_path / 'b.log'}"], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    log = (tmp_path / "b.log").read_text()
    for l in (3, 2, 1):
        assert f"   [*] Expanding {l}th hidden unit" in log
        assert f"   [*] split N in layer{l}: " in log
    assert " [*] task 3, shape : [" in log
    res = json.loads((tmp_path / "b.json").read_text())
    assert len(res["units_per_layer"][1]) == 3
    assert all(a >= b for a, b in zip(res["units_per_layer"][1], [100, 60, 40]))
    assert res["auroc_matrix"][1][1] > 0.9
