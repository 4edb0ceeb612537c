"""The MNIST family (MNIST, Fashion-MNIST) from IDX files, in TF1's split
(algorithm.md#benchmark).

* IDX files are read and checked (magic, sizes, counts, label range); any fault is one
  `DataError` line naming the file.
* TF1's split: validation = the FIRST 5000 training images, train = the other 55000,
  test = the 10000 t10k images; pixels `uint8 * float32(1/255)` as TF1 made them (kept
  as uint8 and scaled where used); one-hot float32 labels. Images are 28x28x1.
* When the four files are not in the data directory, they are fetched the way a
  TensorFlow user's stack does: the raw IDX files through tensorflow-datasets' download
  manager from the URL tensorflow-datasets' own builder uses, else `keras.datasets`
  (both keep the original image order, so the validation split stays TF1's). A quick
  connection check comes first: without network it stops at once with one line.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import shutil
import struct
import zlib

import numpy as np

from den_tf.datasets.base import (
    VALIDATION_SIZE,
    DataError,
    ImageData,
    Split,
    one_hot,
    tf1_split,
)
from den_tf.config.registry import DatasetCard, register_dataset
from den_tf.datasets.fetch import fetch_with_fallback

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
N_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
# Where tensorflow-datasets' own builders download the raw IDX files from.
TFDS_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
TFDS_FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
MNIST_HOST = "storage.googleapis.com"
KERAS_HOST = "storage.googleapis.com"  # keras.datasets' files (tf-keras-datasets)


@dataclasses.dataclass(frozen=True)
class IdxSource:
    """Where one member of the MNIST family comes from when its files are missing."""

    title: str  # for messages
    url: str  # tensorflow-datasets' raw IDX folder
    host: str
    port: int
    keras_name: str  # keras.datasets.<name>


IDX_SOURCES = {
    "mnist": IdxSource("MNIST", TFDS_MNIST_URL, MNIST_HOST, 443, "mnist"),
    "fashion_mnist": IdxSource("Fashion-MNIST", TFDS_FASHION_MNIST_URL,
                               "fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80,
                               "fashion_mnist"),
}


def _open(path: str) -> bytes:
    """Whole file content, gunzipped when the name ends in .gz."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not an IDX file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None


def read_idx(path: str, expect_magic: int) -> np.ndarray:
    """Reads one IDX file (optionally gzipped) into a uint8 array, checking its header.

    Images come back as [n, rows*cols], labels as [n].
    """
    raw = _open(path)
    if len(raw) < 8:
        raise DataError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    magic, n = struct.unpack(">II", raw[:8])
    if magic != expect_magic:
        kind = "image" if expect_magic == IMAGE_MAGIC else "label"
        raise DataError(
            f"{path}: wrong IDX magic number {magic} (an MNIST {kind} file has {expect_magic})")
    if magic == IMAGE_MAGIC:
        if len(raw) < 16:
            raise DataError(f"{path}: truncated IDX image header")
        rows, cols = struct.unpack(">II", raw[8:16])
        body, item = raw[16:], rows * cols
        if rows != 28 or cols != 28:
            raise DataError(f"{path}: images are {rows}x{cols}, expected 28x28")
    else:
        body, item = raw[8:], 1
    if len(body) != n * item:
        raise DataError(
            f"{path}: header says {n} items of {item} bytes ({n * item} bytes) but the file "
            f"holds {len(body)} bytes (truncated or padded)")
    arr = np.frombuffer(body, dtype=np.uint8)
    return arr.reshape(n, item) if magic == IMAGE_MAGIC else arr


def _find(data_dir: str, name: str) -> str:
    """The path of `name` in data_dir, accepting the uncompressed variant too."""
    gz = os.path.join(data_dir, name)
    plain = gz[: -len(".gz")]
    if not os.path.exists(gz) and os.path.exists(plain):
        return plain
    return gz


def _to_split(images: np.ndarray, labels: np.ndarray, img_path: str, lbl_path: str) -> Split:
    if len(images) != len(labels):
        raise DataError(
            f"{lbl_path}: {len(labels)} labels for {len(images)} images in {img_path}")
    if labels.size and labels.max() >= N_CLASSES:
        raise DataError(
            f"{lbl_path}: label {int(labels.max())} out of range (labels are 0..{N_CLASSES - 1})")
    return Split(images, one_hot(labels, N_CLASSES))


