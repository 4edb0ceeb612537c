"""No NaN in any figure (issue 29, item 3): the rule for classes that cannot be scored
(den_tf.evaluation.metrics, docs/metrics.md), tasks that cannot be scored at all refused
when the stream is built, one-hot labels named by the columns that occur, a class of
`classes=` without test examples named once (log and results) and never NaN, and the
results and the checkpoint's state.json as strict JSON.

Tiny settings: random 8x8 images whose class is a fixed linear map's argmax, networks
of 8 and 4 units, 5 steps per phase; figures are compared with each other only."""

import json
import math
import re

import numpy as np
import pytest

import den_tf
from den_tf.datasets import from_arrays
from den_tf.errors import InputError
from den_tf.evaluation.metrics import auroc_per_class, mean_auroc, scorable, unscorable

D = 64
TINY = dict(max_iter=5, batch_size=16, train_seed=1, dims=(D, 8, 4, 3))
RNG_W = np.random.RandomState(0).randn(D, 10)


def images_of(classes, n, seed):
    """uint8 images [n, 64] and integer labels drawn from `classes` (every class at
    least once when n allows)."""
    rng = np.random.RandomState(seed)
    y = np.asarray(classes)[np.arange(n) % len(classes)]
    rng.shuffle(y)
    x = rng.rand(n, D) * 0.5
    x[np.arange(n)[:, None], (y[:, None] * 6 + np.arange(4)) % D] += 0.5  # learnable
    return (x * 255).astype(np.uint8), y


def task(drawn, seed, n_train=64, n_test=24, test_classes=None, **extra):
    """A task's dict: training examples of the classes `drawn`, test examples of
    `test_classes` (default the same); `extra`: more keys (classes=, validation=)."""
    return {"train": images_of(drawn, n_train, seed),
            "test": images_of(test_classes or drawn, n_test, seed + 100), **extra}


def one_hot10(pair):
    import tensorflow as tf
    x, y = pair
    return x, tf.keras.utils.to_categorical(y, 10)


