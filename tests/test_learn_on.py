"""A model learns as long as tasks come (den_tf.api.model): after 3 tasks, saved and
loaded in a new process, it learns a 4th (`learn_task`) and a 5th (`learn`) exactly as
the same model would without the save; the tasks it learned are checked against the
stream it is given; task ids, empty batches and single images in `predict`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import den_tf
from den_tf.errors import ConfigError
from tests import helpers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIDE = 8
# DEN that always expands (loss_thr 0) and splits every drifted unit it may (spl_thr 0):
# the growth, timestamps and splits of tasks 4 and 5 are all exercised.
SETTINGS = dict(max_iter=30, batch_size=16, train_seed=3, xla=False, ex_k=2, loss_thr=0.0,
                spl_thr=0.0, dims=(SIDE * SIDE, 12, 8, 2))


def arrays(n_tasks: int = 5, seed: int = 0) -> list:
    """n_tasks tasks of two classes each (ids 2t, 2t+1), uint8 images of 8x8x1 where the
    class shows in which half is brighter."""
    return helpers.half_bright_tasks(n_tasks, SIDE, seed, dark=80, bright=150, top=False,
                                     sizes=(80, 24, 40))


CONTINUE = """
import json, sys
sys.path.insert(0, {tests!r})
import den_tf
from test_learn_on import arrays
model = den_tf.load({folder!r})
stream = den_tf.from_arrays(arrays())
model.learn_task(den_tf.from_arrays(arrays()[:4]))
out = model.learn(stream)
preds = [model.predict(stream.task(t).images("test").reshape(-1, 8, 8, 1)[:6], task=t).scores.tolist()
         for t in range(1, 6)]
