"""Selective retraining: algorithm.md#selective-retraining (paper Sec. 3, "Selective
retraining", Eq. 1-2).

1. `train_new_head`: a new glorot head for the task; only it trains. The original means
   max_iter/10 iterations but starts its counter AT max_iter/10 and stops after the first
   step: exactly one step (Q4). With the paper's Q4 (paper Sec. 3, "Selective
   retraining": a sparse linear model on the top hidden units, Eq. 1 with L1) it trains
   max_iter/10 steps, the counter from 0, with L1 as every phase.
2. `select_units`: top hidden units j with head[j, 0] != 0 (output column 0 only, Q5;
   the paper's Q5: any output); below, the units with any nonzero weight into the
   selected units above; all inputs.
3. `subnetwork` + training: the selected blocks only, with head column 0 serving all
   outputs (Q6; the paper's Q6: the full head); everything in it trains, max_iter
   iterations without prints, pulled toward the task-start weights of the same blocks
   (paper Eq. 2).
4. `union`: the retrained blocks are written back into the full network.

`selective_retraining` runs the four and returns the loss that decides whether the
network expands (algorithm.md#expansion-decision): the CE of the last minibatch of step 3
(Q7), or, with the paper's Q7, the retrained subnetwork's CE on the validation set.

Convolutional layers (den_tf/model/conv.py) are selected the same way: a filter is selected
when any of its weights into a selected unit (or filter) above is nonzero; for the first
dense layer, any weight of its flatten block of rows. The subnetwork is made of the same
kinds of layers, cut to the selected units, and runs through the network's own forward.
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

from den_tf.den.context import PhaseContext
from den_tf.engine.runner import PhaseResult, PhaseSpec
from den_tf.io import loglines
from den_tf.model.layers import DenDense, DenLayer
from den_tf.model.network import DENNetwork


def head_spec(net: DENNetwork, task: int, max_iter: int, paper_q4: bool = False) -> PhaseSpec:
    """Step 1's phase: only the task's head trains, one step, the counter starting at
    max_iter / 10 (Q4); with the paper's Q4, from 0 to max_iter / 10."""
    for layer in net.hidden:
        layer.freeze()
    net.heads[task].set_trainable(True, True)
    if paper_q4:
        return PhaseSpec(task, "head", net.layers_for(task), stop_iter=max_iter / 10.0,
                         forward=net.forward)
    return PhaseSpec(task, "head", net.layers_for(task), start_iter=max_iter / 10.0,
                     one_step=True, forward=net.forward)


def train_new_head(ctx: PhaseContext) -> PhaseResult:
    """Step 1: a new glorot head for the task, trained alone."""
    net, t = ctx.network, ctx.task
    rows = net.hidden[-1].n_out
    n_out = ctx.n_outputs if ctx.n_outputs is not None else net.heads[t - 1].n_out
    net.add_head(t, ctx.init.glorot(f"t{t}/head_W", (rows, n_out)),
                 ctx.init.bias(f"t{t}/head_b", (n_out,)))
    return ctx.run(head_spec(net, t, ctx.hyper.max_iter, ctx.follows_paper("Q4")))


def select_units(net: DENNetwork, task: int, any_output: bool = False) -> List[np.ndarray]:
    """Step 2: selected unit indices per level: [inputs, hidden 1, ..., hidden L].

    Top: the units with a nonzero weight into output 0 of the task's head (Q5), or into
    any of its outputs (`any_output`, the paper's Q5)."""
    n_hidden = net.n_hidden
    sel: List[np.ndarray] = [None] * (n_hidden + 1)
    head = net.heads[task]
    outputs = np.arange(head.n_out) if any_output else np.arange(1)
    sel[n_hidden] = head.inputs_feeding(outputs)
    for level in range(n_hidden - 1, 0, -1):
        # layer `level` reads the units of hidden layer `level` (0-based: level - 1)
        sel[level] = net.hidden[level].inputs_feeding(sel[level + 1])
    sel[0] = np.arange(net.hidden[0].n_in)  # every input (pixels, or image channels)
    return sel


def subnetwork(net: DENNetwork, task: int, sel: Sequence[np.ndarray], prev,
               full_head: bool = False):
    """Step 3's network: layers made of the selected blocks, head column 0 with the full
    bias (Q6; `full_head`: every column, the paper's Q6), and the task-start values of the
    same blocks for the pull."""
    layers, sub_prev = [], {}
    for i, layer in enumerate(net.hidden):
        rows, cols = sel[i], sel[i + 1]
        layers.append(layer.sub_layer(rows, cols, name=f"sub{i + 1}"))
        pw, pb = prev[i]
        sub_prev[i] = (layer.take(pw, rows, cols), pb[cols])
    head = net.heads[task]
    hw, hb = head.numpy()
    cols = np.arange(hw.shape[-1]) if full_head else np.arange(1)
    layers.append(DenDense(head.take(hw, sel[-1], cols), hb, np.full(len(hb), task), None,
                           name="sub_head", in_block=head.in_block))
    return layers, sub_prev


def selective_spec(task: int, sub: Sequence[DenLayer], sub_prev, forward) -> PhaseSpec:
    """Step 3's phase: the whole subnetwork trains, pulled toward its task-start values,
    without prints; `forward` is the network's forward pass."""
    for layer in sub:
        layer.set_trainable(True, True)
    return PhaseSpec(task, "selective", list(sub), prev=sub_prev, printing=False,
                     forward=forward)


def union(net: DENNetwork, task: int, sel: Sequence[np.ndarray], sub: Sequence[DenLayer]):
    """Step 4: writes the retrained blocks back into the full network (the head's column
    0, or all its columns when the subnetwork had the full head)."""
    for i, layer in enumerate(net.hidden):
        w, b = layer.numpy()
        sw, sb = sub[i].numpy()
        layer.put(w, sel[i], sel[i + 1], sw)
        b[sel[i + 1]] = sb
        layer.assign(w, b)
    head = net.heads[task]
    hw, _ = head.numpy()
    sw, sb = sub[-1].numpy()
    head.put(hw, sel[-1], np.arange(sw.shape[-1]), sw)
    head.assign(hw, sb)


def selective_retraining(ctx: PhaseContext, prev) -> tuple:
    """Steps 1-4; returns (the loss that decides expansion, the selection): the CE of
    the last minibatch of step 3 (Q7), or the retrained subnetwork's validation CE (the
    paper's Q7)."""
    ctx.log(loglines.SELECTIVE)
    train_new_head(ctx)
    sel = select_units(ctx.network, ctx.task, any_output=ctx.follows_paper("Q5"))
    sub, sub_prev = subnetwork(ctx.network, ctx.task, sel, prev,
                               full_head=ctx.follows_paper("Q6"))
    result = ctx.run(selective_spec(ctx.task, sub, sub_prev, ctx.network.forward))
    loss = result.last_loss
    if ctx.follows_paper("Q7"):
        loss, _ = ctx.last_runner.validate(ctx.data, with_perf=False)
        ctx.log(loglines.ours(f"task {ctx.task}: expansion decided on the retrained "
                            f"network's validation CE {loss:.4f} (paper, Q7)"))
    union(ctx.network, ctx.task, sel, sub)
    return loss, sel
