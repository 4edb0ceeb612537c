"""The frame every method runs on, DEN and its baselines alike (Mammoth's begin_task /
end_task, FACIL's hooks): one task at a time, the framework owning the task counter.

`Learner` writes once what every method does around its own training:

* `start_task(t)`: checks that t is the next task and logs its header
  (algorithm.md#benchmark: "TASK %d TRAINING" before each task);
* `run_phase(spec, hyper, data, batches)`: one phase through the one compiled runner
  (den_tf.engine.runner), with the original's iteration lines;
* `finish_task(t, data, phases, start, **extra)`: algorithm.md#end-of-task: the task's
  timestamp and shape lines, its test figures and test line, its record;
* `evaluate_all(upto)`: the overall evaluation of tasks 1..upto (algorithm.md#benchmark:
  every task on its own test set with its own timestamp and head, and avg_perf).

A method says how the network looks to task t (`params_for`, `forward_for`, `stamp`,
`sizes`, `n_params`, `sparsity`) and learns a task (`learn_task`). DEN
(den_tf.den.trainer) and the baselines (den_tf.baselines) are methods on this frame; the
records and scores are what `den_tf.evaluation.results.build` reads.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from den_tf.config.shared import BUILTIN_STREAM_SETTINGS
from den_tf.engine.callbacks import call
from den_tf.engine.runner import Hyper, PhaseResult, PhaseRunner, PhaseSpec
from den_tf.evaluation.results import class_names
from den_tf.evaluation.scoring import TaskScore, score_params
from den_tf.io import export, loglines
from den_tf.model import archs
from den_tf.model.forward import mlp_logits


@dataclasses.dataclass
class MethodRecord:
    """What happened in one task: the keys every method has (DEN's TaskRecord adds its
    own). None where the task has no figure of its own (MTL before its joint training)."""

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
    """A phase's figures for the record (counter, last minibatch CE, timings)."""
    return {"iters": float(r.iters), "last_loss": float(r.last_loss), "steps": r.steps,
            "train_s": r.train_s, "compile_s": r.compile_s, "validate_s": r.validate_s}


