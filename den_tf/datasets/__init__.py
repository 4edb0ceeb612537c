"""Data sets and task streams.

`load_dataset(name, data_dir)` gives an `ImageData` (uint8 pixels flattened
channel-last, one-hot labels, TF1's split: validation = the first 5000 training images):

| name | local files in data_dir | fetched (when none is there) through |
| --- | --- | --- |
| `mnist` | the four IDX files (`train-images-idx3-ubyte.gz`, ...) | tensorflow-datasets' download manager (raw IDX files), else keras.datasets.mnist |
| `fashion_mnist` | the four IDX files (same names) | the same, from tensorflow-datasets' Fashion-MNIST URL, else keras.datasets.fashion_mnist |
| `cifar10` | `cifar-10-python.tar.gz` or `cifar-10-batches-py/` | tensorflow-datasets' download manager (the python archive), else tfds.load |
| `cifar100` | `cifar-100-python.tar.gz` or `cifar-100-python/` | the same |

Each data set is registered by the module that reads it (`idx`: mnist, fashion_mnist;
`cifar`: cifar10, cifar100), each task stream by `streams` (permuted, split, rotated),
in den_tf.config.registry: `--dataset` and `--tasks` take any registered name, a user's
own too (`den_tf.register_dataset`, `den_tf.register_stream`; docs/extending.md).

`make_stream(data, kind, n_tasks, task_seed)` gives a registered task stream (see
`den_tf.datasets.streams`), `stream_for(config, data)` the one a config names;
`from_arrays`, `from_datasets` and `split_classes` make one from your own data
(den_tf.datasets.user), every input checked (den_tf.datasets.checks).

Imports: den_tf.errors, den_tf.config.
"""

from __future__ import annotations

from den_tf._lazy import exports
from den_tf.datasets.base import (
    VALIDATION_SIZE,
    ImageData,
    Split,
    to_float,
)
from den_tf.datasets.fetch import reachable
from den_tf.config.registry import DATASETS as _REGISTERED
from den_tf.config.registry import STREAMS as _STREAMS
from den_tf.config.registry import did_you_mean
from den_tf.datasets import cifar, idx  # noqa: F401  (they register their data sets)
from den_tf.datasets.streams import (
    CLASS_ORDERS,
    RotatedTasks,
    SavedTasks,
    SplitTasks,
    Task,
    Tasks,
    TaskSet,
    TaskStream,
    make_stream,
    make_tasks,
    stream_for,
)
from den_tf.datasets.transforms import Identity, Permute, Rotate, Transform
from den_tf.datasets.user import from_arrays, from_datasets, split_classes
from den_tf.errors import ConfigError

# With TensorFlow, imported when first used: a task's resident tensors.
_lazy_getattr, __dir__ = exports(__name__, {"TaskTensors": ".tensors", "resident": ".tensors"})


def __getattr__(name: str):
    # Names whose value is whatever is registered now.
    if name == "DATASETS":
        return _REGISTERED.names()
    if name == "TASK_STREAMS":
        return _STREAMS.names()
    if name == "DEFAULT_DATA_DIRS":
        return {n: c.default_dir for n, c in _REGISTERED.items()}
    return _lazy_getattr(name)


def load_dataset(name: str, data_dir: str = "", download: bool = True) -> ImageData:
    """The registered data set `name` from data_dir (default: its own folder, e.g.
    MNIST_data for mnist), fetched into it when its files are not there (and
    `download`)."""
    if not isinstance(name, str) or name not in _REGISTERED:
        raise ConfigError(f"--dataset={name}: no such data set"
                          f"{did_you_mean(str(name), _REGISTERED.names())} (known: "
                          f"{', '.join(_REGISTERED.names())})")
    card = _REGISTERED.get(name)
    return card.load(data_dir or card.default_dir, download)


__all__ = ["Tasks", "SavedTasks", "from_arrays", "from_datasets", "split_classes", "CLASS_ORDERS", "Task", "Transform", "Identity", "Permute", "Rotate", "TaskTensors", "resident", "DATASETS", "DEFAULT_DATA_DIRS", "TASK_STREAMS", "VALIDATION_SIZE", "ImageData",
           "RotatedTasks", "Split", "SplitTasks", "TaskSet", "TaskStream",
           "load_dataset", "make_stream", "make_tasks", "reachable", "stream_for",
           "to_float"]
