"""The paper's baselines (den_tf/baselines): EWC's Fisher and penalty, progressive
columns, STL and MTL heads and capacity, L2's pull, a short real run of every method,
the --method command line, and the comparison table."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from den_tf import api
from den_tf.baselines.dnn import DNN
from den_tf.baselines.ewc import EWC, diagonal_fisher
from den_tf.baselines.l2 import L2
from den_tf.baselines.mtl import MTL, PooledTasks, pooled_forward, with_task
from den_tf.baselines.progressive import Progressive, column_units
from den_tf.baselines.stl import STL
from den_tf.config import BaselineConfig, DENConfig, config_for, parse_paper
from den_tf.datasets.tensors import TaskTensors, task_batch, train_batch
from den_tf.datasets.transforms import Permute
from den_tf.engine.program import Slot
from den_tf.engine.runner import Hyper
from den_tf.evaluation import results
from den_tf.model.forward import mlp_logits, predict
from den_tf.model.network import DENNetwork
from tests.conftest import ROOT, run_main
from tests.helpers import toy_task
from tests.test_bad_inputs import check

TOY_DIMS = (20, 12, 8, 10)


class ToyStream:
    """A task stream of toy tasks (tests/helpers.py), task t from seed t: the members of
    den_tf.datasets.streams.TaskStream that the baselines read."""

    input_size, image_shape, pool = 20, None, 400  # toy_task's d and training examples

    def __init__(self, n_tasks=3):
        self.n_tasks = n_tasks
        self._tasks = {}
        self.rng = np.random.RandomState(0)

    def n_outputs(self, t):
        return 10

    def task_tensors(self, t):
        if t not in self._tasks:
            self._tasks[t] = toy_task(seed=t)
        return self._tasks[t]

    def test_set(self, t):
        d = self.task_tensors(t)
        return d.test_x, d.test_y


def toy(cls, n_tasks=3, **kw):
    cfg = dict(dims=TOY_DIMS, max_iter=30, batch_size=32, lr=0.01, train_seed=0, xla=False,
               n_tasks=n_tasks, method=cls.name)
    cfg.update(kw)
    return cls(BaselineConfig(**cfg), ToyStream(n_tasks))


def values(layers):
    return [(l.kernel.numpy().copy(), l.bias.numpy().copy()) for l in layers]


def out(method, t, x):
    return predict(method.params_for(t), x, tf.zeros([x.shape[0], 10]), False,
                   method.forward_for(t))[1].numpy()


# ----------------------------------------------------------------------------- EWC
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_ewc_fisher_by_hand():
    """A 2-2-1 network, two examples: the per-example gradients of the Bernoulli
    log-likelihood written out by hand, squared, then averaged (not averaged, then
    squared: the two examples' gradients have opposite signs)."""
    w1, b1 = np.eye(2, dtype=np.float32), np.zeros(2, np.float32)
    wh, bh = np.array([[1.0], [2.0]], np.float32), np.zeros(1, np.float32)
    x = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    y = np.array([[1.0], [0.0]], np.float32)
    fisher = diagonal_fisher([w1, b1, wh, bh], 4, mlp_logits, tf.constant(x), tf.constant(y))
    want = [np.zeros((2, 2)), np.zeros(2), np.zeros((2, 1)), np.zeros(1)]
    for xn, yn in zip(x, y):
        h = np.maximum(xn @ w1 + b1, 0)
        g = yn[0] - sigmoid(h @ wh[:, 0] + bh[0])  # d loglik / d logit
        dh = g * wh[:, 0] * (xn @ w1 + b1 > 0)
        grads = [np.outer(xn, dh), dh, (h * g)[:, None], np.array([g])]
        for acc, gr in zip(want, grads):
            acc += gr ** 2 / 2.0
    for f, w in zip(fisher, want):
        np.testing.assert_allclose(f, w, rtol=1e-5, atol=1e-7)
    # unit 2 is off for the second example: only the first contributes there
    assert fisher[1][1] == pytest.approx(
        (2.0 * (1 - sigmoid(1.0 + 4.0))) ** 2 / 2.0, rel=1e-5)


def test_ewc_penalty_is_the_sum_of_one_penalty_per_task():
    """After two tasks, the runner's pull (strength ewc_lambda, weights F1 + F2, anchor
    theta_bar) has, at any theta, the gradient and (up to a constant) the value of
    sum_s ewc_lambda/2 * sum F_s (theta - theta*_s)^2, with F_s the Fisher of task s at
    the end of task s."""
    lam = 3.0
    ewc = toy(EWC, ewc_lambda=lam, ewc_samples=50)
    per_task = []
    for t in (1, 2):
        ewc.learn_task(t)
        d = ewc.tasks.task_tensors(t)
        x, y = task_batch(d, tf.range(50))
        f = diagonal_fisher(ewc.params_for(t), 4, mlp_logits, x, y)  # the first 50 examples
        per_task.append((f, [p.numpy().copy() for p in ewc.params_for(t)[:4]]))
    np.testing.assert_allclose(ewc.fisher[0], per_task[0][0][0] + per_task[1][0][0],
                               rtol=1e-5, atol=1e-9)
    strength, prev, weights = ewc.penalty(3)
    assert strength == lam and sorted(prev) == sorted(weights) == [0, 1]
    hyper = Hyper(0.01, 32, 400, 10, 0.0, 0.0, 0.0, strength, "gl_only")
    rng = np.random.RandomState(0)
    thetas = []
    for i in range(4):
        layer, which = divmod(i, 2)
        shape = per_task[0][1][i].shape
        thetas.append([tf.Variable(rng.randn(*shape).astype(np.float32)) for _ in range(2)])
    for i in range(4):
        layer, which = divmod(i, 2)
        slot_vals = []
        for v in thetas[i]:
            slot = Slot(v, True, prev[layer][which], prev_weight=weights[layer][which])
            with tf.GradientTape() as tape:
                pen = slot.penalty(hyper)
            grad = tape.gradient(pen, v).numpy()
            th = v.numpy().astype(np.float64)
            want_grad = sum(lam * f[i] * (th - star[i]) for f, star in per_task)
            np.testing.assert_allclose(grad, want_grad, rtol=2e-3, atol=1e-6)
            want = sum(lam / 2 * np.sum(f[i] * (th - star[i]) ** 2) for f, star in per_task)
            slot_vals.append((float(pen), want))
        # the constant cancels between two thetas
        (p0, w0), (p1, w1) = slot_vals
        assert p1 - p0 == pytest.approx(w1 - w0, rel=2e-3, abs=1e-6)


def test_ewc_after_one_task_pulls_toward_its_weights():
    ewc = toy(EWC, n_tasks=2, ewc_samples=30)
    ewc.learn_task(1)
    _, prev, weights = ewc.penalty(2)
    for (w, b), layer in zip(prev.values(), ewc.network.hidden):
        assert np.array_equal(w, layer.kernel.numpy()) and np.array_equal(b, layer.bias.numpy())
    assert all(np.all(f >= 0) and f.any() for fw in weights.values() for f in fw)


# ----------------------------------------------------------------------------- L2
def test_l2_pull_anchor_gradient_and_effect():
    """The pull is toward the weights at the end of the previous task, its gradient is
    l2_pull * (theta - prev), and a strong pull keeps the hidden layers closer to them
    than fine-tuning (same seed, same minibatches)."""
    l2 = toy(L2, n_tasks=2, l2_pull=50.0)
    l2.learn_task(1)
    end1 = values(l2.network.hidden)
    l2.learn_task(2)
    strength, prev, weights = l2.penalty(2)
    assert strength == 50.0 and weights == {}
    for (w, b), (w1, b1) in zip(prev.values(), end1):
        assert np.array_equal(w, w1) and np.array_equal(b, b1)
    v = tf.Variable(np.random.RandomState(1).randn(*end1[0][0].shape).astype(np.float32))
    slot = Slot(v, True, end1[0][0])
    with tf.GradientTape() as tape:
        pen = slot.penalty(Hyper(0.01, 32, 400, 10, 0.0, 0.0, 0.0, 50.0, "gl_only"))
    np.testing.assert_allclose(tape.gradient(pen, v).numpy(), 50.0 * (v.numpy() - end1[0][0]),
                               rtol=1e-5, atol=1e-5)
    dnn = toy(DNN, n_tasks=2)
    dnn.learn_task(1)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(values(dnn.network.hidden), end1))
    dnn.learn_task(2)
    moved = lambda m: sum(np.abs(l.kernel.numpy() - e[0]).sum()
                          for l, e in zip(m.network.hidden, end1))
    assert moved(l2) < 0.2 * moved(dnn)


