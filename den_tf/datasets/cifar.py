"""CIFAR-10 and CIFAR-100 from their python-version archives, in TF1's split.

Local files, in the data directory (the extracted folder is preferred when both are
there):

| data set | archive | or its extracted folder | members |
| --- | --- | --- | --- |
| cifar10 | `cifar-10-python.tar.gz` | `cifar-10-batches-py/` | `data_batch_1` .. `data_batch_5`, `test_batch` |
| cifar100 | `cifar-100-python.tar.gz` | `cifar-100-python/` | `train`, `test` |

Every member is a pickled dict: `b'data'` uint8 [n, 3072], each row an image as three
1024-byte planes (red, green, blue; each plane 32 rows of 32), and `b'labels'` (CIFAR-10,
0..9) or `b'fine_labels'` (CIFAR-100, 0..99). Members are unpickled with a restricted
unpickler (only numpy arrays and plain containers: a data file cannot run code).
Any fault is one `DataError` line naming the file (and the member) and the fault.

Images are converted to channel-last (row, column, channel) and flattened: uint8
[n, 32*32*3]. The split is TF1's MNIST rule (algorithm.md#benchmark): validation = the
FIRST 5000 training images in the files' order (data_batch_1 first), train = the other
45000, test = the 10000 test images.

When neither the folder nor the archive is there, the archive is fetched with
tensorflow-datasets' download manager from the host tensorflow-datasets' CIFAR builder
downloads from (www.cs.toronto.edu/~kriz); if that fails, through `tfds.load` itself
(its examples put back in the files' order by their `id`, then written out as the
extracted folder). A quick connection check comes first: without network it stops at
once with one line.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import pickle
import shutil
import tarfile
import zlib
from typing import List, Tuple

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

IMAGE_SHAPE = (32, 32, 3)
IMAGE_BYTES = 32 * 32 * 3
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"  # tensorflow-datasets' CIFAR host
CIFAR_HOST = "www.cs.toronto.edu"
TFDS_GCS_HOST = "storage.googleapis.com"  # tfds.load's prepared-data mirror


@dataclasses.dataclass(frozen=True)
class CifarLayout:
    """The file layout of one CIFAR python-version archive."""

    name: str
    title: str
    archive: str
    folder: str
    train: Tuple[str, ...]
    test: Tuple[str, ...]
    label_key: str
    n_classes: int
    tfds_name: str


LAYOUTS = {
    "cifar10": CifarLayout("cifar10", "CIFAR-10", "cifar-10-python.tar.gz",
                           "cifar-10-batches-py",
                           tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
                           "labels", 10, "cifar10"),
    "cifar100": CifarLayout("cifar100", "CIFAR-100", "cifar-100-python.tar.gz",
                            "cifar-100-python", ("train",), ("test",), "fine_labels", 100,
                            "cifar100"),
}

# What a CIFAR pickle may refer to: numpy arrays and dtypes (numpy 1 and 2 module names),
# and the codec Python 3 uses to pickle bytes at protocol 2.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR "
                                         f"batch never does")
        return super().find_class(module, name)


def _unpickle(raw: bytes, where: str):
    try:
        return _Unpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # any failure of a malformed pickle
        raise DataError(f"{where}: bad pickle ({type(e).__name__}: {e})") from None


def _entry(batch: dict, key: str):
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    return None


def parse_batch(raw: bytes, where: str, layout: CifarLayout) -> Tuple[np.ndarray, np.ndarray]:
    """One member's (pixels uint8 [n, 3072] channel-last, labels int64 [n]), checked."""
    batch = _unpickle(raw, where)
    if not isinstance(batch, dict):
        raise DataError(f"{where}: not a CIFAR batch (a pickled {type(batch).__name__}, "
                        f"expected a dict)")
    data, labels = _entry(batch, "data"), _entry(batch, layout.label_key)
    if data is None:
        raise DataError(f"{where}: not a CIFAR batch (no 'data' entry)")
    if labels is None:
        raise DataError(f"{where}: not a {layout.title} batch (no '{layout.label_key}' entry)")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != IMAGE_BYTES:
        desc = (f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray)
                else type(data).__name__)
        raise DataError(f"{where}: 'data' is {desc}, expected uint8 [n, {IMAGE_BYTES}] "
                        f"(32x32 images, 3 colour planes)")
    try:
        labels = np.asarray(labels)
    except Exception:
        labels = np.asarray([None])
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise DataError(f"{where}: '{layout.label_key}' is not a list of integers")
    if len(labels) != len(data):
        raise DataError(f"{where}: {len(labels)} labels for {len(data)} images")
    if labels.size and (labels.min() < 0 or labels.max() >= layout.n_classes):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise DataError(f"{where}: label {bad} out of range (labels are "
                        f"0..{layout.n_classes - 1})")
    return chw_to_hwc(data), labels.astype(np.int64)


