"""DNN-MTL: multi-task learning, one network with every task's head trained jointly on
all tasks at once (the paper's "DNN-MTL", Sec. 4.1: the upper reference, since it sees
every task's data together and has no sequence).

How batches mix the tasks: each step's minibatch of --batch_size examples is drawn
uniformly (without repeats, DEN's rule) from the union of all tasks' training examples
(task t's examples are its images in its own pixel order: n_tasks x 55000 for permuted
MNIST), so a minibatch holds about batch_size / n_tasks examples of each task. Every
example's logits come from its own task's head (`pooled_forward`: the example's task
index rides along as one extra input column that the forward pass reads off); the loss is
DEN's mean sigmoid cross-entropy over the minibatch.

Number of steps: --max_iter x n_tasks, the total number of steps the sequential methods
take (each task gets max_iter steps' worth of examples, on average), with DEN's
validation every 100 steps and early stopping on the pooled validation sets of all
tasks (its AUROC line is over the pooled outputs); the learning rate decays 0.95 per
epoch of the union (n_tasks x 55000 examples), so over the run as it does in one task of
the others.

There is no task-by-task sequence: tasks 1..T-1 only join the pool (their header and one
line in the log; no training, no evaluation), and the whole network trains in task T.
In the results JSON the rows of the AUROC and accuracy matrices before the last are all
None (and so are avg_perf, capacity, units_per_layer and sparsity for those tasks; BWT is
None): only the final row is real.
"""

from __future__ import annotations

import functools
import time
from typing import List, Optional

import numpy as np
import tensorflow as tf

from den_tf.baselines.base import Method, OneNetwork
from den_tf.datasets.base import to_float
from den_tf.datasets.tensors import TaskTensors, task_batch
from den_tf.datasets.transforms import Permute
from den_tf.engine.runner import PhaseSpec
from den_tf.io import loglines
from den_tf.learner.frame import MethodRecord, phase_stats
from den_tf.model.forward import features_of


@functools.lru_cache(maxsize=None)
def pooled_forward(network_forward, n_hidden: int, n_tasks: int):
    """Forward pass over [W1, b1, ..., WL, bL, head_1 W, b, ..., head_T W, b] for inputs
    whose last column is each example's task index (0-based): the network's hidden
    layers (`features_of(network_forward)`: the MLP's, or a convolutional stack's) on the
    other columns, then every example's logits from its own task's head."""
    features = features_of(network_forward)

    def forward(params, x):
        task = tf.cast(x[:, -1], tf.int32)
        h = features(params[:2 * n_hidden], x[:, :-1])
        heads = params[2 * n_hidden:]
        k = int(heads[0].shape[1])
        z = tf.matmul(h, tf.concat(heads[0::2], 1)) + tf.concat(heads[1::2], 0)
        z = tf.reshape(z, [-1, n_tasks, k])
        return tf.gather(z, task, batch_dims=1)
    return forward


