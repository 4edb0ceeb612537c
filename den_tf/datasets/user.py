"""Task streams from your own data: arrays per task, a `tf.data.Dataset` per task, or a
class split of any labelled arrays. Every input is checked when the stream is built
(den_tf.datasets.checks): one line naming the task, the split and the fault.

    from den_tf.datasets import from_arrays, split_classes
    tasks = from_arrays([
        {"train": (x1, y1), "test": (x1_test, y1_test)},                  # task 1
        {"train": (x2, y2), "validation": (x2v, y2v), "test": (x2t, y2t)},  # task 2
    ])
    tasks = split_classes((x, y), (x_test, y_test), groups=[[0, 1], [2, 3], [4, 5]])

* Images: flat vectors [n, d] (the MLP) or images [n, H, W, C] (also [n, H, W]; the
  convolutional archs read the shape), uint8 0..255 or floats in [0, 1] (the pixel rule,
  den_tf.datasets.base; `scale=1/255` turns float images in 0..255 into [0, 1]). Every
  task and split the same shape.
* Labels: integer class ids [n] or one-hot rows [n, k] (column c: class c). A task's
  outputs stand for its classes, in ascending order: the distinct class ids that occur
  in its training labels (one-hot labels the same way: the columns that occur, so
  `to_categorical(y, 10)` of a 2-class task gives a head of 2 outputs, as integer
  labels do); `classes=` in a task's dict gives them explicitly (e.g. to have an output
  for a class its training set lacks). Tasks may have different numbers of classes;
  each task's head has as many outputs as it has classes. Validation and test labels
  must be among the task's classes.
* Scoring: a task's validation and test splits must each hold examples of at least two
  of its classes (a task of one class cannot be scored: refused); a class of the task
  with no test examples is left out of its AUROC and named in the log and the results
  (docs/metrics.md).
* Validation: the task's "validation" arrays when given; else the rule
  `validation_split`: a fraction (default 0.1, at least one example) of the task's
  training examples, drawn with `np.random.RandomState(seed + task - 1)`, held out of
  training (the rest keep their order).
* A user's data set needs no built-in name; `name` is only a label.

Imports: nothing of den_tf but den_tf.datasets and den_tf.errors.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence

import numpy as np

from den_tf.config.registry import checks_keywords
from den_tf.datasets import checks
from den_tf.datasets.base import ImageData, Split, one_hot
from den_tf.datasets.streams import CLASS_ORDERS, Task, Tasks, class_groups
from den_tf.datasets.transforms import Identity
from den_tf.errors import InputError

SPLIT_KEYS = ("train", "validation", "test")
VALIDATION_SPLIT = 0.1


def _pair(value, task: int, split: str):
    if isinstance(value, dict) and {"x", "y"} <= set(value):
        return value["x"], value["y"]
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    raise InputError(f"{checks.where(task, split)}: give (images, labels), got "
                     f"{type(value).__name__}")


def _task_data(t: int, parts: dict, scale, validation_split: float, seed: int, name: str):
    """(ImageData, class ids) of one task's arrays, checked."""
    unknown = set(parts) - set(SPLIT_KEYS) - {"classes"}
    if unknown:
        raise InputError(f"task {t}: unknown keys {sorted(unknown)} (give train, test, "
                         f"optionally validation and classes)")
    for key in ("train", "test"):
        if parts.get(key) is None:
            raise InputError(f"task {t}: no {key} split (give {key}=(images, labels))")
    pixels, ids, shapes, widths = {}, {}, {}, {}
    for split in SPLIT_KEYS:
        if parts.get(split) is None:
            continue
        x, y = _pair(parts[split], t, split)
        x = checks.check_pixels(x, t, split, scale)
        checks.check_nonempty(len(x), t, split)
        x, shape = checks.flatten(x, t, split)
        pixels[split], shapes[split] = x, shape
        ids[split], widths[split] = checks.label_ids(y, len(x), t, split)
    if len({x.shape[1] for x in pixels.values()}) > 1 or len(set(shapes.values())) > 1:
        got = ", ".join(f"{s} {shapes[s] or pixels[s].shape[1:]}" for s in pixels)
        raise InputError(f"task {t}: the splits' images differ in shape ({got})")
    if "classes" in parts and parts["classes"] is not None:
        classes = np.asarray(parts["classes"], np.int64).reshape(-1)
        if classes.size == 0 or len(np.unique(classes)) != classes.size or classes.min() < 0:
            raise InputError(f"task {t}: classes={classes.tolist()} must be distinct class "
                             f"ids >= 0")
    else:  # the classes that occur in the training labels (one-hot: their columns)
        classes = np.unique(ids["train"])
    for split in ids:
        if widths[split] is not None and widths[split] != widths["train"]:
            raise InputError(f"{checks.where(t, split)}: one-hot labels of {widths[split]} "
                             f"classes, the training labels have {widths['train']}")
        checks.check_in_classes(ids[split], classes, t, split)
    drawn = "validation" not in pixels  # the validation split drawn from the training set
    if drawn:
        n = len(pixels["train"])
        k = max(1, int(round(validation_split * n)))
        if k >= n:
            raise InputError(f"{checks.where(t, 'train')}: {n} examples, too few to hold "
                             f"out a validation split (give validation=(images, labels))")
        held = np.sort(np.random.RandomState(seed + t - 1).permutation(n)[:k])
        keep = np.setdiff1d(np.arange(n), held)
        pixels["validation"], ids["validation"] = pixels["train"][held], ids["train"][held]
        pixels["train"], ids["train"] = pixels["train"][keep], ids["train"][keep]
    checks.check_scorable(ids["test"], classes, t, "test")
    checks.check_scorable(ids["validation"], classes, t, "validation",
                          "; it was drawn from the training examples (validation_split): "
                          "give validation=(images, labels)" if drawn else "")
    lut = {int(c): j for j, c in enumerate(classes)}
    splits = {s: Split(pixels[s], one_hot(np.array([lut[int(i)] for i in ids[s]], np.int64),
                                           len(classes)))
              for s in SPLIT_KEYS}
    data = ImageData(splits["train"], splits["validation"], splits["test"],
                     image_shape=shapes["train"], name=name)
    return data, classes


