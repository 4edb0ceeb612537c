"""Export of a learned DEN network as a SavedModel that serves the data set's own images.

`export(network, path, transforms)` writes a SavedModel with two signatures, both taking
`images` (float32 [batch, input size]) and `task_id` (int32 scalar, 1-based) and returning
`probabilities` (float32 [batch, n_classes]): the sigmoid outputs of that task's head on
the units of its timestamp (spec "End of every task", Q12), computed by the network's own
forward pass (`network.forward`: `den_tf.model.forward.mlp_logits` for the MLP, the
convolutional stack of den_tf.model.conv for --arch=lenet|conv5), the one training and
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

from typing import List, Sequence

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
                rows = [tr.arrays().get(name, value) if isinstance(tr, cls) else value
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
        return self._probabilities(i, self.transforms[i].tf_apply(images, row))

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
