"""Inputs and files (issue 29, item 4): tf.data.Datasets of infinite or unknown length,
damaged checkpoints and a file given for a checkpoint folder (one CheckpointError line
each), saving into the folder of another model (refused unless replace=True; a run's own
tasks, its resumption and a rerun of its settings still save there), and the SavedModel:
each task's real head width in its timestamps, the pixel rule in the served functions.

Tiny settings: random 8x8 images whose class is learnable, 5 steps per phase."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import den_tf
from den_tf.datasets import from_arrays, from_datasets
from den_tf.errors import CheckpointError, InputError
from tests import helpers

D = 64
TINY = dict(max_iter=5, batch_size=16, train_seed=1, dims=(D, 8, 4, 3))


def images_of(classes, n, seed):
    return helpers.images_of(classes, n, seed, D)


def task_dicts(seed=0):
    return [{"train": images_of([0, 1], 64, seed + 1), "test": images_of([0, 1], 24, seed + 2)},
            {"train": images_of([2, 3, 4], 64, seed + 3),
             "test": images_of([2, 3, 4], 24, seed + 4)}]


def one_line(e):
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


# ----------------------------------------------------------------------------- tf.data
def datasets(train, test=None):
    return [{"train": train, "test": test if test is not None else
             tf.data.Dataset.from_tensor_slices(images_of([0, 1], 24, 2))}]


def test_an_infinite_dataset_is_refused_before_it_is_read():
    train = tf.data.Dataset.from_tensor_slices(images_of([0, 1], 64, 1)).repeat()
    with pytest.raises(InputError) as e:
        from_datasets(datasets(train))
    assert one_line(e) == ("task 1, train: the tf.data.Dataset is infinite (after "
                           ".repeat(), say); give a finite one (.take(n))")


def test_a_dataset_of_unknown_length_is_read_up_to_the_limit():
    arrays = images_of([0, 1], 64, 1)
    unknown = tf.data.Dataset.from_tensor_slices(arrays).filter(lambda x, y: True)
    assert int(unknown.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    got = from_datasets(datasets(unknown.batch(10)), max_unknown=64)  # exactly the limit
    want = from_arrays([{"train": arrays, "test": images_of([0, 1], 24, 2)}])
    np.testing.assert_array_equal(got.task_images(1, "train")[0],
                                  want.task_images(1, "train")[0])
    with pytest.raises(InputError) as e:
        from_datasets(datasets(unknown), max_unknown=63)
    assert one_line(e) == (
        "task 1, train: the tf.data.Dataset's length is unknown (after .filter(), say) and "
        "it holds more than 63 examples, the most read from such a dataset; declare its "
        "length (.apply(tf.data.experimental.assert_cardinality(n))) or give max_unknown=")
    # an infinite dataset hidden behind a filter ends at the limit too
    endless = tf.data.Dataset.from_tensor_slices(arrays).repeat().filter(lambda x, y: True)
    with pytest.raises(InputError, match=r"^task 1, test: the tf.data.Dataset's length is "
                                         r"unknown .* more than 100 examples"):
        from_datasets(datasets(unknown, endless), max_unknown=100)


def test_the_default_limit_is_documented():
    from den_tf.datasets import user
    assert user.MAX_UNKNOWN_EXAMPLES == 1_000_000
    page = open(os.path.join(os.path.dirname(__file__), "..", "docs", "own_tasks.md")).read()
    assert "1,000,000" in page and "max_unknown" in page


def test_a_non_dataset_is_refused():
    with pytest.raises(InputError) as e:
        from_datasets([{"train": [1, 2, 3], "test": None}])
    assert one_line(e) == "task 1, train: give a tf.data.Dataset, got list"


# ----------------------------------------------------------------------------- models
@pytest.fixture(scope="module")
def stream():
    return from_arrays(task_dicts())


@pytest.fixture(scope="module")
def saved(stream, tmp_path_factory):
    """Model A: tasks 1 and 2 learned one at a time, saved after each into one folder
    (the command line's per-task checkpoints)."""
    root = tmp_path_factory.mktemp("models")
    model = den_tf.DEN(**TINY)
    for _ in (1, 2):
        model.learn_task(stream)
        model.save(str(root / "a"))
    return model, root


def copy_of(root, name):
    dst = root / f"copy_{name}"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(root / "a", dst)
    return dst


def test_a_model_saves_task_after_task_into_its_own_folder(saved):
    model, root = saved
    assert sorted(os.listdir(root / "a")) == ["LATEST", "task-001", "task-002"]
    again = den_tf.load(str(root / "a"))  # a resumption saves there too
    again.save(str(root / "a"))
    assert again.results["auroc_matrix"] == model.results["auroc_matrix"]


def test_a_rerun_of_the_same_settings_saves_into_the_folder(saved, stream):
    model, root = saved
    folder = copy_of(root, "rerun")
    rerun = den_tf.DEN(**TINY)
    rerun.learn_task(stream)
    rerun.save(str(folder))  # the same settings and data: the same model, task 1 again
    assert open(folder / "LATEST").read().strip() == "task-001"


def test_another_model_is_refused_unless_replaced(saved, stream):
    model, root = saved
    folder = copy_of(root, "other")
    other = den_tf.DEN(**dict(TINY, max_iter=6))
    other.learn_task(stream)
    with pytest.raises(CheckpointError) as e:
        other.save(str(folder))
    assert one_line(e) == (f"{folder}: holds the checkpoint of another model (its max_iter "
                           f"is 5, this model's 6); save into another folder, or replace it "
                           f"(replace=True)")
    assert sorted(os.listdir(folder)) == ["LATEST", "task-001", "task-002"]  # untouched
    other.save(str(folder), replace=True)
    assert sorted(os.listdir(folder)) == ["LATEST", "task-001"]
    assert den_tf.load(str(folder)).config.max_iter == 6


@pytest.mark.parametrize("change, why", [
    (lambda s: s.update(method="ewc"), "it holds a ewc model, this is den"),
    (lambda s: s["data"].update(digest="0" * 16), "it learned on other data"),
    (lambda s: s["tasks"][0].update(class_ids=[5, 6]), "its task 1 is another task"),
    (lambda s: s["config"].update(train_seed=2), "its train_seed is 2, this model's 1"),
    (lambda s: s.update(format=1), "was written by another version of den_tf"),
])
def test_what_makes_another_model(saved, change, why):
    from den_tf.io import checkpoint
    model, root = saved
    folder = copy_of(root, "what")
    state = checkpoint._state(model.learner)
    assert checkpoint.other_model(str(folder), state) is None
    path = folder / "task-002" / "state.json"
    kept = json.load(open(path))
    change(kept)
    json.dump(kept, open(path, "w"))
    assert why in checkpoint.other_model(str(folder), state)
    # the settings a run may change on resumption do not make another model
    assert checkpoint.other_model(str(root / "a"), dict(state, config=dict(
        state["config"], n_tasks=7, xla=not state["config"]["xla"]))) is None


def test_saving_into_a_file_is_one_line(saved, tmp_path):
    model, _ = saved
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(CheckpointError) as e:
        model.save(str(f))
    assert one_line(e) == f"{f}: is a file, a checkpoint folder is needed"


def _truncate(name, keep):
    def change(folder):
        p = folder / name
        data = p.read_bytes()
        p.write_bytes(data[:keep if keep >= 0 else len(data) + keep])
    return change


def _state_without(key):
    def change(folder):
        s = json.load(open(folder / "state.json"))
        del s[key]
        json.dump(s, open(folder / "state.json", "w"))
    return change


@pytest.mark.parametrize("change, want", [
    (_truncate("weights.data-00000-of-00001", -40),
     "weights unreadable (IndexError: Read less bytes than requested); the checkpoint is "
     "damaged"),
    (_truncate("weights.data-00000-of-00001", 0),
     "weights unreadable (IndexError: Read less bytes than requested)"),
    (_truncate("weights.index", 0), "weights unreadable (OpError: file is too short"),
    (lambda f: os.remove(f / "weights.index"), "weights unreadable ("),
    (_truncate("state.json", 100), "state.json: unreadable (Unterminated string"),
    (_truncate("state.json", 0), "state.json: unreadable (Expecting value"),
    (_state_without("network"), "state.json: unreadable (no 'network')"),
    (lambda f: (f / "state.json").write_text("[1, 2]"),
     "state.json: unreadable (not a checkpoint's state)"),
    (lambda f: (f / "extra.npz").write_bytes(b"PK\x03\x04 not a zip"),
     "extra.npz unreadable ("),
])
def test_a_damaged_checkpoint_is_one_line(saved, change, want):
    model, root = saved
    folder = copy_of(root, "damaged") / "task-002"
    change(folder)
    with pytest.raises(CheckpointError) as e:
        den_tf.load(str(folder))
    msg = one_line(e)
    assert msg.startswith(str(folder)) and want in msg, msg


def test_a_file_given_for_a_checkpoint_folder_is_one_line(saved):
    _, root = saved
    state = root / "a" / "task-002" / "state.json"
    with pytest.raises(CheckpointError) as e:
        den_tf.load(str(state))
    assert one_line(e) == (f"{state}: is a file, a checkpoint folder is needed (the folder "
                           f"a model was saved into, or a run's checkpoint_dir)")


# ----------------------------------------------------------------------------- export
@pytest.fixture(scope="module")
def exported(saved):
    model, root = saved
    path = model.export(str(root / "sm"))
    return model, tf.saved_model.load(path)


def test_the_export_records_each_tasks_real_head_width(exported):
    model, m = exported
    stamps = m.timestamps.numpy().tolist()
    assert [s[-1] for s in stamps] == [2, 3]  # not the original's literal 10
    assert [s[:-1] for s in stamps] == [model.learner.stamps[t][:-1] for t in (1, 2)]
    assert [model.learner.stamps[t][-1] for t in (1, 2)] == [10, 10]  # the log's stamps


def test_the_served_function_refuses_floats_outside_0_1(exported, stream):
    model, m = exported
    serve = m.signatures["serving_default"]
    x = stream.task(2).data.test.pixels[:8]
    for bad in (x.astype(np.float32), np.where(np.arange(x.size).reshape(x.shape) == 5,
                                               np.nan, x / 255.0).astype(np.float32)):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"images: float pixels must be finite and in \[0, 1\] "
                                 r"\(the pixel rule; pixels in 0..255: divide them by 255, "
                                 r"or give uint8 to serve_uint8\); these range from"):
            serve(images=tf.constant(bad), task_id=tf.constant(2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: float pixels"):
        m.signatures["serve_transformed"](images=tf.constant(x.astype(np.float32)),
                                          task_id=tf.constant(1))
    want = model.predict(x, task=2)
    for got in (serve(images=tf.constant(x / np.float32(255)), task_id=tf.constant(2)),
                m.signatures["serve_uint8"](images=tf.constant(x), task_id=tf.constant(2))):
        np.testing.assert_allclose(got["probabilities"].numpy(), want.probabilities,
                                   rtol=0, atol=1e-6)
        np.testing.assert_array_equal(got["classes"].numpy(), want.classes)
    empty = serve(images=tf.zeros([0, D]), task_id=tf.constant(1))
    assert empty["probabilities"].shape == (0, 2)
