"""Dynamic expansion: algorithm.md#expansion and #pruning (paper Sec. 3, "Dynamic network
expansion", Eq. 3).

6. `expand`: every hidden layer gets ex_k new units. Layer l gains `bw` (incoming weights
   from the old units below), `bb` (biases) and, above the first layer, `tw` (rows for
   the new units of the layer below, reaching old and new units); the task's head gains
   ex_k rows. All glorot. Only the new blocks and the task's head train; group lasso
   acts on each column of every `bw` and `tw` block; no prints.
7. `prune`: top layer first, the new units whose incoming column is all zero are deleted
   (column, bias, and their row in the layer above or the head), with one line per layer.

Convolutional layers (den_tf/model/conv.py) run the same code: their units are filters (ex_k
new filters per layer; `bw` is their kernels over the old input channels, `tw` the new
input channels' slices in the layer above, or the new filters' flatten blocks of rows in
the first dense layer), one group-lasso group per filter, and a filter whose incoming
weights are all zero is pruned with its channels (or block) in the layer above.

Heads of earlier tasks are not grown: the original pads them with zero rows that no
evaluation reads (each task is evaluated on its own timestamp's rows).
"""

from __future__ import annotations

from typing import List

import numpy as np

from den_tf.den.context import PhaseContext
from den_tf.engine.runner import PhaseResult, PhaseSpec
from den_tf.io import loglines
from den_tf.model.network import DENNetwork


def expand(ctx: PhaseContext) -> PhaseResult:
    """Step 6: adds ex_k units per hidden layer and trains the new blocks."""
    net, t, k = ctx.network, ctx.task, ctx.ex_k
    ctx.log(loglines.EXPANSION)
    for i, layer in enumerate(net.hidden):
        layer.append_units(ctx.init.glorot(f"t{t}/expand/W{i + 1}/bw", layer.unit_block_shape(k)),
                           ctx.init.bias(f"t{t}/expand/b{i + 1}", (k,)), t)
        if i > 0:
            layer.append_inputs(ctx.init.glorot(f"t{t}/expand/W{i + 1}/tw",
                                                layer.input_block_shape(k)))
    head = net.heads[t]
    head.append_inputs(ctx.init.glorot(f"t{t}/expand/head_rows", head.input_block_shape(k)))
    return ctx.run(expansion_spec(net, t))


def expansion_spec(net: DENNetwork, task: int) -> PhaseSpec:
    """Step 6's phase on the grown network: trainable are the entries in a row or column
    of a unit born in this task (the blocks bw, bb, tw) and the task's head; group lasso
    on the columns of every bw and tw block; no prints."""
    groups = {}
    for i, layer in enumerate(net.hidden):
        new_in = layer.in_mask(net.in_birth(i) == task)
        new_out = layer.out_mask(layer.birth == task)
        layer.set_trainable(new_in | new_out, layer.birth == task)
        blocks = [(~new_in) & new_out]  # bw: old units below -> new units
        if new_in.any():
            blocks.append(new_in)  # tw
        groups[i] = blocks
    net.heads[task].set_trainable(True, True)
    return PhaseSpec(task, "expand", net.layers_for(task), groups=groups, printing=False,
                     forward=net.forward)


def prune(ctx: PhaseContext, repeated: int) -> tuple:
    """Step 7: deletes new units with all-zero incoming weights, top layer first.

    Returns (units kept per hidden layer, deleted column indices per hidden layer)."""
    net, t, k = ctx.network, ctx.task, ctx.ex_k
    kept: List[int] = [0] * net.n_hidden
    deleted: List[np.ndarray] = [None] * net.n_hidden
    for i in range(net.n_hidden - 1, -1, -1):
        layer = net.hidden[i]
        w = layer.columns()  # [fan_in, units]: a filter's whole kernel is its column
        new_cols = np.arange(layer.n_out - k, layer.n_out)
        useless = new_cols[np.count_nonzero(w[:, new_cols], axis=0) == 0]
        layer.delete_units(useless)
        above = net.heads[t] if i == net.n_hidden - 1 else net.hidden[i + 1]
        above.delete_inputs(useless)
        kept[i], deleted[i] = k - len(useless), useless
        ctx.log(loglines.expanding(i + 1, kept[i], repeated))
    return kept, deleted


def expansion(ctx: PhaseContext) -> tuple:
    """Steps 6-7; returns (units kept per layer, deleted indices per layer)."""
    result = expand(ctx)
    return prune(ctx, result.repeated)