def read_mnist(data_dir: str, validation_size: int = VALIDATION_SIZE,
               name: str = "mnist") -> ImageData:
    """Reads the four IDX files of data_dir into TF1's split (algorithm.md#benchmark).
    `name` only labels the data (`mnist` or `fashion_mnist`: the files are alike)."""
    if not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: data directory not found")
    paths = {k: _find(data_dir, v) for k, v in FILES.items()}
    tr_x = read_idx(paths["train_images"], IMAGE_MAGIC)
    tr_y = read_idx(paths["train_labels"], LABEL_MAGIC)
    te_x = read_idx(paths["test_images"], IMAGE_MAGIC)
    te_y = read_idx(paths["test_labels"], LABEL_MAGIC)
    train = _to_split(tr_x, tr_y, paths["train_images"], paths["train_labels"])
    test = _to_split(te_x, te_y, paths["test_images"], paths["test_labels"])
    return tf1_split(name, IMAGE_SHAPE, train, test, paths["train_images"],
                     paths["test_images"], validation_size)


def _fetch_with_tfds(data_dir: str, source: IdxSource) -> None:
    """Downloads the raw IDX files with tensorflow-datasets' download manager."""
    import tensorflow_datasets as tfds  # heavy: only on this fallback path

    dl = tfds.download.DownloadManager(download_dir=os.path.join(data_dir, ".downloads"))
    got = dl.download({k: source.url + v for k, v in FILES.items()})
    for k, path in got.items():
        shutil.copyfile(os.fspath(path), os.path.join(data_dir, FILES[k]))


def write_idx_files(data_dir: str, xtr, ytr, xte, yte) -> None:
    """Writes train/test images [n, 28, 28] and labels [n] (uint8) as the four gzipped IDX
    files of data_dir."""
    for key, arr in (("train_images", xtr), ("train_labels", ytr),
                     ("test_images", xte), ("test_labels", yte)):
        arr = np.asarray(arr)
        magic = IMAGE_MAGIC if arr.ndim == 3 else LABEL_MAGIC
        header = struct.pack(">II", magic, len(arr))
        if arr.ndim == 3:
            header += struct.pack(">II", arr.shape[1], arr.shape[2])
        with gzip.open(os.path.join(data_dir, FILES[key]), "wb") as f:
            f.write(header + arr.astype(np.uint8).tobytes())


def _fetch_with_keras(data_dir: str, source: IdxSource) -> None:
    """Writes keras.datasets.<name> (original order) out as the four IDX files."""
    import keras

    (xtr, ytr), (xte, yte) = getattr(keras.datasets, source.keras_name).load_data()
    write_idx_files(data_dir, xtr, ytr, xte, yte)


def expected_files() -> str:
    return ", ".join(FILES.values())


def load_idx_dataset(name: str, data_dir: str, download: bool = True) -> ImageData:
    """MNIST or Fashion-MNIST (`name`) from data_dir. When the folder is missing or holds
    none of the four files, they are fetched into it first; when only some are missing,
    that is an error (a half-present data set is never completed with files of another)."""
    source = IDX_SOURCES[name]
    missing = [v for v in FILES.values() if not os.path.exists(_find(data_dir, v))]
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: not a directory")
    if missing and len(missing) < len(FILES):
        raise DataError(f"{os.path.join(data_dir, missing[0])}: file not found (the folder "
                        f"holds only some of the four IDX files)")
    if missing:
        fetch_with_fallback(
            data_dir,
            what=(f"{source.title} IDX files not found (expected {expected_files()}, or "
                  f"the same without .gz)"),
            routes=[("tensorflow-datasets", lambda d: _fetch_with_tfds(d, source)),
                    (f"keras.datasets.{source.keras_name}",
                     lambda d: _fetch_with_keras(d, source))],
            hosts=[(source.host, source.port), (KERAS_HOST, 443)],
            used_by=f"tensorflow-datasets ({source.url}) and keras.datasets.{source.keras_name}",
            leftovers=[".downloads"], download=download, plural=True)
    return read_mnist(data_dir, name=name)


def load_mnist(data_dir: str, download: bool = True) -> ImageData:
    """MNIST from data_dir, fetched into it when none of its four files is there."""
    return load_idx_dataset("mnist", data_dir, download)


for _name, _dir in (("mnist", "MNIST_data"), ("fashion_mnist", "Fashion_MNIST_data")):
    # (MNIST and Fashion-MNIST files have the same names: each its own default folder;
    # MNIST_data is the original's)
    register_dataset(DatasetCard(
        _name, functools.partial(load_idx_dataset, _name), _dir,
        files="the four IDX files (train-images-idx3-ubyte.gz, ...)",
        summary=f"{IDX_SOURCES[_name].title}: 28x28 grey images of 10 classes, "
                f"55000/5000/10000 (TF1's split)", owner="den_tf.datasets.idx"), replace=True)
