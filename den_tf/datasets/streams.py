"""Task streams: which tasks a run learns, made from one `ImageData`.

Every stream has the same interface (task t counts from 1):

| member | what |
| --- | --- |
| `kind` | its name: "permuted", "split", "rotated" (the registered streams), or a user's |
| `data`, `n_tasks` | the data set, the number of tasks |
| `rng` | the task RandomState (seeded by task_seed), continued after drawing the stream: the duplicates' random biases continue it (algorithm.md#split, Q10) |
| `task_tensors(t)` | `den_tf.datasets.tensors.TaskTensors` of task t (resident tensors for the phase runner) |
| `test_set(t)` | (x float32 tensor [n, d], y float32 tensor [n, n_outputs(t)]) of task t |
| `n_outputs(t)` | outputs of task t's head (its number of classes) |
| `classes(t)` | the data set's class ids of task t's outputs, in output order |
| `n_train(t)` | training examples of task t |
| `transform(t)` | task t's input transform (den_tf.datasets.transforms: `Identity`, `Permute`, `Rotate`), also what the SavedModel applies |
| `task(t)` | the `Task` itself: its data, transform, classes and examples |
| `task_images(t, split)` | (float32 images, labels) of a split ("train", "validation", "test") as task t sees them (numpy) |

A stream is a list of `Task`s (every task says which data it draws from, which of its
examples per split, which classes are its outputs, and its input transform), so every
stream is held, checked, made resident and exported by the same code.

The built-in streams:

* `permuted` (the original's benchmark, algorithm.md#benchmark): every task sees every
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
  The rotation is a fixed bilinear resampling (`transforms.rotation_tables`): pixel i of the
  rotated image = sum_j weights[j, i] * x[indices[j, i]], j = 0..3, zero outside the
  image, each colour channel from its own channel. Training minibatches are rotated
  inside the compiled step (`TaskTensors.transform`); validation and test images are held
  rotated, as float32. All classes in every task.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Dict, List, Optional, Sequence

import numpy as np

from den_tf.datasets.base import ImageData, Split, one_hot, to_float
from den_tf.datasets.transforms import Identity, Permute, Rotate, Transform
from den_tf.config import rules
from den_tf.config.registry import (STREAMS, Setting, StreamCard, did_you_mean,
                                    register_stream)
from den_tf.errors import ConfigError

CLASS_ORDERS = ("ascending", "shuffled")
SPLITS = ("train", "validation", "test")


def _split_of(data: ImageData, name: str) -> Split:
    if name not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {name!r}")
    return getattr(data, name)


# ----------------------------------------------------------------------------- one task
@dataclasses.dataclass
class Task:
    """One task of a stream.

    Attributes:
      data: the data set it draws its examples from (shared by the tasks of a built-in
        stream: held once, resident once).
      transform: how it sees the images (den_tf.datasets.transforms).
      classes: the class ids of `data` its outputs stand for, in output order (its own
        labels are 0..len(classes)-1).
      index: per split, the indices (ascending) of its examples in `data`; None (or a
        split missing): every example of the split.
      class_ids: what its outputs stand for, in output order, in the user's own labels
        (default: `classes`): what `predict` answers and the SavedModel records.
      digest: the digest of its test set (`test_digest`) when it has no data (a saved
        model's task).
    """

    data: ImageData
    transform: Transform
    classes: np.ndarray
    index: Optional[Dict[str, np.ndarray]] = None
    class_ids: Optional[np.ndarray] = None
    digest: Optional[str] = None

    def __post_init__(self):
        self.classes = np.asarray(self.classes, np.int64)
        self.class_ids = (self.classes.copy() if self.class_ids is None
                          else np.asarray(self.class_ids, np.int64))

    @property
    def n_outputs(self) -> int:
        return len(self.classes)

    def test_digest(self) -> Optional[str]:
        """A short digest of the task's test set as the task sees it: the pixels and the
        labels of its test examples, its input transform and its class ids (the same
        task gives the same digest, whatever its data's folder; another image or label
        another). Computed once; a saved model's task keeps the one recorded."""
        if self.digest is None and self.data is not None \
                and getattr(self.data, "test", None) is not None:
            h = hashlib.sha1()
            idx = self.examples("test")
            pixels = self.data.test.pixels if idx is None else self.data.test.pixels[idx]
            for a in (pixels, self.labels("test")):
                a = np.ascontiguousarray(a)
                h.update(f"{a.dtype}{a.shape}".encode())
                h.update(a.tobytes())
            h.update(json.dumps([self.transform.describe(),
                                 [int(c) for c in self.class_ids]], sort_keys=True,
                                default=str).encode())
            self.digest = h.hexdigest()[:16]
        return self.digest

    def examples(self, split: str) -> Optional[np.ndarray]:
        """The task's examples in a split (int32, ascending), or None for all of them."""
        _split_of(self.data, split)
        if self.index is None or self.index.get(split) is None:
            return None
        return self.index[split]

    def _all_classes(self) -> bool:
        return np.array_equal(self.classes, np.arange(self.data.n_classes))

    def labels(self, split: str) -> np.ndarray:
        """One-hot float32 labels over the task's classes of its examples in a split."""
        s, idx = _split_of(self.data, split), self.examples(split)
        if self._all_classes():
            return s.labels if idx is None else s.labels[idx]
        lut = np.full(self.data.n_classes, -1, np.int64)
        lut[self.classes] = np.arange(len(self.classes))
        ids = s.class_ids if idx is None else s.class_ids[idx]
        return one_hot(lut[ids], len(self.classes))

    def n_examples(self, split: str) -> int:
        idx = self.examples(split)
        return len(_split_of(self.data, split)) if idx is None else len(idx)

    def images(self, split: str) -> np.ndarray:
        """The float32 images of a split as the task sees them (transformed)."""
        s, idx = _split_of(self.data, split), self.examples(split)
        return self.transform.numpy(to_float(s.pixels if idx is None else s.pixels[idx]))


# ----------------------------------------------------------------------------- streams
class TaskStream:
    """A sequence of `Task`s (see the module docstring). Subclasses set `kind` and make
    `tasks`; every member below is the same for all of them."""

    kind = ""
    own = False  # a stream of the user's own data (den_tf.datasets.user), not a built-in
    data: ImageData  # task 1's data set (every task's, in the built-in streams)
    tasks: List[Task]
    rng: np.random.RandomState

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    def _check(self, t: int) -> int:
        if not 1 <= t <= self.n_tasks:
            raise ValueError(f"task {t}: the stream has tasks 1..{self.n_tasks}")
        return t

    def task(self, t: int) -> Task:
        return self.tasks[self._check(t) - 1]

    def test_digest(self, t: int) -> Optional[str]:
        """Task t's test-set digest (`Task.test_digest`)."""
        return self.task(t).test_digest()

    def n_outputs(self, t: int) -> int:
        return self.task(t).n_outputs

    def classes(self, t: int) -> np.ndarray:
        return self.task(t).classes

    def class_ids(self, t: int) -> np.ndarray:
        """What task t's outputs stand for, in output order (the user's label ids)."""
        return self.task(t).class_ids

    @property
    def pool(self) -> int:
        """Training examples of task 1's data set: what minibatches are drawn from by
        default (a task of its own examples draws among them)."""
        return len(self.data.train)

    @property
    def input_size(self) -> int:
        return self.data.input_size

    @property
    def image_shape(self):
        return self.data.image_shape

    def n_train(self, t: int) -> int:
        return self.task(t).n_examples("train")

    def transform(self, t: int) -> Transform:
        return self.task(t).transform

    def task_images(self, t: int, split: str = "test"):
        """(float32 images [n, d], one-hot labels [n, n_outputs(t)]) of a split as task t
        sees them (numpy)."""
        task = self.task(t)
        return task.images(split), task.labels(split)

    def task_tensors(self, t: int):
        """Task t's resident tensors for the phase runner (`TaskTensors.of`)."""
        # imported here: a stream is made without TensorFlow (the command line checks
        # its flags, and the streams, before TensorFlow is imported)
        from den_tf.datasets.tensors import TaskTensors
        return TaskTensors.of(self.task(t))

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

    def __post_init__(self):
        every = np.arange(self.data.n_classes)
        self.tasks = [Task(self.data, Permute(p), every) for p in self.permutations]


@dataclasses.dataclass
class SplitTasks(TaskStream):
    """Class-split stream: task t learns the classes `groups[t - 1]` (module docstring)."""

    data: ImageData
    groups: List[np.ndarray]
    rng: np.random.RandomState
    kind = "split"

    def __post_init__(self):
        ids = {name: _split_of(self.data, name).class_ids for name in SPLITS}
        self.tasks = []
        for g in self.groups:
            index = {s: np.flatnonzero(np.isin(ids[s], g)).astype(np.int32) for s in SPLITS}
            self.tasks.append(Task(self.data, Identity(self.data.input_size), g, index))

    def task_index(self, t: int, split: str) -> np.ndarray:
        """Indices (int32, ascending) of task t's examples in a split."""
        return self.task(t).examples(split)


@dataclasses.dataclass
class RotatedTasks(TaskStream):
    """Rotation stream: task t sees every image rotated by `angles[t - 1]` degrees."""

    data: ImageData
    angles: List[float]
    rng: np.random.RandomState
    kind = "rotated"

    def __post_init__(self):
        every = np.arange(self.data.n_classes)
        self.tasks = [Task(self.data, Rotate.of(self.data.image_shape, a), every)
                      for a in self.angles]


class Tasks(TaskStream):
    """A stream of any `Task`s: the user's own (den_tf.datasets.user builds them).

    Args:
      tasks: the tasks, task 1 first (each with its own data, transform and classes).
      seed: seeds `rng` (the duplicates' random biases of a run without train_seed, Q10).
      kind: a name for the stream (results and log lines).
      own: a stream of the user's own data (den_tf.datasets.user), True; a registered
        stream's (`den_tf.register_stream`), False: its data set and settings are the
        run's.
    """

    def __init__(self, tasks: List[Task], seed: int = 0, kind: str = "custom",
                 own: bool = True):
        if not tasks:
            raise ValueError("a task stream needs at least one task")
        self.tasks = list(tasks)
        self.data = self.tasks[0].data
        self.rng = np.random.RandomState(seed)
        self.kind = kind
        self.own = bool(own)


class SavedTasks(TaskStream):
    """The tasks a saved model learned, without their data (den_tf.io.checkpoint keeps
    each task's transform, class ids, number of outputs and test-set digest): enough to
    predict and to export; learning more needs the stream itself again (its first tasks
    checked against these). `own`: the model learned a stream of the user's own data."""

    kind = "saved"

    def __init__(self, described: List[dict], input_size: int, image_shape=None,
                 pool: int = 0, own: bool = False):
        self.tasks = [Task(None, Transform.from_description(d["transform"], input_size),
                           np.arange(int(d["n_outputs"])), class_ids=d["class_ids"],
                           digest=d.get("test_digest"))
                      for d in described]
        self.own = bool(own)
        self.data = None
        self.rng = np.random.RandomState(0)  # (restored from the checkpoint)
        self._input = (int(input_size), None if image_shape is None else tuple(image_shape))
        self._pool = int(pool)

    @property
    def pool(self) -> int:
        return self._pool

    @property
    def input_size(self) -> int:
        return self._input[0]

    @property
    def image_shape(self):
        return self._input[1]

    def task_tensors(self, t: int):
        raise ValueError(f"task {t}: a saved model holds no data; give the task stream "
                         f"to learn or evaluate")

    test_set = task_images = task_tensors


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
                task_seed: int = 1004, class_order: str = "ascending",
                groups: Optional[Sequence[Sequence[int]]] = None, **settings) -> TaskStream:
    """The registered task stream `kind` of n_tasks tasks on `data` (module docstring).

    task_seed seeds the task RandomState: the permutations (permuted), the class order
    (split, class_order="shuffled"); every stream's `rng` then goes on to draw the
    duplicates' biases when the run has no train_seed (docs/faithfulness.md#q10).
    `groups` (split): the classes of each task, explicitly (any sizes; n_tasks is their
    number). `settings`: a registered stream's own settings, by name.
    """
    card = STREAMS.get(kind)
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1:
        raise ConfigError(f"--n_tasks={n_tasks}: must be a positive integer")
    given = dict(settings)
    if kind == "split" or class_order != "ascending":
        given["class_order"] = class_order
    if groups:
        given["class_groups"] = tuple(tuple(int(c) for c in g) for g in groups)
    own = {x.name: x for x in card.settings}
    for name in given:
        if name not in own:
            raise ConfigError(f"{name}: not a setting of task stream {kind}"
                              f"{did_you_mean(name, list(own) + ['n_tasks', 'task_seed'])} "
                              f"(its own: {', '.join(own) or 'none'})")
    values = {name: given.get(name, x.default) for name, x in own.items()}
    return card.build(data, n_tasks, task_seed, values)


