"""What every phase of one task needs: the network, the task's data, the sources of
randomness, the log, and the runner."""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Optional, Sequence

from den_tf.datasets.tensors import TaskTensors
from den_tf.engine.randomness import BatchSource, InitSource
from den_tf.engine.runner import Hyper, PhaseResult, PhaseRunner, PhaseSpec
from den_tf.io import loglines
from den_tf.model.network import DENNetwork


@dataclasses.dataclass
class PhaseContext:
    task: int
    network: DENNetwork
    hyper: Hyper
    data: TaskTensors
    batches: BatchSource
    init: InitSource
    log: Callable[[str], None]
    xla: bool = True
    ex_k: int = 10
    loss_thr: float = 0.01
    spl_thr: float = 0.05
    callbacks: Sequence = ()
    paper: Sequence[str] = ()  # departures done as the paper says (config.PAPER_SWITCHES)
    spl_thr_conv: Optional[float] = None  # split threshold of conv layers (None: spl_thr)
    n_outputs: Optional[int] = None  # the task's head size (None: the previous head's)
    results: Dict[str, PhaseResult] = dataclasses.field(default_factory=dict)
    last_runner: Optional[PhaseRunner] = None

    def follows_paper(self, q: str) -> bool:
        return q in self.paper

    def run(self, spec: PhaseSpec) -> PhaseResult:
        """Compiles and runs one phase with the shared runner; keeps its result."""
        runner = PhaseRunner(spec, self.hyper, self.xla)
        result = runner.run(self.data, self.batches, loglines.iteration_logger(self.log),
                            self.callbacks)
        self.results[spec.name] = result
        self.last_runner = runner
        return result
