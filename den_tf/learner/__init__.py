"""The frame every continual-learning method runs on, DEN and its baselines alike: the
task counter, a task's start and end (timestamp, test figures and the test line, its
record), the overall evaluation after every task, and one phase through the shared
runner. `den_tf.den` and `den_tf.baselines` build on it and never import each other.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io.
"""

from den_tf._lazy import exports

__getattr__, __dir__ = exports(__name__, {
    "Learner": ".frame", "MethodRecord": ".frame", "phase_stats": ".frame",
    "network_layers": ".frame", "network_from_layers": ".frame",
})
__all__ = ["Learner", "MethodRecord", "phase_stats", "network_layers", "network_from_layers"]