# ----------------------------------------------------------------------------- progressive
def test_progressive_earlier_columns_frozen_and_laterals_used():
    prog = toy(Progressive, n_tasks=2, column_scale=1.0)
    prog.learn_task(1)
    col1 = values(prog.columns[1] + [prog.heads[1]])
    x = prog.tasks.task_tensors(1).test_x
    out1 = out(prog, 1, x)
    at_begin = {}

    class Watch:
        def __getattr__(self, name):
            return lambda *a: None

        def on_phase_begin(self, spec, runner):
            at_begin["lat"] = [l.kernel.numpy().copy() for ls in prog.laterals[2].values()
                               for l in ls]
            at_begin["trained"] = {id(s.var) for s in runner.slots}

    prog.callbacks.append(Watch())
    prog.learn_task(2)
    for (k, b), (k2, b2) in zip(col1, values(prog.columns[1] + [prog.heads[1]])):
        assert np.array_equal(k, k2) and np.array_equal(b, b2)
    assert np.array_equal(out(prog, 1, x), out1)
    lats = [l for ls in prog.laterals[2].values() for l in ls]
    assert len(lats) == 2  # into hidden layer 2 and into the head, from column 1
    trained = at_begin["trained"]
    assert all(id(l.kernel) in trained and id(l.bias) not in trained for l in lats)
    assert not any(id(l.kernel) in trained for l in prog.columns[1])
    assert all(not np.array_equal(a, l.kernel.numpy()) for a, l in zip(at_begin["lat"], lats))
    base2 = out(prog, 2, x)
    for lat in lats:  # each lateral weight is read by task 2's forward pass, not by task 1's
        old = lat.kernel.numpy()
        lat.kernel.assign(old + 0.5)
        assert not np.allclose(out(prog, 2, x), base2)
        assert np.array_equal(out(prog, 1, x), out1)
        lat.kernel.assign(old)
    # capacity: 2 columns and heads + lateral weights (no lateral bias), over one base net
    col, head = 20 * 12 + 12 + 12 * 8 + 8, 8 * 10 + 10
    assert prog.n_params() == 2 * (col + head) + 12 * 8 + 8 * 10
    assert prog.capacity() == pytest.approx(prog.n_params() / (col + head))
    assert prog.sizes() == [24, 16] and prog.stamps[2] == [20, 24, 16, 10]


