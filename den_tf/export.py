"""Export of a learned DEN network as a SavedModel that serves the data set's own images.

`export(network, path, transforms)` writes a SavedModel with two signatures, both taking
`images` (float32 [batch, input size]) and `task_id` (int32 scalar, 1-based) and returning
`probabilities` (float32 [batch, n_classes]): the sigmoid outputs of that task's head on
the units of its timestamp (spec "End of every task", Q12), computed by the network's own
forward pass (`network.forward`: `den_tf.network.mlp_logits` for the MLP, the
convolutional stack of den_tf.conv for --arch=lenet|conv5), the one training and
evaluation use. Convolutional networks take the same flat images (reshaped inside).

* `serving_default`: images as the data set stores them (pixels in [0, 1], in the data
  set's pixel order, NOT permuted). The task's own input transform (its pixel permutation,
  for permuted MNIST) is applied inside, so raw test images go in as they are.
* `serve_transformed`: images already transformed for the task, as the network itself
  saw them in training (the contract of the first exports).

The model also carries what every task expects, as variables a user can read after
`m = tf.saved_model.load(path)`:

* `m.timestamps`: int32 [tasks, hidden layers + 2], task t's timestamp in row t-1
  ([input size, units of each hidden layer, 10], spec Q12);
* `m.transform_kinds`: string [tasks], the kind of task t's input transform;
* `m.permutations`: int32 [tasks, input size]: for a "permute" task, the transformed
  image is `images[:, m.permutations[t - 1]]` (numpy indexing); for a task of another
  kind, the row is the identity order 0..input size-1.

It loads with plain `tf.saved_model.load`, without den_tf installed.

Transforms. `transforms[t - 1]` describes task t's input transform as a dict (a list of
the whole task stream may be longer than the tasks learned so far; the rest is unused):

* `{"kind": "identity"}`: the network reads the images unchanged (e.g. a class split of
  MNIST: same pixels, a subset of the classes);
* `{"kind": "permute", "permutation": int array [input size]}`: permuted MNIST (spec "The
  benchmark");
* `{"kind": "rotate", "degrees": d, "indices": int [4, input size], "weights": float
  [4, input size]}`: a rotated stream's bilinear resampling (`m.rotation_indices`,
  `m.rotation_weights`, `m.rotation_degrees` carry it).
`task_transforms(tasks)` gives these for any task stream.

Adding a kind (say a colour jitter):
subclass `Transform`, set `KIND`, check the description in `__init__`, return the task's
parameters from `fields()` and the values for tasks of other kinds from `neutral()` (each
field becomes a per-task variable of the model, e.g. `m.rotation_degrees` float32
[tasks]), write `apply(images, row)` with TensorFlow ops only (it is traced into the
SavedModel, which must load without den_tf; `row` holds this task's row of every field,
read from those variables), and add the class to `TRANSFORMS`.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from den_tf.network import DENNetwork


class Transform:
    """One task's input transform: raw images [batch, input size] -> the network's input."""

    KIND = ""

    def __init__(self, description: dict, input_size: int):
        self.input_size = int(input_size)

    def fields(self) -> Dict[str, np.ndarray]:
        """This task's parameters, by the name of the model variable that carries them."""
        return {}

    @classmethod
    def neutral(cls, input_size: int) -> Dict[str, np.ndarray]:
        """The row of every field for a task of another kind."""
        return {}

    def apply(self, images, row: Dict[str, tf.Tensor]):
        """The transformed images, in TensorFlow ops; `row`: this task's field values."""
        raise NotImplementedError


class Identity(Transform):
    """The images as they are."""

    KIND = "identity"

    def apply(self, images, row):
        return images


class Permute(Transform):
    """A fixed pixel permutation (spec "The benchmark"): out[:, j] = images[:, perm[j]]."""

    KIND = "permute"

    def __init__(self, description: dict, input_size: int):
        super().__init__(description, input_size)
        if "permutation" not in description:
            raise ValueError('a "permute" transform needs a "permutation"')
        perm = np.asarray(description["permutation"])
        if (perm.shape != (self.input_size,) or not np.issubdtype(perm.dtype, np.integer)
                or not np.array_equal(np.sort(perm), np.arange(self.input_size))):
            raise ValueError(f"the permutation must hold each of 0..{self.input_size - 1} "
                             f"once (got shape {perm.shape}, dtype {perm.dtype})")
        self.permutation = perm.astype(np.int32)

    def fields(self):
        return {"permutations": self.permutation}

    @classmethod
    def neutral(cls, input_size):
        return {"permutations": np.arange(input_size, dtype=np.int32)}

    def apply(self, images, row):
        return tf.gather(images, row["permutations"], axis=1)


class Rotate(Transform):
    """A fixed rotation as a bilinear resampling (den_tf.datasets.streams, `rotated`):
    out[:, j] = sum_k weights[k, j] * images[:, indices[k, j]], 4 taps per pixel."""

    KIND = "rotate"

    def __init__(self, description: dict, input_size: int):
        super().__init__(description, input_size)
        idx = np.asarray(description.get("indices"))
        w = np.asarray(description.get("weights"))
        if idx.shape != (4, self.input_size) or w.shape != (4, self.input_size):
            raise ValueError(f'a "rotate" transform needs "indices" and "weights" of shape '
                             f'(4, {self.input_size})')
        if idx.min() < 0 or idx.max() >= self.input_size:
            raise ValueError("rotation indices out of range")
        self.indices, self.weights = idx.astype(np.int32), w.astype(np.float32)
        self.degrees = np.float32(description.get("degrees", np.nan))

    def fields(self):
        return {"rotation_indices": self.indices, "rotation_weights": self.weights,
                "rotation_degrees": self.degrees}

    @classmethod
    def neutral(cls, input_size):
        idx = np.zeros((4, input_size), np.int32)
        idx[0] = np.arange(input_size)
        w = np.zeros((4, input_size), np.float32)
        w[0] = 1.0
        return {"rotation_indices": idx, "rotation_weights": w,
                "rotation_degrees": np.float32(0.0)}

    def apply(self, images, row):
        idx, w = row["rotation_indices"], row["rotation_weights"]
        return tf.add_n([tf.gather(images, idx[k], axis=1) * w[k] for k in range(4)])