class Learner:
    """A continual-learning method on a task stream (module docstring).

    Args:
      config: the run's settings (a DENConfig, or a BaselineConfig).
      tasks: the task stream (`task_tensors(t)`, `test_set(t)`, `n_tasks`).
      log: receives every log line.
      callbacks: `den_tf.engine.callbacks.Callback`s.
    """

    name = "learner"
    Record = MethodRecord  # the record class of a task (DEN's has more fields)

    def __init__(self, config, tasks, log: Optional[Callable[[str], None]] = None,
                 callbacks: Sequence = ()):
        self.config = config
        self.tasks = tasks
        self.log = log or (lambda line: None)
        self.callbacks = list(callbacks)
        self.done = 0  # tasks learned so far
        self.records: List = []
        self.scores: List[List[TaskScore]] = []  # overall evaluation after each task
        self._stamps: Dict[int, List[int]] = {}

    # ----------------------------------------------------------------- what a method says
    def describe(self) -> Optional[str]:
        """One line on what the method is, logged at task 1 (None: no line)."""
        return None

    def learn_task(self, t: int):
        raise NotImplementedError

    def params_for(self, t: int) -> list:
        """The parameters task t runs on, as its forward pass takes them."""
        raise NotImplementedError

    def forward_for(self, t: int) -> Callable:
        """Task t's forward pass, `forward(params_for(t), x) -> logits`."""
        return mlp_logits

    def stamp(self, t: int) -> List[int]:
        """Sizes of the network task t runs on: [input, hidden..., outputs]."""
        raise NotImplementedError

    def sizes(self) -> List[int]:
        raise NotImplementedError

    def kernel_shapes(self, t: int) -> Optional[List[List[int]]]:
        """The real kernel shape of each hidden layer task t runs on, for a convolutional
        architecture; None (the default, and the MLP): the shape lines are the
        timestamp's pairs, as the original prints them."""
        return None

    def shape_lines(self, t: int) -> List[str]:
        """Task t's shape lines (algorithm.md#timestamps): the timestamp's pairs for the
        MLP, the layers' real kernel shapes for a convolutional architecture."""
        shapes = self.kernel_shapes(t)
        if shapes is None:
            return loglines.shape_lines(self.stamps[t])
        return loglines.kernel_shape_lines(shapes)

    def n_params(self) -> int:
        raise NotImplementedError

    def capacity(self) -> float:
        raise NotImplementedError

    @property
    def stamps(self) -> Dict[int, List[int]]:
        """The timestamp of every task learned (algorithm.md#timestamps)."""
        return self._stamps

    @property
    def n_tasks(self) -> int:
        """The tasks this learner learns: the run's (config.tasks), or what the model
        object set (den_tf.api: the stream's, capped by n_tasks)."""
        return self._n_tasks if getattr(self, "_n_tasks", None) is not None \
            else self.config.tasks

    @n_tasks.setter
    def n_tasks(self, n: int) -> None:
        self._n_tasks = int(n)

    def config_record(self) -> dict:
        """The settings the run used (`Config.asdict`); for a stream of the user's own
        data, without the settings of the built-in streams, which it did not use (its
        results' "stream" says what it learned)."""
        out = self.config.asdict()
        if getattr(self.tasks, "own", False):
            for name in BUILTIN_STREAM_SETTINGS:
                out.pop(name, None)
        return out

    # ----------------------------------------------------------------- shared
    def start_task(self, t: int) -> float:
        """Checks that t is the next task, logs its header (and, at task 1, what the
        method is); returns the start time."""
        if t != self.done + 1:
            raise ValueError(f"task {t} asked, but {self.done} tasks are learned")
        start = time.perf_counter()
        self.log(loglines.task_header(t))
        if t == 1 and self.describe():
            self.log(loglines.ours(f"method: {self.describe()}"))
        return start

    def run_phase(self, spec: PhaseSpec, hyper: Hyper, data, batches,
                  xla: Optional[bool] = None) -> PhaseResult:
        """One phase through the shared runner; the iteration lines go to the log."""
        runner = PhaseRunner(spec, hyper, self.config.xla if xla is None else xla)
        self.last_runner = runner
        return runner.run(data, batches, loglines.iteration_logger(self.log), self.callbacks)

    def score(self, t: int, x, y) -> TaskScore:
        """Figures of task t on (x, y) with its own timestamp and head."""
        return score_params(t, self.params_for(t), self.forward_for(t), x, y, self.config.xla)

    def sparsity(self, t: int) -> float:
        """(zeros + 1) / (size + 1) over the weight matrices task t uses
        (algorithm.md#end-of-task: printed per task; biases not counted)."""
        mats = [np.asarray(p) for p in self.params_for(t)[0::2]]
        size = float(sum(m.size for m in mats))
        zeros = float(sum(m.size - np.count_nonzero(m) for m in mats))
        return (zeros + 1.0) / (size + 1.0)

    def finish_task(self, t: int, data, phases: dict, start: float, test_line: bool = True,
                    **extra):
        """End of every task (algorithm.md#end-of-task): timestamp and shape lines, test
        figures and the test line of task t; its record (`Record`, with `extra` fields),
        kept and returned."""
        self.stamps[t] = self.stamp(t)
        for line in self.shape_lines(t):
            self.log(line)
        t_eval = time.perf_counter()
        s = self.score(t, data.test_x, data.test_y)
        sparsity = self.sparsity(t)
        t_eval = time.perf_counter() - t_eval
        if test_line:
            self.log(loglines.task_result(t, s.loss, s.auroc, sparsity))
        self.end_of_task(t)
        self.done = t
        record = self.Record(
            task=t, test_loss=s.loss, test_perf=s.auroc, test_accuracy=s.accuracy,
            sparsity=sparsity, sizes=self.sizes(), stamp=list(self.stamps[t]),
            capacity=self.capacity(), phases=phases, wall_s=time.perf_counter() - start,
            eval_s=t_eval, **extra)
        self.records.append(record)
        call(self.callbacks, "on_task_end", self, record)
        return record

    def end_of_task(self, t: int) -> None:
        """After task t's test figures, before its record (DEN freezes its layers)."""

    def evaluate_all(self, upto: Optional[int] = None) -> List[TaskScore]:
        """The overall evaluation of tasks 1..upto (default: all learned): the original's
        OVERALL EVALUATION block, each task with its own timestamp and head."""
        upto = self.done if upto is None else upto
        start = time.perf_counter()
        self.log(loglines.OVERALL)
        scores = []
        for j in range(1, upto + 1):
            for line in self.shape_lines(j):
                self.log(line)
            x, y = self.tasks.test_set(j)
            s = self.score(j, x, y)
            self.log(loglines.evaluation(j, s.auroc))
            scores.append(s)
        self.log(loglines.avg_perf(sum(s.auroc for s in scores) / float(upto)))
        for s in scores:  # classes left out of a task's AUROC, named at its first evaluation
            if s.unscored and not any(len(row) >= s.task for row in self.scores):
                ids = class_names(self.tasks, s.task, s.unscored)
                self.log(loglines.ours(f"task {s.task}: classes {ids} have no test examples: "
                                       f"left out of its AUROC (docs/metrics.md)"))
        self.scores.append(scores)
        if self.records and self.records[-1].task == upto:
            self.records[-1].eval_s += time.perf_counter() - start
        call(self.callbacks, "on_evaluation", self, upto, scores)
        return scores

    # ----------------------------------------------------------------- checkpoints
    # What den_tf.io.checkpoint saves and restores: the method's layers by name, its
    # other arrays, its minibatch generators. The defaults are those of a method that
    # holds one DENNetwork (`self.network`: DEN, dnn, l2, ewc, mtl).
    def checkpoint_layers(self) -> Dict[str, object]:
        return network_layers(self.network)

    def restore_layers(self, layers: dict, input_size: int, image_shape) -> None:
        self.network = network_from_layers(self.config, layers, input_size, image_shape)

    def checkpoint_extra(self) -> Dict[str, np.ndarray]:
        return {}

    def restore_extra(self, arrays: Dict[str, np.ndarray]) -> None:
        pass

    def generators(self) -> dict:
        """The tf.random.Generators whose state a checkpoint keeps, by name."""
        return {}

    def prepare_generators(self, names: Sequence[str]) -> None:
        """Makes the generators a checkpoint names (before their state is read)."""

    def export_parts(self):
        """What a SavedModel of the method holds (den_tf.io.export.ExportParts)."""
        return export.network_parts(self.network, self.stamps)

    def input_shape(self):
        """(input size, image shape (H, W, C) or None) of the tasks' images."""
        return self.tasks.input_size, self.tasks.image_shape

    def validation_scores(self, upto: Optional[int] = None) -> List[TaskScore]:
        """Figures of tasks 1..upto on their VALIDATION sets (hyperparameter selection;
        nothing is logged)."""
        upto = self.done if upto is None else upto
        out = []
        for j in range(1, upto + 1):
            d = self.tasks.task_tensors(j)
            out.append(self.score(j, d.val_x, d.val_y))
        return out


def network_layers(net, prefix: str = "") -> dict:
    """A DENNetwork's layers by name: hidden1..L, head{t} (checkpoints)."""
    out = {f"{prefix}hidden{i + 1}": layer for i, layer in enumerate(net.hidden)}
    out.update({f"{prefix}head{t}": head for t, head in sorted(net.heads.items())})
    return out


def network_from_layers(config, layers: dict, input_size: int, image_shape,
                        prefix: str = ""):
    """The DENNetwork of `network_layers` (the architecture's forward pass and base size
    from `config`, den_tf.model.archs)."""
    n = sum(1 for k in layers if k.startswith(prefix + "hidden"))
    hidden = [layers[f"{prefix}hidden{i + 1}"] for i in range(n)]
    net = archs.assemble(config, hidden, input_size, image_shape)
    for name, layer in layers.items():
        if name.startswith(prefix + "head"):
            net.heads[int(name[len(prefix) + 4:])] = layer
    return net