class PooledTasks:
    """The union of every task's training examples, and the pooled validation sets,
    for the phase runner (`PhaseSpec.batch = PooledTasks.batch`).

    Example g of the union is example g - offset[t] of task t (tasks in order). The
    per-task training fields the runner passes along are None: `batch` draws the
    minibatches."""

    train_x = train_y = train_index = None
    batch_transform = (None, {})

    def __init__(self, parts: List[TaskTensors]):
        self.parts = list(parts)
        sizes = [p.n_train for p in self.parts]
        self.n_train = int(sum(sizes))
        self.offsets = tf.constant(np.cumsum([0] + sizes[:-1]), tf.int32)
        self.val_x = tf.concat([with_task(d.val_x, t) for t, d in enumerate(parts)], 0)
        self.val_y = tf.concat([d.val_y for d in parts], 0)
        first = self.parts[0]
        # Permuted streams: every task reads the same resident images in its own pixel
        # order; one gather of rows and one per-example gather of pixels do.
        self.shared = all(p.train_x is first.train_x and p.train_y is first.train_y
                          and p.train_index is None and isinstance(p.transform, Permute)
                          for p in self.parts)
        self.perms = (tf.stack([p.transform.tensors()["permutations"] for p in self.parts])
                      if self.shared else None)

    def task_of(self, idx):
        """(task index 0-based, index within the task) of union indices."""
        starts = self.offsets[1:]  # (a comparison count: XLA has no searchsorted)
        task = tf.reduce_sum(tf.cast(idx[:, None] >= starts[None, :], tf.int32), 1)
        return task, idx - tf.gather(self.offsets, task)

    def batch(self, idx):
        """Minibatch `idx` of the union: images in their task's pixel order with the task
        index as the last column, and labels."""
        task, local = self.task_of(idx)
        if self.shared:
            p = self.parts[0]
            x = tf.gather(p.train_x, local)
            if x.dtype != tf.float32:
                x = to_float(x)
            x = tf.gather(x, tf.gather(self.perms, task), batch_dims=1)
            y = tf.gather(p.train_y, local)
        else:  # any stream: each task's own minibatch rule, kept where the task matches
            x = y = None
            for t, p in enumerate(self.parts):
                xt, yt = task_batch(p, tf.minimum(local, p.n_train - 1))
                if x is None:
                    x, y = xt, yt
                else:
                    here = (task == t)[:, None]
                    x, y = tf.where(here, xt, x), tf.where(here, yt, y)
        return with_task(x, task), y


def with_task(x, task):
    """x with the task index (0-based; a scalar or one per example) as a last column."""
    t = tf.cast(tf.broadcast_to(task, [tf.shape(x)[0]]), tf.float32)
    return tf.concat([x, t[:, None]], 1)


class MTL(OneNetwork, Method):
    """One network, all heads trained jointly on all tasks (see the module docstring)."""

    name = "mtl"

    def describe(self) -> str:
        return (f"mtl: one network with {self.n_tasks} heads trained jointly on the union "
                f"of all tasks for max_iter x {self.n_tasks} steps, each example through "
                f"its own task's head; tasks before the last only join the pool")

    def learn_task(self, t: int) -> MethodRecord:
        start = self.start_task(t)
        if t < self.n_tasks:
            self.log(loglines.ours(f"mtl: task {t} joins the pool; the network trains once "
                                 f"all {self.n_tasks} tasks are in"))
            self.done = t
            record = MethodRecord(t, None, None, None, None, None, None, None, {},
                                  time.perf_counter() - start)
            self.records.append(record)
            return record
        parts = [self.tasks.task_tensors(j) for j in range(1, self.n_tasks + 1)]
        pool = PooledTasks(parts)
        T = self.n_tasks
        self.build_network(1)
        net = self.network
        for j in range(2, T + 1):
            self.add_head(j)
        layers = net.hidden + [net.heads[j] for j in range(1, T + 1)]
        for layer in layers:
            layer.set_trainable(True, True)
        steps = self.config.max_iter * T
        self.log(loglines.ours(f"mtl: training all {T} heads jointly, {steps} steps over "
                             f"{pool.n_train} pooled examples"))
        spec = PhaseSpec(t, "joint", layers, forward=pooled_forward(net.forward, net.n_hidden, T),
                         batch=pool.batch)
        result = self.train(spec, self.hyper(pool.n_train, max_iter=steps), pool,
                                pool.n_train)
        for layer in layers:
            layer.freeze()
        phases = {spec.name: phase_stats(result)}
        for j in range(1, T):  # every task's test line, after the joint training
            self.stamps[j] = self.stamp(j)
            for line in self.shape_lines(j):
                self.log(line)
            s = self.score(j, parts[j - 1].test_x, parts[j - 1].test_y)
            self.log(loglines.task_result(j, s.loss, s.auroc, self.sparsity(j)))
        return self.finish_task(t, parts[-1], phases, start)

    def evaluate_all(self, upto: Optional[int] = None):
        upto = self.done if upto is None else upto
        if upto < self.n_tasks:
            self.log(loglines.ours(f"mtl: nothing to evaluate before the joint training "
                                 f"(row {upto} of the matrices is empty)"))
            self.scores.append([])
            return []
        return super().evaluate_all(upto)