json.dump({{"results": out, "preds": preds}}, open({out!r}, "w"))
"""


def _figures(r: dict) -> dict:
    return {k: r[k] for k in ("auroc_matrix", "accuracy_matrix", "units_per_layer",
                              "capacity")} | {
        "tasks": [{k: v for k, v in t.items() if k in ("expansions", "kept", "duplicated",
                                                        "pruned", "split_units", "stamp",
                                                        "sizes")} for t in r["tasks"]]}


@pytest.mark.parametrize("method", ["den", "ewc"])
def test_a_loaded_model_learns_on_as_it_would_have_without_the_save(tmp_path, method):
    settings = SETTINGS if method == "den" else {
        k: v for k, v in SETTINGS.items() if k not in ("ex_k", "loss_thr", "spl_thr")}
    first3 = den_tf.from_arrays(arrays()[:3])
    model = den_tf.DEN(method=method, **settings)
    r3 = model.learn(first3)
    assert r3["tasks_learned"] == 3
    folder = str(tmp_path / "model")
    model.save(folder)
    out = tmp_path / "continued.json"
    script = CONTINUE.format(tests=os.path.join(ROOT, "tests"), folder=folder, out=str(out))
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=600, env=dict(os.environ, PYTHONPATH=ROOT))
    assert p.returncode == 0, p.stderr[-3000:]
    loaded = json.loads(out.read_text())
    # the same model, without the save: a 4th task by learn_task, a 5th by learn
    stream = den_tf.from_arrays(arrays())
    model.learn_task(den_tf.from_arrays(arrays()[:4]))
    r5 = model.learn(stream)
    assert r5["tasks_learned"] == 5 and len(r5["auroc_matrix"]) == 5
    assert all(len(row) == 5 for row in r5["auroc_matrix"])
    assert _figures(loaded["results"]) == json.loads(json.dumps(_figures(r5)))
    for t in range(1, 6):
        x = stream.task(t).images("test").reshape(-1, SIDE, SIDE, 1)[:6]
        np.testing.assert_array_equal(np.asarray(loaded["preds"][t - 1], np.float32),
                                      model.predict(x, task=t).scores)
    if method == "den":  # tasks 4 and 5 grew and split, as the settings ask
        assert all(sum(t["kept"]) > 0 for t in r5["tasks"][3:])
        assert any(sum(t["duplicated"]) > 0 for t in r5["tasks"][3:])


@pytest.fixture(scope="module")
def learned():
    model = den_tf.DEN(**SETTINGS)
    model.learn(den_tf.from_arrays(arrays(3)))
    return model


def test_a_cap_stops_the_model_and_says_so():
    model = den_tf.DEN(n_tasks=1, **SETTINGS)
    r = model.learn(den_tf.from_arrays(arrays(2)))
    assert r["tasks_learned"] == 1
    with pytest.raises(ConfigError, match=r"^learn_task: all 1 tasks are learned \(the "
                                          r"n_tasks cap\)"):
        model.learn_task()


def test_a_stream_of_other_data_is_refused_in_learn_and_evaluate(learned):
    other = arrays(4)
    x, y = other[1]["test"]
    x = x.copy()
    x[0] = 255 - x[0]  # one test image of task 2 is another
    other[1]["test"] = (x, y)
    changed = den_tf.from_arrays(other)
    for call in (lambda: learned.learn(changed), lambda: learned.evaluate(changed)):
        with pytest.raises(ConfigError, match=r"^tasks: task 2's test set is not the one the "
                                              r"model learned"):
            call()
    classes = arrays(4)
    classes[0] = {k: (v[0], v[1] + 10) for k, v in classes[0].items()}
    with pytest.raises(ConfigError, match=r"^tasks: task 1's classes \[10, 11\] are not"):
        learned.learn(den_tf.from_arrays(classes))
    with pytest.raises(ConfigError, match=r"^tasks: 2 tasks given, the model has learned 3"):
        learned.evaluate(den_tf.from_arrays(arrays(2)))
    assert learned.tasks_learned == 3  # nothing was learned on the refused streams


def test_the_stream_s_settings_are_refused_with_your_own_stream():
    for kw, name in (({"dataset": "mnist"}, "dataset"), ({"task_stream": "split"},
                                                          "task_stream"),
                     ({"n_classes": 2}, "n_classes")):
        with pytest.raises(ConfigError, match=rf"^{name}=.*: a setting of den_tf's built-in "
                                              rf"task streams; this model learns your own"):
            den_tf.DEN(**kw, **SETTINGS).learn(den_tf.from_arrays(arrays(1)))


def test_what_an_own_stream_s_run_records():
    r = den_tf.DEN(**SETTINGS).learn(den_tf.from_arrays(arrays(1)))
    assert "dataset" not in r["config"] and "task_stream" not in r["config"]
    assert r["stream"]["own"] is True and r["stream"]["kind"] == "custom"


@pytest.mark.parametrize("task,needle", [
    (2.5, "task=2.5: a task id is an integer (1..3)"),
    ("2", "task='2': a task id is an integer (1..3)"),
    (True, "task=True: a task id is an integer (1..3)"),
    (4, "task=4: the model has learned tasks 1..3"),
    (0, "task=0: the model has learned tasks 1..3"),
])
def test_predict_takes_a_learned_task_s_integer_id(learned, task, needle):
    x = np.zeros((2, SIDE, SIDE, 1), np.uint8)
    with pytest.raises(ConfigError) as e:
        learned.predict(x, task=task)
    assert str(e.value) == needle


def test_predict_before_learning_and_on_empty_and_single_images(learned):
    with pytest.raises(ConfigError, match=r"^task=1: the model has learned no task yet$"):
        den_tf.DEN().predict(np.zeros((1, 784), np.uint8), task=1)
    scores, classes = learned.predict(np.zeros((0, SIDE, SIDE, 1), np.uint8), task=2)
    assert scores.shape == (0, 2) and classes.shape == (0,)
    batch = (np.random.RandomState(5).rand(3, SIDE, SIDE, 1) * 255).astype(np.uint8)
    many = learned.predict(batch, task=3)
    for i in range(3):
        for one in (batch[i], batch[i][..., 0], batch[i].reshape(-1)):
            single = learned.predict(one, task=3)
            np.testing.assert_array_equal(single.scores, many.scores[i:i + 1])
            assert single.classes.tolist() == [many.classes[i]]
    assert set(many.classes) <= {4, 5}  # task 3's own class ids


def test_what_needs_a_learned_task_says_so_before_any_learning(tmp_path):
    """Each use of a model that has learned nothing is refused in one line naming the
    call, before any file is written."""
    model = den_tf.DEN(**SETTINGS)
    stream = den_tf.from_arrays(arrays(1))
    for name, call in (("evaluate", lambda: model.evaluate(stream)),
                       ("evaluate", lambda: model.evaluate()),
                       ("results", lambda: model.results),
                       ("save", lambda: model.save(str(tmp_path / "m"))),
                       ("export", lambda: model.export(str(tmp_path / "e")))):
        with pytest.raises(ConfigError, match=f"^{name}: nothing is learned yet$"):
            call()
    assert not os.listdir(tmp_path)
