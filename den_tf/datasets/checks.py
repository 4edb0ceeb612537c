"""Every input checked when a task stream is built from a user's data, one line naming
the task, the split and the fault (den_tf.errors.InputError, whose messages speak of
arguments, not flags).

* pixels: uint8 (0..255), or floats in [0, 1] (NaN and infinity refused); one rule for
  training, validation and test alike (den_tf.datasets.base, "the pixel rule"). Other
  dtypes and ranges are refused, or scaled when asked explicitly (`scale=`);
* shapes: flat vectors [n, d] or images [n, H, W, C] ([n, H, W]: C = 1), the same for
  every task and split;
* labels: integers [n] (any integer dtype, >= 0) or one-hot rows [n, k] (exactly one 1
  per row), as many as the images; a label outside the task's classes is refused;
* sizes: no empty split; every task's training split at least one minibatch (checked
  against the settings by `check_stream`);
* scoring: a task's validation and test splits each hold examples of at least two of its
  classes (`check_scorable`): the one-vs-rest AUROC of a class needs positive and
  negative examples, and a split of one class has no class with both (a task of one
  class cannot be scored at all). A class absent from the test split is left out of the
  task's AUROC and named (den_tf.evaluation.metrics, docs/metrics.md).

Imports: nothing of den_tf but den_tf.datasets and den_tf.errors.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from den_tf.errors import InputError


def where(task: int, split: str) -> str:
    return f"task {task}, {split}"


def check_pixels(x, task: int, split: str, scale: Optional[float] = None) -> np.ndarray:
    """The pixels of one split as the network will read them (see the module docstring):
    uint8 kept as it is, floats in [0, 1] as float32; `scale` multiplies them first
    (e.g. 1/255 for float images in 0..255). Raises InputError naming the fault."""
    at = where(task, split)
    x = np.asarray(x)
    if x.dtype == object or x.dtype.kind not in "uifb":
        raise InputError(f"{at}: pixels of dtype {x.dtype} (give uint8 0..255 or floats "
                         f"in [0, 1])")
    if x.dtype == np.bool_:
        x = x.astype(np.float32)
    if scale is not None:
        x = x.astype(np.float64) * float(scale)
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind in "iu":
        raise InputError(
            f"{at}: pixels of dtype {x.dtype}; give uint8 (0..255), floats in [0, 1], or "
            f"scale= to turn them into floats in [0, 1] (e.g. scale=1/255)")
    if x.size and not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise InputError(f"{at}: {bad} pixel values are NaN or infinite")
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if lo < 0.0 or hi > 1.0:
        hint = (" (values up to 255: give them as uint8, or scale=1/255)"
                if hi > 1.0 and hi <= 255.0 and lo >= 0.0 else "")
        raise InputError(f"{at}: float pixels must be in [0, 1], these range from {lo:g} "
                         f"to {hi:g}{hint}")
    return x.astype(np.float32)


def flatten(x: np.ndarray, task: int, split: str) -> Tuple[np.ndarray, Optional[tuple]]:
    """([n, d] flat channel-last pixels, (H, W, C) or None for flat vectors)."""
    at = where(task, split)
    if x.ndim == 2:
        return x, None
    if x.ndim == 3:
        return x.reshape(len(x), -1), (x.shape[1], x.shape[2], 1)
    if x.ndim == 4:
        return x.reshape(len(x), -1), tuple(int(d) for d in x.shape[1:])
    raise InputError(f"{at}: images of shape {x.shape}; give flat vectors [n, d] or "
                     f"images [n, H, W, C]")


def label_ids(y, n: int, task: int, split: str) -> Tuple[np.ndarray, Optional[int]]:
    """(integer labels [n], the one-hot width or None) of labels given as integers [n]
    or one-hot rows [n, k]."""
    at = where(task, split)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if len(y) != n:
        raise InputError(f"{at}: {len(y)} labels for {n} images")
    if y.ndim == 2:
        if y.dtype.kind not in "uifb":
            raise InputError(f"{at}: one-hot labels of dtype {y.dtype}")
        yf = y.astype(np.float64)
        ok = np.all((yf == 0) | (yf == 1), axis=1) & (yf.sum(axis=1) == 1)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise InputError(f"{at}: label row {i} is not one-hot (exactly one 1, the rest "
                             f"0): {y[i].tolist()[:12]}")
        return yf.argmax(axis=1).astype(np.int64), int(y.shape[1])
    if y.ndim != 1:
        raise InputError(f"{at}: labels of shape {y.shape}; give integers [n] or one-hot "
                         f"rows [n, classes]")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise InputError(f"{at}: labels must be integers (class ids), got non-integer "
                             f"values such as {y[~(y == np.round(y))][:3].tolist()}")
    elif y.dtype.kind not in "iu":
        raise InputError(f"{at}: labels of dtype {y.dtype}; give integer class ids")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise InputError(f"{at}: label {int(y.min())} is negative (class ids are >= 0)")
    return y, None


def check_in_classes(ids: np.ndarray, classes: Sequence[int], task: int, split: str) -> None:
    """Every label is one of the task's classes."""
    outside = np.setdiff1d(np.unique(ids), np.asarray(classes))
    if outside.size:
        raise InputError(f"{where(task, split)}: label {int(outside[0])} is not one of the "
                         f"task's classes {list(map(int, classes))}")


def check_nonempty(n: int, task: int, split: str) -> None:
    if n == 0:
        raise InputError(f"{where(task, split)}: no examples")


def check_scorable(ids: np.ndarray, classes: Sequence[int], task: int, split: str,
                   hint: str = "") -> None:
    """The split can be scored: examples of at least two of the task's classes (each of
    those then has positive and negative examples, the two its one-vs-rest AUROC
    needs). `hint` ends the message."""
    if len(classes) < 2:
        raise InputError(f"task {task}: a task of one class ({int(classes[0])}) cannot be "
                         f"scored: the AUROC of a class needs examples of another class "
                         f"(give each task at least two classes)")
    present = np.unique(ids)
    if present.size < 2:
        what = (f"one class only ({int(present[0])})" if present.size else "no examples")
        raise InputError(f"{where(task, split)}: examples of {what}; a task is scored by "
                         f"the AUROC of its classes, which needs examples of at least two "
                         f"(the task's classes: {list(map(int, classes))}){hint}")