def stream_for(config, data: ImageData) -> TaskStream:
    """The task stream `config` names on `data` (config.task_stream, config.tasks tasks,
    config.task_seed and the stream's own settings), checked: every task's head the last
    dims size (the widest, with class groups), every task's training set at least one
    minibatch. No TensorFlow."""
    card = STREAMS.get(config.task_stream)
    own = {x.name: getattr(config, x.name) for x in card.settings}
    tasks = card.build(data, config.tasks, config.task_seed, own)
    check_stream(tasks, config.dims[-1], config.batch_size,
                 varying=bool(getattr(config, "class_groups", ())))
    return tasks


# ----------------------------------------------------------------------------- the cards
def _permuted(data: ImageData, n_tasks: int, task_seed: int, own: dict) -> TaskStream:
    return make_tasks(data, n_tasks, task_seed)


def _rotated(data: ImageData, n_tasks: int, task_seed: int, own: dict) -> TaskStream:
    return RotatedTasks(data, rotation_angles(n_tasks), np.random.RandomState(task_seed))


def _split(data: ImageData, n_tasks: int, task_seed: int, own: dict) -> TaskStream:
    rng = np.random.RandomState(task_seed)
    groups, order = own.get("class_groups") or (), own.get("class_order", "ascending")
    if order not in CLASS_ORDERS:
        raise ConfigError(f"--class_order={order}: must be one of {', '.join(CLASS_ORDERS)}")
    if groups:
        return SplitTasks(data, [np.asarray(g, np.int64) for g in groups], rng)
    order = rng.permutation(data.n_classes) if order == "shuffled" else None
    return SplitTasks(data, class_groups(data.n_classes, n_tasks, order), rng)


