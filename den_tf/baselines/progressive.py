"""DNN-Progressive: progressive neural networks (Rusu et al. 2016, Eq. 1; the paper's
"DNN-Progressive", Sec. 4.1).

Task k adds a column: hidden layers of `column_units` (--column_scale times the
hidden sizes of --dims, at least one unit) and a head. Each hidden layer l > 1 of
column k, and its head, also receive the previous layer of every earlier column through
plain lateral dense connections (Rusu et al.'s Eq. 1, without the non-linear adapters
of their Sec. 2.1):

    h_l^(k) = relu(W_l^(k) h_{l-1}^(k) + b_l^(k) + sum_{j<k} U_l^(k:j) h_{l-1}^(j)),
    logits^(k) = W_out^(k) h_L^(k) + b_out^(k) + sum_{j<k} U_out^(k:j) h_L^(j).

Only column k, its laterals and its head train in task k; earlier columns (and their
laterals) are frozen masks of the runner, never written: bitwise unchanged, so earlier
tasks never forget. Laterals have no bias of their own (the column's layer has one); their
DenDense bias is zero, frozen and not counted. Capacity counts every column, head and
lateral weight. The column size is chosen on the validation split
(`den_tf.experiments.select_baselines`: the smallest --column_scale whose mean validation AUROC is
within 0.001 of the best).
"""

from __future__ import annotations

import functools
from typing import Dict, List

import numpy as np
import tensorflow as tf

from den_tf.baselines.base import Method
from den_tf.config import column_units
from den_tf.model.layers import DenDense


@functools.lru_cache(maxsize=None)
def column_forward(k: int, n_hidden: int):
    """The forward pass of column k (1-based) over `ProgressiveNet.layers_for(k)`'s
    parameters: columns 1..k in order, each hidden layer followed by its laterals from
    the earlier columns, then head k and its laterals. One function per (k, n_hidden),
    so that predict and the runner compile it once."""
    def forward(params, x):
        pos = 0

        def take():
            nonlocal pos
            pos += 2
            return params[pos - 2], params[pos - 1]

        acts: List[list] = []  # acts[j][l]: hidden layer l of column j+1
        for j in range(k):
            h, column = x, []
            for l in range(n_hidden):
                w, b = take()
                z = tf.matmul(h, w) + b
                for i in range(j if l > 0 else 0):
                    u, _ = take()
                    z = z + tf.matmul(acts[i][l - 1], u)
                h = tf.nn.relu(z)
                column.append(h)
            acts.append(column)
        w, b = take()
        z = tf.matmul(acts[k - 1][-1], w) + b
        for i in range(k - 1):
            u, _ = take()
            z = z + tf.matmul(acts[i][-1], u)
        return z
    forward.__name__ = f"column{k}_forward"
    return forward


class Progressive(Method):
    """A column per task with lateral connections from the earlier columns."""

    name = "progressive"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.units = column_units(self.config.dims, self.config.column_scale)
        self.columns: Dict[int, List[DenDense]] = {}
        # laterals[k][l]: into hidden layer l (1..L-1, 0-based) or the head (l = L) of
        # column k, one layer from each column j < k.
        self.laterals: Dict[int, Dict[int, List[DenDense]]] = {}
        self.heads: Dict[int, DenDense] = {}

    def describe(self) -> str:
        return (f"progressive: a column of {self.units} hidden units per task "
                f"(column_scale={self.config.column_scale:g}), plain lateral connections "
                f"from earlier columns, earlier columns frozen")

    @property
    def n_hidden(self) -> int:
        return len(self.units)

    def begin_task(self, k, data) -> None:
        dims, init, u = self.config.dims, self.init, self.units
        cols, n_in = [], dims[0]
        for l, n in enumerate(u):
            cols.append(DenDense(init.glorot(f"t{k}/W{l + 1}", (n_in, n)),
                                 init.glorot(f"t{k}/b{l + 1}", (n,)), np.full(n, k), "relu",
                                 name=f"column{k}_layer{l + 1}"))
            n_in = n
        self.columns[k] = cols
        self.heads[k] = DenDense(init.glorot(f"t{k}/head_W", (u[-1], dims[-1])),
                                 init.glorot(f"t{k}/head_b", (dims[-1],)),
                                 np.full(dims[-1], k), None, name=f"head{k}")
        lat = {}
        for l in range(1, self.n_hidden + 1):
            n_out = u[l] if l < self.n_hidden else dims[-1]
            lat[l] = [DenDense(init.glorot(f"t{k}/U{l + 1}_from{j}", (u[l - 1], n_out)),
                               np.zeros(n_out, np.float32), np.full(n_out, k), None,
                               name=f"lateral{k}_{l + 1}_from{j}")
                      for j in range(1, k)]
        self.laterals[k] = lat

    def layers_for(self, k: int) -> List[DenDense]:
        """Column 1..k's layers in `column_forward(k)`'s order."""
        out = []
        for j in range(1, k + 1):
            for l, layer in enumerate(self.columns[j]):
                out.append(layer)
                if l > 0:
                    out += self.laterals[j][l]
        return out + [self.heads[k]] + self.laterals[k][self.n_hidden]

    def trainable(self, k) -> list:
        layers = self.layers_for(k)
        for layer in layers:
            layer.freeze()
        for layer in self.columns[k] + [self.heads[k]]:
            layer.set_trainable(True, True)
        for lats in self.laterals[k].values():
            for layer in lats:
                layer.set_trainable(True, False)  # no lateral bias
        return layers

    def params_for(self, k) -> list:
        out = []
        for layer in self.layers_for(k):
            out += [layer.kernel, layer.bias]
        return out

    def forward_for(self, k):
        return column_forward(k, self.n_hidden)

    def n_params(self) -> int:
        """Every column's weights and biases, every head, every lateral weight."""
        n = 0
        for k, cols in self.columns.items():
            n += sum(l.n_in * l.n_out + l.n_out for l in cols + [self.heads[k]])
            n += sum(l.n_in * l.n_out for lats in self.laterals[k].values() for l in lats)
        return int(n)

    def sizes(self) -> List[int]:
        """Units per hidden layer, summed over the columns."""
        return [n * len(self.columns) for n in self.units]

    def stamp(self, k) -> List[int]:
        return [self.config.dims[0]] + [n * k for n in self.units] + [self.config.dims[-1]]


METHOD = Progressive
