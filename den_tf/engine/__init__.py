"""What runs a phase: the one compiled phase runner every method calls, the proximal
operators, the sources of randomness, the callback interface, and the float32 setting.

* `runner`: `PhaseRunner`, `PhaseSpec`, `Hyper` (algorithm.md#shared:
  the run loop, validation, early stopping);
* `program`: a phase's compiled step (Adam, regularisers, proximal steps, frozen
  entries kept); `buckets`: the padded programs of --capacity_bucket;
* `proximal`: L1 and group lasso (paper Eq. 2-3);
* `randomness`: minibatch and initial-value sources (random, or recorded);
* `callbacks`: the `Callback` interface (its implementations are in den_tf.io);
* `numerics`: TF32 off unless asked.

Imports: den_tf.errors, den_tf.model, den_tf.datasets, den_tf.evaluation.
"""

from den_tf._lazy import exports

__getattr__, __dir__ = exports(__name__, {
    "PhaseRunner": ".runner", "PhaseSpec": ".runner", "PhaseResult": ".runner",
    "Hyper": ".runner", "VALIDATE_EVERY": ".runner", "proximal_step": ".proximal",
    "l1_prox": ".proximal", "group_lasso_prox": ".proximal", "BatchSource": ".randomness",
    "InitSource": ".randomness", "RandomBatches": ".randomness", "RandomInit": ".randomness",
    "RecordedBatches": ".randomness", "Callback": ".callbacks",
})
__all__ = ["PhaseRunner", "PhaseSpec", "PhaseResult", "Hyper", "VALIDATE_EVERY",
           "proximal_step", "l1_prox", "group_lasso_prox", "BatchSource", "InitSource",
           "RandomBatches", "RandomInit", "RecordedBatches", "Callback"]
