"""The one phase runner every DEN phase calls (spec "Pieces shared by every phase").

A phase trains the layers it is given (hidden layers, head last) on the entries their
trainable masks allow. One step, compiled with XLA when enabled:

1. a minibatch gathered from the task's resident training tensors (a permuted task's
   columns permuted in the step; with `Hyper.permute_once`, --permute_once, gathered
   from the task's pixels permuted once, `TaskTensors.train_view`);
2. objective (spec): mean sigmoid CE
   + l2_lambda * sum over trainable entries of v^2 / 2
   + regular_lambda * sum over the previous-task block of (v - prev)^2 / 2;
3. Adam (TF1's update and defaults: beta1 0.9, beta2 0.999, epsilon 1e-8), a fresh
   optimizer per phase, learning rate lr * 0.95 ** floor(step * batch_size / n_train);
4. proximal updates (paper Eq. 2-3): L1 on every trainable entry and group lasso on
   the phase's group blocks, in the order `Hyper.prox_order` names (Q14; the original
   has no order between them);
5. frozen entries written back unchanged: they never move, not by one ulp.

A kernel whose trainable entries all lie in its trailing input rows or trailing units
(the new blocks of an expansion, spec step 6) goes to a forward pass that declares
`trailing_grads` as a `den_tf.model.forward.TrailingGrad`: its weight gradient is
computed on those rows and columns only (the same sums, entry by entry), not on the
frozen rest the mask would discard.

With a capacity bucket (`Hyper.bucket`, --capacity_bucket; 0, the default, keeps the
exact shapes) a compiled MLP phase runs on a padded program: the hidden sizes rounded up
to multiples of the bucket, the padded units zero and frozen, one program per kind of
phase and padded shapes (`_padded_program`), so that a later task whose sizes stay in the
bucket reuses the compiled chunk; the phase's values are loaded into it before the
steps and the trained weights written back into the layers after them.

`PhaseRunner.run` reproduces the original's `run_epoch`: steps until the counter reaches
max_iter; every 100 steps the CE (and, in phases that print, the AUROC) on the whole
validation set, an iteration line, and early stopping when the mean of the last ten
validation losses (always divided by 10) moves by less than 1e-6. It returns the counter
and the CE of the LAST MINIBATCH (which decides expansion, spec step 5; with
`--paper=Q7` the validation CE decides instead, den_tf/den/selective.py). The steps
between two validations and the validation that ends them (the CE on the validation
images, which stay on the device, and in a phase that prints their sigmoid outputs) run
as one compiled function: one host round trip per 100 steps, where the mean AUROC, the
window and the stopping rule are applied as the original does, in float64 on the host.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from den_tf.datasets.tensors import TaskTensors, train_batch
from den_tf.engine.callbacks import call
from den_tf.engine.proximal import proximal_step
from den_tf.errors import NumericalError
from den_tf.evaluation.metrics import mean_auroc
from den_tf.model.forward import TrailingGrad, mean_sigmoid_ce, predict
from den_tf.model.layers import DenDense

VALIDATE_EVERY = 100  # the original's print_iter
WINDOW = 10  # the original's early-stopping window
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8  # tf.compat.v1.train.AdamOptimizer defaults


@dataclasses.dataclass
class PhaseSpec:
    """What a phase trains and how.

    Attributes:
      task: the task it belongs to (1-based).
      phase: which phase of the task, e.g. "train", "head", "selective", "expand",
        "split" (`name`, "t{task}_{phase}", e.g. "t2_expand", is the key of the
        minibatch source and of the task record's phases).
      layers: the network it trains, hidden layers then the head; each layer's
        kernel_mask / bias_mask say which entries train (False: frozen).
      prev: layer index -> (W, b) of the previous task; the pull toward it applies to the
        top-left block of their shapes (spec: "the old block").
      groups: layer index -> boolean kernel masks; each column of each block is one
        group-lasso group (spec step 6).
      start_iter: the counter's start (the head-only phase starts at max_iter / 10, Q4).
      stop_iter: the counter at which the phase ends (None: max_iter).
      one_step: stop after the first step (the head-only phase, Q4).
      printing: print the iteration lines (the original's print_pred).
      prev_weights: layer index -> (W, b) per-entry weights of the pull toward `prev`
        (EWC's Fisher information); absent: every entry weighs 1.
      forward: the network's forward pass, `forward(params, x) -> logits`, params being
        [kernel, bias] of every layer in order (keyword only: the network's own, e.g.
        `DENNetwork.forward`).
      batch: the minibatch of one step, `batch(idx) -> (x, y)` for the step's row of
        indices; for training data that is not one task's (multi-task training draws
        from every task). Default: `train_batch` of the tensors given to `run`.
    """

    task: int
    phase: str
    layers: List[DenDense]
    prev: Dict[int, tuple] = dataclasses.field(default_factory=dict)
    groups: Dict[int, list] = dataclasses.field(default_factory=dict)
    start_iter: float = 0
    stop_iter: Optional[float] = None
    one_step: bool = False
    printing: bool = True
    prev_weights: Dict[int, tuple] = dataclasses.field(default_factory=dict)
    batch: Optional[Callable] = None
    forward: Callable = dataclasses.field(kw_only=True)

    @property
    def name(self) -> str:
        return f"t{self.task}_{self.phase}"


@dataclasses.dataclass
class PhaseResult:
    """The counter when the phase stopped, the last minibatch's CE, the validation
    history [(iter, loss, perf or None)], and timings in seconds (`validate_s`: the
    host's part of validation, the AUROC; the validation CE and outputs are computed in
    the compiled chunk, so their time is in `train_s`)."""

    iters: float
    last_loss: float
    history: list
    steps: int = 0
    train_s: float = 0.0
    compile_s: float = 0.0
    validate_s: float = 0.0

    @property
    def repeated(self) -> int:
        return int(self.iters)


@dataclasses.dataclass
class Hyper:
    """The numbers a step needs (from DENConfig)."""

    lr: float
    batch_size: int
    n_train: int
    max_iter: int
    l1_lambda: float
    l2_lambda: float
    gl_lambda: float
    regular_lambda: float
    prox_order: str  # spec Q14: den_tf.config.PROX_ORDERS
    # --capacity_bucket: hidden sizes padded to multiples of it (0: the exact shapes);
    # see `bucketed`.
    bucket: int = 0
    # --permute_once: minibatches drawn from the task's pixels permuted once
    # (`PhaseRunner.source`); False: each minibatch's columns permuted in the step.
    permute_once: bool = False

    @classmethod
    def from_config(cls, cfg, n_train: int) -> "Hyper":
        return cls(cfg.lr, cfg.batch_size, n_train, cfg.max_iter, cfg.l1_lambda,
                   cfg.l2_lambda, cfg.gl_lambda, cfg.regular_lambda, cfg.prox_order,
                   cfg.capacity_bucket, cfg.permute_once)


def _mask(m, shape):
    """None for "all entries", else a boolean constant."""
    if m is True:
        return None
    return tf.constant(np.broadcast_to(np.asarray(m, bool), shape))


class _Slot:
    """Per-parameter state of one phase: the variable, its masks, Adam moments."""

    def __init__(self, var: tf.Variable, train_mask, prev=None, groups=(), prev_weight=None):
        shape = tuple(var.shape)
        self.var = var
        self.mask = _mask(train_mask, shape)
        self.m = tf.Variable(tf.zeros(shape), trainable=False)
        self.v = tf.Variable(tf.zeros(shape), trainable=False)
        self.prev = self.prev_mask = self.prev_weight = None
        if prev is not None:
            prev, block = _pull(prev, shape)
            self.prev = tf.constant(prev)
            self.prev_mask = None if block.all() else tf.constant(block)
            if prev_weight is not None:
                self.prev_weight = tf.constant(_pad(np.asarray(prev_weight, np.float32), shape))
        self.groups = [tf.constant(np.asarray(g, bool)) for g in groups]

    def penalty(self, hyper: Hyper):
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
    leave some entries out (the blocks of spec step 6); None otherwise (all trainable,
    or a mask of another pattern)."""
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


def _pad(a: np.ndarray, shape, dtype=np.float32) -> np.ndarray:
    """a in the top-left corner of a zero (False) array of `shape`."""
    out = np.zeros(shape, dtype)
    out[tuple(slice(0, n) for n in np.shape(a))] = a
    return out


def _pull(prev, shape) -> tuple:
    """The pull's target padded to `shape` and the block it covers (spec: "the old
    block", the top-left corner of prev's shape)."""
    prev = np.asarray(prev, np.float32)
    return _pad(prev, shape), _pad(np.ones(prev.shape, bool), shape, bool)


def _trainables(spec: PhaseSpec):
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


def _layer_variables(spec: PhaseSpec) -> list:
    """[kernel, bias] of every layer of the phase, in order."""
    return [v for layer in spec.layers for v in (layer.kernel, layer.bias)]


class _Program:
    """A phase's compiled chunk and the state it reads and writes: the parameters, the
    slots (masks, pulls, group blocks, Adam moments), the step counter and Adam's beta
    powers. `PhaseRunner` builds one per phase at the exact shapes (`exact`), or, with a
    capacity bucket, takes one from the cache of padded programs (`_padded_program`)."""

    def __init__(self, spec: PhaseSpec, hyper: Hyper, xla: bool, params, slots, trailing):
        self.forward, self.batch, self.printing = spec.forward, spec.batch, spec.printing
        self.hyper = hyper
        self.params: List[tf.Variable] = params
        self.slots: List[_Slot] = slots
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
    def exact(cls, spec: PhaseSpec, hyper: Hyper, xla: bool) -> "_Program":
        """The program of one phase on the layers' own variables, masks as constants."""
        trailing = {}
        if getattr(spec.forward, "trailing_grads", False):
            for i, layer in enumerate(spec.layers):
                blocks = trailing_blocks(layer.kernel_mask)
                if blocks is not None:
                    trailing[2 * i] = blocks
        slots = [_Slot(var, mask, prev, groups, weight)
                 for _, var, mask, prev, groups, weight in _trainables(spec)]
        if not slots:
            raise ValueError(f"phase {spec.name}: nothing to train")
        return cls(spec, hyper, xla, _layer_variables(spec), slots, trailing)

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
        leave (spec "Pieces shared by every phase": every 100 iterations the CE, and in
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
                                  (tf.constant(0), tf.zeros([VALIDATE_EVERY])))
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


# ---------------------------------------------------------------------- capacity buckets
def bucketed(spec: PhaseSpec, hyper: Hyper) -> bool:
    """Whether the phase runs on a padded program (`--capacity_bucket`): a
    bucket is set, the phase is compiled (not the one-step head phase), it draws its own
    task's minibatches, and its forward pass declares `pads_units` (the MLP's: a padded
    unit is relu(0) = 0 and its rows below are zero, so it adds exact zeros)."""
    return (hyper.bucket > 0 and not spec.one_step and spec.batch is None
            and getattr(spec.forward, "pads_units", False))


def padded_shapes(spec: PhaseSpec, bucket: int) -> List[tuple]:
    """The kernel and bias shapes of the padded program: every hidden size (a hidden
    layer's units, the next layer's input rows) rounded up to a multiple of `bucket`;
    the input size and the head's outputs stay."""
    up = lambda n: -(-int(n) // bucket) * bucket  # noqa: E731
    last = len(spec.layers) - 1
    out = []
    for i, layer in enumerate(spec.layers):
        k, b = [int(d) for d in layer.kernel.shape], [int(d) for d in layer.bias.shape]
        if i > 0:
            k[-2] = up(k[-2])
        if i < last:
            k[-1], b[-1] = up(k[-1]), up(b[-1])
        out += [tuple(k), tuple(b)]
    return out


def _padded_trailing(spec: PhaseSpec, shapes, bucket: int) -> Dict[int, tuple]:
    """The TrailingGrad blocks of the padded kernels: those of the real masks, their
    starts rounded down to a multiple of the bucket (so that every expansion inside one
    bucket shares the program; the rows and columns added are frozen entries, whose
    gradient the mask discards); a start at the real size (no trailing rows or units)
    becomes the padded size."""
    out = {}
    if not getattr(spec.forward, "trailing_grads", False):
        return out
    for i, layer in enumerate(spec.layers):
        blocks = trailing_blocks(layer.kernel_mask)
        if blocks is None:
            continue
        real, padded = layer.kernel.shape, shapes[2 * i]
        out[2 * i] = tuple(padded[ax] if start >= int(real[ax]) else start // bucket * bucket
                           for start, ax in zip(blocks, (-2, -1)))
    return out


class _PaddedSlot(_Slot):
    """A slot of a padded program: the masks, the pull and its weights and the group
    blocks as variables of the padded shape, loaded for each phase (`load`); every
    padded entry is frozen."""

    def __init__(self, var: tf.Variable, has_prev: bool, has_weight: bool, n_groups: int):
        shape = tuple(var.shape)
        self.var = var
        self.mask = tf.Variable(tf.zeros(shape, tf.bool), trainable=False)
        self.m = tf.Variable(tf.zeros(shape), trainable=False)
        self.v = tf.Variable(tf.zeros(shape), trainable=False)
        self.prev = tf.Variable(tf.zeros(shape), trainable=False) if has_prev else None
        self.prev_mask = (tf.Variable(tf.zeros(shape, tf.bool), trainable=False)
                          if has_prev else None)
        self.prev_weight = tf.Variable(tf.zeros(shape), trainable=False) if has_weight else None
        self.groups = [tf.Variable(tf.zeros(shape, tf.bool), trainable=False)
                       for _ in range(n_groups)]

    def load(self, real_shape, train_mask, prev=None, groups=(), prev_weight=None):
        shape = tuple(self.var.shape)
        self.mask.assign(_pad(np.broadcast_to(np.asarray(train_mask, bool),
                                              tuple(real_shape)), shape, bool))
        self.m.assign(tf.zeros(shape))
        self.v.assign(tf.zeros(shape))
        if prev is not None:
            prev, block = _pull(prev, shape)
            self.prev.assign(prev)
            self.prev_mask.assign(block)
            if prev_weight is not None:
                self.prev_weight.assign(_pad(np.asarray(prev_weight, np.float32), shape))
        for var, g in zip(self.groups, groups):
            var.assign(_pad(np.asarray(g, bool), shape, bool))


# Padded programs by their key (`_padded_program`), the most recently used last.
_PROGRAMS: "collections.OrderedDict[tuple, _Program]" = collections.OrderedDict()
MAX_PROGRAMS = 32


def _padded_program(spec: PhaseSpec, hyper: Hyper, xla: bool) -> _Program:
    """The padded program of the phase's kind: one per forward pass, settings, padded
    shapes, slot layout and TrailingGrad blocks, compiled the first time and reused by
    every later phase with the same key (growth inside a bucket keeps the shapes)."""
    shapes = padded_shapes(spec, hyper.bucket)
    trailing = _padded_trailing(spec, shapes, hyper.bucket)
    # the slots: which parameters train, with a pull, pull weights, how many groups
    layout = tuple((j, prev is not None, weight is not None, len(groups))
                   for j, _, _, prev, groups, weight in _trainables(spec))
    key = (spec.forward, spec.printing, bool(xla), dataclasses.astuple(hyper),
           tuple(shapes), tuple(sorted(trailing.items())), layout)
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    params = [tf.Variable(tf.zeros(shape), trainable=False) for shape in shapes]
    slots = [_PaddedSlot(params[j], *pulls) for j, *pulls in layout]
    if not slots:
        raise ValueError(f"phase {spec.name}: nothing to train")
    program = _Program(spec, hyper, xla, params, slots, trailing)
    _PROGRAMS[key] = program
    while len(_PROGRAMS) > MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return program


def _load(program: _Program, spec: PhaseSpec) -> None:
    """The phase's weights, masks, pulls and groups into a padded program, its Adam
    state and counters reset (what a fresh program of the phase starts from)."""
    _load_params(program, spec)
    for slot, (_, var, mask, prev, groups, weight) in zip(program.slots, _trainables(spec)):
        slot.load(var.shape, mask, prev, groups, weight)
    program.step.assign(0.0)
    program.beta1_power.assign(BETA1)
    program.beta2_power.assign(BETA2)


def _load_params(program: _Program, spec: PhaseSpec) -> None:
    """The layers' weights into the padded program's parameters (zeros around them)."""
    for p, v in zip(program.params, _layer_variables(spec)):
        p.assign(_pad(v.numpy(), tuple(p.shape)))


def _store_params(program: _Program, spec: PhaseSpec) -> None:
    """The padded program's parameters, cut to the layers' shapes, back into the layers."""
    for p, v in zip(program.params, _layer_variables(spec)):
        v.assign(p[tuple(slice(0, int(n)) for n in v.shape)])


class PhaseRunner:
    """Compiles and runs one phase (see the module docstring)."""

    def __init__(self, spec: PhaseSpec, hyper: Hyper, xla: bool = True):
        self.spec, self.hyper, self.xla = spec, hyper, xla
        self.padded = bucketed(spec, hyper)
        if self.padded:
            self.program = _padded_program(spec, hyper, xla)
        else:
            self.program = _Program.exact(spec, hyper, xla)
        self._idx_shape = None  # the minibatch table's shape of the compiled chunk

    # The program's state, as a runner's (callbacks and tests read them).
    params = property(lambda self: self.program.params)
    slots = property(lambda self: self.program.slots)
    step = property(lambda self: self.program.step)
    _trailing = property(lambda self: self.program._trailing)
    _chunk = property(lambda self: self.program.chunk)

    def learning_rate(self):
        return self.program.learning_rate()

    # ------------------------------------------------------------------ the loop
    def source(self, data: TaskTensors):
        """(training pixels, transform class or None, its tensors): what the compiled
        chunk draws its minibatches from. By default the task's shared pixels and its
        transform, applied to each minibatch in the step. With `Hyper.permute_once` the
        task's own copy of its pixels with a rearranging transform (a permutation)
        applied once (`TaskTensors.train_view`): the same minibatches to the bit, the
        steps faster, but XLA:CPU then computes the first layer's product by another
        routine, whose sums' last bits differ (docs/speed.md). A phase that draws its own
        minibatches (`PhaseSpec.batch`: MTL's union) reads none of them."""
        if self.hyper.permute_once and self.spec.batch is None:
            return data.train_view()
        kind, params = data.batch_transform
        return data.train_x, kind, params

    def validate(self, data: TaskTensors, with_perf: bool):
        """(CE, mean AUROC or None) of the phase's network on the validation set.

        After `run`, through the phase's own compiled chunk with zero steps (no second
        compilation of the forward pass; the same numbers, to the bit, as a separate
        prediction): the split line's nn_perf (spec step 8) and Q7's validation CE
        (den_tf/den/selective.py) are taken after the phase."""
        if self.padded:  # the layers' weights as they are now (another phase may have used it)
            _load_params(self.program, self.spec)
        if self._idx_shape is not None and (self.spec.printing or not with_perf):
            x_all, kind, params = self.source(data)  # as in `run`: no second compilation
            out = self._chunk(x_all, data.train_y, tf.zeros(self._idx_shape, tf.int32),
                              tf.constant(0), data.train_index, kind, params, data.val_x,
                              data.val_y, tf.constant(True))
            perf = mean_auroc(out[2].numpy(), data.val_y.numpy()) if with_perf else None
            return float(out[1]), perf
        loss, probs = predict(self.params, data.val_x, data.val_y, self.xla, self.spec.forward)
        perf = mean_auroc(probs.numpy(), data.val_y.numpy()) if with_perf else None
        return float(loss), perf

    def run(self, data: TaskTensors, batches, on_iteration: Optional[Callable] = None,
            callbacks: Sequence = ()) -> PhaseResult:
        """The original's run_epoch (see the module docstring); in a phase that prints,
        `on_iteration(iteration, val_loss, val_perf)` every 100 steps (the caller writes
        the original's iteration line, den_tf.io.loglines.iteration)."""
        if self.padded:
            _load(self.program, self.spec)
        try:
            return self._run(data, batches, on_iteration, callbacks)
        finally:
            if self.padded:  # the trained weights back into the layers, also on a failure
                _store_params(self.program, self.spec)

    def _run(self, data, batches, on_iteration, callbacks) -> PhaseResult:
        spec, h = self.spec, self.hyper
        stop = h.max_iter if spec.stop_iter is None else spec.stop_iter
        call(callbacks, "on_phase_begin", spec, self)
        c = spec.start_iter
        window = collections.deque(maxlen=WINDOW)
        old_mean = 999.0
        last, history, steps = float("nan"), [], 0
        t_train = t_val = 0.0
        first = None  # (seconds, steps) of the first chunk, which pays the compilation
        x_all, kind, params = self.source(data)  # the minibatches' pixels
        while stop > c:
            if spec.one_step:
                n = 1
            else:
                n = int(min(VALIDATE_EVERY - (c % VALIDATE_EVERY), math.ceil(stop - c)))
            idx = tf.convert_to_tensor(batches.indices(spec.name, n), tf.int32)
            if n < VALIDATE_EVERY:
                idx = tf.pad(idx, [[0, VALIDATE_EVERY - n], [0, 0]])
            t0 = time.perf_counter()
            validating = (c + n) % VALIDATE_EVERY == 0
            out = self._chunk(x_all, data.train_y, idx, tf.constant(n),
                              data.train_index, kind, params, data.val_x, data.val_y,
                              tf.constant(validating))
            losses = out[0].numpy()[:n]
            if not spec.one_step:
                self._idx_shape = idx.shape
            dt = time.perf_counter() - t0
            if first is None:
                first = (dt, n)
            else:
                t_train += dt
            bad = np.flatnonzero(~np.isfinite(losses))
            if bad.size:
                raise NumericalError(
                    f"task {spec.task}, phase {spec.phase}, step {int(c + bad[0] + 1)}: the training "
                    f"loss is {losses[bad[0]]}; the phase stops here (a smaller --lr may "
                    f"help)")
            last, c, steps = float(losses[-1]), c + n, steps + n
            if callbacks:
                call(callbacks, "on_chunk", spec, c, last, float(self.learning_rate()))
            if c % VALIDATE_EVERY == 0:
                t0 = time.perf_counter()
                val_loss = float(out[1])
                perf = (mean_auroc(out[2].numpy(), data.val_y.numpy()) if spec.printing
                        else None)
                t_val += time.perf_counter() - t0
                history.append((c, val_loss, perf))
                call(callbacks, "on_validation", spec, c, val_loss, perf)
                window.append(val_loss)
                mean = sum(window) / float(WINDOW)
                if spec.printing and on_iteration is not None:
                    on_iteration(c, val_loss, perf)
                if abs(old_mean - mean) < 1e-6:
                    break
                old_mean = mean
            if spec.one_step:
                break
        t_compile = 0.0
        if first is not None:
            per_step = t_train / (steps - first[1]) if steps > first[1] else 0.0
            t_compile = max(0.0, first[0] - first[1] * per_step)
            t_train += first[0] - t_compile
        result = PhaseResult(c, last, history, steps, t_train, t_compile, t_val)
        call(callbacks, "on_phase_end", spec, result)
        return result