def test_column_units():
    assert column_units((312, 128), 0.5) == [156, 64]
    assert column_units((312, 128), 0.001) == [1, 1]


# ----------------------------------------------------------------------------- STL, MTL
def test_stl_separate_networks_heads_and_capacity():
    stl = toy(STL, n_tasks=3)
    outs = {}
    for t in (1, 2, 3):
        stl.learn_task(t)
        x = stl.tasks.task_tensors(t).test_x
        outs[t] = (x, out(stl, t, x))
    nets = stl.networks
    assert [sorted(n.heads) for n in nets.values()] == [[1], [2], [3]]
    ids = [id(v) for n in nets.values() for v in n.variables_for(next(iter(n.heads)))]
    assert len(set(ids)) == len(ids)  # nothing shared
    for t, (x, o) in outs.items():
        assert np.array_equal(out(stl, t, x), o)  # later tasks never touch earlier ones
    base = DENNetwork.base_params(TOY_DIMS)
    assert stl.n_params() == 3 * base and stl.capacity() == 3.0
    assert [r.capacity for r in stl.records] == [1.0, 2.0, 3.0]
    assert stl.sizes() == [36, 24]


def test_mtl_per_example_heads_pooled_batches_and_capacity():
    mtl = toy(MTL, n_tasks=3, max_iter=10)
    for t in (1, 2):
        rec = mtl.learn_task(t)
        assert rec.test_perf is None and rec.capacity is None and mtl.evaluate_all(t) == []
    mtl.learn_task(3)
    mtl.evaluate_all(3)
    net = mtl.network
    assert sorted(net.heads) == [1, 2, 3]
    base = DENNetwork.base_params(TOY_DIMS)
    head = 8 * 10 + 10
    assert mtl.n_params() == base + 2 * head
    assert mtl.capacity() == pytest.approx((base + 2 * head) / base)
    # every example through its own task's head
    x = mtl.tasks.task_tensors(1).test_x[:6]
    task = tf.constant([0, 2, 1, 1, 0, 2])
    params = [v for l in net.hidden + [net.heads[j] for j in (1, 2, 3)]
              for v in (l.kernel, l.bias)]
    got = pooled_forward(net.forward, 2, 3)(params, with_task(x, task)).numpy()
    for i, t in enumerate(task.numpy()):
        want = mlp_logits(net.params_for(int(t) + 1), x[i:i + 1]).numpy()[0]
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-6)
    r = results.build(mtl, 1.0)
    assert r["auroc_matrix"][0] == [None] * 3 and r["auroc_matrix"][1] == [None] * 3
    assert all(v is not None for v in r["auroc_matrix"][2])
    assert r["avg_perf"][:2] == [None, None] and r["bwt_auroc"] is None
    assert r["capacity"][:2] == [None, None] and r["capacity"][2] == mtl.capacity()