def chw_to_hwc(data: np.ndarray) -> np.ndarray:
    """[n, 3072] in CIFAR's plane order (R, G, B planes) -> [n, 3072] channel-last."""
    n = len(data)
    return np.ascontiguousarray(data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)).reshape(
        n, IMAGE_BYTES)


def hwc_to_chw(pixels: np.ndarray) -> np.ndarray:
    """The inverse of `chw_to_hwc` (images [n, 32, 32, 3] or [n, 3072] -> [n, 3072])."""
    n = len(pixels)
    return np.ascontiguousarray(np.asarray(pixels, np.uint8).reshape(n, 32, 32, 3)
                                .transpose(0, 3, 1, 2)).reshape(n, IMAGE_BYTES)


def _read_members_from_folder(folder: str, names) -> List[Tuple[bytes, str]]:
    out = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as f:
                out.append((f.read(), path))
        except FileNotFoundError:
            raise DataError(f"{path}: file not found (the folder {folder} lacks it)") from None
        except IsADirectoryError:
            raise DataError(f"{path}: is a directory, not a CIFAR batch") from None
        except OSError as e:
            raise DataError(f"{path}: unreadable ({e})") from None
    return out


def _read_members_from_archive(path: str, layout: CifarLayout, names) -> List[Tuple[bytes, str]]:
    wanted = {f"{layout.folder}/{name}": name for name in names}
    got = {}
    try:
        with tarfile.open(path, "r|gz") as tar:  # one sequential pass over the stream
            for m in tar:
                member = m.name[2:] if m.name.startswith("./") else m.name
                if member in wanted and member not in got:
                    if not m.isfile():
                        raise DataError(f"{path}: member {member}: not a regular file")
                    got[member] = tar.extractfile(m).read()
        out = []
        for member in wanted:
            if member not in got:
                raise DataError(f"{path}: member {member} missing (not a {layout.title} "
                                f"python-version archive?)")
            out.append((got[member], f"{path}: member {member}"))
        return out
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a tar.gz archive") from None
    except tarfile.ReadError as e:
        raise DataError(f"{path}: not a tar.gz archive, or a truncated one ({e})") from None
    except (OSError, EOFError, zlib.error, tarfile.TarError) as e:
        raise DataError(f"{path}: corrupt or truncated archive ({type(e).__name__}: "
                        f"{e})") from None


def local_source(data_dir: str, name: str):
    """('folder' | 'archive', path) of the CIFAR files in data_dir, or None."""
    layout = LAYOUTS[name]
    folder = os.path.join(data_dir, layout.folder)
    archive = os.path.join(data_dir, layout.archive)
    if os.path.isdir(folder):
        return "folder", folder
    if os.path.exists(archive):
        return "archive", archive
    return None


def read_cifar(data_dir: str, name: str, validation_size: int = VALIDATION_SIZE) -> ImageData:
    """CIFAR-10 or CIFAR-100 (`name`) from the extracted folder or the archive in
    data_dir, in TF1's split (see the module docstring)."""
    layout = LAYOUTS[name]
    if not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: data directory not found")
    found = local_source(data_dir, name)
    if found is None:
        raise DataError(f"{data_dir}: {layout.title} not found (expected "
                        f"{layout.archive} or its extracted folder {layout.folder}/)")
    kind, path = found
    names = layout.train + layout.test
    if kind == "folder":
        members = _read_members_from_folder(path, names)
    else:
        members = _read_members_from_archive(path, layout, names)
    parts = [parse_batch(raw, where, layout) for raw, where in members]
    n_train = len(layout.train)
    train_x = np.concatenate([p[0] for p in parts[:n_train]])
    train_y = np.concatenate([p[1] for p in parts[:n_train]])
    test_x = np.concatenate([p[0] for p in parts[n_train:]])
    test_y = np.concatenate([p[1] for p in parts[n_train:]])
    train = Split(train_x, one_hot(train_y, layout.n_classes))
    test = Split(test_x, one_hot(test_y, layout.n_classes))
    return tf1_split(name, IMAGE_SHAPE, train, test, members[0][1], members[-1][1],
                     validation_size)