TRANSFORMS = {cls.KIND: cls for cls in (Identity, Permute, Rotate)}


def make_transform(description: dict, input_size: int) -> Transform:
    """The Transform a description names (ValueError for an unknown kind)."""
    kind = description.get("kind") if isinstance(description, dict) else None
    if kind not in TRANSFORMS:
        raise ValueError(f"unknown input transform kind {kind!r} (known: "
                         f"{', '.join(sorted(TRANSFORMS))})")
    return TRANSFORMS[kind](description, input_size)


def task_transforms(tasks) -> List[dict]:
    """The transform descriptions of a task stream (den_tf.datasets.streams), task 1
    first."""
    if hasattr(tasks, "transform"):
        return [tasks.transform(t) for t in range(1, tasks.n_tasks + 1)]
    return [{"kind": Permute.KIND, "permutation": np.asarray(p)} for p in tasks.permutations]


class _DENModule(tf.Module):
    def __init__(self, network: DENNetwork, transforms: List[Transform]):
        super().__init__(name="den")
        self.hidden_kernels = [tf.Variable(l.kernel.numpy(), trainable=False) for l in network.hidden]
        self.hidden_biases = [tf.Variable(l.bias.numpy(), trainable=False) for l in network.hidden]
        self.tasks = sorted(network.stamps)
        self.head_kernels = [tf.Variable(network.heads[t].kernel.numpy(), trainable=False)
                             for t in self.tasks]
        self.head_biases = [tf.Variable(network.heads[t].bias.numpy(), trainable=False)
                            for t in self.tasks]
        self.stamps = [list(network.stamps[t]) for t in self.tasks]
        # The shape of every parameter as task t runs on it: the library's own slicing
        # (network.params_for), so the export cannot drift from training and evaluation.
        self.shapes = [[tuple(int(d) for d in p.shape) for p in network.params_for(t)]
                       for t in self.tasks]
        self.input_size = network.input_size
        self._forward = network.forward  # traced into the graph: no den_tf needed to load
        self.transforms = transforms
        # What every task expects, readable by users of the loaded model.
        self.timestamps = tf.Variable(np.asarray(self.stamps, np.int32), trainable=False)
        self.transform_kinds = tf.Variable([tr.KIND for tr in transforms], trainable=False)
        self.field_names = []
        for cls in TRANSFORMS.values():
            for name, value in cls.neutral(self.input_size).items():
                rows = [tr.fields().get(name, value) if isinstance(tr, cls) else value
                        for tr in transforms]
                setattr(self, name, tf.Variable(np.stack(rows), trainable=False))
                self.field_names.append(name)

    def _probabilities(self, i: int, x):
        full = []
        for k, b in zip(self.hidden_kernels, self.hidden_biases):
            full += [k, b]
        full += [self.head_kernels[i], self.head_biases[i]]
        params = [v[tuple(slice(0, d) for d in shape)] for v, shape in zip(full, self.shapes[i])]
        return tf.sigmoid(self._forward(params, x))

    def _raw_branch(self, i: int, images):
        row = {name: getattr(self, name)[i] for name in self.field_names}
        return self._probabilities(i, self.transforms[i].apply(images, row))

    def _switch(self, branch, images, task_id):
        tf.debugging.assert_greater_equal(task_id, 1, message="task_id starts at 1")
        tf.debugging.assert_less_equal(task_id, len(self.tasks),
                                       message="task_id above the number of tasks learned")
        branches = [lambda i=i: branch(i, images) for i in range(len(self.tasks))]
        return {"probabilities": tf.switch_case(task_id - 1, branches)}

    def serve(self, images, task_id):
        return self._switch(self._raw_branch, images, task_id)

    def serve_transformed(self, images, task_id):
        return self._switch(self._probabilities, images, task_id)


def export(network: DENNetwork, path: str, transforms: Sequence[dict]) -> str:
    """Writes the SavedModel of every task learned so far; returns path.

    transforms: task t's input transform description in transforms[t - 1] (see the module
    docstring), at least one per task learned.
    """
    n = len(network.stamps)
    if sorted(network.stamps) != list(range(1, n + 1)):
        raise ValueError(f"tasks learned must be 1..{n}, got {sorted(network.stamps)}")
    if len(transforms) < n:
        raise ValueError(f"{n} tasks learned but {len(transforms)} input transforms given")
    built = []
    for t, description in enumerate(transforms[:n], start=1):
        try:
            built.append(make_transform(description, network.input_size))
        except ValueError as e:
            raise ValueError(f"task {t}: {e}") from None
    module = _DENModule(network, built)
    spec = [tf.TensorSpec([None, network.input_size], tf.float32, name="images"),
            tf.TensorSpec([], tf.int32, name="task_id")]
    module.serving = tf.function(module.serve, input_signature=spec)
    module.transformed = tf.function(module.serve_transformed, input_signature=spec)
    tf.saved_model.save(module, path, signatures={"serving_default": module.serving,
                                                  "serve_transformed": module.transformed})
    return path
