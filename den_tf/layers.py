"""The expandable layer: a dense layer whose output units carry birth timestamps.

Spec "End of every task" (Q12): task j later runs on the units that existed when it was
learned. Units are only ever appended (expansion, duplication) or deleted among the
newest (pruning), so the births of a layer's units never decrease along the unit axis and
"the units born at or before task j" is always a prefix: the forward pass for task j
slices `kernel[:n_in_j, :n_out_j]`, which is exactly the original's timestamp slicing.

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


class DenDense(keras.layers.Layer):
    """Fully connected layer `y = act(x @ kernel + bias)` with per-unit birth stamps.

    Args:
      kernel: initial kernel, [n_in, n_out].
      bias: initial bias, [n_out].
      birth: task index at which each output unit was born, [n_out] (non-decreasing).
      activation: "relu" for hidden layers, None for task heads.
    """

    def __init__(self, kernel, bias, birth, activation: Optional[str] = "relu",
                 name: Optional[str] = None):
        super().__init__(name=name)
        if activation not in ("relu", None):
            raise ValueError(f"activation must be 'relu' or None, got {activation!r}")
        self.activation = activation
        self._set(_f32(kernel), _f32(bias), np.asarray(birth, dtype=np.int64))
        self.built = True

    # ----------------------------------------------------------------- state
    def _set(self, kernel: np.ndarray, bias: np.ndarray, birth: np.ndarray) -> None:
        # A one-column kernel with a longer bias is the selective-retraining head whose
        # single column serves every output (spec step 3, Q6).
        if (kernel.ndim != 2 or bias.ndim != 1 or kernel.shape[1] not in (bias.shape[0], 1)
                or birth.shape != bias.shape):
            raise ValueError(
                f"inconsistent shapes: kernel {kernel.shape}, bias {bias.shape}, "
                f"birth {birth.shape}")
        if birth.size and np.any(np.diff(birth) < 0):
            raise ValueError("unit births must be non-decreasing (units are only appended)")
        self.kernel = tf.Variable(kernel, trainable=False, name="kernel")
        self.bias = tf.Variable(bias, trainable=False, name="bias")
        self.birth = birth
        self.kernel_mask: Mask = True
        self.bias_mask: Mask = True

    @property
    def n_in(self) -> int:
        return int(self.kernel.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.kernel.shape[1])

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

    # ----------------------------------------------------------------- forward
    def sliced(self, n_in: int, n_out: int):
        """(kernel[:n_in, :n_out], bias[:n_out]): the timestamp slice (spec Q12)."""
        return self.kernel[:n_in, :n_out], self.bias[:n_out]

    def call(self, x, task: Optional[int] = None):
        w, b = self.sliced(int(x.shape[-1]), self.units_at(task))
        y = tf.matmul(x, w) + b
        return tf.nn.relu(y) if self.activation == "relu" else y

    # ----------------------------------------------------------------- growth
    def append_units(self, kernel_cols, bias, task: int) -> None:
        """Appends output units (columns) born at `task` (spec step 6: expansion)."""
        k, b = self.numpy()
        kernel_cols, bias = _f32(kernel_cols), _f32(bias)
        self._set(np.concatenate([k, kernel_cols], 1), np.concatenate([b, bias]),
                  np.concatenate([self.birth, np.full(len(bias), task, np.int64)]))

    def append_inputs(self, rows) -> None:
        """Appends input rows, for units added to the layer below (spec step 6: `tw`)."""
        k, b = self.numpy()
        self._set(np.concatenate([k, _f32(rows)], 0), b, self.birth)

    def delete_units(self, idx: Sequence[int]) -> None:
        """Deletes output units (spec step 7: prune)."""
        k, b = self.numpy()
        self._set(np.delete(k, idx, 1), np.delete(b, idx), np.delete(self.birth, idx))

    def delete_inputs(self, idx: Sequence[int]) -> None:
        """Deletes input rows, for units deleted in the layer below (spec step 7)."""
        k, b = self.numpy()
        self._set(np.delete(k, idx, 0), b, self.birth)

    def duplicate_units(self, idx: Sequence[int], bias, task: int) -> None:
        """Appends copies of units `idx`, in ascending unit order (spec step 8).

        The copies' incoming weights are the originals' columns; their biases are
        `bias` (the original draws them from U[0, 1), Q10)."""
        order = np.sort(np.asarray(idx, dtype=np.int64))
        k, _ = self.numpy()
        self.append_units(k[:, order], bias, task)

    def duplicate_inputs(self, idx: Sequence[int]) -> None:
        """Appends copies of input rows `idx`, in ascending order (spec step 8)."""
        order = np.sort(np.asarray(idx, dtype=np.int64))
        k, _ = self.numpy()
        self.append_inputs(k[order, :])

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
