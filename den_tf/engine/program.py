"""The step program of a phase: its compiled chunk of steps and the state it reads and
writes (algorithm.md#shared; the phase runner, den_tf.engine.runner,
builds one per phase and runs it). One step, compiled with XLA when enabled:

1. a minibatch gathered from the task's resident training tensors (a permuted task's
   columns permuted in the step; with `Hyper.permute_once`, --permute_once, gathered
   from the task's pixels permuted once, `TaskTensors.train_view`);
2. objective (algorithm.md#objective): mean sigmoid CE
   + l2_lambda * sum over trainable entries of v^2 / 2
   + regular_lambda * sum over the previous-task block of (v - prev)^2 / 2;
3. Adam (TF1's update and defaults: beta1 0.9, beta2 0.999, epsilon 1e-8), a fresh
   optimizer per phase, learning rate lr * 0.95 ** floor(step * batch_size / n_train);
4. proximal updates (paper Eq. 2-3): L1 on every trainable entry and group lasso on
   the phase's group blocks, in the order `Hyper.prox_order` names (Q14; the original
   has no order between them);
5. frozen entries written back unchanged: they never move, not by one ulp.

A kernel whose trainable entries all lie in its trailing input rows or trailing units
(the new blocks of an expansion, algorithm.md#expansion) goes to a forward pass that declares
`trailing_grads` as a `den_tf.model.forward.TrailingGrad`: its weight gradient is
computed on those rows and columns only (the same sums, entry by entry), not on the
frozen rest the mask would discard.

A chunk runs the steps between two validations and the validation that ends them (the
CE on the validation images, which stay on the device, and in a phase that prints their
sigmoid outputs) as one compiled function: one host round trip per 100 steps.

A program is made from a phase's `spec` and `hyper` (`PhaseSpec` and `Hyper` of
den_tf.engine.runner, which runs it).
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from den_tf.datasets.tensors import train_batch
from den_tf.engine.proximal import proximal_step
from den_tf.model.forward import TrailingGrad, mean_sigmoid_ce

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8  # tf.compat.v1.train.AdamOptimizer defaults


def _mask(m, shape):
    """None for "all entries", else a boolean constant."""
    if m is True:
        return None
    return tf.constant(np.broadcast_to(np.asarray(m, bool), shape))


class Slot:
    """Per-parameter state of one phase: the variable, its masks, Adam moments."""

    def __init__(self, var: tf.Variable, train_mask, prev=None, groups=(), prev_weight=None):
        shape = tuple(var.shape)
        self.var = var
        self.mask = _mask(train_mask, shape)
        self.m = tf.Variable(tf.zeros(shape), trainable=False)
        self.v = tf.Variable(tf.zeros(shape), trainable=False)
        self.prev = self.prev_mask = self.prev_weight = None
        if prev is not None:
            prev, block = pull_target(prev, shape)
            self.prev = tf.constant(prev)
            self.prev_mask = None if block.all() else tf.constant(block)
            if prev_weight is not None:
                self.prev_weight = tf.constant(pad_to(np.asarray(prev_weight, np.float32), shape))
        self.groups = [tf.constant(np.asarray(g, bool)) for g in groups]

    def penalty(self, hyper):
        """l2_lambda * ||v||^2 / 2 on trainable entries + regular_lambda * ||v - prev||^2 / 2
        on the previous-task block (each entry weighted by prev_weight when given)."""
        v = self.var
        sq = tf.square(v) if self.mask is None else tf.where(self.mask, tf.square(v), 0.0)
        out = hyper.l2_lambda * (tf.reduce_sum(sq) / 2.0)
        if self.prev is not None:
            d = tf.square(v - self.prev)
            if self.prev_weight is not None:
                d = d * self.prev_weight
            if self.prev_mask is not None:
                d = tf.where(self.prev_mask, d, 0.0)
            out += hyper.regular_lambda * (tf.reduce_sum(d) / 2.0)
        return out


def _trailing_run(flags: np.ndarray) -> int:
    """How many of the last entries of a boolean vector are True."""
    false = np.flatnonzero(~flags)
    return len(flags) - (int(false[-1]) + 1 if false.size else 0)


def trailing_blocks(mask) -> Optional[tuple]:
    """(row0, col0) when every trainable entry of a kernel's mask lies in its trailing
    input rows (axis -2, from row0) or trailing units (last axis, from col0), and those
    leave some entries out (the blocks of algorithm.md#expansion); None otherwise (all
    trainable, or a mask of another pattern)."""
    if mask is True or mask is False or np.ndim(mask) < 2:
        return None
    m = np.asarray(mask, bool)
    full_rows = m.all(axis=tuple(i for i in range(m.ndim) if i != m.ndim - 2))
    full_cols = m.reshape(-1, m.shape[-1]).all(axis=0)
    row0 = len(full_rows) - _trailing_run(full_rows)
    col0 = len(full_cols) - _trailing_run(full_cols)
    if row0 == 0 or col0 == 0:
        return None
    covered = np.zeros(m.shape, bool)
    covered[..., row0:, :] = True
    covered[..., col0:] = True
    return None if (m & ~covered).any() else (row0, col0)


def pad_to(a: np.ndarray, shape, dtype=np.float32) -> np.ndarray:
    """a in the top-left corner of a zero (False) array of `shape`."""
    out = np.zeros(shape, dtype)
    out[tuple(slice(0, n) for n in np.shape(a))] = a
    return out


def pull_target(prev, shape) -> tuple:
    """The pull's target padded to `shape` and the block it covers (algorithm.md#objective:
    "the old block", the top-left corner of prev's shape)."""
    prev = np.asarray(prev, np.float32)
    return pad_to(prev, shape), pad_to(np.ones(prev.shape, bool), shape, bool)


