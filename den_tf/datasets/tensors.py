"""One task's data resident as tensors, for the phase runner (den_tf.engine.runner).

* `resident(data)`: a data set's training pixels and labels as tensors, untransformed,
  made once per data set and shared by every task and every stream (the one cache).
* `TaskTensors`: a task's training tensors (the shared ones; its transform is applied to
  each minibatch inside the compiled step) and its validation and test sets (held
  transformed, as float32).
* `train_batch`: one minibatch as the task sees it (algorithm.md#minibatches:
  a random subset of the training set, TF1's float32 pixels).

Imports: nothing of den_tf but den_tf.datasets.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Optional

import tensorflow as tf

from den_tf.datasets.base import to_float
from den_tf.datasets.transforms import Identity, Transform

_RESIDENT: dict = {}  # id(data) -> (pixels, labels); dropped when the data set is
# id(task tensors) -> their training pixels with the transform applied (`train_view`):
# the most recent task's only, dropped with it.
_VIEW: dict = {}
# The largest training set `train_view` copies (bytes); a larger one is transformed
# minibatch by minibatch in the step.
MAX_VIEW_BYTES = 1 << 30


def resident(data):
    """(pixels, labels) of `data`'s training split as tensors, made once per data set
    and freed with it."""
    key = id(data)
    base = _RESIDENT.get(key)
    if base is None:
        base = (tf.constant(data.train.pixels), tf.constant(data.train.labels))
        _RESIDENT[key] = base
        weakref.finalize(data, _RESIDENT.pop, key, None)
    return base


@dataclasses.dataclass
class TaskTensors:
    """One task's data, resident as tensors.

    The training images stay untransformed, as stored (uint8 bytes for MNIST), and are
    shared by every task of a data set: each minibatch is gathered, scaled to TF1's
    float32 values and transformed inside the compiled step (`train_batch`). Validation
    and test images are held transformed, as float32.
    """

    train_x: tf.Tensor  # [n, d], uint8 pixels or float32 values, untransformed
    train_y: tf.Tensor
    val_x: tf.Tensor  # float32, transformed
    val_y: tf.Tensor
    test_x: tf.Tensor
    test_y: tf.Tensor
    # The task's input transform (den_tf.datasets.transforms), applied to each training
    # minibatch (Identity: none).
    transform: Optional[Transform] = None
    # The task's training examples among train_x (int32 [n_task]; None: all of them).
    # With it, train_y holds the task's labels in that order and minibatch indices
    # count within the task's examples (class-split task streams).
    train_index: Optional[tf.Tensor] = None

    def __post_init__(self):
        if self.transform is None:
            self.transform = Identity(int(self.train_x.shape[1]))

    @property
    def n_train(self) -> int:
        """Training examples of the task (the epoch of the learning-rate decay)."""
        n = self.train_index if self.train_index is not None else self.train_x
        return int(n.shape[0])

    @property
    def batch_transform(self):
        """(the transform's class, its parameters as tensors) for `train_batch`: the
        class is static in a compiled step, the parameters are its arguments; (None,
        {}) for no transform."""
        if self.transform.is_identity:
            return None, {}
        return type(self.transform), self.transform.tensors()

    def train_view(self):
        """(training pixels, transform class, its tensors) for `train_batch`, as the phase
        runner gives them to its compiled step with --permute_once (`PhaseRunner.source`).
        For a transform that only moves pixels (`Transform.REARRANGES`: a permutation)
        the task's own copy of the training pixels with it applied, made once (kept for
        the most recent task only, at most MAX_VIEW_BYTES) and no transform left for the
        step: a minibatch is then a gather of whole rows instead of rows and permuted
        columns (docs/speed.md, "Permuting a task once"). The minibatches are the same
        to the bit (the bytes move before the scaling to float32 instead of after).
        Otherwise the shared pixels and `batch_transform`."""
        kind, params = self.batch_transform
        x = self.train_x
        if (kind is None or not kind.REARRANGES
                or x.shape.num_elements() * x.dtype.size > MAX_VIEW_BYTES):
            return x, kind, params
        key = id(self)
        if key not in _VIEW:
            _VIEW.clear()
            _VIEW[key] = kind.tf_apply(x, params)
            weakref.finalize(self, _VIEW.pop, key, None)
        return _VIEW[key], None, {}

    @classmethod
    def of(cls, task) -> "TaskTensors":
        """The resident tensors of a task (a `den_tf.datasets.streams.Task`): the data
        set's training pixels, shared and untransformed (each minibatch is transformed
        inside the compiled step), the task's examples among them, and its validation
        and test sets transformed, as float32."""
        pixels, labels = resident(task.data)
        idx = task.examples("train")
        if idx is None:
            train_y, train_index = labels, None
        else:
            train_y, train_index = tf.constant(task.labels("train")), tf.constant(idx)
        vx, tx = task.images("validation"), task.images("test")
        transform = Identity(task.transform.input_size) if task.transform.is_identity \
            else task.transform
        return cls(pixels, train_y, tf.constant(vx), tf.constant(task.labels("validation")),
                   tf.constant(tx), tf.constant(task.labels("test")),
                   transform=transform, train_index=train_index)


def train_batch(x_all, y_all, idx, kind=None, params=None, train_index=None):
    """Minibatch `idx` as float32 images as the task sees them, and its labels: rows
    `idx` (of the task's examples `train_index`, when given) scaled to TF1's float32
    pixels, then `kind.tf_apply(x, params)`, the task's transform (TaskTensors.
    batch_transform; None: none)."""
    x = tf.gather(x_all, idx if train_index is None else tf.gather(train_index, idx))
    if x.dtype != tf.float32:
        x = to_float(x)
    if kind is not None:
        x = kind.tf_apply(x, params)
    return x, tf.gather(y_all, idx)


def task_batch(data: TaskTensors, idx):
    """`train_batch` of a TaskTensors' own tensors."""
    kind, params = data.batch_transform
    return train_batch(data.train_x, data.train_y, idx, kind, params, data.train_index)
