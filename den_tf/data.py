"""Permuted MNIST exactly as the original benchmark builds it (spec: "The benchmark").

* IDX files are read and checked (magic, sizes, counts, label range); any fault is one
  `DataError` line naming the file.
* TF1's split: validation = the FIRST 5000 training images, train = the other 55000,
  test = the 10000 t10k images; pixels `uint8 * float32(1/255)` as TF1 made them (kept
  as uint8 and scaled where used); one-hot float32 labels.
* Task permutations: `np.random.seed(seed)` then one `permutation(784)` per task, from
  numpy's legacy RandomState, so seed 1004 gives the original's ten permutations. The
  same RandomState then goes on to draw the duplicates' random biases (spec step 8,
  Q10), as the original's global numpy generator does.
* When the four files are not in the data directory, MNIST is fetched the way a
  TensorFlow user's stack does: the raw IDX files through tensorflow-datasets' download
  manager, else `keras.datasets.mnist` (both keep the original image order, so the
  validation split stays TF1's).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import struct
import zlib

import numpy as np

from den_tf.errors import DataError

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
VALIDATION_SIZE = 5000
N_CLASSES = 10
# Where tensorflow-datasets' own MNIST builder downloads the raw IDX files from.
TFDS_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"


PIXEL_SCALE = np.float32(1.0 / 255.0)


def to_float(pixels):
    """TF1's pixel values: numpy.multiply(images.astype(float32), 1.0 / 255.0), i.e. the
    uint8 value times float32(1/255) (works on numpy arrays and tensors alike)."""
    if isinstance(pixels, np.ndarray):
        return pixels.astype(np.float32) * PIXEL_SCALE
    import tensorflow as tf
    return tf.cast(pixels, tf.float32) * PIXEL_SCALE


def permuted_images(split: "Split", permutation) -> np.ndarray:
    """A split's float32 images with their pixels in a task's order."""
    return to_float(np.ascontiguousarray(split.pixels[:, np.asarray(permutation)]))


@dataclasses.dataclass
class Split:
    """One part of the data: uint8 pixels [n, 784] (kept as bytes: a quarter of the
    memory) and one-hot float32 labels [n, 10]; `images` gives TF1's float32 values."""

    pixels: np.ndarray
    labels: np.ndarray

    @property
    def images(self) -> np.ndarray:
        return to_float(self.pixels)

    def __len__(self) -> int:
        return len(self.pixels)


@dataclasses.dataclass
class MnistData:
    """TF1's split of MNIST (unpermuted)."""

    train: Split
    validation: Split
    test: Split

    @property
    def input_size(self) -> int:
        return self.train.pixels.shape[1]

    @property
    def n_classes(self) -> int:
        return self.train.labels.shape[1]


@dataclasses.dataclass
class TaskSet:
    """The benchmark: the data, one pixel permutation per task, and the RandomState that
    drew them (it goes on to draw duplicate biases, as the original's global one does)."""

    data: MnistData
    permutations: list
    rng: np.random.RandomState

    @property
    def n_tasks(self) -> int:
        return len(self.permutations)


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
    y = np.zeros((len(labels), N_CLASSES), dtype=np.float32)
    y[np.arange(len(labels)), labels] = 1.0
    return Split(images, y)


def read_mnist(data_dir: str, validation_size: int = VALIDATION_SIZE) -> MnistData:
    """Reads the four IDX files of data_dir into TF1's split (spec: "The benchmark")."""
    if not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: data directory not found")
    paths = {k: _find(data_dir, v) for k, v in FILES.items()}
    tr_x = read_idx(paths["train_images"], IMAGE_MAGIC)
    tr_y = read_idx(paths["train_labels"], LABEL_MAGIC)
    te_x = read_idx(paths["test_images"], IMAGE_MAGIC)
    te_y = read_idx(paths["test_labels"], LABEL_MAGIC)
    train = _to_split(tr_x, tr_y, paths["train_images"], paths["train_labels"])
    test = _to_split(te_x, te_y, paths["test_images"], paths["test_labels"])
    if len(train) <= validation_size:
        raise DataError(
            f"{paths['train_images']}: {len(train)} training images, need more than the "
            f"{validation_size} that TF1's split sets aside for validation")
    if len(test) == 0:
        raise DataError(f"{paths['test_images']}: holds no images")
    v = validation_size
    return MnistData(
        train=Split(train.pixels[v:], train.labels[v:]),
        validation=Split(train.pixels[:v], train.labels[:v]),
        test=test,
    )


