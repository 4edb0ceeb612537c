"""The expandable layers: layers whose output units carry birth timestamps.

Timestamps (algorithm.md#timestamps, Q12): task j later runs on the units that existed when
it was learned. Units are only ever appended (expansion, duplication) or deleted among the
newest (pruning), so the births of a layer's units never decrease along the unit axis and
"the units born at or before task j" is always a prefix: the forward pass for task j
slices the kernel to the first input and output units, which is exactly the original's
timestamp slicing.

`DenLayer` holds everything DEN does to a layer, written once for every kind of kernel:
the LAST kernel axis is the unit axis (output units: dense units, convolutional filters)
and axis -2 the input axis (input rows, input channels). An input unit owns `in_block`
consecutive entries of axis -2 (1 for every layer, except the dense layer after a
channel-major flatten, where each filter of the layer below owns its H*W block of rows:
den_tf.model.conv). `DenDense` (here) and `DenConv2D` (den_tf/model/conv.py) only add the forward
pass and their shape rules; the DEN phases use the generic operations, so the same code
selects, expands, prunes and duplicates dense units and filters.

Variable shapes are fixed in TensorFlow, so every growth operation builds new variables
from the old values plus the new ones (exact copies: no arithmetic touches old values).
A layer also carries the trainable mask of the current phase ("mark blocks frozen or
trainable"); the phase runner updates only the entries the mask allows.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

Mask = Union[bool, np.ndarray]


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def _idx(idx) -> np.ndarray:
    return np.asarray(idx, dtype=np.int64).reshape(-1)


class DenLayer(keras.layers.Layer):
    """A layer `y = act(op(x, kernel) + bias)` with per-unit birth stamps (see the module
    docstring for the axes). Subclasses set KIND and NDIM and write `call`.

    Args:
      kernel: initial kernel, [..., n_in * in_block, n_out].
      bias: initial bias, [n_out].
      birth: task index at which each output unit was born, [n_out] (non-decreasing).
      activation: "relu" for hidden layers, None for task heads.
      in_block: entries of axis -2 per input unit.
    """

    KIND = ""
    NDIM = 0

    def __init__(self, kernel, bias, birth, activation: Optional[str] = "relu",
                 name: Optional[str] = None, in_block: int = 1):
        super().__init__(name=name)
        if activation not in ("relu", None):
            raise ValueError(f"activation must be 'relu' or None, got {activation!r}")
        if int(in_block) < 1:
            raise ValueError(f"in_block must be a positive integer, got {in_block}")
        self.activation = activation
        self.in_block = int(in_block)
        self._set(_f32(kernel), _f32(bias), np.asarray(birth, dtype=np.int64))
        self.built = True

    # ----------------------------------------------------------------- state
    def _set(self, kernel: np.ndarray, bias: np.ndarray, birth: np.ndarray) -> None:
        # A one-unit kernel with a longer bias is the selective-retraining head whose
        # single column serves every output (algorithm.md#retraining, Q6).
        if (kernel.ndim != self.NDIM or bias.ndim != 1
                or kernel.shape[-1] not in (bias.shape[0], 1) or birth.shape != bias.shape
                or kernel.shape[-2] % self.in_block):
            raise ValueError(
                f"inconsistent shapes: kernel {kernel.shape}, bias {bias.shape}, "
                f"birth {birth.shape} ({self.KIND} layer, {self.in_block} entries per input)")
        if birth.size and np.any(np.diff(birth) < 0):
            raise ValueError("unit births must be non-decreasing (units are only appended)")
        self.kernel = tf.Variable(kernel, trainable=False, name="kernel")
        self.bias = tf.Variable(bias, trainable=False, name="bias")
        self.birth = birth
        self.kernel_mask: Mask = True
        self.bias_mask: Mask = True

    def options(self) -> dict:
        """The constructor's keyword settings besides the values (for checkpoints)."""
        return {"activation": self.activation, "in_block": self.in_block}

    def like(self, kernel, bias, birth, name: Optional[str] = None) -> "DenLayer":
        """A layer of the same kind and settings with other values."""
        return type(self)(kernel, bias, birth, name=name, **self.options())

    @property
    def n_in(self) -> int:
        """Input units (rows or channels; a flatten block counts once)."""
        return int(self.kernel.shape[-2]) // self.in_block

    @property
    def n_out(self) -> int:
        return int(self.kernel.shape[-1])

    def numpy(self):
        """(kernel, bias) as numpy arrays (copies)."""
        return self.kernel.numpy(), self.bias.numpy()

    def assign(self, kernel, bias) -> None:
        """Sets new values of the same shapes."""
        kernel, bias = _f32(kernel), _f32(bias)
        if kernel.shape != tuple(self.kernel.shape) or bias.shape != tuple(self.bias.shape):
            raise ValueError(f"assign: shapes {kernel.shape}, {bias.shape} do not match "
                             f"{tuple(self.kernel.shape)}, {tuple(self.bias.shape)}")
        self.kernel.assign(kernel)
        self.bias.assign(bias)

    def units_at(self, task: Optional[int]) -> int:
        """Number of units born at or before `task` (all units when task is None)."""
        if task is None:
            return self.n_out
        return int(np.searchsorted(self.birth, task, side="right"))

    # ----------------------------------------------------------------- shapes, views
    def rows(self, units) -> np.ndarray:
        """The axis -2 entries of input units `units`, in their order."""
        units = _idx(units)
        if self.in_block == 1:
            return units
        return (units[:, None] * self.in_block + np.arange(self.in_block)).reshape(-1)

    def unit_block_shape(self, k: int) -> tuple:
        """Kernel shape of the incoming weights of k new units over the current inputs
        (algorithm.md#expansion: `bw`)."""
        return tuple(int(d) for d in self.kernel.shape[:-1]) + (int(k),)

    def input_block_shape(self, k: int) -> tuple:
        """Kernel shape of the weights from k new input units to every unit
        (algorithm.md#expansion: `tw`; the head's new rows)."""
        s = tuple(int(d) for d in self.kernel.shape)
        return s[:-2] + (int(k) * self.in_block, s[-1])

    def in_mask(self, inputs: np.ndarray) -> np.ndarray:
        """Kernel-shaped mask of the weights leaving the input units where `inputs`
        (bool [n_in]) is True."""
        v = np.repeat(np.asarray(inputs, bool), self.in_block)
        shape = tuple(self.kernel.shape)
        return np.broadcast_to(v.reshape((-1, 1)), shape)

    def out_mask(self, outputs: np.ndarray) -> np.ndarray:
        """Kernel-shaped mask of the weights into the output units where `outputs`
        (bool [n_out]) is True."""
        return np.broadcast_to(np.asarray(outputs, bool), tuple(self.kernel.shape))

    def columns(self, kernel: Optional[np.ndarray] = None) -> np.ndarray:
        """The incoming weights of every unit as one column each: [fan_in, n_out]
        (the kernel itself for a dense layer)."""
        k = self.kernel.numpy() if kernel is None else kernel
        return k if k.ndim == 2 else k.reshape(-1, k.shape[-1])

    def inputs_feeding(self, units) -> np.ndarray:
        """Input units with any nonzero weight into output units `units`
        (algorithm.md#selection: a unit below is selected when it feeds a selected unit
        above)."""
        k = self.kernel.numpy()[..., _idx(units)]
        rows = np.moveaxis(k, -2, 0).reshape(k.shape[-2], -1)
        per_row = np.count_nonzero(rows, axis=1)
        if self.in_block > 1:
            per_row = per_row.reshape(-1, self.in_block).sum(axis=1)
        return np.flatnonzero(per_row)

    def take(self, kernel: np.ndarray, in_units, out_units) -> np.ndarray:
        """The block of `kernel` (this layer's layout) from input units `in_units` to
        output units `out_units`."""
        r, c = self.rows(in_units), _idx(out_units)
        return kernel[..., r[:, None], c[None, :]]

    def put(self, kernel: np.ndarray, in_units, out_units, block) -> None:
        """Writes `block` (as `take` gives it) back into `kernel`, in place."""
        r, c = self.rows(in_units), _idx(out_units)
        kernel[..., r[:, None], c[None, :]] = block

    def sub_layer(self, in_units, out_units, name: Optional[str] = None) -> "DenLayer":
        """A layer of the same kind made of the units `out_units` reading `in_units`
        (algorithm.md#retraining: the selected subnetwork)."""
        k, b = self.numpy()
        out_units = _idx(out_units)
        return self.like(self.take(k, in_units, out_units), b[out_units],
                         self.birth[out_units], name=name)

    # ----------------------------------------------------------------- forward
    def sliced(self, n_in: int, n_out: int):
        """(kernel[..., :n_in inputs, :n_out], bias[:n_out]): the timestamp slice (Q12)."""
        return self.kernel[..., : n_in * self.in_block, :n_out], self.bias[:n_out]

    # ----------------------------------------------------------------- growth
    def append_units(self, kernel_cols, bias, task: int) -> None:
        """Appends output units born at `task` (algorithm.md#expansion)."""
        k, b = self.numpy()
        kernel_cols, bias = _f32(kernel_cols), _f32(bias)
        self._set(np.concatenate([k, kernel_cols], -1), np.concatenate([b, bias]),
                  np.concatenate([self.birth, np.full(len(bias), task, np.int64)]))

    def append_inputs(self, rows) -> None:
        """Appends the weights of new input units, for units added to the layer below
        (algorithm.md#expansion: `tw`)."""
        k, b = self.numpy()
        self._set(np.concatenate([k, _f32(rows)], -2), b, self.birth)

    def delete_units(self, idx: Sequence[int]) -> None:
        """Deletes output units (algorithm.md#pruning)."""
        k, b = self.numpy()
        idx = _idx(idx)
        self._set(np.delete(k, idx, -1), np.delete(b, idx), np.delete(self.birth, idx))

    def delete_inputs(self, idx: Sequence[int]) -> None:
        """Deletes input units, for units deleted in the layer below (algorithm.md#pruning)."""
        k, b = self.numpy()
        self._set(np.delete(k, self.rows(idx), -2), b, self.birth)

    def duplicate_units(self, idx: Sequence[int], bias, task: int) -> None:
        """Appends copies of units `idx`, in ascending unit order (algorithm.md#split).

        The copies' incoming weights are the originals'; their biases are `bias` (the
        original draws them from U[0, 1), Q10)."""
        order = np.sort(_idx(idx))
        k, _ = self.numpy()
        self.append_units(k[..., order], bias, task)

    def duplicate_inputs(self, idx: Sequence[int]) -> None:
        """Appends copies of the weights of input units `idx`, in ascending order
        (algorithm.md#split)."""
        order = np.sort(_idx(idx))
        k, _ = self.numpy()
        self.append_inputs(k[..., self.rows(order), :])

    # ----------------------------------------------------------------- phases
    def set_trainable(self, kernel_mask: Mask = True, bias_mask: Mask = True) -> None:
        """Marks which entries the next phase trains: True (all), False (frozen), or a
        boolean mask of the kernel's / bias's shape."""
        for m, shape in ((kernel_mask, self.kernel.shape), (bias_mask, self.bias.shape)):
            if not isinstance(m, bool) and np.shape(m) != tuple(shape):
                raise ValueError(f"mask of shape {np.shape(m)} for a parameter of {shape}")
        self.kernel_mask, self.bias_mask = kernel_mask, bias_mask

    def freeze(self) -> None:
        self.set_trainable(False, False)


class DenDense(DenLayer):
    """Fully connected layer `y = act(x @ kernel + bias)` with per-unit birth stamps.

    Args:
      kernel: initial kernel, [n_in * in_block, n_out].
      bias: initial bias, [n_out].
      birth: task index at which each output unit was born, [n_out] (non-decreasing).
      activation: "relu" for hidden layers, None for task heads.
      in_block: rows per input unit: 1, or H*W for the dense layer after a channel-major
        flatten (each filter below owns a block of rows, den_tf.model.conv).
    """

    KIND = "dense"
    NDIM = 2

    def call(self, x, task: Optional[int] = None):
        w, b = self.sliced(int(x.shape[-1]) // self.in_block, self.units_at(task))
        y = tf.matmul(x, w) + b
        return tf.nn.relu(y) if self.activation == "relu" else y