def _all_classes(config, n_classes_data: Optional[int]) -> None:
    """Every task sees all the data's classes: --n_classes is their number."""
    if n_classes_data is not None and config.n_classes != n_classes_data:
        raise ConfigError(f"--n_classes={config.n_classes}: must equal the data's number of "
                          f"classes {n_classes_data}")


def check_split(config, n_classes_data: Optional[int]) -> None:
    """The split stream's settings: the class groups (none empty, no class twice, every
    id a class of the data, --n_tasks their number when given), or --n_tasks groups of
    --n_classes classes covering the data's classes."""
    groups = config.class_groups
    if groups:
        text = rules.class_groups_text(groups)
        flat = [c for g in groups for c in g]
        if config.class_order != "ascending":
            raise ConfigError(f"--class_groups={text}: explicit groups have no --class_order "
                              f"(got {config.class_order})")
        if any(len(g) == 0 for g in groups):
            raise ConfigError(f"--class_groups={text}: every group needs a class")
        if len(set(flat)) != len(flat):
            raise ConfigError(f"--class_groups={text}: a class is in two groups")
        if any(c < 0 for c in flat) or (n_classes_data is not None
                                        and max(flat) >= n_classes_data):
            raise ConfigError(f"--class_groups={text}: class ids must be 0.."
                              f"{(n_classes_data or 1) - 1} (the data's classes)")
        if config.n_tasks is not None and config.n_tasks != len(groups):
            raise ConfigError(f"--n_tasks={config.n_tasks}: --class_groups={text} has "
                              f"{len(groups)} groups, one per task")
        if min(len(g) for g in groups) < 2:
            raise ConfigError(f"--class_groups={text}: every group needs at least two "
                              f"classes (a task's AUROC needs positive and negative "
                              f"examples, docs/metrics.md)")
        return
    if config.n_classes < 2:
        raise ConfigError(f"--n_classes={config.n_classes}: with --tasks=split a task needs at "
                          f"least two classes (its AUROC needs positive and negative "
                          f"examples, docs/metrics.md)")
    if n_classes_data is not None and config.n_classes * config.tasks != n_classes_data:
        raise ConfigError(
            f"--n_classes={config.n_classes}: with --tasks=split it is the number of classes "
            f"per task, and {config.tasks} tasks of {config.n_classes} classes cover "
            f"{config.n_classes * config.tasks}, but the data has {n_classes_data} classes; "
            f"give --n_tasks and --n_classes with n_tasks * n_classes = {n_classes_data} (and "
            f"the last --dims size = n_classes)")


