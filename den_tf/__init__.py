"""den_tf: Dynamically Expandable Networks (Yoon et al., ICLR 2018) on TensorFlow 2.

A faithful port of the authors' TensorFlow 1 code. Entry points: the model object
`den_tf.DEN(...)` (learn, predict, evaluate, save, export; `den_tf.load`) on a task
stream (`den_tf.from_arrays`, `den_tf.split_classes`, den_tf.datasets), `den_tf.run(config,
data)` for a whole run, `python main.py` (`den_tf.cli`) for the command line.

The packages, bottom up (each one's docstring says what it may import):
`datasets` and `model`; `config`; `preflight`; `evaluation`; `engine`; `io`; `learner`;
`den` and `baselines`; `api`; `cli` and `flags`. Beside them `reference` (the
original's logs and recordings), and above the library the tools `sweep` and
`experiments`.

Imports: den_tf.api, den_tf.config, den_tf.datasets, den_tf.den (lazily).
"""

from den_tf._lazy import exports

__version__ = "0.1.0"

__getattr__, __dir__ = exports(__name__, {
    "DEN": ".api", "load": ".api", "Prediction": ".api",
    "from_arrays": ".datasets", "from_datasets": ".datasets", "split_classes": ".datasets",
    "run": ".api", "make_trainer": ".api", "make_task_stream": ".api",
    "method_class": ".api", "DENConfig": ".config", "BaselineConfig": ".config",
    "load_dataset": ".datasets", "make_stream": ".datasets", "DENTrainer": ".den",
})
__all__ = ["DEN", "load", "Prediction", "from_arrays", "from_datasets", "split_classes",
           "run", "make_trainer", "make_task_stream", "method_class", "DENConfig",
           "BaselineConfig", "load_dataset", "make_stream", "DENTrainer"]