@checks_keywords()
def from_arrays(tasks: Sequence[dict], scale: Optional[float] = None,
                validation_split: float = VALIDATION_SPLIT, seed: int = 0,
                name: str = "custom") -> Tasks:
    """A task stream from numpy arrays, one dict per task: {"train": (images, labels),
    "test": (images, labels), optionally "validation": (images, labels) and "classes":
    [class ids of its outputs]} (see the module docstring for the rules). Raises
    InputError naming the task, the split and the fault."""
    if isinstance(tasks, dict) or not len(tasks):
        raise InputError("tasks: give a list of tasks, each a dict with train and test "
                         "(images, labels)")
    if not 0.0 < float(validation_split) < 1.0:
        raise InputError(f"validation_split={validation_split}: must be between 0 and 1")
    out, first = [], None
    for t, parts in enumerate(tasks, start=1):
        if not isinstance(parts, dict):
            raise InputError(f"task {t}: give a dict with train and test (images, labels), "
                             f"got {type(parts).__name__}")
        data, classes = _task_data(t, parts, scale, validation_split, seed, name)
        shape = (data.input_size, data.image_shape)
        if first is None:
            first = shape
        elif shape != first:
            raise InputError(f"task {t}: images of {_shape(shape)}, task 1's are "
                             f"{_shape(first)} (every task the same shape)")
        out.append(Task(data, Identity(data.input_size), np.arange(len(classes)),
                        class_ids=classes))
    return Tasks(out, seed=seed, kind=name)


def _shape(shape) -> str:
    d, image = shape
    return "x".join(map(str, image)) if image is not None else f"{d} values"


def _is_batched(label) -> bool:
    """Whether a dataset element's label is a batch: integer labels are scalars per
    example (a batch: rank 1), one-hot labels rank 1 per example (a batch: rank 2)."""
    label = np.asarray(label)
    return label.ndim == (1 if label.dtype.kind in "iub" else 2)


# A tf.data.Dataset of unknown length (after .filter(), say) is read up to this many
# examples (images), and refused beyond: an infinite one read as unknown would never end.
MAX_UNKNOWN_EXAMPLES = 1_000_000


def _numpy_of(dataset, t: int, split: str, max_unknown: int = MAX_UNKNOWN_EXAMPLES):
    """(images, labels) of a tf.data.Dataset of (image, label) elements, batched or not
    (told apart by the labels, `_is_batched`), read into memory. Its cardinality is read
    first: an infinite dataset is refused; one of unknown length is read up to
    `max_unknown` examples and refused beyond."""
    at = checks.where(t, split)
    if not hasattr(dataset, "cardinality") or not hasattr(dataset, "as_numpy_iterator"):
        raise InputError(f"{at}: give a tf.data.Dataset, got {type(dataset).__name__}")
    import tensorflow as tf  # (a tf.data.Dataset is given: TensorFlow is loaded)
    length = int(dataset.cardinality())
    if length == int(tf.data.INFINITE_CARDINALITY):
        raise InputError(f"{at}: the tf.data.Dataset is infinite (after .repeat(), say); "
                         f"give a finite one (.take(n))")
    unknown = length == int(tf.data.UNKNOWN_CARDINALITY)
    xs, ys, n, batched = [], [], 0, None
    for element in dataset.as_numpy_iterator():
        if isinstance(element, dict):
            element = (element.get("image", element.get("x")),
                       element.get("label", element.get("y")))
        if not isinstance(element, tuple) or len(element) != 2 or element[0] is None:
            raise InputError(f"{at}: each element must be (image, label)")
        xs.append(np.asarray(element[0]))
        ys.append(np.asarray(element[1]))
        if batched is None:
            batched = _is_batched(ys[0])
        n += len(ys[-1]) if batched else 1
        if unknown and n > max_unknown:
            raise InputError(f"{at}: the tf.data.Dataset's length is unknown (after "
                             f".filter(), say) and it holds more than {max_unknown} "
                             f"examples, the most read from such a dataset; declare its "
                             f"length (.apply(tf.data.experimental.assert_cardinality(n))) "
                             f"or give max_unknown=")
    if not xs:
        raise InputError(f"{at}: no examples")
    if batched:
        return np.concatenate(xs), np.concatenate(ys)
    return np.stack(xs), np.stack(ys)


