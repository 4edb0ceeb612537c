"""The DEN phases, one module each, in the order a task runs them (spec "Task t > 1"):

* `first_task`: task 1, everything trains.
* `selective`: steps 1-4: train the new head, select the subnetwork, retrain it, union.
* `expansion`: steps 6-7: add ex_k units per hidden layer, train them with group
  sparsity, prune the units whose incoming weights are all zero.
* `split`: step 8: find drifted units, duplicate them, retrain.

Each phase builds a `PhaseSpec` and hands it to the one compiled runner
(`den_tf.runner`) through `PhaseContext.run`.
"""

from den_tf.phases.context import PhaseContext

__all__ = ["PhaseContext"]