def test_pooled_batches_both_paths_match_each_tasks_own():
    """The pooled minibatch: union index g is example g - offset of its task, in that
    task's pixel order. The fast path (shared resident images, permutations) and the
    general path (each task's own train_batch) agree with it."""
    rng = np.random.RandomState(0)
    pixels = tf.constant(rng.randint(0, 256, (50, 12)).astype(np.uint8))
    labels = tf.constant(np.eye(10, dtype=np.float32)[rng.randint(0, 10, 50)])
    perms = [rng.permutation(12).astype(np.int32) for _ in range(3)]
    z = tf.zeros([2, 12])
    parts = [TaskTensors(pixels, labels, z, tf.zeros([2, 10]), z, tf.zeros([2, 10]),
                         Permute(p)) for p in perms]
    fast = PooledTasks(parts)
    assert fast.shared and fast.n_train == 150
    general = PooledTasks(parts)
    general.shared = False
    idx = tf.constant([0, 49, 50, 99, 100, 149, 7, 120])
    (xf, yf), (xg, yg) = fast.batch(idx), general.batch(idx)
    for i, g in enumerate(idx.numpy()):
        t, local = divmod(int(g), 50)
        xw, yw = train_batch(pixels, labels, tf.constant([local]), Permute,
                             {"permutations": tf.constant(perms[t])})
        np.testing.assert_array_equal(xf[i, :-1].numpy(), xw[0].numpy())
        np.testing.assert_array_equal(xg[i, :-1].numpy(), xw[0].numpy())
        assert xf[i, -1] == xg[i, -1] == t
        np.testing.assert_array_equal(yf[i].numpy(), yw[0].numpy())
        np.testing.assert_array_equal(yg[i].numpy(), yw[0].numpy())


