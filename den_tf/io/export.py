"""Export of a learned DEN network as a SavedModel that serves the data set's own images.

`export(network, path, transforms)` writes a SavedModel with two signatures, both taking
`images` (float32 [batch, input size]) and `task_id` (int32 scalar, 1-based) and returning
`probabilities` (float32 [batch, n_classes]): the sigmoid outputs of that task's head on
the units of its timestamp (algorithm.md#timestamps, Q12), computed by the network's own
forward pass (`network.forward`: `den_tf.model.forward.mlp_logits` for the MLP, the
convolutional stack of den_tf.model.conv for --arch=lenet|conv5), the one training and
evaluation use. Convolutional networks take the same flat images (reshaped inside).

* `serving_default`: images as the data set stores them (pixels in [0, 1], in the data
  set's pixel order, NOT permuted). The task's own input transform (its pixel permutation,
  for permuted MNIST) is applied inside, so raw test images go in as they are.
* `serve_uint8`: the same for uint8 images (0..255, as the data set's files hold them):
  divided by 255 inside, then as `serving_default`.
* `serve_transformed`: images already transformed for the task, as the network itself
  saw them in training (the contract of the first exports).

The library's pixel rule (den_tf.datasets.checks, as `DEN.predict` applies it) holds in
the served functions: float images with a value outside [0, 1] (pixels in 0..255 given
as floats, say) or NaN are refused by an InvalidArgumentError naming the rule, never
scored (`PIXEL_RULE`; the transformed images of `serve_transformed` are allowed a
rounding slack of 1e-5 above 1, a rotation's resampling).

The model also carries what every task expects, as variables a user can read after
`m = tf.saved_model.load(path)`:

* `m.timestamps`: int32 [tasks, hidden layers + 2], task t's timestamp in row t-1
  ([input size, units of each hidden layer, outputs of its head]: the head's real
  width, where the log's shape lines keep the original's literal 10, faithfulness.md#q12);
* `m.transform_kinds`: string [tasks], the kind of task t's input transform;
* `m.permutations`: int32 [tasks, input size]: for a "permute" task, the transformed
  image is `images[:, m.permutations[t - 1]]` (numpy indexing); for a task of another
  kind, the row is the identity order 0..input size-1.

It loads with plain `tf.saved_model.load`, without den_tf installed.

Transforms. `transforms[t - 1]` is task t's input transform (a list of the whole task
stream may be longer than the tasks learned so far; the rest is unused): a
`den_tf.datasets.transforms.Transform` (`task_transforms(tasks)` gives them for any task
stream), or its description (`Transform.describe()`), e.g. `{"kind": "identity"}`,
`{"kind": "permute", "permutation": [...]}`, `{"kind": "rotate", "degrees": d,
"indices": [4 x input size], "weights": [4 x input size]}`. Each transform's TensorFlow
form (`tf_apply`) is traced into the SavedModel on its parameters read from the model's
variables (`arrays()`: e.g. `m.rotation_indices`, `m.rotation_weights`,
`m.rotation_degrees`), so the model loads without den_tf; a new kind of transform is
added in den_tf.datasets.transforms only.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Sequence

import numpy as np
import tensorflow as tf

from den_tf.datasets.transforms import TRANSFORMS, Transform
from den_tf.model.network import DENNetwork


def make_transform(description, input_size: int) -> Transform:
    """The Transform a description names (ValueError for an unknown kind or bad
    parameters; den_tf.datasets.transforms)."""
    return Transform.from_description(description, input_size)


def task_transforms(tasks) -> List[Transform]:
    """The input transforms of a task stream (den_tf.datasets.streams), task 1 first."""
    return [tasks.transform(t) for t in range(1, tasks.n_tasks + 1)]


@dataclasses.dataclass
class ExportParts:
    """What a SavedModel of a learner holds: `variables` (numpy arrays, each stored once),
    and per task t (1-based, in order) `per_task[t - 1]`: [(variable index, shape)] of the
    parameters its forward pass takes, in order (a shape smaller than the variable's is
    its top-left slice: a timestamp's units, faithfulness.md#q12), `forwards[t - 1]` its forward
    pass, `stamps[t - 1]` its timestamp."""

    variables: List[np.ndarray]
    per_task: List[List[tuple]]
    forwards: List[Callable]
    stamps: List[List[int]]
    input_size: int


def network_parts(network: DENNetwork, stamps=None) -> ExportParts:
    """ExportParts of a DENNetwork: the hidden layers once and every head, task t on its
    timestamp's slices (the library's own slicing, network.params_for, so the export
    cannot drift from training and evaluation)."""
    stamps = network.stamps if stamps is None else stamps
    tasks = sorted(stamps)
    variables, per_task = [], []
    for layer in network.hidden:
        variables += [layer.kernel.numpy(), layer.bias.numpy()]
    n_hidden = len(variables)
    for i, t in enumerate(tasks):
        head = network.heads[t]
        variables += [head.kernel.numpy(), head.bias.numpy()]
        shapes = [tuple(int(d) for d in p.shape) for p in network.params_for(t)]
        index = list(range(n_hidden)) + [n_hidden + 2 * i, n_hidden + 2 * i + 1]
        per_task.append(list(zip(index, shapes)))
    return ExportParts(variables, per_task, [network.forward] * len(tasks),
                       [list(stamps[t]) for t in tasks], network.input_size)


def layer_parts(task_layers: Sequence[Sequence], forwards: Sequence[Callable],
                stamps: Sequence[Sequence[int]], input_size: int) -> ExportParts:
    """ExportParts of methods whose task t runs on whole layers `task_layers[t - 1]`
    (a layer shared by several tasks is stored once: progressive's columns)."""
    variables, seen, per_task = [], {}, []
    for layers in task_layers:
        index = []
        for layer in layers:
            for v in (layer.kernel, layer.bias):
                if id(v) not in seen:
                    seen[id(v)] = len(variables)
                    variables.append(v.numpy())
                index.append((seen[id(v)], tuple(int(d) for d in v.shape)))
        per_task.append(index)
    return ExportParts(variables, per_task, list(forwards), [list(s) for s in stamps],
                       int(input_size))


class _Module(tf.Module):
    def __init__(self, parts: ExportParts, transforms: List[Transform], class_ids):
        super().__init__(name="den")
        self.weights = [tf.Variable(v, trainable=False) for v in parts.variables]
        self.per_task = parts.per_task
        self.forwards = parts.forwards  # traced into the graph: no den_tf needed to load
        self.input_size = parts.input_size
        self.transforms = transforms
        n = len(parts.per_task)
        # What every task expects, readable by users of the loaded model.
        width = max(1, max(len(c) for c in class_ids))
        stamps = np.full((n, max(len(s) for s in parts.stamps)), -1, np.int32)
        for i, st in enumerate(parts.stamps):
            stamps[i, :len(st)] = st
            # the head's real width (its bias' length), not the stamp's literal 10 (Q12)
            stamps[i, len(st) - 1] = int(parts.per_task[i][-1][1][-1])
        self.timestamps = tf.Variable(stamps, trainable=False)
        ids = np.full((n, width), -1, np.int32)
        for i, c in enumerate(class_ids):
            ids[i, :len(c)] = c
        self.class_ids = tf.Variable(ids, trainable=False)
        self.n_outputs = tf.Variable(np.asarray([len(c) for c in class_ids], np.int32),
                                     trainable=False)
        self.transform_kinds = tf.Variable([tr.KIND for tr in transforms], trainable=False)
        self.field_names = []
        for cls in TRANSFORMS.values():
            for name, value in cls.neutral(self.input_size).items():
                rows = [tr.arrays().get(name, value) if isinstance(tr, cls) else value
                        for tr in transforms]
                setattr(self, name, tf.Variable(np.stack(rows), trainable=False))
                self.field_names.append(name)

    def _probabilities(self, i: int, x):
        params = [self.weights[k][tuple(slice(0, d) for d in shape)]
                  for k, shape in self.per_task[i]]
        p = tf.sigmoid(self.forwards[i](params, x))
        width = int(self.class_ids.shape[1])  # every branch the same width: padded
        if int(p.shape[1]) < width:
            p = tf.pad(p, [[0, 0], [0, width - int(p.shape[1])]], constant_values=-1.0)
        return p

    def _raw_branch(self, i: int, images):
        row = {name: getattr(self, name)[i] for name in self.field_names}
        return self._probabilities(i, self.transforms[i].tf_apply(images, row))

    def _switch(self, branch, images, task_id):
        checks = [tf.debugging.assert_greater_equal(task_id, 1, message="task_id starts at 1"),
                  tf.debugging.assert_less_equal(
                      task_id, len(self.per_task),
                      message="task_id above the number of tasks learned")]
        with tf.control_dependencies(checks):  # (before any gather by task_id)
            index = tf.identity(task_id - 1)
        branches = [lambda i=i: branch(i, images) for i in range(len(self.per_task))]
        p = tf.switch_case(index, branches)
        k = tf.gather(self.n_outputs, index)
        ids = tf.gather(self.class_ids, index)
        scores = tf.where(tf.range(tf.shape(p)[1]) < k, p, -1.0)
        return {"probabilities": p[:, :k],
                "classes": tf.gather(ids, tf.argmax(scores, axis=1, output_type=tf.int32))}

    def serve(self, images, task_id):
        return self._switch(self._raw_branch, pixel_rule(images), task_id)

    def serve_uint8(self, images, task_id):
        return self._switch(self._raw_branch, tf.cast(images, tf.float32) / 255.0, task_id)

    def serve_transformed(self, images, task_id):
        return self._switch(self._probabilities, pixel_rule(images, slack=1e-5), task_id)


PIXEL_RULE = ("images: float pixels must be finite and in [0, 1] (the pixel rule; pixels "
              "in 0..255: divide them by 255, or give uint8 to serve_uint8)")


def pixel_rule(images, slack: float = 0.0):
    """`images`, once checked against the library's pixel rule for float pixels (finite,
    in [0, 1 + slack]); else an InvalidArgumentError whose message starts with
    PIXEL_RULE and gives the range found."""
    finite = tf.reduce_all(tf.math.is_finite(images))
    lo, hi = tf.reduce_min(images), tf.reduce_max(images)  # (+inf, -inf when empty)
    ok = tf.logical_and(finite, tf.logical_and(lo >= 0.0, hi <= 1.0 + slack))
    check = tf.debugging.Assert(ok, [PIXEL_RULE + "; these range from", lo, "to", hi,
                                     "all finite:", finite])
    with tf.control_dependencies([check]):
        return tf.identity(images)


def _transforms(transforms: Sequence, n: int, input_size: int) -> List[Transform]:
    if len(transforms) < n:
        raise ValueError(f"{n} tasks learned but {len(transforms)} input transforms given")
    built = []
    for t, description in enumerate(transforms[:n], start=1):
        try:
            built.append(make_transform(description, input_size))
        except ValueError as e:
            raise ValueError(f"task {t}: {e}") from None
    return built


def write(parts: ExportParts, path: str, transforms: Sequence, class_ids=None) -> str:
    """Writes the SavedModel of `parts` (every task learned); returns path. class_ids:
    what each task's outputs stand for (default: 0..k-1)."""
    n = len(parts.per_task)
    built = _transforms(transforms, n, parts.input_size)
    if class_ids is None:
        class_ids = [list(range(int(p[-1][1][-1]))) for p in parts.per_task]
    module = _Module(parts, built, [list(map(int, c)) for c in class_ids[:n]])
    spec = [tf.TensorSpec([None, parts.input_size], tf.float32, name="images"),
            tf.TensorSpec([], tf.int32, name="task_id")]
    module.serving = tf.function(module.serve, input_signature=spec)
    module.serving_uint8 = tf.function(module.serve_uint8, input_signature=[
        tf.TensorSpec([None, parts.input_size], tf.uint8, name="images"), spec[1]])
    module.transformed = tf.function(module.serve_transformed, input_signature=spec)
    tf.saved_model.save(module, path, signatures={"serving_default": module.serving,
                                                  "serve_uint8": module.serving_uint8,
                                                  "serve_transformed": module.transformed})
    return path


def export(network: DENNetwork, path: str, transforms: Sequence, class_ids=None) -> str:
    """Writes the SavedModel of every task a DEN network learned so far; returns path.

    transforms: task t's input transform in transforms[t - 1] (see the module
    docstring), at least one per task learned.
    """
    n = len(network.stamps)
    if sorted(network.stamps) != list(range(1, n + 1)):
        raise ValueError(f"tasks learned must be 1..{n}, got {sorted(network.stamps)}")
    return write(network_parts(network), path, transforms, class_ids)


def export_learner(learner, path: str) -> str:
    """The SavedModel of any method (DEN or a baseline, den_tf.learner): its tasks'
    transforms and class ids from its task stream."""
    n = learner.done
    tasks = learner.tasks
    return write(learner.export_parts(), path, [tasks.transform(t) for t in range(1, n + 1)],
                 [list(tasks.class_ids(t)) for t in range(1, n + 1)])
