"""Export of a learned DEN network as a SavedModel.

`export(network, path)` writes a SavedModel whose `serving_default` signature takes
`images` (float32 [batch, input size], pixels in [0, 1], already permuted for the task)
and `task_id` (int32 scalar, 1-based) and returns `probabilities` (float32 [batch,
n_classes]): the sigmoid outputs of that task's head on the units of its timestamp. It
loads with plain `tf.saved_model.load`, without den_tf installed.
"""

from __future__ import annotations

import tensorflow as tf

from den_tf.network import DENNetwork, mlp_logits


class _DENModule(tf.Module):
    def __init__(self, network: DENNetwork):
        super().__init__(name="den")
        self.hidden_kernels = [tf.Variable(l.kernel.numpy(), trainable=False) for l in network.hidden]
        self.hidden_biases = [tf.Variable(l.bias.numpy(), trainable=False) for l in network.hidden]
        self.tasks = sorted(network.stamps)
        self.head_kernels = [tf.Variable(network.heads[t].kernel.numpy(), trainable=False)
                             for t in self.tasks]
        self.head_biases = [tf.Variable(network.heads[t].bias.numpy(), trainable=False)
                            for t in self.tasks]
        self.stamps = [list(network.stamps[t]) for t in self.tasks]
        self.input_size = network.input_size
        self.timestamps = tf.constant(self.stamps, tf.int32)  # for users: [task, sizes]

    def _branch(self, i: int, x):
        stamp = self.stamps[i]
        params = []
        for l, (k, b) in enumerate(zip(self.hidden_kernels, self.hidden_biases)):
            params += [k[: stamp[l], : stamp[l + 1]], b[: stamp[l + 1]]]
        hk, hb = self.head_kernels[i], self.head_biases[i]
        params += [hk[: stamp[-2], : stamp[-1]], hb[: stamp[-1]]]
        return tf.sigmoid(mlp_logits(params, x))

    def serve(self, images, task_id):
        tf.debugging.assert_greater_equal(task_id, 1, message="task_id starts at 1")
        tf.debugging.assert_less_equal(task_id, len(self.tasks),
                                       message="task_id above the number of tasks learned")
        branches = [lambda i=i: self._branch(i, images) for i in range(len(self.tasks))]
        return {"probabilities": tf.switch_case(task_id - 1, branches)}


def export(network: DENNetwork, path: str) -> str:
    """Writes the SavedModel of every task learned so far; returns path."""
    module = _DENModule(network)
    serve = tf.function(module.serve, input_signature=[
        tf.TensorSpec([None, network.input_size], tf.float32, name="images"),
        tf.TensorSpec([], tf.int32, name="task_id")])
    module.serving = serve
    tf.saved_model.save(module, path, signatures={"serving_default": serve})
    return path
