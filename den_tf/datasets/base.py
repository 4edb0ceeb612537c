"""The data container every data set loads into, and what its readers share.

* `Split`: one part of a data set, pixels [n, H*W*C] flattened channel-last (row,
  column, channel; C = 1 for the MNIST family, 3 for CIFAR) and one-hot float32 labels
  [n, n_classes].
* The pixel rule, one for training, validation and test alike: pixels are uint8 (0..255;
  the built-in data sets, kept so where they are resident, a quarter of the memory of
  float32) or float32 in [0, 1]. `to_float` gives the network's float32 values: uint8
  times float32(1/255), TF1's; float32 as they are (never scaled twice).
  `den_tf.datasets.checks` refuses anything else when a stream is built.
* `ImageData`: train / validation / test splits with the image shape and the data set's
  name.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Tuple

import numpy as np

from den_tf.errors import DataError  # noqa: F401  (re-exported for the readers)

# TF1's rule (algorithm.md#benchmark): validation = the FIRST 5000 training images.
VALIDATION_SIZE = 5000
PIXEL_SCALE = np.float32(1.0 / 255.0)


def to_float(pixels):
    """The network's float32 pixel values (the pixel rule, module docstring): uint8
    pixels as TF1 made them, numpy.multiply(images.astype(float32), 1.0 / 255.0), i.e.
    the value times float32(1/255); float pixels (already in [0, 1]) as float32,
    unscaled. Works on numpy arrays and tensors alike."""
    if isinstance(pixels, np.ndarray):
        if pixels.dtype == np.uint8:
            return pixels.astype(np.float32) * PIXEL_SCALE
        return pixels.astype(np.float32, copy=False)
    import tensorflow as tf
    if pixels.dtype == tf.uint8:
        return tf.cast(pixels, tf.float32) * PIXEL_SCALE
    return tf.cast(pixels, tf.float32)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """float32 [n, n_classes] with a 1 at each label."""
    y = np.zeros((len(labels), n_classes), dtype=np.float32)
    y[np.arange(len(labels)), np.asarray(labels, np.int64)] = 1.0
    return y


@dataclasses.dataclass
class Split:
    """One part of the data: uint8 pixels [n, H*W*C] (flattened channel-last) and one-hot
    float32 labels [n, n_classes]; `images` gives TF1's float32 values."""

    pixels: np.ndarray
    labels: np.ndarray

    @property
    def images(self) -> np.ndarray:
        return to_float(self.pixels)

    @property
    def class_ids(self) -> np.ndarray:
        """The integer label of every example (int64 [n])."""
        return self.labels.argmax(axis=1)

    def __len__(self) -> int:
        return len(self.pixels)


@dataclasses.dataclass
class ImageData:
    """An image classification data set in TF1's split (train / validation / test).

    Attributes:
      train, validation, test: the splits (validation = the first 5000 training images
        of the files' order, train = the rest, as TF1's MNIST reader).
      image_shape: (H, W, C) of one image; pixels are stored flattened channel-last.
      name: the data set's name (`mnist`, `fashion_mnist`, `cifar10`, `cifar100`).
    """

    train: Split
    validation: Split
    test: Split
    image_shape: Tuple[int, int, int] = (28, 28, 1)
    name: str = "mnist"

    @property
    def input_size(self) -> int:
        """H * W * C (the network's input size)."""
        return self.train.pixels.shape[1]

    @property
    def n_classes(self) -> int:
        return self.train.labels.shape[1]


def tf1_split(name: str, image_shape, train: Split, test: Split, train_path: str,
              test_path: str, validation_size: int = VALIDATION_SIZE) -> ImageData:
    """TF1's split of a data set's training and test images: validation = the first
    `validation_size` training images, train = the others (checked: some must remain)."""
    if len(train) <= validation_size:
        raise DataError(
            f"{train_path}: {len(train)} training images, need more than the "
            f"{validation_size} that TF1's split sets aside for validation")
    if len(test) == 0:
        raise DataError(f"{test_path}: holds no images")
    v = validation_size
    return ImageData(train=Split(train.pixels[v:], train.labels[v:]),
                     validation=Split(train.pixels[:v], train.labels[:v]),
                     test=test, image_shape=tuple(image_shape), name=name)


def cache_dir(name: str = "") -> str:
    """den_tf's cache folder ($DEN_TF_CACHE, else $XDG_CACHE_HOME/den_tf, else
    ~/.cache/den_tf), or its subfolder `name`: where MNIST is fetched when no folder is
    given (the tests' last resort: `load_mnist(cache_dir("mnist"))`)."""
    base = os.environ.get("DEN_TF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "den_tf")
    return os.path.join(base, name) if name else base
