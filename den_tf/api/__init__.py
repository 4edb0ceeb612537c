"""The library's way in: the model object (`model`: `DEN`, `load`, `Prediction`), a whole
run from a config (`run`: `run`, `make_trainer`, `make_task_stream`, `method_class`,
`restore`), and the checks of a stream against a model (`tasks`).

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner, den_tf.den, den_tf.baselines, den_tf.preflight.
"""

from den_tf.api.model import DEN, HIDDEN, Prediction, arch_name, load  # noqa: F401
from den_tf.api.run import (  # noqa: F401
    make_task_stream,
    make_trainer,
    method_class,
    quiet_retracing,
    restore,
    run,
)
from den_tf.api.tasks import check_same_tasks, check_stream_for  # noqa: F401

__all__ = ["DEN", "HIDDEN", "Prediction", "arch_name", "check_same_tasks",
           "check_stream_for", "load", "make_task_stream", "make_trainer", "method_class",
           "quiet_retracing", "restore", "run"]
