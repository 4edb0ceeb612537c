"""den_tf: Dynamically Expandable Networks (Yoon et al., ICLR 2018) on TensorFlow 2.

A faithful port of the authors' TensorFlow 1 code. Entry points: the model object
`den_tf.DEN(...)` (learn, predict, evaluate, save, export; `den_tf.load`) on a task
stream (`den_tf.from_arrays`, `den_tf.split_classes`, den_tf.datasets), `den_tf.run(config,
data)` for a whole run, `python main.py` (`den_tf.cli`) for the command line. The
algorithm step by step: docs/algorithm.md.

The packages, bottom up (each one's docstring says what it may import):
`config` (every setting, defined once, and the registries); `datasets` and `model`;
`preflight`; `evaluation`; `engine`; `io`; `learner`; `den` and `baselines`; `api`; `cli`
and `flags`. Beside them `reference` (the original's logs and recordings), and above the
library the tools `sweep` and `experiments`.

Importing den_tf registers every built-in method, architecture, data set and task stream
(none of it imports TensorFlow); your own register through `register_method`,
`register_arch`, `register_dataset`, `register_stream` (docs/extending.md).

Imports: den_tf.config, den_tf.datasets, den_tf.model, den_tf.den, den_tf.baselines,
den_tf.api (lazily).
"""

# The order is the registries' (and so --help's and the docs' flag table's): the settings
# every run has, the data sets and task streams, the architectures, DEN, the baselines.
from den_tf import config as _config  # noqa: F401,I001
from den_tf import datasets  # noqa: F401,I001
from den_tf.model import archs  # noqa: F401,I001
from den_tf import den  # noqa: F401,I001
from den_tf import baselines  # noqa: F401,I001
from den_tf._lazy import exports  # noqa: I001
from den_tf.config.registry import (  # noqa: I001
    DatasetCard,
    Footprint,
    MethodCard,
    Setting,
    StreamCard,
    register_arch,
    register_dataset,
    register_method,
    register_stream,
)

__version__ = "0.1.0"

__getattr__, __dir__ = exports(__name__, {
    "DEN": ".api", "load": ".api", "Prediction": ".api",
    "from_arrays": ".datasets", "from_datasets": ".datasets", "split_classes": ".datasets",
    "run": ".api", "make_trainer": ".api", "make_task_stream": ".api",
    "method_class": ".api", "Config": ".config", "DENConfig": ".config",
    "BaselineConfig": ".config", "load_dataset": ".datasets", "make_stream": ".datasets",
    "DENTrainer": ".den", "from_keras": ".model.archs", "Conv": ".model.archs",
    "Dense": ".model.archs", "Stack": ".model.archs", "Architecture": ".model.archs",
    "Method": ".baselines.base", "OneNetwork": ".baselines.base", "Learner": ".learner",
    "ImageData": ".datasets", "Split": ".datasets", "Task": ".datasets", "Tasks": ".datasets",
    "Identity": ".datasets", "Permute": ".datasets",
})
__all__ = ["DEN", "load", "Prediction", "from_arrays", "from_datasets", "split_classes",
           "run", "make_trainer", "make_task_stream", "method_class", "Config", "DENConfig",
           "BaselineConfig", "load_dataset", "make_stream", "DENTrainer", "from_keras",
           "Conv", "Dense", "Stack", "Architecture", "Setting", "MethodCard", "StreamCard",
           "DatasetCard", "Footprint", "register_method", "register_arch",
           "register_dataset", "register_stream", "Method", "OneNetwork", "Learner",
           "ImageData", "Split", "Task", "Tasks", "Identity", "Permute"]