def trainables(spec):
    """Per trained parameter of the phase, in the order of its slots: (index among the
    layers' [kernel, bias, ...], variable, train mask, pull target, group blocks, pull
    weights)."""
    for i, layer in enumerate(spec.layers):
        prev = spec.prev.get(i, (None, None))
        weight = spec.prev_weights.get(i, (None, None))
        if layer.kernel_mask is not False:
            yield (2 * i, layer.kernel, layer.kernel_mask, prev[0], spec.groups.get(i, ()),
                   weight[0])
        if layer.bias_mask is not False:
            yield 2 * i + 1, layer.bias, layer.bias_mask, prev[1], (), weight[1]


def layer_variables(spec) -> list:
    """[kernel, bias] of every layer of the phase, in order."""
    return [v for layer in spec.layers for v in (layer.kernel, layer.bias)]


class Program:
    """A phase's compiled chunk and the state it reads and writes: the parameters, the
    slots (masks, pulls, group blocks, Adam moments), the step counter and Adam's beta
    powers. `PhaseRunner` builds one per phase at the exact shapes (`exact`), or, with a
    capacity bucket, takes one from the cache of padded programs
    (`den_tf.engine.buckets.padded_program`)."""

    def __init__(self, spec, hyper, xla: bool, params, slots, trailing):
        self.forward, self.batch, self.printing = spec.forward, spec.batch, spec.printing
        self.hyper = hyper
        self.params: List[tf.Variable] = params
        self.slots: List[Slot] = slots
        # param index -> (row0, col0): kernels given to the forward pass as TrailingGrad
        self._trailing: Dict[int, tuple] = trailing
        self.step = tf.Variable(0.0, trainable=False)  # TF1's global_step, from 0
        self.beta1_power = tf.Variable(BETA1, trainable=False)
        self.beta2_power = tf.Variable(BETA2, trainable=False)
        # A one-step phase (the new head, Q4) runs eagerly: compiling would cost more
        # than the step.
        self.chunk = (self._chunk_fn if spec.one_step
                      else tf.function(self._chunk_fn, jit_compile=xla))

    @classmethod
    def exact(cls, spec, hyper, xla: bool) -> "Program":
        """The program of one phase on the layers' own variables, masks as constants."""
        trailing = {}
        if getattr(spec.forward, "trailing_grads", False):
            for i, layer in enumerate(spec.layers):
                blocks = trailing_blocks(layer.kernel_mask)
                if blocks is not None:
                    trailing[2 * i] = blocks
        slots = [Slot(var, mask, prev, groups, weight)
                 for _, var, mask, prev, groups, weight in trainables(spec)]
        if not slots:
            raise ValueError(f"phase {spec.name}: nothing to train")
        return cls(spec, hyper, xla, layer_variables(spec), slots, trailing)

    # ------------------------------------------------------------------ the step
    def learning_rate(self):
        """lr * 0.95 ** floor(step * batch_size / n_train) (TF1 exponential_decay,
        staircase), in float32 as TF1 computes it."""
        h = self.hyper
        p = tf.floor(self.step * float(h.batch_size) / float(h.n_train))
        return h.lr * tf.pow(tf.constant(0.95, tf.float32), p)

    def _train_step(self, x, y):
        h = self.hyper
        watched = [s.var for s in self.slots]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(watched)
            params = [TrailingGrad(tf.convert_to_tensor(p), *self._trailing[j])
                      if j in self._trailing else p for j, p in enumerate(self.params)]
            ce = mean_sigmoid_ce(y, self.forward(params, x))
            loss = ce + tf.add_n([s.penalty(h) for s in self.slots])
        grads = tape.gradient(loss, watched)
        lr = self.learning_rate()
        alpha = lr * tf.sqrt(1.0 - self.beta2_power) / (1.0 - self.beta1_power)
        for s, g in zip(self.slots, grads):
            m = s.m + (g - s.m) * (1.0 - BETA1)
            v = s.v + (tf.square(g) - s.v) * (1.0 - BETA2)
            s.m.assign(m)
            s.v.assign(v)
            new = s.var - (m * alpha) / (tf.sqrt(v) + EPSILON)
            new = proximal_step(new, h.l1_lambda, h.gl_lambda, s.groups, h.prox_order)
            s.var.assign(new if s.mask is None else tf.where(s.mask, new, s.var))
        self.beta1_power.assign(self.beta1_power * BETA1)
        self.beta2_power.assign(self.beta2_power * BETA2)
        self.step.assign_add(1.0)
        return ce

    def _chunk_fn(self, x_all, y_all, idx, n, train_index=None, kind=None, params=None,
                  val_x=None, val_y=None, validate=None):
        """Runs n (<= len(idx)) steps; returns the CE of each step ([len(idx)]) and, when
        `validate` (a boolean tensor) holds, the validation of the network the n steps
        leave (algorithm.md#validation: every 100 iterations the CE, and in
        a phase that prints the sigmoid outputs the perf is computed from; zeros when it
        does not hold). The validation runs in the same compiled function as the steps,
        after them, so a chunk is one host round trip. The task's transform: `kind` (its
        class, static) on `params` (its tensors)."""
        def body(i, losses):
            if self.batch is None:
                x, y = train_batch(x_all, y_all, idx[i], kind, params, train_index)
            else:
                x, y = self.batch(idx[i])
            ce = self._train_step(x, y)
            return i + 1, tf.tensor_scatter_nd_update(losses, [[i]], [ce])

        _, losses = tf.while_loop(lambda i, _: i < n, body,
                                  (tf.constant(0), tf.zeros([idx.shape[0]])))
        if val_x is None:
            return losses
        printing = self.printing
        n_val, n_out = val_y.shape[0], val_y.shape[1]

        def _validate():
            logits = self.forward([tf.convert_to_tensor(p) for p in self.params], val_x)
            ce = mean_sigmoid_ce(val_y, logits)
            return (ce, tf.sigmoid(logits)) if printing else (ce,)

        def _skip():
            zero = tf.constant(0.0)
            return (zero, tf.zeros([n_val, n_out])) if printing else (zero,)

        return (losses,) + tuple(tf.cond(validate, _validate, _skip))
