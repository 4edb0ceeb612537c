"""Step-level equivalence with the recordings of the original code ($DEN_TF_TRACE, else
../shared/trace).

Tolerances, and why:
* Phase end values: every entry within 1e-3 and the mean absolute difference below
  1e-5 (5e-5 in expansion). Both programs run the same float32 arithmetic in a different
  order, so pre-activations differ in the last bits; where one sits at ~0, its relu
  flips for that example, and Adam, which normalises every entry's gradient, turns that
  into a step difference of up to about lr (1e-3) on the entries it touches. Perturbing
  our own start values by one ulp moves the recorded phases' end values by as much
  (measured: up to 3e-4 in t2_split of the prune/split recording). The expansion phase
  is looser because the original races L1 against group lasso there (spec Q14: reruns
  of the original itself differ by up to ~1e-3).
* Frozen entries: exactly equal (the port never touches them).
* Last-minibatch CE: within 1e-3. Printed AUROC and CE: within 1e-3; sparsity (a count
  of exact zeros, which L1 makes at a threshold) within 1e-4.
* Decisions (selected, pruned and split units, timestamps): exactly equal. In the
  free-running sequence, differences accumulate across tasks (the split phases are
  sensitive at the ulp level, see above; by task 3 of the prune/split recording, drifts
  differ by a few 1e-4), so a split decision may differ there, but only for units whose
  recorded drift lies within 1e-3 of the threshold or of the ex_k-th candidate's drift;
  the tasks after such a difference are different networks, and their figures are
  compared in the task-by-task replay instead, which starts every task from the
  recorded end of the previous one.
"""

import os

import numpy as np
import pytest

from den_tf import api, trace
from den_tf.data import make_tasks
from den_tf.phases.context import PhaseContext
from den_tf.phases.expansion import expansion_spec, prune
from den_tf.phases.first_task import first_task_spec
from den_tf.phases.selective import head_spec, select_units, selective_spec, subnetwork
from den_tf.phases.split import choose_units, split_spec
from den_tf.runner import Hyper, PhaseRunner, TaskTensors
from den_tf.trainer import DENTrainer

RECORDINGS = {"trace_default.npz": 2, "trace_prune_split.npz": 3}
PHASES = [(name, "t1_train") for name in RECORDINGS] + [
    (name, f"t{t}_{p}") for name, n in RECORDINGS.items() for t in range(2, n + 1)
    for p in ("head", "selective", "expand", "split")]
NOISE = 1e-3


@pytest.fixture(scope="module")
def recordings(trace_dir):
    return {name: trace.load(os.path.join(trace_dir, name)) for name in RECORDINGS}


def names(L, task):
    return ([(f"layer{l}/weight", f"layer{l}/biases") for l in range(1, L + 1)]
            + [(f"layer{L + 1}/weight_{task}", f"layer{L + 1}/biases_{task}")])


@pytest.mark.parametrize("recording,phase", PHASES)
def test_phase_replay(recordings, mnist, recording, phase):
    z = recordings[recording]
    cfg = trace.trace_config(z)
    task, kind = int(phase[1:].split("_")[0]), phase.split("_", 1)[1]
    L = trace.n_hidden(z)
    tasks = make_tasks(mnist, cfg.tasks, cfg.task_seed)
    data = TaskTensors.build(mnist, tasks.permutations[task - 1])
    if kind == "selective":
        sel = [trace.indices(z, f"t{task}_select/layer{l}") for l in range(1, L + 2)]
        layers, sub_prev = subnetwork(trace.network_at(z, f"t{task}_head", "end"), task, sel,
                                      trace.prev_values(z, task))
        spec = selective_spec(task, layers, sub_prev)
    else:
        net = trace.network_at(z, phase, "start")
        spec = {"train": lambda: first_task_spec(net, task),
                "head": lambda: head_spec(net, task, cfg.max_iter),
                "expand": lambda: expansion_spec(net, task),
                "split": lambda: split_spec(net, task, trace.prev_values(z, task))}[kind]()
        layers = net.layers_for(task)
    for layer, (wn, bn) in zip(layers, names(L, task)):  # the start is the recorded one
        np.testing.assert_array_equal(layer.kernel.numpy(), z[f"{phase}/start/{wn}:0"][: layer.n_in])
    masks = [(np.broadcast_to(l.kernel_mask, l.kernel.shape), np.broadcast_to(l.bias_mask, l.bias.shape))
             for l in layers]
    starts = [l.numpy() for l in layers]
    result = PhaseRunner(spec, Hyper.from_config(cfg, len(mnist.train)), cfg.xla).run(
        data, trace.trace_batches(z))

    assert result.iters == float(z[f"{phase}/iters"])
    assert result.last_loss == pytest.approx(float(z[f"{phase}/last_loss"]), abs=1e-3)
    max_tol, mean_tol = (1e-3, 5e-5) if kind == "expand" else (1e-3, 1e-5)
    for layer, (wn, bn), (km, bm), start in zip(layers, names(L, task), masks, starts):
        for got, key, mask, before in ((layer.kernel.numpy(), wn, km, start[0]),
                                       (layer.bias.numpy(), bn, bm, start[1])):
            want = z[f"{phase}/end/{key}:0"][: got.shape[0]]
            diff = np.abs(got - want)
            assert diff.max() <= max_tol, (key, diff.max())
            assert diff.mean() <= mean_tol, (key, diff.mean())
            assert np.array_equal(got[~mask], before[~mask]), key  # frozen: untouched