def walk(value, path="results"):
    """Every float in a nested dict / list, with its path."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")
    elif isinstance(value, float):
        yield path, value


def strict_json(text):
    def refuse(name):
        raise ValueError(f"{name} in strict JSON")
    return json.loads(text, parse_constant=refuse)


# ----------------------------------------------------------------------------- the rule
def test_every_class_scored_gives_the_original_figure_bit_for_bit():
    rng = np.random.RandomState(3)
    for k in (2, 3, 10):
        s = rng.rand(200, k).astype(np.float32)
        y = np.eye(k, dtype=np.float32)[np.arange(200) % k]
        assert scorable(y).all() and unscorable(y) == []
        assert mean_auroc(s, y) == float(np.mean(auroc_per_class(s, y)))  # exactly


def test_a_class_without_examples_is_left_out_of_the_mean():
    rng = np.random.RandomState(4)
    s = rng.rand(60, 4)
    y = np.eye(4)[np.array([0, 1, 3] * 20)]  # class 2 has no example
    per = auroc_per_class(s, y)
    assert np.isnan(per[2]) and unscorable(y) == [2]
    assert mean_auroc(s, y) == pytest.approx(np.mean(per[[0, 1, 3]]), abs=0)
    assert not math.isnan(mean_auroc(s, y))


def test_no_class_that_can_be_scored_is_one_line():
    y = np.eye(3)[np.zeros(10, int)]  # every example of class 0: no class has both
    assert unscorable(y) == [0, 1, 2]
    with pytest.raises(InputError, match=r"^no class of these 3 has both positive and "
                                         r"negative examples: the AUROC is undefined$"):
        mean_auroc(np.random.rand(10, 3), y)


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("tasks, want", [
    ([task([0, 1], 1), task([5], 2)],
     "task 2: a task of one class (5) cannot be scored: the AUROC of a class needs "
     "examples of another class (give each task at least two classes)"),
    ([task([0, 1], 1, classes=[0, 1, 7], test_classes=[1])],
     "task 1, test: examples of one class only (1); a task is scored by the AUROC of its "
     "classes, which needs examples of at least two (the task's classes: [0, 1, 7])"),
    ([dict(task([2, 3], 1), validation=images_of([3], 20, 9))],
     "task 1, validation: examples of one class only (3); a task is scored by the AUROC of "
     "its classes, which needs examples of at least two (the task's classes: [2, 3])"),
    # the validation split drawn from the training set: one example of class 2 among 40
    ([{"train": (np.concatenate([images_of([3], 39, 5)[0], images_of([2], 1, 6)[0]]),
                 np.array([3] * 39 + [2])), "test": images_of([2, 3], 24, 7)}],
     "task 1, validation: examples of one class only (3); a task is scored by the AUROC of "
     "its classes, which needs examples of at least two (the task's classes: [2, 3]); it "
     "was drawn from the training examples (validation_split): give validation=(images, "
     "labels)"),
])
def test_a_task_that_cannot_be_scored_is_refused_when_the_stream_is_built(tasks, want):
    with pytest.raises(InputError) as e:
        from_arrays(tasks)
    assert str(e.value) == want, str(e.value)


# ----------------------------------------------------------------------------- runs
def streams_of_both_labels(n_tasks=2):
    """The same tasks (of 2 and 3 classes) with integer labels and with
    to_categorical(y, 10) labels."""
    out = {}
    for name in ("integer", "one_hot"):
        tasks = [task([0, 1], 1), task([4, 6, 9], 2)][:n_tasks]
        if name == "one_hot":
            for t in tasks:
                t["train"], t["test"] = one_hot10(t["train"]), one_hot10(t["test"])
        out[name] = from_arrays(tasks)
    return out


@pytest.fixture(scope="module")
def runs():
    """A 2-class task learned from integer labels and from to_categorical(y, 10) labels;
    and a stream whose task 1 names (classes=) a class 7 without any example, learned
    with a log."""
    out = {}
    for name, stream in streams_of_both_labels(n_tasks=1).items():
        out[name] = (stream, den_tf.DEN(**dict(TINY, dims=(D, 8, 4, 2))).learn(stream))
    lines = []
    stream = from_arrays([task([0, 1], 3, classes=[0, 1, 7]), task([2, 3, 5], 4)])
    model = den_tf.DEN(**TINY, log=lines.append)
    out["unscored"] = (stream, model.learn(stream), model, lines)
    return out


def figures(results):
    r = dict(results)
    r.pop("timing")
    return r


def test_one_hot_labels_name_the_classes_by_the_columns_that_occur():
    both = streams_of_both_labels()
    si, so = both["integer"], both["one_hot"]
    assert [so.n_outputs(t) for t in (1, 2)] == [2, 3]  # not 10
    assert [so.class_ids(t).tolist() for t in (1, 2)] == [[0, 1], [4, 6, 9]]
    for t in (1, 2):
        for split in ("train", "validation", "test"):
            for a, b in zip(so.task_images(t, split), si.task_images(t, split)):
                np.testing.assert_array_equal(a, b)


def test_one_hot_labels_over_ten_columns_give_the_integer_labels_figures(runs):
    (si, ri), (so, ro) = runs["integer"], runs["one_hot"]
    assert so.n_outputs(1) == 2 and ri["tasks"][0]["stamp"][0] == D
    assert figures(ro) == figures(ri)
    assert 0.0 <= ri["auroc_matrix"][0][0] <= 1.0


def test_a_class_without_test_examples_is_named_and_no_figure_is_nan(runs, tmp_path):
    from den_tf.io import files
    stream, results, model, lines = runs["unscored"]
    assert stream.class_ids(1).tolist() == [0, 1, 7] and stream.n_outputs(1) == 3
    assert results["unscored_classes"] == [[7], []]
    named = [l for l in lines if "left out of its AUROC" in l]
    assert named == [" [den_tf] task 1: classes [7] have no test examples: left out of its "
                     "AUROC (docs/metrics.md)"]  # once, though task 1 is evaluated twice
    bad = [(p, v) for p, v in walk(results) if not math.isfinite(v)]
    assert not bad, bad
    assert all(x is not None for row in results["auroc_matrix"] for x in row[:1])
    assert not any(re.search(r"\bnan\b", l, re.I) for l in lines)
    path = files.write_json(str(tmp_path / "r.json"), results)  # strict: allow_nan=False
    assert strict_json(open(path).read())["unscored_classes"] == [[7], []]


def test_the_checkpoint_of_such_a_run_is_strict_json_and_loads(runs, tmp_path):
    from den_tf.io import checkpoint
    stream, results, model, _ = runs["unscored"]
    folder = model.save(str(tmp_path / "m"))
    state = strict_json(open(f"{folder}/{checkpoint.STATE}").read())
    assert [s["unscored"] for s in state["scores"][-1]] == [[2], []]  # output indices
    again = den_tf.load(str(tmp_path / "m"))
    assert figures(again.results)["unscored_classes"] == [[7], []]
    assert again.results["auroc_matrix"] == results["auroc_matrix"]


def test_strict_json_refuses_nan(tmp_path):
    from den_tf.io import files
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        files.write_json(str(tmp_path / "r.json"), {"x": float("nan")})
    assert not (tmp_path / "r.json").exists()