def write_cifar_folder(data_dir: str, name: str, train, test) -> str:
    """Writes (images [n, 32, 32, 3] uint8, labels [n]) pairs as the extracted
    python-version folder of `name` in data_dir (the real layout: CIFAR-10's training
    images in five equal batches); returns the folder."""
    layout = LAYOUTS[name]
    folder = os.path.join(data_dir, layout.folder)
    os.makedirs(folder, exist_ok=True)
    (xtr, ytr), (xte, yte) = train, test
    chunks = [(xtr, ytr)] if len(layout.train) == 1 else list(
        zip(np.array_split(xtr, len(layout.train)), np.array_split(ytr, len(layout.train))))
    for member, (x, y) in list(zip(layout.train, chunks)) + [(layout.test[0], (xte, yte))]:
        batch = {b"batch_label": member.encode(), b"data": hwc_to_chw(x),
                 layout.label_key.encode(): [int(v) for v in y]}
        with open(os.path.join(folder, member), "wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


def _fetch_with_tfds_download(data_dir: str, layout: CifarLayout) -> None:
    """The python-version archive through tensorflow-datasets' download manager."""
    import tensorflow_datasets as tfds  # heavy: only on this fallback path

    dl = tfds.download.DownloadManager(download_dir=os.path.join(data_dir, ".downloads"))
    got = dl.download(CIFAR_URL + layout.archive)
    shutil.copyfile(os.fspath(got), os.path.join(data_dir, layout.archive))


def _fetch_with_tfds_load(data_dir: str, layout: CifarLayout) -> None:
    """tfds.load's CIFAR, put back in the files' order (its `id`, e.g. train_00042) and
    written out as the extracted folder."""
    import tensorflow_datasets as tfds

    parts = []
    for split in ("train", "test"):
        ds = tfds.as_numpy(tfds.load(layout.tfds_name, split=split, batch_size=-1,
                                     data_dir=os.path.join(data_dir, ".tfds"), try_gcs=True))
        order = np.argsort(ds["id"])
        parts.append((ds["image"][order], ds["label"][order]))
    write_cifar_folder(data_dir, layout.name, parts[0], parts[1])


def load_cifar(name: str, data_dir: str, download: bool = True) -> ImageData:
    """CIFAR-10 / CIFAR-100 from data_dir, fetched into it when neither the archive nor
    the extracted folder is there."""
    layout = LAYOUTS[name]
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: not a directory")
    if local_source(data_dir, name) is None:
        fetch_with_fallback(
            data_dir,
            what=(f"{layout.title} not found (expected {layout.archive} or its extracted "
                  f"folder {layout.folder}/)"),
            routes=[("tensorflow-datasets download manager",
                     lambda d: _fetch_with_tfds_download(d, layout)),
                    ("tfds.load", lambda d: _fetch_with_tfds_load(d, layout))],
            hosts=[(CIFAR_HOST, 443), (TFDS_GCS_HOST, 443)],
            used_by=(f"tensorflow-datasets' download manager ({CIFAR_URL}{layout.archive}) "
                     f"and tfds.load('{layout.tfds_name}')"),
            leftovers=[".downloads", ".tfds", layout.folder], download=download)
    return read_cifar(data_dir, name)


for _name in ("cifar10", "cifar100"):
    register_dataset(DatasetCard(
        _name, functools.partial(load_cifar, _name), "CIFAR_data",
        files=f"{LAYOUTS[_name].archive} or {LAYOUTS[_name].folder}/",
        summary=f"{LAYOUTS[_name].title}: 32x32 colour images, 45000/5000/10000 (TF1's "
                f"split)", owner="den_tf.datasets.cifar"), replace=True)
