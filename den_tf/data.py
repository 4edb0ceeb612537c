"""Compatibility module: permuted MNIST as it has always been imported from here.

The code lives in `den_tf.datasets` (`idx`: the MNIST-family IDX reader and TF1's split;
`streams`: task permutations and the other task streams; `base`: the data container).
"""

from den_tf.datasets.base import (PIXEL_SCALE, VALIDATION_SIZE, ImageData, MnistData,  # noqa: F401
                                  Split, cache_dir, reachable, to_float)
from den_tf.datasets.idx import (FILES, IMAGE_MAGIC, LABEL_MAGIC, MNIST_HOST,  # noqa: F401
                                 N_CLASSES, TFDS_FASHION_MNIST_URL, TFDS_MNIST_URL, _find,
                                 _open, _reachable, _to_split, load_fashion_mnist,
                                 load_mnist, read_idx, read_mnist)
from den_tf.datasets.streams import (TaskSet, make_tasks, permuted_images,  # noqa: F401
                                     task_permutations)