@checks_keywords(from_arrays)
def from_datasets(tasks: Sequence[dict], max_unknown: int = MAX_UNKNOWN_EXAMPLES,
                  **kw) -> Tasks:
    """`from_arrays` for tf.data.Dataset splits: one dict per task with "train", "test"
    and optionally "validation" datasets of (image, label) elements (batched or not;
    read once into memory), and optionally "classes". A dataset must be finite: an
    infinite one (`.repeat()`) is refused; one of unknown length (`.filter()`) is read
    up to `max_unknown` examples (MAX_UNKNOWN_EXAMPLES, one million) and refused
    beyond."""
    arrays = []
    for t, parts in enumerate(tasks, start=1):
        if not isinstance(parts, dict):
            raise InputError(f"task {t}: give a dict of tf.data.Datasets (train, test, "
                             f"optionally validation)")
        arrays.append({k: (v if k == "classes" or v is None
                           else _numpy_of(v, t, k, max_unknown))
                       for k, v in parts.items()})
    return from_arrays(arrays, **kw)


@checks_keywords()
def class_groups_for(class_ids: Iterable[int], n_tasks: Optional[int] = None,
                     groups: Optional[Sequence[Sequence[int]]] = None,
                     order: str = "ascending", seed: int = 0) -> List[np.ndarray]:
    """The tasks' class groups: `groups` as given (any sizes, each id at most once), or
    the ids in `order` ("ascending", or "shuffled" by `np.random.RandomState(seed)`) cut
    into `n_tasks` groups of equal size."""
    ids = np.unique(np.asarray(list(class_ids), np.int64))
    if groups is not None:
        out = [np.asarray(g, np.int64).reshape(-1) for g in groups]
        flat = np.concatenate(out) if out else np.zeros(0, np.int64)
        if not out or any(len(g) == 0 for g in out):
            raise InputError(f"groups={[g.tolist() for g in out]}: every task needs at "
                             f"least one class")
        if len(np.unique(flat)) != len(flat):
            raise InputError(f"groups={[g.tolist() for g in out]}: a class is in two groups")
        missing = np.setdiff1d(flat, ids)
        if missing.size:
            raise InputError(f"groups: class {int(missing[0])} has no training examples "
                             f"(the labels hold {ids.tolist()})")
        return out
    if order not in CLASS_ORDERS:
        raise InputError(f"order={order!r}: must be one of {', '.join(CLASS_ORDERS)}")
    if n_tasks is None or n_tasks < 1 or len(ids) % n_tasks:
        raise InputError(f"n_tasks={n_tasks}: must divide the {len(ids)} classes (or give "
                         f"groups=)")
    if order == "shuffled":
        ids = ids[np.random.RandomState(seed).permutation(len(ids))]
    return class_groups(len(ids), n_tasks, ids)


@checks_keywords(from_arrays)
def split_classes(train, test, groups: Optional[Sequence[Sequence[int]]] = None,
                  n_tasks: Optional[int] = None, order: str = "ascending",
                  validation=None, seed: int = 0, **kw) -> Tasks:
    """A class split of labelled arrays: task t learns the examples of the classes
    `groups[t - 1]` (explicit groups of any sizes), or of the t-th of `n_tasks` equal
    groups of the classes in `order` ("ascending", or "shuffled" with `seed`). `train`,
    `test` (and `validation`) are (images, labels) of all classes; each task's outputs
    are its group's classes, in the group's order."""
    xtr, ytr = _pair(train, 1, "train")
    ids_tr, width = checks.label_ids(ytr, len(np.asarray(xtr)), 1, "train")
    grouped = class_groups_for(ids_tr, n_tasks, groups, order, seed)
    parts = {"train": (np.asarray(xtr), ids_tr)}
    for key, value in (("test", test), ("validation", validation)):
        if value is not None:
            x, y = _pair(value, 1, key)
            parts[key] = (np.asarray(x), checks.label_ids(y, len(np.asarray(x)), 1, key)[0])
    tasks = []
    for t, g in enumerate(grouped, start=1):
        task = {"classes": g}
        for key, (x, y) in parts.items():
            keep = np.isin(y, g)
            if not keep.any():
                raise InputError(f"{checks.where(t, key)}: no examples of the classes "
                                 f"{g.tolist()}")
            task[key] = (x[keep], y[keep])
        tasks.append(task)
    return from_arrays(tasks, seed=seed, **kw)