# ----------------------------------------------------------------------------- real MNIST
@pytest.fixture(scope="session")
def short_runs(mnist):
    """Every baseline, 3 tasks of real permuted MNIST, max_iter 100, seeded (no XLA:
    quicker to compile; the CLI test runs with it; EWC's Fisher over 300 examples).
    Measured margins: every AUROC checked below is above 0.97; dnn's BWT about -0.09."""
    out = {}
    for m in ("dnn", "l2", "ewc", "progressive", "stl", "mtl"):
        lines = []
        cfg = config_for(DENConfig(max_iter=100, n_tasks=3, train_seed=1, xla=False),
                                 m, **({"ewc_samples": 300} if m == "ewc" else {}))
        out[m] = (api.run(cfg, mnist, log=lines.append), "\n".join(lines))
    return out


@pytest.mark.parametrize("m", ["dnn", "l2", "ewc", "progressive", "stl", "mtl"])
def test_short_real_run_learns(short_runs, m):
    r, log = short_runs[m]
    R = r["auroc_matrix"]
    first = R[-1][0] if m == "mtl" else R[0][0]
    assert first > 0.95 and R[-1][-1] > 0.95
    if m in ("ewc", "progressive", "stl", "mtl"):  # and nothing forgotten
        assert min(R[-1]) > 0.95
    for key in ("auroc_matrix", "accuracy_matrix", "avg_perf", "final_avg_perf",
                "bwt_auroc", "capacity", "units_per_layer", "tasks", "timing"):
        assert key in r
    assert r["config"]["method"] == m and r["final_avg_perf"] == pytest.approx(np.mean(R[-1]))
    assert log.count("TASK 3 TRAINING") == 1 and log.count(" [*] Task: 3, nn_test_loss") == 1
    m_avg = re.findall(r"avg_perf: (\d\.\d{4})", log)
    assert float(m_avg[-1]) == pytest.approx(r["final_avg_perf"], abs=5e-5)
    base = DENNetwork.base_params((784, 312, 128, 10))
    if m in ("dnn", "l2", "ewc", "mtl"):
        assert r["capacity"][-1] == pytest.approx((base + 2 * 1290) / base)
    if m in ("progressive", "stl"):  # nothing learned earlier ever moves
        assert R[-1] == [R[j][j] for j in range(3)] and r["bwt_auroc"] == 0.0
    if m == "stl":
        assert r["capacity"] == [1.0, 2.0, 3.0] and r["units_per_layer"][-1] == [936, 384]
    if m == "mtl":
        assert R[0] == R[1] == [None] * 3 and r["capacity"][:2] == [None, None]
        assert log.count("OVERALL EVALUATION") == 1


def test_l2_and_ewc_forget_less_than_fine_tuning(short_runs):
    bwt = {m: short_runs[m][0]["bwt_auroc"] for m in ("dnn", "l2", "ewc")}
    assert bwt["dnn"] < -0.02 and bwt["l2"] > bwt["dnn"] and bwt["ewc"] > bwt["dnn"]


