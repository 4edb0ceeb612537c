"""`--paper`: every departure of the original from the paper (spec "What the paper says
instead", Q2..Q12) as a switch, each checked to do what the paper says and to be off by
default; and float32 numerics (TF32 off unless asked)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from den_tf.config import PAPER_SWITCHES, DENConfig, parse_paper
from den_tf.datasets.streams import TaskSet
from den_tf.den.context import PhaseContext
from den_tf.den.expansion import expand
from den_tf.den.selective import head_spec, select_units, selective_retraining, subnetwork
from den_tf.den.split import choose_units, split_and_duplicate
from den_tf.den.trainer import default_init
from den_tf.engine import numerics
from den_tf.engine.randomness import RandomBatches, RandomInit
from den_tf.engine.runner import PhaseResult, PhaseRunner
from den_tf.errors import ConfigError
from den_tf.model.layers import DenDense
from den_tf.model.network import DENNetwork
from tests.conftest import run_main
from tests.helpers import toy_hyper, toy_init, toy_network, toy_task


# ----------------------------------------------------------------------------- parsing
def test_paper_list_parses_all_and_rejects_unknown():
    assert parse_paper(["all"]) == tuple(PAPER_SWITCHES)
    assert parse_paper(["q6", "Q4"]) == ("Q4", "Q6")
    assert parse_paper([]) == () and DENConfig().paper == ()
    with pytest.raises(ConfigError, match="unknown switch 'Q14'"):
        parse_paper(["Q14"])
    # a config takes the switches in any order and keeps them sorted, as the flag does
    assert DENConfig(paper=("Q6", "q4")).validate().paper == ("Q4", "Q6")
    with pytest.raises(ConfigError, match="unknown switch 'Q99'"):
        DENConfig(paper=("Q6", "Q99")).validate()


def test_bad_paper_flag_is_one_line(tmp_path, mnist_dir):
    p = run_main([f"--data_dir={mnist_dir}", "--paper=Q4,Q99"], cwd=str(tmp_path))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "Q99" in p.stderr and len(p.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- helpers
def ctx_for(net, task=2, paper=(), init=None, data=None, k=2, spl_thr=0.05):
    return PhaseContext(task, net, toy_hyper(max_iter=30), data or toy_task(),
                        RandomBatches(400, 32, seed=3), init or toy_init(7), lambda s: None,
                        ex_k=k, spl_thr=spl_thr, paper=paper)


def net_with_task2_head(seed=0):
    net = toy_network(seed=seed)
    net.stamps[1] = net.stamp(1)
    init = toy_init(seed + 11)
    net.add_head(2, init.glorot("h", (8, 10)), init.glorot("hb", (10,)))
    return net


def no_training(ctx):
    """Replaces the phase runner by a no-op (to look at a phase's set-up alone)."""
    ran = []

    class Validated:
        def validate(self, data, with_perf):
            return 0.0, 0.5

    def run(spec):
        ran.append(spec.name)
        ctx.last_runner = Validated()
        return PhaseResult(0.0, 0.0, [])
    ctx.run = run
    return ran


# ----------------------------------------------------------------------------- Q2
def test_q2_zero_biases_for_new_units_and_heads_only_when_asked():
    class Fixed(RandomInit):
        def glorot(self, key, shape):
            return np.full(shape, 0.25, np.float32)
    for zero, want in ((False, 0.25), (True, 0.0)):
        init = Fixed(np.random.RandomState(0), np.random.RandomState(1), zero_bias=zero)
        net = DENNetwork.create((20, 12, 8, 10), init)
        assert all(np.all(l.bias.numpy() == want) for l in net.hidden + [net.heads[1]])
        assert all(np.all(l.kernel.numpy() == 0.25) for l in net.hidden)
        ctx = ctx_for(net, task=1, init=init)
        net.add_head(2, init.glorot("h", (8, 10)), init.bias("hb", (10,)))
        ctx.task = 2
        no_training(ctx)
        expand(ctx)
        for l in net.hidden:
            assert np.all(l.bias.numpy()[l.birth == 2] == want)


def test_q2_default_init_follows_the_config(mnist):
    tasks = TaskSet(mnist, [np.arange(784)], np.random.RandomState(0))
    assert default_init(DENConfig(train_seed=1), tasks).zero_bias is False
    assert default_init(DENConfig(train_seed=1, paper=("Q2",)), tasks).zero_bias is True


# ----------------------------------------------------------------------------- Q4
@pytest.mark.parametrize("paper_q4,steps,iters", [(False, 1, 100.0), (True, 99, 99.0)])
def test_q4_head_phase_length(paper_q4, steps, iters):
    net = net_with_task2_head()
    spec = head_spec(net, 2, 990, paper_q4=paper_q4)
    res = PhaseRunner(spec, toy_hyper(max_iter=990), xla=False).run(
        toy_task(), RandomBatches(400, 32, 0))
    assert res.steps == steps and res.iters == iters


# ----------------------------------------------------------------------------- Q5
def test_q5_selection_reads_every_output_when_asked():
    w1 = np.ones((4, 3), np.float32)
    w2 = np.array([[1, 0], [0, 0], [0, 2]], np.float32)
    head = np.array([[0.5, 0.0], [0.0, 9.0]], np.float32)  # h2 unit 1 feeds output 1 only
    net = DENNetwork([DenDense(w1, np.zeros(3), np.ones(3, int)),
                      DenDense(w2, np.zeros(2), np.ones(2, int))])
    net.add_head(2, head, np.zeros(2))
    assert [s.tolist() for s in select_units(net, 2)[1:]] == [[0], [0]]
    assert [s.tolist() for s in select_units(net, 2, any_output=True)[1:]] == [[0, 2], [0, 1]]


# ----------------------------------------------------------------------------- Q6, Q7
@pytest.mark.parametrize("paper", [(), ("Q6",)])
def test_q6_selective_retraining_trains_the_full_head_when_asked(paper):
    net = net_with_task2_head()
    ctx = ctx_for(net, paper=paper)
    before = net.heads[2].kernel.numpy()
    prev = net.hidden_values()
    ctx.run(head_spec(net, 2, 30))  # step 1 as the trainer runs it (one step)
    after_head = net.heads[2].kernel.numpy()
    sel = select_units(net, 2, any_output=True)
    sub, sub_prev = subnetwork(net, 2, sel, prev, full_head="Q6" in paper)
    assert sub[-1].kernel.shape[1] == (10 if paper else 1)
    from den_tf.den.selective import selective_spec, union
    ctx.run(selective_spec(2, sub, sub_prev, net.forward))
    union(net, 2, sel, sub)
    after = net.heads[2].kernel.numpy()
    changed = np.any(after[sel[-1]] != after_head[sel[-1]], axis=0)
    assert changed[0]
    if paper:
        assert changed.all()  # every column of the new head trained
    else:
        assert not changed[1:].any()  # only column 0 (Q6)
    assert not np.array_equal(before, after)


def test_q7_decision_on_validation_ce_of_the_retrained_network():
    lines = []
    for paper in ((), ("Q7",)):
        net = toy_network(seed=2)
        net.stamps[1] = net.stamp(1)
        ctx = ctx_for(net, paper=paper)
        ctx.log = lines.append
        loss, _ = selective_retraining(ctx, net.hidden_values())
        last = ctx.results["t2_selective"].last_loss
        val, _ = ctx.last_runner.validate(ctx.data, with_perf=False)
        if paper:
            assert loss == val and loss != last
        else:
            assert loss == last and loss != val
    assert sum("(paper, Q7)" in l for l in lines) == 1


# ----------------------------------------------------------------------------- Q8..Q11
def split_net():
    """Layer 1: 5 old units drifted by 0.01, 0.2, 0.09, 0.5, 0.07 from prev; layer 2 none."""
    rng = np.random.RandomState(0)
    pw1 = rng.randn(3, 5).astype(np.float32)
    w1 = pw1.copy()
    w1[0] += [0.01, 0.2, 0.09, 0.5, 0.07]
    pw2 = rng.randn(5, 2).astype(np.float32)
    prev = [(pw1, np.zeros(5, np.float32)), (pw2, np.zeros(2, np.float32))]
    b1 = np.float32([0.1, 0.2, 0.3, 0.4, 0.5])
    net = DENNetwork([DenDense(w1, b1, np.ones(5, int)),
                      DenDense(pw2 + 0.001, np.zeros(2), np.ones(2, int))])
    net.add_head(2, np.ones((2, 10), np.float32), np.zeros(10))
    return net, prev


@pytest.mark.parametrize("paper,want", [((), [4, 2]), (("Q8",), [4, 2, 1, 3])])
def test_q8_every_unit_above_the_threshold_is_split_when_asked(paper, want):
    net, prev = split_net()
    chosen, n = choose_units(net, prev, spl_thr=0.05, ex_k=2, all_candidates=bool(paper))
    assert chosen[0].tolist() == want and n == [4, 0]


def test_q9_q10_faithful_resets_then_copies_with_random_bias():
    net, prev = split_net()
    w_now = net.hidden[0].kernel.numpy()
    ctx = ctx_for(net, init=toy_init(4), k=2)
    no_training(ctx)
    chosen, _ = split_and_duplicate(ctx, prev)
    k, b = net.hidden[0].numpy()
    np.testing.assert_array_equal(k[:, :5], prev[0][0])  # Q9: every old unit reset
    np.testing.assert_array_equal(k[:, 5:], prev[0][0][:, [2, 4]])  # copies of reset values
    assert not np.allclose(k[:, 5:], w_now[:, [2, 4]])
    want_bias = np.random.RandomState(5).rand(2).astype(np.float32)  # toy_init(4)'s dup rng
    np.testing.assert_array_equal(b[5:], want_bias)  # Q10: U[0, 1)


@pytest.mark.parametrize("paper", [("Q9",), ("Q9", "Q10"), ("Q10",)])
def test_q9_q10_as_the_paper_says(paper):
    net, prev = split_net()
    w_now, b_now = net.hidden[0].numpy()
    ctx = ctx_for(net, init=toy_init(4), k=2, paper=paper)
    no_training(ctx)
    split_and_duplicate(ctx, prev)
    k, b = net.hidden[0].numpy()
    if "Q9" in paper:
        np.testing.assert_array_equal(k[:, [2, 4]], prev[0][0][:, [2, 4]])  # restored
        np.testing.assert_array_equal(k[:, [0, 1, 3]], w_now[:, [0, 1, 3]])  # kept new
        np.testing.assert_array_equal(k[:, 5:], w_now[:, [2, 4]])  # copies keep new
        np.testing.assert_array_equal(b[:5], np.r_[b_now[:2], prev[0][1][2], b_now[3],
                                                   prev[0][1][4]].astype(np.float32))
    else:
        np.testing.assert_array_equal(k[:, :5], prev[0][0])
    if "Q10" in paper:  # the copy's bias is its original's (as it was when copied)
        src = b_now if "Q9" in paper else prev[0][1]
        np.testing.assert_array_equal(b[5:], src[[2, 4]])


@pytest.mark.parametrize("paper,trained,reset", [
    ((), True, True), (("Q11",), False, True), (("Q9", "Q11"), False, False),
    (("Q9",), True, False)])
def test_q11_no_retraining_when_nothing_is_split_q9_independent(paper, trained, reset):
    """Q11 decides only whether the step trains; whether the old blocks go back to their
    task-start values is Q9's alone (faithful Q9: reset; the paper's: only split units
    are restored, none here), with or without Q11."""
    net, prev = split_net()
    values = [l.numpy() for l in net.hidden]
    ctx = ctx_for(net, k=2, paper=paper, spl_thr=10.0)  # nothing drifts that far
    ran = no_training(ctx)
    chosen, _ = split_and_duplicate(ctx, prev)
    assert not any(len(c) for c in chosen)
    assert (ran == ["t2_split"]) is trained
    for l, (k, b), (pk, pb) in zip(net.hidden, values, prev):
        want_k, want_b = (pk, pb) if reset else (k, b)
        np.testing.assert_array_equal(l.kernel.numpy(), want_k)
        np.testing.assert_array_equal(l.bias.numpy(), want_b)
    assert not np.array_equal(values[0][0], prev[0][0])  # (the reset is visible)


def test_q12_stamp_output_size():
    net = toy_network()
    assert net.stamp(1)[-1] == 10 and net.stamp(1, 7)[-1] == 7


# ----------------------------------------------------------------------------- end to end
def test_no_expansion_path_warns_and_paper_q6_learns(tmp_path, mnist_dir):
    """--loss_thr=1.0 (never expand): the faithful head of task 2 is trained in one
    column (Q6) and a warning line says so; with --paper=Q6 the task really learns."""
    auroc = {}
    for name, extra in (("faithful", []), ("q6", ["--paper=Q6"])):
        p = run_main([f"--data_dir={mnist_dir}", "--n_tasks=2", "--max_iter=400",
                      "--train_seed=3", "--loss_thr=1.0", "--checkpoints=false",
                      "--figure=false", f"--log_file={tmp_path / name}.log"] + extra,
                     cwd=str(tmp_path))
        assert p.returncode == 0, p.stderr[-2000:]
        log = (tmp_path / f"{name}.log").read_text()
        warned = " [den_tf] warning: task 2 did not expand" in log and "--paper=Q6" in log
        assert warned is (name == "faithful")
        auroc[name] = json.loads((tmp_path / f"{name}.json").read_text())["auroc_matrix"][1][1]
    assert auroc["faithful"] < 0.6 and auroc["q6"] > 0.75, auroc


def test_tf32_off_by_default_and_on_when_asked(tmp_path, mnist_dir):
    assert "full float32" in numerics.configure(False)
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    assert "TF32 allowed" in numerics.configure(True)
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    numerics.configure(False)
    for name, extra, want in (("a", [], "full float32 (TF32 off)"),
                              ("b", ["--tf32"], "TF32 allowed")):
        p = run_main([f"--data_dir={mnist_dir}", "--n_tasks=1", "--max_iter=1",
                      "--checkpoints=false", "--figure=false", f"--log_file={name}.log"] + extra,
                     cwd=str(tmp_path))
        assert p.returncode == 0, p.stderr[-2000:]
        first = (tmp_path / f"{name}.log").read_text().splitlines()[0]
        assert first.startswith(" [den_tf] den_tf on TensorFlow") and want in first
