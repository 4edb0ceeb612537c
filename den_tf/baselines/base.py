"""What every baseline shares: settings, the per-task record, and the `Method` frame.

A baseline is a `Method` that overrides a few hooks (FACIL's pattern; Mammoth's
begin_task / end_task), and everything else is shared with DEN:

* `begin_task(t, data)`: grow what the task needs (a head, a column, a network);
* `trainable(t)`: the layers of task t's forward pass, in its order, with their
  trainable masks set (what trains in the task);
* `penalty(t)`: the pull of the task's phase, `(strength, prev, prev_weights)`, i.e.
  strength * sum(weight * (v - prev)^2) / 2 over the blocks given (L2, EWC);
* `end_task(t, data)`: what happens once the task is learned (EWC's Fisher);
* `params_for(t)`, `forward_for(t)`, `n_params()`, `sizes()`, `stamp(t)`: the network as
  task t sees it, for evaluation and capacity.

Training runs through the one phase runner (`den_tf.runner.PhaseRunner`), one phase per
task, with DEN's optimizer settings: TF1 Adam at --lr, the same minibatches of
--batch_size, the learning-rate decay per epoch of the task's training examples,
--l2_lambda weight decay, --max_iter steps with a validation every 100 and DEN's early
stopping, a fresh optimizer per phase. A baseline is not DEN: no L1 and no group lasso
(l1_lambda = gl_lambda = 0).

The log has DEN's lines where they apply (task header, iteration lines, shape lines, the
per-task test line, the OVERALL EVALUATION block with avg_perf); records and scores are
what `den_tf.results.build` reads, so the results JSON has DEN's keys.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from den_tf import logfmt
from den_tf.baselines.config import BaselineConfig
from den_tf.callbacks import call
from den_tf.evaluation import TaskScore
from den_tf.layers import DenDense
from den_tf.metrics import mean_auroc, top1_accuracy
from den_tf.network import DENNetwork, mlp_logits
from den_tf.runner import Hyper, PhaseResult, PhaseRunner, PhaseSpec, TaskTensors, predict
from den_tf.sources import BatchSource, InitSource, RandomBatches, RandomInit

@dataclasses.dataclass
class MethodRecord:
    """What happened in one task (DEN's TaskRecord keys that apply to every method).

    None where the task has no figure of its own (MTL before its joint training)."""

    task: int
    test_loss: Optional[float]
    test_perf: Optional[float]
    test_accuracy: Optional[float]
    sparsity: Optional[float]
    sizes: Optional[List[int]]  # units per hidden layer, summed over columns / networks
    stamp: Optional[List[int]]
    capacity: Optional[float]
    phases: Dict[str, dict]
    wall_s: float
    eval_s: float = 0.0


def phase_stats(r: PhaseResult) -> dict:
    return {"iters": float(r.iters), "last_loss": float(r.last_loss), "steps": r.steps,
            "train_s": r.train_s, "compile_s": r.compile_s, "validate_s": r.validate_s}


class OneNetwork:
    """For the methods that hold one DENNetwork (`self.network`: one set of hidden layers
    and a head per task; dnn, l2, ewc, mtl): its parameters, sizes and capacity."""

    def params_for(self, t) -> list:
        return self.network.params_for(t)

    def n_params(self) -> int:
        """Hidden layers once, plus every head (DENNetwork.n_params)."""
        return self.network.n_params()

    def sizes(self) -> List[int]:
        return self.network.sizes()

    def stamp(self, t) -> List[int]:
        return [self.network.input_size] + self.network.units_at(t) + [self.config.dims[-1]]


class Method:
    """A continual-learning method on a task stream, one task at a time (the interface
    `den_tf.api.run`, the command line and `den_tf.results` use: config, records,
    scores, done, learn_task, evaluate_all).

    Args:
      config: a BaselineConfig.
      tasks: the task stream (`task_tensors(t)`, `test_set(t)`, `n_tasks`).
      batches: minibatch source (default: random subsets, seeded by config.train_seed).
      init: initial values of new parameters (default: glorot from config.train_seed).
      log: receives every log line.
      callbacks: `den_tf.callbacks.Callback`s.
    """

    name = "method"

    def __init__(self, config: BaselineConfig, tasks, batches: Optional[BatchSource] = None,
                 init: Optional[InitSource] = None,
                 log: Optional[Callable[[str], None]] = None, callbacks: Sequence = ()):
        self.config = config
        self.tasks = tasks
        self._given_batches = batches
        self._batches: Dict[int, BatchSource] = {}
        if init is None:
            rng = np.random.RandomState(config.train_seed)
            init = RandomInit(rng, rng)  # (no duplicates: the second source is unused)
        self.init = init
        self.log = log or (lambda line: None)
        self.callbacks = list(callbacks)
        self.done = 0
        self.records: List[MethodRecord] = []
        self.scores: List[List[TaskScore]] = []
        self.stamps: Dict[int, List[int]] = {}

    # ----------------------------------------------------------------- hooks
    def describe(self) -> str:
        """One line on what the method is, for the log."""
        return self.name

    def begin_task(self, t: int, data: TaskTensors) -> None:
        """Grows what task t needs (before its phase is built)."""

    def trainable(self, t: int) -> List[DenDense]:
        """Task t's layers in forward order, trainable masks set."""
        raise NotImplementedError

    def penalty(self, t: int) -> Tuple[float, dict, dict]:
        """(strength, prev, prev_weights) of task t's pull (PhaseSpec.prev/prev_weights)."""
        return 0.0, {}, {}

    def end_task(self, t: int, data: TaskTensors) -> None:
        """After task t's phase, before its test figures."""

    def params_for(self, t: int) -> list:
        raise NotImplementedError

    def forward_for(self, t: int) -> Callable:
        return mlp_logits

    def n_params(self) -> int:
        raise NotImplementedError

    def sizes(self) -> List[int]:
        raise NotImplementedError

    def stamp(self, t: int) -> List[int]:
        """Sizes of the network task t runs on: [input, hidden..., outputs]."""
        raise NotImplementedError

    # ----------------------------------------------------------------- shared
    @property
    def n_tasks(self) -> int:
        return self.config.tasks

    def capacity(self) -> float:
        """Parameters relative to one base network of --dims (as DEN's capacity)."""
        return self.n_params() / DENNetwork.base_params(self.config.dims)

    def hyper(self, n_train: int, strength: float = 0.0,
              max_iter: Optional[int] = None) -> Hyper:
        """DEN's optimizer settings; no L1, no group lasso; `strength` for the pull."""
        c = self.config
        return Hyper(lr=c.lr, batch_size=c.batch_size, n_train=int(n_train),
                     max_iter=int(max_iter if max_iter is not None else c.max_iter),
                     l1_lambda=0.0, l2_lambda=c.l2_lambda, gl_lambda=0.0,
                     regular_lambda=float(strength), prox_order=c.prox_order)

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

    def run_phase(self, spec: PhaseSpec, hyper: Hyper, data, pool: int) -> PhaseResult:
        """One phase through the shared runner."""
        runner = PhaseRunner(spec, hyper, self.config.xla)
        return runner.run(data, self.batches_for(pool), self.log, self.callbacks)

    def start_task(self, t: int) -> float:
        """Checks that t is the next task, logs its header (and, at task 1, what the
        method is); returns the start time."""
        if t != self.done + 1:
            raise ValueError(f"task {t} asked, but {self.done} tasks are learned")
        start = time.perf_counter()
        self.log(logfmt.task_header(t))
        if t == 1:
            self.log(logfmt.ours(f"method: {self.describe()}"))
        return start

    def learn_task(self, t: int) -> MethodRecord:
        """Task t start to end: grow, one training phase, end-of-task hook, test line."""
        start = self.start_task(t)
        data = self.tasks.task_tensors(t)
        self.begin_task(t, data)
        strength, prev, weights = self.penalty(t)
        spec = PhaseSpec(f"t{t}_train", self.trainable(t), prev=prev, prev_weights=weights,
                         forward=self.forward_for(t))
        result = self.run_phase(spec, self.hyper(data.n_train, strength), data, data.n_train)
        for layer in spec.layers:
            layer.freeze()
        self.end_task(t, data)
        return self.finish_task(t, data, {spec.name: phase_stats(result)}, start)

    def finish_task(self, t: int, data: TaskTensors, phases: dict, start: float,
                    test_line: bool = True) -> MethodRecord:
        """Timestamp, test figures and the test line of task t; its record."""
        self.stamps[t] = self.stamp(t)
        for line in logfmt.shape_lines(self.stamps[t]):
            self.log(line)
        t_eval = time.perf_counter()
        s = self.score(t, data.test_x, data.test_y)
        sparsity = self.sparsity(t)
        t_eval = time.perf_counter() - t_eval
        if test_line:
            self.log(logfmt.task_result(t, s.loss, s.auroc, sparsity))
        self.done = t
        record = MethodRecord(
            task=t, test_loss=s.loss, test_perf=s.auroc, test_accuracy=s.accuracy,
            sparsity=sparsity, sizes=self.sizes(), stamp=list(self.stamps[t]),
            capacity=self.capacity(), phases=phases, wall_s=time.perf_counter() - start,
            eval_s=t_eval)
        self.records.append(record)
        call(self.callbacks, "on_task_end", self, record)
        return record

    def score(self, t: int, x, y) -> TaskScore:
        """Figures of task t on (x, y) with its own network and head."""
        loss, probs = predict(self.params_for(t), x, y, self.config.xla, self.forward_for(t))
        p, labels = probs.numpy(), np.asarray(y)
        return TaskScore(t, float(loss), mean_auroc(p, labels), top1_accuracy(p, labels))

    def sparsity(self, t: int) -> float:
        """(zeros + 1) / (size + 1) over the weight matrices task t uses, as DEN's."""
        mats = [np.asarray(p) for p in self.params_for(t)[0::2]]
        size = float(sum(m.size for m in mats))
        zeros = float(sum(m.size - np.count_nonzero(m) for m in mats))
        return (zeros + 1.0) / (size + 1.0)

    def evaluate_all(self, upto: Optional[int] = None) -> List[TaskScore]:
        """The overall evaluation of tasks 1..upto (DEN's OVERALL EVALUATION block)."""
        upto = self.done if upto is None else upto
        start = time.perf_counter()
        self.log(logfmt.OVERALL)
        scores = []
        for j in range(1, upto + 1):
            for line in logfmt.shape_lines(self.stamps[j]):
                self.log(line)
            x, y = self.tasks.test_set(j)
            s = self.score(j, x, y)
            self.log(logfmt.evaluation(j, s.auroc))
            scores.append(s)
        self.log(logfmt.avg_perf(sum(s.auroc for s in scores) / float(upto)))
        self.scores.append(scores)
        if self.records and self.records[-1].task == upto:
            self.records[-1].eval_s += time.perf_counter() - start
        call(self.callbacks, "on_evaluation", self, upto, scores)
        return scores

    def validation_scores(self, upto: Optional[int] = None) -> List[TaskScore]:
        """Figures of tasks 1..upto on their VALIDATION sets (hyperparameter selection;
        nothing is logged)."""
        upto = self.done if upto is None else upto
        out = []
        for j in range(1, upto + 1):
            d = self.tasks.task_tensors(j)
            out.append(self.score(j, d.val_x, d.val_y))
        return out
