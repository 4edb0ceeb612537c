"""Network split and duplication: algorithm.md#split (paper Sec. 3, "Network split/duplication",
Eq. 4).

* `choose_units`: per hidden layer, the drift of every old unit j is
  ||prev[:, j] - now[:rows of prev, j]||_2 over its incoming weights (a filter's: its
  whole kernel over the old input channels); candidates drift more than spl_thr
  (spl_thr_conv for a convolutional layer, paper Sec. 4); of them the ex_k with the
  SMALLEST drift are chosen (Q8; the paper's Q8: every candidate). A duplicated filter's
  copy takes its input channels (or flatten block) in the layer above along.
* `duplicate`: every old block of every hidden layer is reset to its task-start value
  (Q9), then each chosen unit gets a copy appended at the end of its layer, in ascending
  unit order: its incoming column (and the copied rows for the copies of the layer
  below), and a bias drawn from U[0, 1) (Q10; the paper's Q10: the original's bias).
  The task's head gains glorot rows for the copies of top-layer units.
  With the paper's Q9 (paper Sec. 3, "Network split/duplication": the copy takes the
  drifted values, the original is restored) nothing is reset wholesale: the copies are
  made from the retrained values, then only the chosen units' incoming weights and
  biases go back to their task-start values (`restore_units`); the other old units keep
  their retrained values.
* Then every hidden weight and bias and the task's head train for max_iter iterations,
  with iteration lines and the pull toward the task-start values on the old block (paper
  Eq. 4), even when nothing was split (Q11; the paper's Q11: with nothing split the step
  does not train, and the old blocks are reset or kept as Q9 says, faithful or paper's).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from den_tf.den.context import PhaseContext
from den_tf.engine.runner import PhaseSpec
from den_tf.io import loglines
from den_tf.model.network import DENNetwork


def drift(prev_w: np.ndarray, now_w: np.ndarray) -> np.ndarray:
    """L2 distance of every old unit's incoming weights from their task-start values
    (over every axis but the last: a filter's whole kernel)."""
    d = prev_w - now_w[tuple(slice(0, n) for n in prev_w.shape)]
    if d.ndim > 2:
        d = d.reshape(-1, d.shape[-1])
    return np.linalg.norm(d, axis=0)


def choose_units(net: DENNetwork, prev, spl_thr: float, ex_k: int, log=None,
                 all_candidates: bool = False, spl_thr_conv: Optional[float] = None) -> tuple:
    """Units to duplicate per hidden layer, in the order chosen (smallest drift first),
    and the number of candidates per layer. Q8: the ex_k least-drifted candidates;
    `all_candidates` (the paper's Q8): every unit that drifted above its threshold:
    spl_thr for dense layers, spl_thr_conv (default: spl_thr) for convolutional ones."""
    threshold = {"dense": spl_thr, "conv": spl_thr if spl_thr_conv is None else spl_thr_conv}
    chosen, n_candidates = [], []
    for i, layer in enumerate(net.hidden):
        d = drift(prev[i][0], layer.kernel.numpy())
        candidates = np.flatnonzero(d > threshold[layer.KIND])
        pick = np.argsort(d[candidates])
        if not all_candidates:
            pick = pick[:ex_k]  # Q8: the least-drifted candidates
        if log is not None:
            log(loglines.split_count(i + 1, len(pick), len(candidates)))
        chosen.append(candidates[pick])
        n_candidates.append(len(candidates))
    return chosen, n_candidates


def reset_old_blocks(net: DENNetwork, prev) -> None:
    """Q9: old blocks back to their task-start values (what selective retraining changed
    in old units is discarded; new units' weights stay)."""
    for layer, (pw, pb) in zip(net.hidden, prev):
        w, b = layer.numpy()
        w[tuple(slice(0, n) for n in pw.shape)] = pw
        b[: pb.shape[0]] = pb
        layer.assign(w, b)


def restore_units(net: DENNetwork, prev, chosen: Sequence[np.ndarray]) -> None:
    """The paper's Q9: the chosen (split) units' incoming weights and biases go back to
    their task-start values; every other value stays."""
    for layer, (pw, pb), idx in zip(net.hidden, prev, chosen):
        if len(idx) == 0:
            continue
        w, b = layer.numpy()
        w[tuple(slice(0, n) for n in pw.shape[:-1]) + (idx,)] = pw[..., idx]
        b[idx] = pb[idx]
        layer.assign(w, b)


def duplicate(ctx: PhaseContext, chosen: Sequence[np.ndarray]) -> None:
    """Appends a copy of every chosen unit (ascending order) and head rows for them.
    A copy's bias is drawn from U[0, 1) (Q10), or is its original's (the paper's Q10)."""
    net, t = ctx.network, ctx.task
    for i, layer in enumerate(net.hidden):
        if i > 0:
            layer.duplicate_inputs(chosen[i - 1])
        if ctx.follows_paper("Q10"):
            bias = layer.bias.numpy()[np.sort(np.asarray(chosen[i], np.int64))]
        else:
            bias = ctx.init.duplicate_bias(f"t{t}/split/b{i + 1}", len(chosen[i]))
        layer.duplicate_units(chosen[i], bias, t)
    head = net.heads[t]
    n = len(chosen[-1])
    head.append_inputs(ctx.init.glorot(f"t{t}/split/head_rows", head.input_block_shape(n)))


def split_spec(net: DENNetwork, task: int, prev) -> PhaseSpec:
    """Step 8's phase: every hidden weight and bias and the task's head train, pulled
    toward the task-start values on the old block, with iteration lines (Q11)."""
    for layer in net.layers_for(task):
        layer.set_trainable(True, True)
    return PhaseSpec(task, "split", net.layers_for(task),
                     prev={i: prev[i] for i in range(net.n_hidden)}, forward=net.forward)


def split_and_duplicate(ctx: PhaseContext, prev) -> tuple:
    """Step 8; returns the duplicated units per hidden layer (in the order chosen) and
    the number of candidates per layer."""
    net, t = ctx.network, ctx.task
    ctx.log(loglines.SPLIT)
    chosen, n_candidates = choose_units(net, prev, ctx.spl_thr, ctx.ex_k, ctx.log,
                                        all_candidates=ctx.follows_paper("Q8"),
                                        spl_thr_conv=ctx.spl_thr_conv)
    if ctx.follows_paper("Q11") and not any(len(c) for c in chosen):
        # Q11 decides only whether the step trains; the old blocks still go back to their
        # task-start values as Q9 says (the paper's Q9 restores only split units: none)
        if not ctx.follows_paper("Q9"):
            reset_old_blocks(net, prev)
        ctx.log(loglines.ours(f"task {t}: nothing split: no retraining (paper, Q11)"))
        return chosen, n_candidates
    if ctx.follows_paper("Q9"):
        duplicate(ctx, chosen)  # copies of the retrained units
        restore_units(net, prev, chosen)
    else:
        reset_old_blocks(net, prev)
        duplicate(ctx, chosen)
    result = ctx.run(split_spec(net, t, prev))
    _, perf = ctx.last_runner.validate(ctx.data, with_perf=True)
    ctx.log(loglines.split_done(result.last_loss, perf, result.repeated))
    return chosen, n_candidates
