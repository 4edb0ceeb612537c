"""One task of DEN, start to end (algorithm.md#task-1, #later-tasks, #end-of-task).

`DENTrainer.learn_task(t)`:
  task 1: train everything;
  task t > 1: selective retraining (steps 1-4); if the last minibatch's CE (with
  --paper=Q7: the validation CE) is below loss_thr, the retrained network stands and the task ends normally (Q7, Q13);
  otherwise expansion and pruning (steps 6-7), then split and duplication (step 8);
  then, for every task: total expansions, timestamp, test figures, sparsity.
`DENTrainer.evaluate_all(t)` is the overall evaluation of tasks 1..t.

The trainer owns every piece of state a run has (network, timestamps, sources of
randomness, task counter), so that a checkpoint of it resumes a run exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from den_tf.config import DENConfig
from den_tf.datasets.streams import TaskStream
from den_tf.datasets.tensors import TaskTensors
from den_tf.den.context import PhaseContext
from den_tf.den.expansion import expansion
from den_tf.den.first_task import train_first_task
from den_tf.den.selective import selective_retraining
from den_tf.den.split import split_and_duplicate
from den_tf.engine.randomness import (
    BatchSource,
    InitSource,
    RandomBatches,
    RandomInit,
    TaskPool,
)
from den_tf.engine.runner import Hyper
from den_tf.io import loglines
from den_tf.learner.frame import Learner, phase_stats
from den_tf.model import archs
from den_tf.model.network import DENNetwork


@dataclasses.dataclass
class TaskRecord:
    """What happened in one task (also what the log prints about it)."""

    task: int
    test_loss: float
    test_perf: float
    test_accuracy: float
    sparsity: float
    expanded: bool  # took the expansion path (algorithm.md#expansion-decision)
    expansions: List[int]  # the "Total expansions" list: kept + duplicated, per layer
    kept: List[int]  # expansion units that survived pruning, per layer
    duplicated: List[int]  # units split, per layer
    split_candidates: List[int]  # units that drifted above spl_thr, per layer
    pruned: List[List[int]]  # deleted column indices, per layer
    split_units: List[List[int]]  # duplicated units in the order chosen, per layer
    selected: List[int]  # number of selected units per level [inputs, h1, ..., hL]
    selection: List[List[int]]  # the selected units per level
    sizes: List[int]  # hidden layer sizes at the end of the task
    stamp: List[int]
    capacity: float
    phases: Dict[str, dict]
    wall_s: float
    eval_s: float = 0.0  # test figures and overall evaluation


def default_init(config: DENConfig, tasks: TaskStream) -> RandomInit:
    """Glorot values from a RandomState seeded by config.train_seed. Duplicates' biases
    (algorithm.md#split, Q10): without a train_seed, from the RandomState that drew the task
    permutations, continued, as the original's global numpy generator; with one, from a
    stream of their own derived from it (so the tasks never depend on the training seed
    and the training never on the task seed)."""
    zero_bias = config.follows_paper("Q2")
    if config.train_seed is None:
        return RandomInit(np.random.RandomState(), tasks.rng, zero_bias)
    return RandomInit(np.random.RandomState(config.train_seed),
                      np.random.RandomState([config.train_seed, DUPLICATE_STREAM]), zero_bias)


DUPLICATE_STREAM = 10  # the second word of the duplicates' RandomState seed


class DENTrainer(Learner):
    """Runs DEN on a TaskStream, one task at a time, on the frame every method shares
    (den_tf.learner: task header, end of task, overall evaluation, records).

    Args:
      config: the run's settings.
      tasks: data and permutations.
      batches: minibatch source (default: random subsets, seeded by config.train_seed).
      init: source of new parameters' initial values (default: `default_init`).
      log: receives every log line.
      callbacks: `den_tf.engine.callbacks.Callback`s (progress bar, TensorBoard, ...).
    """

    name = "den"
    Record = TaskRecord

    def __init__(self, config: DENConfig, tasks: TaskStream,
                 batches: Optional[BatchSource] = None, init: Optional[InitSource] = None,
                 log: Optional[Callable[[str], None]] = None,
                 callbacks: Sequence = ()):
        super().__init__(config, tasks, log, callbacks)
        n_train = tasks.pool
        self.hyper = Hyper.from_config(config, n_train)
        self.batches = batches or RandomBatches(n_train, config.batch_size,
                                                config.train_seed, config.xla)
        self.batches_pool = n_train  # the examples self.batches draws from by default
        self.init = init or default_init(config, tasks)
        self.network: Optional[DENNetwork] = None

    # ----------------------------------------------------------------- the network
    @property
    def stamps(self) -> Dict[int, List[int]]:
        return self.network.stamps if self.network is not None else {}

    def params_for(self, t: int) -> list:
        return self.network.params_for(t)

    def forward_for(self, t: int):
        return self.network.forward

    def stamp(self, t: int) -> List[int]:
        """The timestamp (algorithm.md#timestamps): [input, units of each hidden layer, 10]
        (Q12: a literal 10; with --paper=Q12 the head's size)."""
        net = self.network
        return net.stamp(t, net.heads[t].n_out) if self.config.follows_paper("Q12") \
            else net.stamp(t)

    def sizes(self) -> List[int]:
        return self.network.sizes()

    def kernel_shapes(self, t: int):
        net = self.network
        return net.shape_lines_shapes(self.stamps[t])

    def n_params(self) -> int:
        return self.network.n_params()

    def capacity(self) -> float:
        return self.network.capacity(self.config.dims)

    def sparsity(self, t: int) -> float:
        return self.network.sparsity(t)

    def generators(self) -> dict:
        if isinstance(self.batches, RandomBatches):
            return {"batch_generator": self.batches.generator}
        return {}

    def end_of_task(self, t: int) -> None:
        for layer in self.network.layers_for(t):
            layer.freeze()

    # ----------------------------------------------------------------- data
    def task_tensors(self, t: int) -> TaskTensors:
        return self.tasks.task_tensors(t)

    def test_set(self, t: int):
        """(images, labels) of task t's test set."""
        return self.tasks.test_set(t)

    # ----------------------------------------------------------------- one task
    def learn_task(self, t: int) -> TaskRecord:
        cfg = self.config
        start = self.start_task(t)
        data = self.task_tensors(t)
        n_out = self.tasks.n_outputs(t)  # the task's own classes
        if t == 1:  # the architecture's network (den_tf.model.archs; the MLP of dims by default)
            self.network = archs.build_for(cfg, self.init, self.tasks.data, t, n_out)
        net = self.network
        hyper = dataclasses.replace(self.hyper, n_train=data.n_train)
        # a class-split task draws its minibatches among its own examples
        # a task of its own examples (a class split, a user's task) draws among them
        own = data.train_index is not None or data.n_train != self.batches_pool
        batches = TaskPool(self.batches, data.n_train) if own else self.batches
        ctx = PhaseContext(t, net, hyper, data, batches, self.init, self.log,
                           cfg.xla, cfg.ex_k, cfg.loss_thr, cfg.spl_thr, self.callbacks,
                           paper=cfg.paper, spl_thr_conv=cfg.spl_thr_conv, n_outputs=n_out)
        n = net.n_hidden
        kept, dup, cand = [0] * n, [0] * n, [0] * n
        pruned, split_units, selection = [[] for _ in range(n)], [[] for _ in range(n)], []
        expanded = False
        if t == 1:
            train_first_task(ctx)
        else:
            prev = net.hidden_values()  # the task-start values ("prev")
            last_loss, sel = selective_retraining(ctx, prev)
            selection = [s.tolist() for s in sel]
            # algorithm.md#expansion-decision (Q7); else Q13: the union stands
            if last_loss >= cfg.loss_thr:
                expanded = True
                kept, deleted = expansion(ctx)
                pruned = [d.tolist() for d in deleted]
                chosen, cand = split_and_duplicate(ctx, prev)
                split_units = [c.tolist() for c in chosen]
                dup = [len(c) for c in chosen]
            elif not cfg.follows_paper("Q6"):
                self.log(loglines.ours(
                    f"warning: task {t} did not expand (loss {last_loss:.4f} < --loss_thr="
                    f"{cfg.loss_thr}), so its head was trained in one column shared by all "
                    f"outputs (Q6) and its outputs barely tell the classes apart; "
                    f"--paper=Q6 trains the full head"))
        expansions = [a + b for a, b in zip(kept, dup)]
        self.log(loglines.total_expansions(expansions))
        return self.finish_task(
            t, data, {k: phase_stats(v) for k, v in ctx.results.items()}, start,
            expanded=expanded, expansions=expansions, kept=list(kept), duplicated=dup,
            split_candidates=cand, pruned=pruned, split_units=split_units,
            selected=[len(x) for x in selection], selection=selection)
