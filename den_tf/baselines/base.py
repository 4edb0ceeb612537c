"""What every baseline shares, on the frame DEN runs on too (den_tf.learner.Learner):

A baseline is a `Method` that overrides a few hooks (FACIL's pattern; Mammoth's
begin_task / end_task):

* `begin_task(t, data)`: grow what the task needs (a head, a column, a network);
* `trainable(t)`: the layers of task t's forward pass, in its order, with their
  trainable masks set (what trains in the task);
* `penalty(t)`: the pull of the task's phase, `(strength, prev, prev_weights)`, i.e.
  strength * sum(weight * (v - prev)^2) / 2 over the blocks given (L2, EWC);
* `end_task(t, data)`: what happens once the task is learned (EWC's Fisher);
* `params_for(t)`, `forward_for(t)`, `n_params()`, `sizes()`, `stamp(t)`: the network as
  task t sees it, for evaluation and capacity.

Training runs through the one phase runner (`den_tf.engine.runner.PhaseRunner`), one
phase per task, with DEN's optimizer settings: TF1 Adam at --lr, the same minibatches of
--batch_size, the learning-rate decay per epoch of the task's training examples,
--l2_lambda weight decay, --max_iter steps with a validation every 100 and DEN's early
stopping, a fresh optimizer per phase. A baseline is not DEN: no L1 and no group lasso
(l1_lambda = gl_lambda = 0).

The log has DEN's lines where they apply (task header, iteration lines, shape lines, the
per-task test line, the OVERALL EVALUATION block with avg_perf), written by the frame.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from den_tf.config import BaselineConfig
from den_tf.datasets.tensors import TaskTensors
from den_tf.engine.randomness import BatchSource, InitSource, RandomBatches, RandomInit
from den_tf.engine.runner import Hyper, PhaseResult, PhaseSpec
from den_tf.learner.frame import Learner, MethodRecord, phase_stats
from den_tf.model import archs


class OneNetwork:
    """For the methods that hold one DENNetwork (`self.network`: one set of hidden layers
    and a head per task; dnn, l2, ewc, mtl) of the config's architecture: its
    parameters, sizes and capacity."""

    def build_network(self, t: int = 1) -> None:
        """The architecture's network (den_tf.model.archs) with task t's head."""
        self.network = self.new_network(t)

    def add_head(self, t: int) -> None:
        """A new glorot head for task t on the top hidden layer (the draws of
        algorithm.md#head-only)."""
        rows, n_out = self.network.hidden[-1].n_out, self.n_outputs(t)
        self.network.add_head(t, self.init.glorot(f"t{t}/head_W", (rows, n_out)),
                              self.init.bias(f"t{t}/head_b", (n_out,)))

    def forward_for(self, t):
        return self.network.forward

    def params_for(self, t) -> list:
        return self.network.params_for(t)

    def n_params(self) -> int:
        """Hidden layers once, plus every head (DENNetwork.n_params)."""
        return self.network.n_params()

    def sizes(self) -> List[int]:
        return self.network.sizes()

    def stamp(self, t) -> List[int]:
        return [self.network.input_size] + self.network.units_at(t) + [self.n_outputs(t)]

    def kernel_shapes(self, t):
        net = self.network
        return net.shape_lines_shapes(self.stamps[t])


class Method(Learner):
    """A baseline on a task stream, one task at a time (see the module docstring).

    Args:
      config: a BaselineConfig.
      tasks: the task stream (`task_tensors(t)`, `test_set(t)`, `n_tasks`).
      batches: minibatch source (default: random subsets, seeded by config.train_seed).
      init: initial values of new parameters (default: glorot from config.train_seed).
      log: receives every log line.
      callbacks: `den_tf.engine.callbacks.Callback`s.
    """

    name = "method"

    def __init__(self, config: BaselineConfig, tasks, batches: Optional[BatchSource] = None,
                 init: Optional[InitSource] = None,
                 log: Optional[Callable[[str], None]] = None, callbacks: Sequence = ()):
        super().__init__(config, tasks, log, callbacks)
        self._given_batches = batches
        self._batches: Dict[int, BatchSource] = {}
        self.batches_pool = tasks.pool
        if init is None:
            rng = np.random.RandomState(config.train_seed)
            # (no duplicates: the second source is unused); --paper=Q2: zero biases
            init = RandomInit(rng, rng, zero_bias=config.follows_paper("Q2"))
        self.init = init

    # ----------------------------------------------------------------- hooks
    def describe(self) -> str:
        return self.name

    def begin_task(self, t: int, data: TaskTensors) -> None:
        """Grows what task t needs (before its phase is built)."""

    def trainable(self, t: int) -> List:
        """Task t's layers in forward order, trainable masks set."""
        raise NotImplementedError

    def penalty(self, t: int) -> Tuple[float, dict, dict]:
        """(strength, prev, prev_weights) of task t's pull (PhaseSpec.prev/prev_weights)."""
        return 0.0, {}, {}

    def end_task(self, t: int, data: TaskTensors) -> None:
        """After task t's phase, before its test figures."""

    # ----------------------------------------------------------------- shared
    def n_outputs(self, t: int) -> int:
        """Task t's number of classes (its head's size)."""
        return int(self.tasks.n_outputs(t))

    def new_network(self, t: int):
        """A fresh network of the config's architecture (den_tf.model.archs: the MLP of
        --dims, lenet, conv5) with task t's head; new values from `init`."""
        size, shape = self.input_shape()
        return archs.build(self.config, self.init, size, shape, t, self.n_outputs(t))

    def base_params(self) -> int:
        """Parameters of one base network of the architecture (the unit of capacity)."""
        return archs.base_params(self.config, *self.input_shape())

    def capacity(self) -> float:
        """Parameters relative to one base network (as DEN's capacity)."""
        return self.n_params() / self.base_params()

    def hyper(self, n_train: int, strength: float = 0.0,
              max_iter: Optional[int] = None) -> Hyper:
        """DEN's optimizer settings; no L1, no group lasso; `strength` for the pull."""
        c = self.config
        return Hyper(lr=c.lr, batch_size=c.batch_size, n_train=int(n_train),
                     max_iter=int(max_iter if max_iter is not None else c.max_iter),
                     l1_lambda=0.0, l2_lambda=c.l2_lambda, gl_lambda=0.0,
                     regular_lambda=float(strength),
                     prox_order="l1_then_gl",  # (no group blocks: the order is moot)
                     permute_once=c.permute_once)

    def batches_for(self, pool: int) -> BatchSource:
        """Minibatches over `pool` training examples. The first pool's generator is
        seeded with train_seed (as DEN's); any other pool (MTL's union) with a seed
        derived from it."""
        if self._given_batches is not None:
            return self._given_batches
        if pool not in self._batches:
            seed = self.config.train_seed
            if seed is not None and self._batches:
                seed = seed * 1000003 + pool
            self._batches[pool] = RandomBatches(pool, self.config.batch_size, seed,
                                                self.config.xla)
        return self._batches[pool]

    def generators(self) -> dict:
        return {f"batches_{pool}": b.generator for pool, b in self._batches.items()
                if isinstance(b, RandomBatches)}

    def prepare_generators(self, names) -> None:
        for name in names:  # in the order they were made (the first gets train_seed)
            if name.startswith("batches_"):
                self.batches_for(int(name[len("batches_"):]))

    def train(self, spec: PhaseSpec, hyper: Hyper, data, pool: int) -> PhaseResult:
        """One phase through the shared runner, minibatches over `pool` examples."""
        return self.run_phase(spec, hyper, data, self.batches_for(pool))

    def learn_task(self, t: int) -> MethodRecord:
        """Task t start to end: grow, one training phase, end-of-task hook, test line."""
        start = self.start_task(t)
        data = self.tasks.task_tensors(t)
        self.begin_task(t, data)
        strength, prev, weights = self.penalty(t)
        spec = PhaseSpec(t, "train", self.trainable(t), prev=prev, prev_weights=weights,
                         forward=self.forward_for(t))
        result = self.train(spec, self.hyper(data.n_train, strength), data, data.n_train)
        for layer in spec.layers:
            layer.freeze()
        self.end_task(t, data)
        return self.finish_task(t, data, {spec.name: phase_stats(result)}, start)
