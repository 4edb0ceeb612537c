"""The one phase runner every DEN phase calls (algorithm.md#shared).

A phase trains the layers it is given (hidden layers, head last) on the entries their
trainable masks allow: `PhaseSpec` says what it trains and how, `Hyper` the numbers a
step needs. The step itself (minibatch, objective, Adam, proximal updates, frozen entries
kept) is the phase's compiled program (den_tf.engine.program); with a capacity bucket
(--capacity_bucket) the program is a padded one, shared by later phases whose sizes stay
in the bucket (den_tf.engine.buckets).

`PhaseRunner.run` reproduces the original's `run_epoch`: steps until the counter reaches
max_iter; every 100 steps the CE (and, in phases that print, the AUROC) on the whole
validation set, an iteration line, and early stopping when the mean of the last ten
validation losses (always divided by 10) moves by less than 1e-6. It returns the counter
and the CE of the LAST MINIBATCH (which decides expansion, algorithm.md#expansion-decision; with
`--paper=Q7` the validation CE decides instead, den_tf/den/selective.py). The steps
between two validations and the validation that ends them run as one compiled chunk:
one host round trip per 100 steps, where the mean AUROC, the window and the stopping
rule are applied as the original does, in float64 on the host.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from den_tf.datasets.tensors import TaskTensors
from den_tf.engine import buckets
from den_tf.engine.callbacks import call
from den_tf.engine.program import Program
from den_tf.errors import NumericalError
from den_tf.evaluation.metrics import mean_auroc
from den_tf.model.forward import predict
from den_tf.model.layers import DenDense

VALIDATE_EVERY = 100  # the original's print_iter
WINDOW = 10  # the original's early-stopping window


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
        top-left block of their shapes (algorithm.md#objective: "the old block").
      groups: layer index -> boolean kernel masks; each column of each block is one
        group-lasso group (algorithm.md#expansion).
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
    prox_order: str  # faithfulness.md#q14: den_tf.den.PROX_ORDERS
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


class PhaseRunner:
    """Compiles and runs one phase (see the module docstring)."""

    def __init__(self, spec: PhaseSpec, hyper: Hyper, xla: bool = True):
        self.spec, self.hyper, self.xla = spec, hyper, xla
        self.padded = buckets.bucketed(spec, hyper)
        if self.padded:
            self.program = buckets.padded_program(spec, hyper, xla)
        else:
            self.program = Program.exact(spec, hyper, xla)
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
        prediction): the split line's nn_perf (algorithm.md#split) and Q7's validation CE
        (den_tf/den/selective.py) are taken after the phase."""
        if self.padded:  # the layers' weights as they are now (another phase may have used it)
            buckets.load_params(self.program, self.spec)
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
            buckets.load(self.program, self.spec)
        try:
            return self._run(data, batches, on_iteration, callbacks)
        finally:
            if self.padded:  # the trained weights back into the layers, also on a failure
                buckets.store_params(self.program, self.spec)

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