@pytest.mark.parametrize("recording", list(RECORDINGS))
def test_decisions_on_recorded_values(recordings, recording):
    """Selection (step 2), pruning (step 7) and split choice (step 8, Q8) computed from
    the recorded values give exactly the recorded units, in the recorded order."""
    z = recordings[recording]
    cfg = trace.trace_config(z)
    L = trace.n_hidden(z)
    for t in range(2, cfg.tasks + 1):
        sel = select_units(trace.network_at(z, f"t{t}_head", "end"), t)
        for l in range(L + 1):
            np.testing.assert_array_equal(sel[l], trace.indices(z, f"t{t}_select/layer{l + 1}"))
        net = trace.network_at(z, f"t{t}_expand", "end")
        ctx = PhaseContext(t, net, None, None, None, None, lambda s: None, ex_k=cfg.ex_k)
        _, deleted = prune(ctx, repeated=cfg.max_iter)
        for l in range(L):
            assert deleted[l].tolist() == trace.indices(z, f"t{t}_prune/layer{l + 1}").tolist()
        chosen, _ = choose_units(net, trace.prev_values(z, t), cfg.spl_thr, cfg.ex_k)
        for l in range(L):
            assert chosen[l].tolist() == trace.indices(z, f"t{t}_split_units/layer{l + 1}").tolist()


def check_task(z, rec, t, exact_split=True):
    L = len(rec.sizes)
    assert rec.stamp == [int(s) for s in z[f"t{t}_stamp"]]
    assert rec.test_perf == pytest.approx(float(z[f"t{t}_test_perf"]), abs=1e-3)
    assert rec.test_loss == pytest.approx(float(z[f"t{t}_test_loss"]), abs=1e-3)
    assert rec.sparsity == pytest.approx(float(z[f"t{t}_sparsity"]), abs=1e-4)
    if t > 1:
        for l in range(L + 1):
            assert rec.selection[l] == trace.indices(z, f"t{t}_select/layer{l + 1}").tolist()
        for l in range(L):
            assert rec.pruned[l] == trace.indices(z, f"t{t}_prune/layer{l + 1}").tolist()
            if exact_split:
                assert rec.split_units[l] == trace.indices(z, f"t{t}_split_units/layer{l + 1}").tolist()


@pytest.mark.parametrize("recording", list(RECORDINGS))
def test_task_by_task_replay(recordings, mnist, recording):
    """Every task run whole (all its phases and decisions are ours), starting from the
    recorded end of the previous task: same decisions, same printed figures."""
    z = recordings[recording]
    cfg = trace.trace_config(z)
    tasks = make_tasks(mnist, cfg.tasks, cfg.task_seed)
    for t in range(1, cfg.tasks + 1):
        tr = DENTrainer(cfg, tasks, trace.trace_batches(z), trace.TraceInit(z))
        if t > 1:
            tr.network, tr.done = trace.network_after(z, t - 1), t - 1
        check_task(z, tr.learn_task(t), t)
        for j, s in enumerate(tr.evaluate_all(t), start=1):
            assert s.auroc == pytest.approx(float(z[f"eval_after_t{t}/task{j}"]), abs=1e-3)


def marginal_units(z, t, layer, cfg):
    """Units whose recorded drift lies within NOISE of the split threshold or of the
    cut between the ex_k-th and the next candidate: the units that float noise of the
    size a free run accumulates can move across a split decision."""
    prev = z[f"t{t - 1}_params/layer{layer}/weight:0"]
    now = z[f"t{t}_expand/end/layer{layer}/weight:0"][: prev.shape[0], : prev.shape[1]]
    d = np.linalg.norm(prev - now, axis=0)
    cand = np.sort(d[d > cfg.spl_thr])
    cut = cand[min(cfg.ex_k, len(cand)) - 1] if len(cand) else cfg.spl_thr
    near = (np.abs(d - cfg.spl_thr) <= NOISE) | (np.abs(d - cut) <= NOISE)
    return set(np.flatnonzero(near).tolist())


@pytest.mark.parametrize("recording", list(RECORDINGS))
def test_whole_recorded_sequence(recordings, mnist, recording):
    """All tasks chained, free-running, with the recorded minibatches and initial values."""
    z = recordings[recording]
    cfg = trace.trace_config(z)
    lines = []
    out = api.run(cfg, mnist, batches=trace.trace_batches(z), init=trace.TraceInit(z),
                  log=lines.append)
    recs = {r["task"]: r for r in out["tasks"]}
    diverged = False
    for t in range(1, cfg.tasks + 1):
        r = recs[t]
        assert r["stamp"] == [int(s) for s in z[f"t{t}_stamp"]]
        if t > 1:
            for l in range(trace.n_hidden(z)):
                assert r["pruned"][l] == trace.indices(z, f"t{t}_prune/layer{l + 1}").tolist()
                rec_units = trace.indices(z, f"t{t}_split_units/layer{l + 1}").tolist()
                if r["split_units"][l] != rec_units:
                    differ = set(r["split_units"][l]) ^ set(rec_units)
                    assert differ <= marginal_units(z, t, l + 1, cfg), differ
                    diverged = True
        if not diverged:
            assert r["test_perf"] == pytest.approx(float(z[f"t{t}_test_perf"]), abs=1e-3)
            assert r["sparsity"] == pytest.approx(float(z[f"t{t}_sparsity"]), abs=1e-4)
            for j in range(1, t + 1):
                assert out["auroc_matrix"][t - 1][j - 1] == pytest.approx(
                    float(z[f"eval_after_t{t}/task{j}"]), abs=1e-3)
    if recording == "trace_default.npz":
        assert not diverged
    assert "\n".join(lines).count(" TRAINING\n") == cfg.tasks
