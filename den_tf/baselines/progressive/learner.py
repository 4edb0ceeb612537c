"""DNN-Progressive: progressive neural networks (Rusu et al. 2016, Eq. 1; the paper's
"DNN-Progressive", Sec. 4.1).

Task k adds a column: hidden layers of `column_units` (--column_scale times the
hidden sizes of --dims, at least one unit) and a head. Each hidden layer l > 1 of
column k, and its head, also receive the previous layer of every earlier column through
plain lateral dense connections (Rusu et al.'s Eq. 1, without the non-linear adapters
of their Sec. 2.1):

    h_l^(k) = relu(W_l^(k) h_{l-1}^(k) + b_l^(k) + sum_{j<k} U_l^(k:j) h_{l-1}^(j)),
    logits^(k) = W_out^(k) h_L^(k) + b_out^(k) + sum_{j<k} U_out^(k:j) h_L^(j).

On an architecture with convolutional layers (--arch=lenet, conv5, a layer spec) a
column is the architecture's network with --column_scale times its filters and units; a
lateral into a convolutional layer is a convolution of the same size, stride and padding
over the earlier column's maps (before this layer's pooling, like the layer's own), into
the first dense
layer a dense map of the earlier column's channel-major flatten, and into the later
dense layers and the head a dense map, as above.

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
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from den_tf.baselines.base import Method
from den_tf.baselines.progressive.columns import column_units
from den_tf.io import export
from den_tf.model.conv import DenConv2D, conv2d, flatten, pool2d
from den_tf.model.layers import DenDense


def _taker(params):
    pos = 0

    def take():
        nonlocal pos
        pos += 2
        return params[pos - 2], params[pos - 1]
    return take


def _head(acts, k: int, take):
    """Task k's logits: its head on column k's top layer, plus the laterals from the top
    layers of columns 1..k-1."""
    w, b = take()
    z = tf.matmul(acts[k - 1][-1], w) + b
    for i in range(k - 1):
        u, _ = take()
        z = z + tf.matmul(acts[i][-1], u)
    return z


@functools.lru_cache(maxsize=None)
def column_forward(k: int, n_hidden: int):
    """The forward pass of MLP column k (1-based) over `Progressive.layers_for(k)`'s
    parameters: columns 1..k in order, each hidden layer followed by its laterals from
    the earlier columns, then head k and its laterals. One function per (k, n_hidden),
    so that predict and the runner compile it once."""
    def forward(params, x):
        take = _taker(params)
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
        return _head(acts, k, take)
    forward.__name__ = f"column{k}_forward"
    return forward


@functools.lru_cache(maxsize=None)
def conv_column_forward(k: int, image_shape: Tuple[int, int, int], convs: tuple, n_fc: int,
                        native_grads: bool = False):
    """`column_forward` for an architecture with convolutional layers (`convs`: their
    specs, den_tf.model.archs.specs.Conv; `n_fc` dense hidden layers)."""
    n_conv = len(convs)

    def forward(params, x):
        take = _taker(params)
        acts: List[list] = []
        for j in range(k):
            h, column = tf.reshape(x, [-1] + list(image_shape)), []
            for l in range(n_conv + n_fc):
                w, b = take()
                laterals = [take()[0] for _ in range(j if l > 0 else 0)]
                if l < n_conv:
                    layer = convs[l]
                    z = conv2d(h, w, layer.padding, native_grads, layer.stride) + b
                    for i, u in enumerate(laterals):
                        z = z + conv2d(acts[i][l - 1], u, layer.padding, native_grads,
                                       layer.stride)
                    h = pool2d(tf.nn.relu(z), layer)
                else:
                    flat = flatten if l == n_conv else (lambda a: a)
                    z = tf.matmul(flat(h), w) + b
                    for i, u in enumerate(laterals):
                        z = z + tf.matmul(flat(acts[i][l - 1]), u)
                    h = tf.nn.relu(z)
                column.append(h)
            acts.append(column)
        return _head(acts, k, take)
    forward.__name__ = f"conv_column{k}_forward"
    return forward


class Progressive(Method):
    """A column per task with lateral connections from the earlier columns."""

    name = "progressive"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        cfg = self.config
        stack = cfg.architecture.stack_for(cfg.dims)
        # the architecture's units and filters, scaled
        self.units = column_units(stack.units(), cfg.column_scale)
        self.n_conv = len(stack.convs)
        self.conv = stack if self.n_conv else None
        if self.conv is not None:
            self.image_shape = stack.image_shape(*self.input_shape())
        self.columns: Dict[int, List] = {}
        # laterals[k][l]: into hidden layer l (1..L-1, 0-based) or the head (l = L) of
        # column k, one layer from each column j < k.
        self.laterals: Dict[int, Dict[int, List]] = {}
        self.heads: Dict[int, DenDense] = {}

    def describe(self) -> str:
        what = "filters and units" if self.conv is not None else "hidden units"
        return (f"progressive: a column of {self.units} {what} per task "
                f"(column_scale={self.config.column_scale:g}), plain lateral connections "
                f"from earlier columns, earlier columns frozen")

    @property
    def n_hidden(self) -> int:
        return len(self.units)

    # ----------------------------------------------------------------- building
    def _flat_block(self) -> int:
        """Rows of the first dense layer per filter of the last convolution (H*W)."""
        return self.conv.flat_block(self.image_shape)

    def _kernel_shape(self, l: int, n_in: int, n_out: int) -> tuple:
        """Kernel of layer l (0-based; L: the head) from n_in units to n_out."""
        if l < self.n_conv:
            size = self.conv.convs[l].kernel
            return (size, size, n_in, n_out)
        if self.conv is not None and l == self.n_conv:
            return (n_in * self._flat_block(), n_out)
        return (n_in, n_out)

    def _layer(self, l: int, kernel, bias, k: int, activation, name: str):
        births = np.full(np.shape(kernel)[-1], k)
        if l < self.n_conv:
            spec = self.conv.convs[l]
            return DenConv2D(kernel, bias, births, activation, name=name,
                             padding=spec.padding, stride=spec.stride)
        block = self._flat_block() if self.conv is not None and l == self.n_conv else 1
        return DenDense(kernel, bias, births, activation, name=name, in_block=block)

    def begin_task(self, k, data) -> None:
        init, u, n_out = self.init, self.units, self.n_outputs(k)
        n_in = self.image_shape[2] if self.conv is not None else self.input_shape()[0]
        cols = []
        for l, n in enumerate(u):
            cols.append(self._layer(l, init.glorot(f"t{k}/W{l + 1}", self._kernel_shape(l, n_in, n)),
                                    init.bias(f"t{k}/b{l + 1}", (n,)), k, "relu",
                                    f"column{k}_layer{l + 1}"))
            n_in = n
        self.columns[k] = cols
        self.heads[k] = DenDense(init.glorot(f"t{k}/head_W", (u[-1], n_out)),
                                 init.bias(f"t{k}/head_b", (n_out,)),
                                 np.full(n_out, k), None, name=f"head{k}")
        lat = {}
        for l in range(1, self.n_hidden + 1):
            width = u[l] if l < self.n_hidden else n_out
            lat[l] = [self._layer(l, init.glorot(f"t{k}/U{l + 1}_from{j}",
                                                 self._kernel_shape(l, u[l - 1], width)),
                                  np.zeros(width, np.float32), k, None,
                                  f"lateral{k}_{l + 1}_from{j}")
                      for j in range(1, k)]
        self.laterals[k] = lat

    def layers_for(self, k: int) -> List:
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
        if self.conv is None:
            return column_forward(k, self.n_hidden)
        return conv_column_forward(k, tuple(self.image_shape), self.conv.convs,
                                   len(self.conv.fc), not self.config.xla)

    def n_params(self) -> int:
        """Every column's weights and biases, every head, every lateral weight."""
        size = lambda l: int(np.prod(l.kernel.shape))
        n = 0
        for k, cols in self.columns.items():
            n += sum(size(l) + l.n_out for l in cols + [self.heads[k]])
            n += sum(size(l) for lats in self.laterals[k].values() for l in lats)
        return int(n)

    def sizes(self) -> List[int]:
        """Units per hidden layer, summed over the columns."""
        return [n * len(self.columns) for n in self.units]

    def stamp(self, k) -> List[int]:
        return [self.input_shape()[0]] + [n * k for n in self.units] + [self.n_outputs(k)]

    # ----------------------------------------------------------------- checkpoints
    def checkpoint_layers(self) -> dict:
        out = {}
        for k in sorted(self.columns):
            out.update({layer.name: layer for layer in self.columns[k]})
            out[f"head{k}"] = self.heads[k]
            out.update({layer.name: layer for lats in self.laterals[k].values()
                        for layer in lats})
        return out

    def restore_layers(self, layers, input_size, image_shape) -> None:
        tasks = sorted(int(name[4:]) for name in layers if name.startswith("head"))
        for k in tasks:
            self.columns[k] = [layers[f"column{k}_layer{l + 1}"] for l in range(self.n_hidden)]
            self.heads[k] = layers[f"head{k}"]
            self.laterals[k] = {l: [layers[f"lateral{k}_{l + 1}_from{j}"] for j in range(1, k)]
                                for l in range(1, self.n_hidden + 1)}

    def export_parts(self):
        tasks = sorted(self.columns)
        return export.layer_parts([self.layers_for(k) for k in tasks],
                                  [self.forward_for(k) for k in tasks],
                                  [self.stamps[k] for k in tasks], self.input_shape()[0])