register_stream(StreamCard(
    "permuted", _permuted, "every task sees all classes, the pixels in its own random order "
    "(the original's benchmark)", check=_all_classes, rearranges=True,
    owner="den_tf.datasets.streams"), replace=True)
register_stream(StreamCard(
    "split", _split, "the classes in groups, one group per task",
    settings=(
        Setting("class_groups", "string", (),
                "--tasks=split: the classes of each task, explicitly: groups separated by "
                "';', class ids by ',' (e.g. '0,1;2,3;4,5'); any sizes (each task's head has "
                "its group's size; the last --dims size is the widest); the number of tasks "
                "is the number of groups. Default: --n_tasks groups of equal size, in "
                "--class_order.", lambda name, v: rules.parse_class_groups(v),
                convert=rules.parse_class_groups, learned=True, default_text="(none)"),
        Setting("class_order", "enum", "ascending",
                "--tasks=split without --class_groups: the order the equal groups are cut "
                "from: ascending class ids, or shuffled (seeded by --task_seed).",
                choices=CLASS_ORDERS, learned=True),
    ),
    check=check_split, owner="den_tf.datasets.streams"), replace=True)
register_stream(StreamCard(
    "rotated", _rotated, "task t sees every image rotated by 180*(t-1)/n_tasks degrees",
    check=_all_classes, sized_by_n_tasks=True, owner="den_tf.datasets.streams"), replace=True)


def check_stream(stream: TaskStream, head_size: int, batch_size: int,
                 varying: bool = False) -> None:
    """Raises ConfigError unless every task's head has `head_size` outputs (the last
    --dims size; `varying`: at most that, and the widest exactly) and `batch_size`
    examples fit in every task's training set."""
    sizes = [stream.n_outputs(t) for t in range(1, stream.n_tasks + 1)]
    if varying and max(sizes) != head_size:
        raise ConfigError(f"--dims: the last size {head_size} must be the widest task's "
                          f"number of classes {max(sizes)}")
    for t in range(1, stream.n_tasks + 1):
        n_out = stream.n_outputs(t)
        if n_out != head_size and not varying:
            raise ConfigError(
                f"--dims: the last size {head_size} must equal task {t}'s number of classes "
                f"{n_out} (--tasks={stream.kind}; with split, --n_classes and the last "
                f"--dims size are the classes per task)")
        n = stream.n_train(t)
        if batch_size > n:
            raise ConfigError(f"--batch_size={batch_size}: must be at most task {t}'s "
                              f"training set size {n} (--tasks={stream.kind})")
