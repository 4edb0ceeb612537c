"""Task streams: which tasks a run learns, made from one `ImageData`.

Every stream has the same interface (task t counts from 1):

| member | what |
| --- | --- |
| `kind` | "permuted", "split" or "rotated" |
| `data`, `n_tasks` | the data set, the number of tasks |
| `rng` | the task RandomState (seeded by task_seed), continued after drawing the stream: the duplicates' random biases continue it (spec step 8, Q10) |
| `task_tensors(t)` | `den_tf.runner.TaskTensors` of task t (resident tensors for the phase runner) |
| `test_set(t)` | (x float32 tensor [n, d], y float32 tensor [n, n_outputs(t)]) of task t |
| `n_outputs(t)` | outputs of task t's head (its number of classes) |
| `classes(t)` | the data set's class ids of task t's outputs, in output order |
| `n_train(t)` | training examples of task t |
| `transform(t)` | task t's input transform, for export: {"kind": "permute", "permutation"}, {"kind": "rotate", "degrees", "indices", "weights"} or {"kind": "identity"} |
| `task_images(t, split)` | (float32 images, labels) of a split ("train", "validation", "test") as task t sees them (numpy) |

The streams:

* `permuted` (the original's benchmark, spec "The benchmark"): every task sees every
  image with its pixels in a fixed random order: `np.random.seed(task_seed)` then one
  `permutation(d)` per task, from numpy's legacy RandomState, at least ten (seed 1004
  gives the original's ten permutations, and the RandomState ends where the
  original's does). Task t uses permutation t-1. All classes in every task.
* `split`: the classes are partitioned into n_tasks groups of n_classes / n_tasks
  consecutive class ids in ascending order (CIFAR-100 in 10 tasks: classes 0-9, 10-19,
  ...; MNIST in 5 tasks: 0-1, 2-3, ...); the number of classes must be a multiple of
  n_tasks. `class_order="shuffled"` takes the groups from `rng.permutation(n_classes)`
  instead (drawn first from the task RandomState). Task t's train, validation and test
  sets are the examples of its classes; its labels are one-hot over its classes, output
  j being class `classes(t)[j]`. Images as they are (no transform). Training examples
  are not copied: `TaskTensors.train_index` picks them from the shared resident pixels.
* `rotated`: task t sees every image rotated counter-clockwise about its centre by
  `180 * (t - 1) / n_tasks` degrees (task 1: 0, the images as they are; 10 tasks: 0, 18,
  ..., 162), a stream close to the paper's MNIST-Variation (which rotates the digits).
  The rotation is a fixed bilinear resampling (`rotation_tables`): pixel i of the
  rotated image = sum_j weights[j, i] * x[indices[j, i]], j = 0..3, zero outside the
  image, each colour channel from its own channel. Training minibatches are rotated
  inside the compiled step (`TaskTensors.mix`); validation and test images are held
  rotated, as float32. All classes in every task.
"""

from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Sequence

import numpy as np

from den_tf.datasets.base import ImageData, Split, one_hot, to_float
from den_tf.errors import ConfigError

TASK_STREAMS = ("permuted", "split", "rotated")
CLASS_ORDERS = ("ascending", "shuffled")
SPLITS = ("train", "validation", "test")


# ----------------------------------------------------------------------------- transforms
def permuted_images(split: Split, permutation) -> np.ndarray:
    """A split's float32 images with their pixels in a task's order."""
    return to_float(np.ascontiguousarray(split.pixels[:, np.asarray(permutation)]))


