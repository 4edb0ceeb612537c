"""Data sets and task streams.

`load_dataset(name, data_dir)` gives an `ImageData` (uint8 pixels flattened
channel-last, one-hot labels, TF1's split: validation = the first 5000 training images):

| name | local files in data_dir | fetched (when none is there) through |
| --- | --- | --- |
| `mnist` | the four IDX files (`train-images-idx3-ubyte.gz`, ...) | tensorflow-datasets' download manager (raw IDX files), else keras.datasets.mnist |
| `fashion_mnist` | the four IDX files (same names) | the same, from tensorflow-datasets' Fashion-MNIST URL, else keras.datasets.fashion_mnist |
| `cifar10` | `cifar-10-python.tar.gz` or `cifar-10-batches-py/` | tensorflow-datasets' download manager (the python archive), else tfds.load |
| `cifar100` | `cifar-100-python.tar.gz` or `cifar-100-python/` | the same |

`make_stream(data, kind, n_tasks, task_seed)` gives a built-in task stream (`permuted`,
`split`, `rotated`; see `den_tf.datasets.streams`); `from_arrays`, `from_datasets` and
`split_classes` make one from your own data (den_tf.datasets.user), every input checked
(den_tf.datasets.checks).

Imports: den_tf.errors.
"""

from __future__ import annotations

from den_tf._lazy import exports
from den_tf.datasets.base import (
    VALIDATION_SIZE,
    ImageData,
    Split,
    to_float,
)
from den_tf.datasets.cifar import load_cifar
from den_tf.datasets.fetch import reachable
from den_tf.datasets.idx import load_idx_dataset
from den_tf.datasets.streams import (
    CLASS_ORDERS,
    TASK_STREAMS,
    RotatedTasks,
    SavedTasks,
    SplitTasks,
    Task,
    Tasks,
    TaskSet,
    TaskStream,
    make_stream,
    make_tasks,
)
from den_tf.datasets.transforms import Identity, Permute, Rotate, Transform
from den_tf.datasets.user import from_arrays, from_datasets, split_classes
from den_tf.errors import ConfigError

# With TensorFlow, imported when first used: a task's resident tensors.
__getattr__, __dir__ = exports(__name__, {"TaskTensors": ".tensors", "resident": ".tensors"})

DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100")
# --data_dir when none is given: MNIST and Fashion-MNIST files have the same names, so
# each has its own folder (MNIST_data is the original's).
DEFAULT_DATA_DIRS = {"mnist": "MNIST_data", "fashion_mnist": "Fashion_MNIST_data",
                     "cifar10": "CIFAR_data", "cifar100": "CIFAR_data"}


def load_dataset(name: str, data_dir: str = "", download: bool = True) -> ImageData:
    """The data set `name` from data_dir (default: DEFAULT_DATA_DIRS[name]), fetched into
    it when its files are not there (and `download`)."""
    if name not in DATASETS:
        raise ConfigError(f"--dataset={name}: must be one of {', '.join(DATASETS)}")
    data_dir = data_dir or DEFAULT_DATA_DIRS[name]
    if name in ("mnist", "fashion_mnist"):
        return load_idx_dataset(name, data_dir, download)
    return load_cifar(name, data_dir, download)


__all__ = ["Tasks", "SavedTasks", "from_arrays", "from_datasets", "split_classes", "CLASS_ORDERS", "Task", "Transform", "Identity", "Permute", "Rotate", "TaskTensors", "resident", "DATASETS", "DEFAULT_DATA_DIRS", "TASK_STREAMS", "VALIDATION_SIZE", "ImageData",
           "RotatedTasks", "Split", "SplitTasks", "TaskSet", "TaskStream",
           "load_dataset", "make_stream", "make_tasks", "reachable",
           "to_float"]
