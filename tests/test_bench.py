"""The benchmark's lenet part (den_tf.experiments.bench, --archs=lenet) on tiny settings:
it reports DEN's step, the bare Keras LeNet step and their ratio at task 1's shapes and
at task 2's expansion, and its bare network is the DEN network's (same outputs)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from den_tf.config import DENConfig
from den_tf.datasets import load_dataset
from den_tf.engine import RandomInit
from den_tf.experiments import bench
from den_tf.model import archs

LENET_T1 = [[5, 5, 1, 20], [5, 5, 20, 50], [800, 800], [800, 500], [500, 10]]
LENET_T2 = [[5, 5, 1, 30], [5, 5, 30, 60], [960, 810], [810, 510], [510, 10]]  # ex_k 10


def test_lenet_bench_reports_both_steps_and_the_ratio(mnist_dir, tmp_path, capsys):
    out = tmp_path / "b.json"
    assert bench.main([f"--data_dir={mnist_dir}", "--archs=lenet", "--no_xla",
                       "--lenet_chunks=2", "--lenet_steps=2", "--lenet_batch=16",
                       f"--json={out}"]) == 0
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    assert "steps" not in res and res["runs"] == []  # the MLP's part did not run
    rows = res["lenet_steps"]
    assert [r["phase"] for r in rows] == ["task 1 t1", "expansion t2"]
    assert [r["shapes"] for r in rows] == [LENET_T1, LENET_T2]
    for r in rows:
        assert r["batch"] == 16 and r["chunks"] == 2 and r["steps_per_chunk"] == 2
        for k in ("step_ms", "bare_ms", "ratio", "bare_graph_ms", "ratio_graph"):
            assert math.isfinite(r[k]) and r[k] > 0, (k, r)
        assert r["ratio"] == pytest.approx(r["step_ms"] / r["bare_ms"])
        assert r["compile_s"] >= 0
        assert f"{r['phase']:<14}" in printed and f"{r['ratio']:6.2f}" in printed
    assert "lenet phase" in printed and "ratio" in printed


def test_lenet_bench_refuses_an_unknown_arch():
    with pytest.raises(SystemExit):
        bench.main(["--archs=mlp,alexnet"])


def test_the_bare_keras_lenet_is_the_den_network(mnist_dir):
    """Same kernel shapes, padding, pooling and channel-major flatten: the Keras model
    built from a DEN lenet computes its logits (task 1's network, and the grown one)."""
    data = load_dataset("mnist", mnist_dir)
    cfg = DENConfig(arch="lenet", xla=False)
    init = RandomInit(np.random.RandomState(0), np.random.RandomState(1))
    net = archs.build_for(cfg, init, data)
    x = tf.constant(np.random.RandomState(2).uniform(0, 1, (4, 784)).astype(np.float32))
    for task in (1, 2):
        if task == 2:
            net.add_head(2, init.glorot("w", (500, 10)), init.bias("b", (10,)))
            for i, layer in enumerate(net.hidden):
                layer.append_units(init.glorot("bw", layer.unit_block_shape(3)),
                                   init.bias("bb", (3,)), 2)
                if i:
                    layer.append_inputs(init.glorot("tw", layer.input_block_shape(3)))
            net.heads[2].append_inputs(init.glorot("r", net.heads[2].input_block_shape(3)))
        model = bench.keras_lenet(net, task)
        want = net.forward(net.params_for(task), x).numpy()
        got = model(tf.reshape(x, [4, 28, 28, 1])).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_runs_shares_are_its_parts_and_add_up(mnist_dir, tmp_path):
    """run_benchmark's shares (steps, compile, validation, evaluation, the rest) are the
    run's own timings over its wall time, and together the whole of it."""
    cfg = DENConfig(max_iter=250, n_tasks=2, train_seed=1, checkpoint_dir=str(tmp_path / "ck"))
    r = bench.run_benchmark(load_dataset("mnist", mnist_dir), cfg)
    parts = ("steps", "compile", "validate", "evaluate", "other")
    for k in parts:
        assert r[f"{k}_s"] >= 0 and r[f"{k}_share"] == pytest.approx(r[f"{k}_s"] / r["wall_s"])
    assert r["steps_s"] > 0 and r["compile_s"] > 0 and r["evaluate_s"] > 0
    assert sum(r[f"{k}_share"] for k in parts) == pytest.approx(1.0)