def _fetch_with_tfds(data_dir: str) -> None:
    """Downloads the raw IDX files with tensorflow-datasets' download manager."""
    import tensorflow_datasets as tfds  # heavy: only on this fallback path

    dl = tfds.download.DownloadManager(download_dir=os.path.join(data_dir, ".downloads"))
    got = dl.download({k: TFDS_MNIST_URL + v for k, v in FILES.items()})
    for k, path in got.items():
        shutil.copyfile(os.fspath(path), os.path.join(data_dir, FILES[k]))


def _fetch_with_keras(data_dir: str) -> None:
    """Writes keras.datasets.mnist (original order) out as the four IDX files."""
    import keras

    (xtr, ytr), (xte, yte) = keras.datasets.mnist.load_data()
    for key, arr in (("train_images", xtr), ("train_labels", ytr),
                     ("test_images", xte), ("test_labels", yte)):
        magic = IMAGE_MAGIC if arr.ndim == 3 else LABEL_MAGIC
        header = struct.pack(">II", magic, len(arr))
        if arr.ndim == 3:
            header += struct.pack(">II", arr.shape[1], arr.shape[2])
        with gzip.open(os.path.join(data_dir, FILES[key]), "wb") as f:
            f.write(header + arr.astype(np.uint8).tobytes())


def load_mnist(data_dir: str, download: bool = True) -> MnistData:
    """The data of data_dir. When the folder is missing or holds none of the four files,
    MNIST is fetched into it first; when only some are missing, that is an error (a
    half-present data set is never completed with files of another)."""
    missing = [v for v in FILES.values() if not os.path.exists(_find(data_dir, v))]
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: not a directory")
    if missing and len(missing) < len(FILES):
        raise DataError(f"{os.path.join(data_dir, missing[0])}: file not found (the folder "
                        f"holds only some of the four IDX files)")
    if missing:
        routes = "tensorflow-datasets (" + TFDS_MNIST_URL + ") and keras.datasets.mnist"
        if not download:
            raise DataError(f"{data_dir}: MNIST IDX files not found")
        if not _reachable(MNIST_HOST):
            raise DataError(f"{data_dir}: MNIST IDX files not found, and {MNIST_HOST} (used "
                            f"by {routes}) cannot be reached from this machine")
        created = not os.path.exists(data_dir)
        os.makedirs(data_dir, exist_ok=True)
        errors = []
        for name, fetch in (("tensorflow-datasets", _fetch_with_tfds),
                            ("keras.datasets.mnist", _fetch_with_keras)):
            try:
                fetch(data_dir)
                break
            except Exception as e:  # any failure: try the next route, report all
                errors.append(f"{name}: {type(e).__name__}")
        else:
            shutil.rmtree(os.path.join(data_dir, ".downloads"), ignore_errors=True)
            if created:
                shutil.rmtree(data_dir, ignore_errors=True)
            raise DataError(f"{data_dir}: MNIST IDX files not found, and fetching them failed "
                            f"({'; '.join(errors)})")
    return read_mnist(data_dir)


MNIST_HOST = "storage.googleapis.com"


def cache_dir(name: str = "") -> str:
    """den_tf's cache folder ($DEN_TF_CACHE, else $XDG_CACHE_HOME/den_tf, else
    ~/.cache/den_tf), or its subfolder `name`: where MNIST is fetched when no folder is
    given (the tests' last resort: `load_mnist(cache_dir("mnist"))`)."""
    base = os.environ.get("DEN_TF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "den_tf")
    return os.path.join(base, name) if name else base


def _reachable(host: str, timeout: float = 5.0) -> bool:
    """Whether host:443 accepts a connection within `timeout` seconds."""
    import socket
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def task_permutations(n_tasks: int, seed: int = 1004, n_pixels: int = 784):
    """Pixel permutation of every task, and the RandomState after drawing them.

    `np.random.seed(seed)` then ten `np.random.permutation(784)` calls, as the original
    (always at least ten, so the RandomState ends where the original's does).
    """
    rng = np.random.RandomState(seed)
    perms = [rng.permutation(n_pixels) for _ in range(max(10, n_tasks))]
    return perms[:n_tasks], rng


def make_tasks(data: MnistData, n_tasks: int, seed: int = 1004) -> TaskSet:
    """The permuted-MNIST benchmark of n_tasks tasks (task t uses permutations[t-1])."""
    perms, rng = task_permutations(n_tasks, seed, data.input_size)
    return TaskSet(data=data, permutations=perms, rng=rng)
