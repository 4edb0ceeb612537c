"""The DEN network: hidden expandable layers, one head per task, and timestamps.

`DENNetwork.forward` is the one forward pass that training, validation, evaluation and
export all use, given to the network when it is made (den_tf.model.archs): `mlp_logits`
for the MLP, the convolutional stack of den_tf.model.conv for lenet and conv5. `DENNetwork.params_for(t)` gives the
parameters task t runs on: every hidden layer cut to the units born at or before t, and
head t cut to the hidden units that existed when t was learned (algorithm.md#timestamps, Q12).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from den_tf.model.forward import mlp_logits
from den_tf.model.layers import DenDense, DenLayer

# Q12 (faithfulness.md#q12): the original writes the output size of a timestamp as a literal 10.
STAMP_OUTPUT = 10


class DENNetwork:
    """Hidden layers (units with births), per-task heads, and per-task timestamps.

    `forward(params, x)` is the network's forward pass over `params_for(task)`; an
    architecture with other layers (convolutions) sets its own on the instance
    (den_tf.model.archs). `input_size` is the number of input values a task's images have
    (784 pixels for MNIST, whatever the architecture); `base_n_params` the parameters of
    the architecture's base network (at its initial sizes, one head), the unit of
    `capacity`."""

    def __init__(self, hidden: List[DenLayer], heads: Optional[Dict[int, DenDense]] = None,
                 input_size: Optional[int] = None, forward: Callable = mlp_logits,
                 base_n_params: Optional[int] = None, arch: str = "mlp",
                 image_shape: Optional[Sequence[int]] = None):
        self.hidden = list(hidden)
        self.heads: Dict[int, DenDense] = dict(heads or {})
        self.input_size = int(input_size if input_size is not None else hidden[0].n_in)
        self.stamps: Dict[int, List[int]] = {}
        self.forward = forward
        self.base_n_params = base_n_params
        self.arch = arch
        self.image_shape = None if image_shape is None else tuple(int(d) for d in image_shape)

    # ----------------------------------------------------------------- building
    @classmethod
    def create(cls, dims: Sequence[int], init, task: int = 1,
               n_out: Optional[int] = None) -> "DENNetwork":
        """A fresh network for dims [in, h1, ..., hL, out] with task `task`'s head of
        `n_out` outputs (default: the last dims size).

        Every weight is drawn by `init.glorot`, every bias by `init.bias`
        (faithfulness.md#q2: glorot too, in the original)."""
        hidden = []
        for i in range(len(dims) - 2):
            w = init.glorot(f"t{task}/W{i + 1}", (dims[i], dims[i + 1]))
            b = init.bias(f"t{task}/b{i + 1}", (dims[i + 1],))
            hidden.append(DenDense(w, b, np.full(dims[i + 1], task), "relu", name=f"layer{i + 1}"))
        net = cls(hidden, input_size=dims[0], base_n_params=cls.base_params(dims))
        n_out = dims[-1] if n_out is None else int(n_out)
        w = init.glorot(f"t{task}/head_W", (dims[-2], n_out))
        b = init.bias(f"t{task}/head_b", (n_out,))
        net.add_head(task, w, b)
        return net

    def add_head(self, task: int, kernel, bias) -> DenDense:
        """Head of `task`: [units of the top hidden layer, n_out] (algorithm.md#head-only)."""
        head = DenDense(kernel, bias, np.full(np.shape(bias)[0], task), None,
                        name=f"head{task}")
        self.heads[task] = head
        return head

    # ----------------------------------------------------------------- views
    @property
    def n_hidden(self) -> int:
        return len(self.hidden)

    def sizes(self) -> List[int]:
        """Units per hidden layer now."""
        return [l.n_out for l in self.hidden]

    def in_birth(self, i: int) -> np.ndarray:
        """Births of the input units of hidden layer i (0-based); the input units of the
        first layer (pixels, or image channels) count as born at 0."""
        if i == 0:
            return np.zeros(self.hidden[0].n_in, np.int64)
        return self.hidden[i - 1].birth

    def units_at(self, task: int) -> List[int]:
        return [l.units_at(task) for l in self.hidden]

    def stamp(self, task: int, out_size: int = STAMP_OUTPUT) -> List[int]:
        """Timestamp of a task: [input, units of each hidden layer, output size]; the
        original writes a literal 10 as the output size (faithfulness.md#q12)."""
        return [self.input_size] + self.units_at(task) + [int(out_size)]

    def kernel_shapes(self, stamp: Sequence[int]) -> List[List[int]]:
        """The kernel shape of every hidden layer at a timestamp [input, units of each
        hidden layer, output]: [kh, kw, channels in, filters] for a convolution,
        [rows, units] for a dense layer (a dense layer after a convolution has H*W rows
        per filter below it). For the MLP these are the timestamp's pairs."""
        shapes = []
        for i, layer in enumerate(self.hidden):
            n_in = layer.n_in if i == 0 else int(stamp[i])
            shapes.append([int(d) for d in layer.kernel.shape[:-2]]
                          + [n_in * layer.in_block, int(stamp[i + 1])])
        return shapes

    def params_for(self, task: int) -> list:
        """[W1, b1, ..., WL, bL, Wh, bh] as task `task` sees them (timestamp slices)."""
        out, n_in = [], self.hidden[0].n_in
        for layer in self.hidden:
            n = layer.units_at(task)
            out += list(layer.sliced(n_in, n))
            n_in = n
        head = self.heads[task]  # every output: the stamp's last size is only printed (Q12)
        out += list(head.sliced(n_in, head.n_out))
        return out

    def variables_for(self, task: int) -> list:
        """The full variables of the network as the current task trains it (no slicing)."""
        out = []
        for layer in self.hidden:
            out += [layer.kernel, layer.bias]
        head = self.heads[task]
        return out + [head.kernel, head.bias]

    @property
    def dense_only(self) -> bool:
        """Every hidden layer dense, reading flat inputs (the MLP, a stack of fc layers):
        its shape lines are the timestamp's pairs, as the original prints them."""
        return all(isinstance(l, DenDense) and l.in_block == 1 for l in self.hidden)

    def shape_lines_shapes(self, stamp: Sequence[int]):
        """The kernel shapes a task's shape lines print: None for a dense-only network
        (the timestamp's pairs, docs/algorithm.md#timestamps), else `kernel_shapes`."""
        return None if self.dense_only else self.kernel_shapes(stamp)

    def layers_for(self, task: int) -> List[DenLayer]:
        return self.hidden + [self.heads[task]]

    def logits(self, x, task: int):
        return self.forward(self.params_for(task), x)

    def hidden_values(self) -> List[tuple]:
        """[(W, b)] of every hidden layer, as numpy copies."""
        return [l.numpy() for l in self.hidden]

    # ----------------------------------------------------------------- figures
    def sparsity(self, task: int) -> float:
        """(zeros + 1) / (size + 1) over the hidden weights and head `task`'s weight
        (biases not counted), as the original prints it."""
        mats = [l.kernel.numpy() for l in self.hidden] + [self.heads[task].kernel.numpy()]
        size = float(sum(m.size for m in mats))
        zeros = float(sum(m.size - np.count_nonzero(m) for m in mats))
        return (zeros + 1.0) / (size + 1.0)

    def n_params(self) -> int:
        """Parameters now: hidden weights and biases (every kernel entry: filters count
        kh*kw*c_in each), plus every head at its timestamp size (rows = top hidden units
        when its task was learned)."""
        n = sum(int(np.prod(l.kernel.shape)) + l.n_out for l in self.hidden)
        for t, head in self.heads.items():
            rows = self.hidden[-1].units_at(t) if self.hidden else head.n_in
            n += rows * head.in_block * head.n_out + head.n_out
        return int(n)

    @staticmethod
    def base_params(dims: Sequence[int]) -> int:
        """Parameters of one base MLP of dims (one head)."""
        return int(sum(dims[i] * dims[i + 1] + dims[i + 1] for i in range(len(dims) - 1)))

    def capacity(self, dims: Optional[Sequence[int]] = None) -> float:
        """Parameters relative to one base network (the paper's "1.39x"): the network's
        own base (`base_n_params`, set by the architecture that built it), else the MLP
        of `dims`."""
        base = self.base_n_params
        if not base:
            if dims is None:
                raise ValueError("capacity: the network has no base size (give dims)")
            base = self.base_params(dims)
        return self.n_params() / base