# ----------------------------------------------------------------------------- command line
def test_cli_method_flag(tmp_path, mnist_dir):
    """One tiny run of main.py with --method=mtl (XLA on: the pooled minibatch compiles),
    and the baselines' refusals."""
    p = run_main([f"--data_dir={mnist_dir}", "--method=mtl", "--n_tasks=2", "--max_iter=100",
                  "--train_seed=1", "--nofigure", f"--log_file={tmp_path / 'a.log'}"],
                 cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    log = (tmp_path / "a.log").read_text()
    assert "no checkpoints: they are DEN's only (--method=mtl)" in log
    assert re.search(r" \[\*\] iter: 200, val loss: \d\.\d{4}, val perf: \d\.\d{4}", log)
    assert " [*] Evaluation, Task:2, test_acc: " in log
    r = json.loads((tmp_path / "a.json").read_text())
    assert r["complete"] is True and r["config"]["method"] == "mtl"
    assert r["auroc_matrix"][0] == [None, None] and min(r["auroc_matrix"][1]) > 0.95
    assert not (tmp_path / "checkpoints").exists()
    for flags, needle in ((["--method=ewc", "--resume"], "--resume"),
                          (["--method=dnn", "--mode=eval"], "--mode=eval"),
                          (["--method=ewc", "--ewc_lambda=-1"], "--ewc_lambda")):
        check(run_main([f"--data_dir={mnist_dir}"] + flags, cwd=str(tmp_path)), 2, needle)


def test_paper_table_quick(tmp_path, mnist_dir):
    out = tmp_path / "pt"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-m", "den_tf.experiments.paper_table", f"--data_dir={mnist_dir}",
                        "--methods=stl,dnn", "--seeds=1", "--n_tasks=2", "--max_iter=50",
                        f"--out={out}"], cwd=str(tmp_path), env=env, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = (out / "table.md").read_text().splitlines()
    head = next(i for i, l in enumerate(lines) if l.startswith("| method | final mean AUROC"))
    rows = lines[head + 2:lines.index("", head)]
    assert [r.split(" | ")[0] for r in rows] == ["| DNN-STL", "| DNN"]  # the paper's order
    assert all(re.match(r"\| DNN(-STL)? \| \d\.\d{4} \(one seed\) \|", r) for r in rows)
    stl, dnn = rows
    assert "| 0.9994 |" in stl and "not in the paper's list" in dnn
    assert "| 2.00x |" in stl and "| 1/1 |" in stl
    js = json.loads((out / "table.json").read_text())
    res = json.loads((out / "runs" / "method=stl__train_seed=1" / "results.json").read_text())
    assert js["rows"][0]["final_auroc"] == res["final_avg_perf"]
    assert (out / "figure.png").stat().st_size > 1000


def test_selection_rule():
    from den_tf.experiments.select_baselines import choose
    rows = [{"value": v, "val_auroc": a} for v, a in
            ((0.125, 0.990), (0.25, 0.9952), (0.5, 0.9960), (1.0, 0.9958))]
    assert choose("progressive", rows) == 0.25  # smallest within 0.001 of the best
    assert choose("progressive", rows, tolerance=0.0001) == 0.5
    assert choose("ewc", rows) == 0.5 and choose("l2", rows[:2]) == 0.25


# ----------------------------------------------------------------------------- --paper
def built_biases(m, t):
    """The biases of task t's layers once method `m` built what task t needs (MTL builds
    its one network when the last task comes: build_network and add_head, as it does);
    progressive's laterals carry no bias (a zero vector that never trains) by design."""
    if isinstance(m, MTL):
        m.build_network(1) if t == 1 else m.add_head(t)
        layers = m.network.layers_for(t)
    else:
        m.begin_task(t, m.tasks.task_tensors(t))
        layers = m.layers_for(t) if isinstance(m, Progressive) else (
            m.networks[t] if isinstance(m, STL) else m.network).layers_for(t)
    return [l.bias.numpy() for l in layers if "lateral" not in l.name]


@pytest.mark.parametrize("cls", [DNN, L2, EWC, Progressive, STL, MTL])
def test_paper_q2_zero_biases_in_every_network_a_baseline_builds(cls):
    """--paper=Q2 with a baseline: every bias of the networks it builds (task 1's and a
    later task's) starts at zero; without it, the biases are drawn (glorot)."""
    for paper in ((), ("Q2",)):
        m = toy(cls, n_tasks=2, paper=paper)
        for t in (1, 2):
            zero = [not np.any(b) for b in built_biases(m, t)]
            assert zero and (all(zero) if paper else not any(zero)), (cls.name, paper, t)


@pytest.mark.parametrize("paper", ["Q6", "Q2,Q9", "all"])
def test_paper_switches_of_den_refused_with_a_baseline(tmp_path, mnist_dir, paper):
    p = run_main([f"--data_dir={mnist_dir}", "--method=stl", f"--paper={paper}",
                  "--max_iter=10"], cwd=str(tmp_path))
    check(p, 2, "--paper=", ": not followed by --method=stl", "which follows Q2")
    refused = re.search(r"--paper=[^:]*: ([^:]*): not followed by", p.stderr).group(1)
    assert refused.split(", ") == [q for q in parse_paper(paper.split(",")) if q != "Q2"]
