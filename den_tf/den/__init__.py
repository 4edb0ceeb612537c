"""DEN itself (Yoon et al. 2018): the trainer that runs a task start to end, and its
phases, one module each, in the order a task runs them (spec "Task t > 1"):

* `trainer`: `DENTrainer`, one task start to end (spec "Task 1", "Task t > 1", "End of
  every task");
* `first_task`: task 1, everything trains;
* `selective`: steps 1-4: train the new head, select the subnetwork, retrain it, union;
* `expansion`: steps 6-7: add ex_k units per hidden layer (filters, in a convolutional
  layer), train them with group sparsity, prune the units whose incoming weights are all
  zero;
* `split`: step 8: find drifted units, duplicate them, retrain;
* `context`: `PhaseContext`, what every phase of a task needs.

Each phase builds a `PhaseSpec` and hands it to the one compiled runner
(`den_tf.engine.runner`) through `PhaseContext.run`.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

from den_tf._lazy import exports

__getattr__, __dir__ = exports(__name__, {
    "DENTrainer": ".trainer", "TaskRecord": ".trainer", "PhaseContext": ".context",
    "first_task_spec": ".first_task", "selective_spec": ".selective",
    "select_units": ".selective", "subnetwork": ".selective",
    "expansion_spec": ".expansion", "split_spec": ".split",
})
__all__ = ["DENTrainer", "TaskRecord", "PhaseContext", "first_task_spec", "selective_spec",
           "select_units", "subnetwork", "expansion_spec", "split_spec"]