def resample_images(x: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_j weights[j] * x[:, indices[j]] in float32 (numpy twin of runner.resample)."""
    x = np.asarray(x, np.float32)
    out = x[:, indices[0]] * weights[0]
    for j in range(1, len(indices)):
        out += x[:, indices[j]] * weights[j]
    return out


def rotation_tables(image_shape: Sequence[int], degrees: float):
    """Bilinear resampling tables of a rotation by `degrees` counter-clockwise about the
    image centre, for images flattened channel-last (index (r * W + c) * C + ch).

    Returns (indices int32 [4, d], weights float32 [4, d]): the rotated image's pixel i is
    sum_j weights[j, i] * x[indices[j, i]]. Output pixel (r, c), at (y, x) = (r - cy,
    c - cx) from the centre (cy, cx) = ((H - 1) / 2, (W - 1) / 2), reads the source point
    (cy + y cos a + x sin a, cx + x cos a - y sin a): at 90 degrees that is np.rot90.
    The four taps are the source point's neighbours with the bilinear weights; a tap
    outside the image has weight 0 (and points at the pixel's own channel in the
    corner). Source coordinates within 1e-9 of an integer are taken as that integer, so
    multiples of 90 degrees give weights exactly 1 and 0.
    """
    h, w, ch = (int(v) for v in image_shape)
    a = math.radians(float(degrees))
    cos, sin = math.cos(a), math.sin(a)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    r, c = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                       indexing="ij")
    y, x = r - cy, c - cx
    sr, sc = cy + y * cos + x * sin, cx + x * cos - y * sin
    for s in (sr, sc):
        near = np.round(s)
        s[np.abs(s - near) < 1e-9] = near[np.abs(s - near) < 1e-9]
    r0, c0 = np.floor(sr), np.floor(sc)
    fr, fc = sr - r0, sc - c0
    taps = [(r0, c0, (1 - fr) * (1 - fc)), (r0, c0 + 1, (1 - fr) * fc),
            (r0 + 1, c0, fr * (1 - fc)), (r0 + 1, c0 + 1, fr * fc)]
    d = h * w * ch
    indices = np.zeros((4, d), np.int32)
    weights = np.zeros((4, d), np.float32)
    for j, (tr, tc, wt) in enumerate(taps):
        inside = (tr >= 0) & (tr <= h - 1) & (tc >= 0) & (tc <= w - 1)
        pix = np.where(inside, tr * w + tc, 0).astype(np.int64)  # [h, w]
        wt = np.where(inside, wt, 0.0)
        for k in range(ch):
            indices[j, k::ch] = (pix * ch + k).reshape(-1)
            weights[j, k::ch] = wt.reshape(-1)
    return indices, weights


def is_identity(indices: np.ndarray, weights: np.ndarray) -> bool:
    """Whether the resampling returns every pixel unchanged."""
    d = indices.shape[1]
    return bool(np.all(indices[0] == np.arange(d)) and np.all(weights[0] == 1.0)
                and np.all(weights[1:] == 0.0))


def apply_transform(transform: dict, images: np.ndarray) -> np.ndarray:
    """A task's transform (`stream.transform(t)`) applied to float32 images [n, d]."""
    kind = transform["kind"]
    if kind == "identity":
        return np.asarray(images, np.float32)
    if kind == "permute":
        return np.ascontiguousarray(np.asarray(images, np.float32)[:, transform["permutation"]])
    if kind == "rotate":
        return resample_images(images, transform["indices"], transform["weights"])
    raise ValueError(f"unknown transform kind {kind!r}")


def _resident(data: ImageData):
    """The unpermuted training tensors (pixels, labels), made once per data set and shared
    by every task and stream (the attribute TaskTensors.build uses)."""
    base = getattr(data, "_resident", None)
    if base is None:
        import tensorflow as tf
        base = (tf.constant(data.train.pixels), tf.constant(data.train.labels))
        data._resident = base
    return base


def _split_of(data: ImageData, name: str) -> Split:
    if name not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {name!r}")
    return getattr(data, name)


# ----------------------------------------------------------------------------- streams
class TaskStream:
    """What every stream has (see the module docstring); subclasses fill it in."""

    kind = ""
    data: ImageData
    rng: np.random.RandomState

    @property
    def n_tasks(self) -> int:
        raise NotImplementedError

    def _check(self, t: int) -> int:
        if not 1 <= t <= self.n_tasks:
            raise ValueError(f"task {t}: the stream has tasks 1..{self.n_tasks}")
        return t

    def n_outputs(self, t: int) -> int:
        return len(self.classes(t))

    def classes(self, t: int) -> np.ndarray:
        self._check(t)
        return np.arange(self.data.n_classes)

    def n_train(self, t: int) -> int:
        self._check(t)
        return len(self.data.train)

    def transform(self, t: int) -> dict:
        raise NotImplementedError

    def task_images(self, t: int, split: str = "test"):
        """(float32 images [n, d], one-hot labels [n, n_outputs(t)]) of a split as task t
        sees them (numpy)."""
        s = _split_of(self.data, split)
        return apply_transform(self.transform(self._check(t)), s.images), s.labels

    def task_tensors(self, t: int):
        raise NotImplementedError

    def test_set(self, t: int):
        """(images, labels) of task t's test set, as tensors, as task t sees them."""
        import tensorflow as tf
        x, y = self.task_images(t, "test")
        return tf.constant(x), tf.constant(y)


@dataclasses.dataclass
class TaskSet(TaskStream):
    """The permuted stream (the original's benchmark): the data, one pixel permutation
    per task, and the RandomState that drew them (it goes on to draw duplicate biases,
    as the original's global one does)."""

    data: ImageData
    permutations: list
    rng: np.random.RandomState
    kind = "permuted"

    @property
    def n_tasks(self) -> int:
        return len(self.permutations)

    def transform(self, t: int) -> dict:
        return {"kind": "permute",
                "permutation": np.asarray(self.permutations[self._check(t) - 1])}

    def task_tensors(self, t: int):
        """Task t's resident tensors for the phase runner (1-based)."""
        from den_tf.runner import TaskTensors
        return TaskTensors.build(self.data, self.permutations[t - 1])

    def test_set(self, t: int):
        """(images, labels) of task t's test set, as tensors, in the task's pixel order."""
        import tensorflow as tf
        test = self.data.test
        return (tf.constant(permuted_images(test, self.permutations[t - 1])),
                tf.constant(test.labels))


PermutedTasks = TaskSet


@dataclasses.dataclass
class SplitTasks(TaskStream):
    """Class-split stream: task t learns the classes `groups[t - 1]` (module docstring)."""

    data: ImageData
    groups: List[np.ndarray]
    rng: np.random.RandomState
    kind = "split"

    def __post_init__(self):
        self._ids = {name: _split_of(self.data, name).class_ids for name in SPLITS}

    @property
    def n_tasks(self) -> int:
        return len(self.groups)

    def classes(self, t: int) -> np.ndarray:
        return np.asarray(self.groups[self._check(t) - 1])

    def transform(self, t: int) -> dict:
        self._check(t)
        return {"kind": "identity"}

    def task_index(self, t: int, split: str) -> np.ndarray:
        """Indices (int32, ascending) of task t's examples in a split."""
        return np.flatnonzero(np.isin(self._ids[split], self.classes(t))).astype(np.int32)

    def task_labels(self, t: int, split: str, index: Optional[np.ndarray] = None) -> np.ndarray:
        """One-hot float32 labels over task t's classes of its examples in a split."""
        cls = self.classes(t)
        lut = np.full(self.data.n_classes, -1, np.int64)
        lut[cls] = np.arange(len(cls))
        index = self.task_index(t, split) if index is None else index
        return one_hot(lut[self._ids[split][index]], len(cls))

    def n_train(self, t: int) -> int:
        return len(self.task_index(t, "train"))

    def task_images(self, t: int, split: str = "test"):
        idx = self.task_index(t, split)
        return (to_float(_split_of(self.data, split).pixels[idx]),
                self.task_labels(t, split, idx))

    def task_tensors(self, t: int):
        """Task t's tensors: the shared resident training pixels, the task's examples
        among them (train_index) with their labels over the task's classes, and its
        validation and test sets as float32."""
        import tensorflow as tf
        from den_tf.runner import TaskTensors
        base = _resident(self.data)
        idx = self.task_index(t, "train")
        vx, vy = self.task_images(t, "validation")
        tx, ty = self.task_images(t, "test")
        return TaskTensors(base[0], tf.constant(self.task_labels(t, "train", idx)),
                           tf.constant(vx), tf.constant(vy), tf.constant(tx), tf.constant(ty),
                           train_index=tf.constant(idx))


@dataclasses.dataclass
class RotatedTasks(TaskStream):
    """Rotation stream: task t sees every image rotated by `angles[t - 1]` degrees."""

    data: ImageData
    angles: List[float]
    rng: np.random.RandomState
    kind = "rotated"

    def __post_init__(self):
        self._tables = {}

    @property
    def n_tasks(self) -> int:
        return len(self.angles)

    def tables(self, t: int):
        """(indices int32 [4, d], weights float32 [4, d]) of task t's rotation."""
        if t not in self._tables:
            self._tables[t] = rotation_tables(self.data.image_shape, self.angles[self._check(t) - 1])
        return self._tables[t]

    def transform(self, t: int) -> dict:
        indices, weights = self.tables(t)
        return {"kind": "rotate", "degrees": float(self.angles[t - 1]), "indices": indices,
                "weights": weights}

    def task_tensors(self, t: int):
        """Task t's tensors: the shared resident training pixels with the task's rotation
        as `mix` (applied to each minibatch in the compiled step; None for 0 degrees),
        validation and test images rotated, as float32."""
        import tensorflow as tf
        from den_tf.runner import TaskTensors
        base = _resident(self.data)
        indices, weights = self.tables(t)
        mix = None if is_identity(indices, weights) else (tf.constant(indices),
                                                          tf.constant(weights))
        vx, vy = self.task_images(t, "validation")
        tx, ty = self.task_images(t, "test")
        return TaskTensors(base[0], base[1], tf.constant(vx), tf.constant(vy), tf.constant(tx),
                           tf.constant(ty), mix=mix)


# ----------------------------------------------------------------------------- factory
def task_permutations(n_tasks: int, seed: int = 1004, n_pixels: int = 784):
    """Pixel permutation of every task, and the RandomState after drawing them.

    `np.random.seed(seed)` then ten `np.random.permutation(784)` calls, as the original
    (always at least ten, so the RandomState ends where the original's does).
    """
    rng = np.random.RandomState(seed)
    perms = [rng.permutation(n_pixels) for _ in range(max(10, n_tasks))]
    return perms[:n_tasks], rng


def make_tasks(data: ImageData, n_tasks: int, seed: int = 1004) -> TaskSet:
    """The permuted benchmark of n_tasks tasks (task t uses permutations[t-1])."""
    perms, rng = task_permutations(n_tasks, seed, data.input_size)
    return TaskSet(data=data, permutations=perms, rng=rng)


def class_groups(n_classes: int, n_tasks: int, order=None) -> List[np.ndarray]:
    """The split stream's partition: n_tasks groups of n_classes / n_tasks class ids,
    consecutive in `order` (default: ascending)."""
    if n_tasks > n_classes or n_classes % n_tasks:
        raise ConfigError(f"--tasks=split: {n_classes} classes cannot be split into "
                          f"{n_tasks} tasks of equal size (n_tasks must divide the number "
                          f"of classes)")
    order = np.arange(n_classes) if order is None else np.asarray(order)
    k = n_classes // n_tasks
    return [order[i * k:(i + 1) * k].copy() for i in range(n_tasks)]


def rotation_angles(n_tasks: int) -> List[float]:
    """Task t's angle: 180 * (t - 1) / n_tasks degrees (evenly spaced in [0, 180))."""
    return [180.0 * i / n_tasks for i in range(n_tasks)]


def make_stream(data: ImageData, kind: str = "permuted", n_tasks: int = 10,
                task_seed: int = 1004, class_order: str = "ascending") -> TaskStream:
    """The task stream `kind` of n_tasks tasks on `data` (module docstring).

    task_seed seeds the task RandomState: the permutations (permuted), the class order
    (split, class_order="shuffled"); every stream's `rng` then goes on to draw the
    duplicates' biases when the run has no train_seed (Q10).
    """
    if kind not in TASK_STREAMS:
        raise ConfigError(f"--tasks={kind}: must be one of {', '.join(TASK_STREAMS)}")
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1:
        raise ConfigError(f"--n_tasks={n_tasks}: must be a positive integer")
    if kind == "permuted":
        return make_tasks(data, n_tasks, task_seed)
    rng = np.random.RandomState(task_seed)
    if kind == "split":
        if class_order not in CLASS_ORDERS:
            raise ValueError(f"class_order must be one of {CLASS_ORDERS}")
        order = rng.permutation(data.n_classes) if class_order == "shuffled" else None
        return SplitTasks(data, class_groups(data.n_classes, n_tasks, order), rng)
    return RotatedTasks(data, rotation_angles(n_tasks), rng)


def check_stream(stream: TaskStream, head_size: int, batch_size: int) -> None:
    """Raises ConfigError unless every task's head has `head_size` outputs (the last
    --dims size) and `batch_size` examples fit in every task's training set."""
    for t in range(1, stream.n_tasks + 1):
        n_out = stream.n_outputs(t)
        if n_out != head_size:
            raise ConfigError(
                f"--dims: the last size {head_size} must equal task {t}'s number of classes "
                f"{n_out} (--tasks={stream.kind}; with split, --n_classes and the last "
                f"--dims size are the classes per task)")
        n = stream.n_train(t)
        if batch_size > n:
            raise ConfigError(f"--batch_size={batch_size}: must be at most task {t}'s "
                              f"training set size {n} (--tasks={stream.kind})")
