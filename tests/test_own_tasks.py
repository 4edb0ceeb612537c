"""DEN on a user's own tasks: streams from numpy arrays and tf.data, class splits, the
model object (learn, predict, evaluate, save / load in a new process, export read with
plain TensorFlow), a baseline through the same object, the CSV logger, the pixel rule,
and every bad input refused in one line (den_tf.datasets.checks). The longer runs (the
baselines on a convolutional arch, the example script, the command line's class groups)
are in tests/test_own_tasks_runs.py, so that the two files run side by side.

Tiny settings (a few hundred real MNIST images per task, small networks, 40-60 steps):
the figures are checked only against each other and against chance."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import den_tf
from den_tf.datasets import from_arrays, from_datasets, split_classes, to_float
from den_tf.errors import ConfigError, InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = ([0, 1], [2, 3, 4], [5, 6])  # different numbers of classes per task
TINY = dict(max_iter=60, batch_size=32, train_seed=3, dims=(784, 32, 16, 3))


def class_arrays(mnist, classes, n_train=150, n_test=60, offset=0):
    """uint8 pixels [n, 784] and integer labels of the given classes."""
    ids_tr, ids_te = mnist.train.class_ids, mnist.test.class_ids
    tr = np.concatenate([np.flatnonzero(ids_tr == c)[offset:offset + n_train] for c in classes])
    te = np.concatenate([np.flatnonzero(ids_te == c)[:n_test] for c in classes])
    return (mnist.train.pixels[tr], ids_tr[tr]), (mnist.test.pixels[te], ids_te[te])


def task_dicts(mnist, groups=GROUPS, **kw):
    out = []
    for g in groups:
        train, test = class_arrays(mnist, g, **kw)
        out.append({"train": train, "test": test})
    return out


@pytest.fixture(scope="module")
def stream(mnist):
    return from_arrays(task_dicts(mnist))


@pytest.fixture(scope="module")
def learned(stream):
    model = den_tf.DEN(**TINY)
    results = model.learn(stream)
    return model, results


# ----------------------------------------------------------------------------- streams
def test_stream_from_arrays_keeps_each_tasks_classes(stream):
    assert stream.n_tasks == 3
    assert [stream.n_outputs(t) for t in (1, 2, 3)] == [2, 3, 2]
    assert [stream.class_ids(t).tolist() for t in (1, 2, 3)] == [list(g) for g in GROUPS]
    # the seeded 10% validation rule: held out of training, the rest in order
    assert stream.task(2).n_examples("validation") == 45
    assert stream.n_train(2) == 405


def test_validation_rule_is_seeded_and_given_validation_is_used(mnist):
    a = from_arrays(task_dicts(mnist, groups=([0, 1],)), seed=5)
    b = from_arrays(task_dicts(mnist, groups=([0, 1],)), seed=5)
    c = from_arrays(task_dicts(mnist, groups=([0, 1],)), seed=6)
    va, vb, vc = (s.task(1).images("validation") for s in (a, b, c))
    np.testing.assert_array_equal(va, vb)
    assert not np.array_equal(va, vc)
    (x, y), test = class_arrays(mnist, [0, 1], n_train=100)
    (vx, vy), _ = class_arrays(mnist, [0, 1], n_train=20, offset=300)
    s = from_arrays([{"train": (x, y), "validation": (vx, vy), "test": test}])
    assert s.n_train(1) == 200 and s.task(1).n_examples("validation") == 40
    np.testing.assert_array_equal(s.task(1).images("validation"), to_float(vx))


def test_one_hot_labels_and_images_with_a_shape(mnist):
    (x, y), (xt, yt) = class_arrays(mnist, [3, 8])
    onehot = np.eye(10, dtype=np.float32)
    s = from_arrays([{"train": (x.reshape(-1, 28, 28, 1), onehot[y]),
                      "test": (xt.reshape(-1, 28, 28), onehot[yt])}])
    # the classes are the columns that occur, as with integer labels (issue 29)
    assert s.n_outputs(1) == 2 and s.class_ids(1).tolist() == [3, 8]
    assert s.image_shape == (28, 28, 1) and s.input_size == 784


def test_tf_data_gives_the_same_stream(mnist, stream):
    dicts = task_dicts(mnist)
    ds = []
    for i, t in enumerate(dicts):
        train = tf.data.Dataset.from_tensor_slices(t["train"])
        ds.append({"train": train.batch(64) if i % 2 else train,  # batched or not
                   "test": tf.data.Dataset.from_tensor_slices(t["test"]).batch(17)})
    other = from_datasets(ds)
    for t in (1, 2, 3):
        for split in ("train", "validation", "test"):
            np.testing.assert_array_equal(other.task(t).images(split),
                                          stream.task(t).images(split))
            np.testing.assert_array_equal(other.task(t).labels(split),
                                          stream.task(t).labels(split))
        assert other.class_ids(t).tolist() == stream.class_ids(t).tolist()


def test_split_classes_by_groups_and_by_seeded_order(mnist):
    (x, y), (xt, yt) = class_arrays(mnist, range(10), n_train=40, n_test=10)
    s = split_classes((x, y), (xt, yt), groups=[[7, 1], [2, 3, 4]])
    assert [s.class_ids(t).tolist() for t in (1, 2)] == [[7, 1], [2, 3, 4]]
    # output j of task 1 stands for class 7, 1: the labels follow
    ids = s.task(1).labels("test").argmax(1)
    np.testing.assert_array_equal(np.array([7, 1])[ids], yt[np.isin(yt, [7, 1])])
    a = split_classes((x, y), (xt, yt), n_tasks=5, order="shuffled", seed=2)
    b = split_classes((x, y), (xt, yt), n_tasks=5, order="shuffled", seed=2)
    c = split_classes((x, y), (xt, yt), n_tasks=5, order="ascending")
    assert [a.class_ids(t).tolist() for t in range(1, 6)] == \
        [b.class_ids(t).tolist() for t in range(1, 6)]
    assert [c.class_ids(t).tolist() for t in range(1, 6)] == [[0, 1], [2, 3], [4, 5],
                                                            [6, 7], [8, 9]]
    assert sorted(sum((a.class_ids(t).tolist() for t in range(1, 6)), [])) == list(range(10))
    assert [a.class_ids(t).tolist() for t in range(1, 6)] != \
        [c.class_ids(t).tolist() for t in range(1, 6)]


# ----------------------------------------------------------------------------- the model
def test_den_learns_predicts_and_evaluates(learned, stream):
    model, results = learned
    assert model.tasks_learned == 3
    acc = results["accuracy_matrix"]
    assert [len([a for a in row if a is not None]) for row in acc] == [1, 2, 3]
    # every task well above chance right after learning it (1/2, 1/3, 1/2)
    assert min(results["metrics"]["accuracy"]["just_learned"]) > 0.7
    assert results["metrics"]["auroc"]["final_average"] > 0.9
    x, y = stream.task(2).images("test"), stream.task(2).labels("test")
    probs, classes = model.predict(stream.tasks[1].data.test.pixels, task=2)
    assert probs.shape == (len(x), 3) and set(np.unique(classes)) <= {2, 3, 4}
    truth = np.array(GROUPS[1])[y.argmax(1)]
    assert np.mean(classes == truth) > 0.7
    ev = model.evaluate(stream)
    assert [r["task"] for r in ev["test"]] == [1, 2, 3]
    assert ev["test"][1]["accuracy"] == pytest.approx(results["accuracy_matrix"][2][1])


def test_float_pixels_in_0_1_give_the_uint8_figures(mnist, learned):
    """The pixel rule: floats in [0, 1] are read as they are, never scaled again. The
    same images as TF1's floats give the same run bit for bit; as x / 255 in float64
    (what most users hold), the same figures within a few 1e-3."""
    _, results = learned
    exact = [{k: (to_float(v[0]), v[1]) for k, v in t.items()} for t in task_dicts(mnist)]
    r = den_tf.DEN(**TINY).learn(from_arrays(exact))
    assert r["auroc_matrix"] == results["auroc_matrix"]
    assert r["accuracy_matrix"] == results["accuracy_matrix"]
    plain = [{k: (v[0] / 255.0, v[1]) for k, v in t.items()} for t in task_dicts(mnist)]
    r2 = den_tf.DEN(**TINY).learn(from_arrays(plain))
    np.testing.assert_allclose(r2["metrics"]["accuracy"]["average"],
                               results["metrics"]["accuracy"]["average"], atol=0.02)
    assert r2["metrics"]["accuracy"]["final_average"] > 0.7


def test_save_load_in_a_new_process_gives_identical_predictions(learned, stream, tmp_path):
    model, _ = learned
    x = stream.tasks[2].data.test.pixels[:40]
    want = model.predict(x, task=3)
    model.save(str(tmp_path / "m"))
    np.save(tmp_path / "x.npy", x)
    code = ("import numpy as np, den_tf\n"
            f"m = den_tf.load({str(tmp_path / 'm')!r})\n"
            f"p, c = m.predict(np.load({str(tmp_path / 'x.npy')!r}), task=3)\n"
            f"np.save({str(tmp_path / 'p.npy')!r}, p); np.save({str(tmp_path / 'c.npy')!r}, c)\n"
            "print(m.tasks_learned, m.method)\n")
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-2:] == ["3", "den"]
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), want.probabilities)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), want.classes)


def test_export_serves_probabilities_and_class_ids_with_plain_tensorflow(learned, stream,
                                                                         tmp_path):
    model, _ = learned
    path = model.export(str(tmp_path / "sm"))
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    for t in (1, 2, 3):
        x = stream.tasks[t - 1].data.test.pixels[:30]
        want = model.predict(x, task=t)
        got = serve(images=tf.constant(to_float(x)), task_id=tf.constant(t))
        np.testing.assert_allclose(got["probabilities"].numpy(), want.probabilities,
                                   rtol=0, atol=1e-6)
        np.testing.assert_array_equal(got["classes"].numpy(), want.classes)
    ids = loaded.class_ids.numpy()
    assert ids[1].tolist() == [2, 3, 4] and ids[0].tolist() == [0, 1, -1]
    assert loaded.n_outputs.numpy().tolist() == [2, 3, 2]


def test_a_baseline_through_the_model_object_saves_and_loads(stream, tmp_path):
    model = den_tf.DEN(method="ewc", ewc_samples=100, **TINY)
    r = model.learn(stream)
    assert r["config"]["method"] == "ewc" and min(r["metrics"]["accuracy"]["just_learned"]) > 0.7
    x = stream.tasks[0].data.test.pixels[:20]
    want = model.predict(x, task=1)
    model.save(str(tmp_path / "ewc"))
    back = den_tf.load(str(tmp_path / "ewc"))
    got = back.predict(x, task=1)
    np.testing.assert_array_equal(got.probabilities, want.probabilities)
    np.testing.assert_array_equal(back.learner.fisher[0], model.learner.fisher[0])
    path = back.export(str(tmp_path / "ewc_sm"))
    served = tf.saved_model.load(path).signatures["serving_default"](
        images=tf.constant(to_float(x)), task_id=tf.constant(1))
    np.testing.assert_allclose(served["probabilities"].numpy(), want.probabilities,
                               rtol=0, atol=1e-6)


def test_csv_log_callback_and_no_retracing_warnings(stream, tmp_path, capfd):
    """One library run with the CSV logger as its callback: a row per evaluation, and
    none of TensorFlow's retracing warnings on stdout or stderr."""
    path = tmp_path / "run.csv"
    from den_tf.io import CSVLogger
    log = CSVLogger(str(path))
    den_tf.DEN(max_iter=20, batch_size=32, train_seed=1, dims=(784, 16, 8, 3),
               callbacks=[log]).learn(stream)
    log.close()
    out, err = capfd.readouterr()
    assert "retracing" not in out + err
    rows = [line.split(",") for line in path.read_text().splitlines()]
    assert rows[0] == ["tasks_learned", "task", "auroc", "accuracy", "loss", "capacity",
                       "units"]
    assert [(int(r[0]), int(r[1])) for r in rows[1:]] == [(1, 1), (2, 1), (2, 2), (3, 1),
                                                          (3, 2), (3, 3)]
    assert all(0.0 <= float(r[3]) <= 1.0 for r in rows[1:])


# ----------------------------------------------------------------------------- bad inputs
def _bad(mnist, change):
    tasks = task_dicts(mnist, groups=([0, 1], [2, 3]), n_train=40, n_test=10)
    change(tasks)
    with pytest.raises(InputError) as e:
        from_arrays(tasks)
    msg = str(e.value)
    assert "\n" not in msg and "--" not in msg
    return msg


def _set(t, split, x=None, y=None):
    def change(tasks):
        xs, ys = tasks[t - 1][split]
        tasks[t - 1][split] = (xs if x is None else x(xs), ys if y is None else y(ys))
    return change


@pytest.mark.parametrize("change, want", [
    (_set(2, "train", x=lambda x: x.astype(np.float32)),
     "task 2, train: float pixels must be in [0, 1], these range from 0 to 255 (values "
     "up to 255: give them as uint8, or scale=1/255)"),
    (_set(1, "test", x=lambda x: x.astype(np.int16)),
     "task 1, test: pixels of dtype int16; give uint8"),
    (_set(2, "test", x=lambda x: np.where(np.arange(x.size).reshape(x.shape) == 3, np.nan,
                                         x / 255.0)),
     "task 2, test: 1 pixel values are NaN or infinite"),
    (_set(2, "train", x=lambda x: x[:, :700]),
     "task 2: the splits' images differ in shape"),
    (lambda tasks: tasks[1].update(train=(tasks[1]["train"][0][:, :700],
                                          tasks[1]["train"][1]),
                                   test=(tasks[1]["test"][0][:, :700], tasks[1]["test"][1])),
     "task 2: images of 700 values, task 1's are 784 values"),
    (_set(1, "train", y=lambda y: y + 0.5),
     "task 1, train: labels must be integers"),
    (_set(2, "test", y=lambda y: np.where(y == 3, 7, y)),
     "task 2, test: label 7 is not one of the task's classes [2, 3]"),
    (_set(1, "train", y=lambda y: np.eye(2)[y % 2] * 2),
     "task 1, train: label row 0 is not one-hot"),
    (_set(1, "train", y=lambda y: y[:-1]),
     "task 1, train: 79 labels for 80 images"),
    (_set(2, "test", x=lambda x: x[:0], y=lambda y: y[:0]),
     "task 2, test: no examples"),
    (_set(1, "train", x=lambda x: x.reshape(len(x), 1, 1, 1, -1)),
     "task 1, train: images of shape"),
    (lambda tasks: tasks[0].pop("test"), "task 1: no test split"),
    (_set(2, "train", y=lambda y: -y), "task 2, train: label -3 is negative"),
])
def test_every_bad_input_is_one_line(mnist, change, want):
    msg = _bad(mnist, change)
    assert msg.startswith(want), msg


def test_settings_that_do_not_fit_the_stream_are_refused_in_argument_terms(stream):
    with pytest.raises(InputError, match=r"^task 1, train: 270 examples, fewer than one "
                                         r"minibatch \(batch_size=512\)$"):
        den_tf.DEN(batch_size=512, dims=(784, 8, 3)).learn(stream)
    with pytest.raises(ConfigError, match=r"^dims=\(784, 8, 2\): the last size must be the "
                                          r"widest task's number of classes, 3"):
        den_tf.DEN(dims=(784, 8, 2)).learn(stream)
    with pytest.raises(ConfigError, match=r"^n_classes=2: a setting of den_tf's built-in task "
                                          r"streams; this model learns your own stream"):
        den_tf.DEN(dims=(784, 8, 3), n_classes=2).learn(stream)
    with pytest.raises(ConfigError, match=r"^dims=100,8,3: the first size must equal the "
                                          r"data's input size 784$"):
        den_tf.DEN(dims=(100, 8, 3)).learn(stream)
    with pytest.raises(ConfigError, match=r"^method=mtl: .* same number of classes"):
        den_tf.DEN(method="mtl", dims=(784, 8, 3)).learn(stream)
    with pytest.raises(ConfigError, match=r"^task=4: the model has learned no task yet$"):
        den_tf.DEN().predict(np.zeros((1, 784), np.uint8), task=4)


def test_predict_checks_its_input(learned):
    model, _ = learned
    with pytest.raises(InputError, match=r"^task 1, predict: float pixels must be in"):
        model.predict(np.full((2, 784), 3.0), task=1)
    with pytest.raises(InputError, match=r"^task 1, predict: images of 100 values, the "
                                         r"model reads 784$"):
        model.predict(np.zeros((2, 100), np.uint8), task=1)


def test_a_user_data_set_needs_no_built_in_name(mnist):
    """run(config, data) with an ImageData of the user's own name: no refusal."""
    from den_tf.datasets import ImageData, Split
    d = ImageData(Split(mnist.train.pixels[:600], mnist.train.labels[:600]),
                  Split(mnist.validation.pixels[:200], mnist.validation.labels[:200]),
                  Split(mnist.test.pixels[:200], mnist.test.labels[:200]), name="mine")
    r = den_tf.run(den_tf.DENConfig(max_iter=20, n_tasks=1, batch_size=32, train_seed=1,
                                    dims=(784, 16, 8, 10)), d)
    assert r["tasks_learned"] == 1


def test_results_json_has_the_metrics_and_forgetting_is_right():
    from den_tf.evaluation.results import metrics
    m = metrics([[0.9, None, None], [0.8, 0.95, None], [0.85, 0.9, 0.99]])
    f = m["forgetting"]
    assert f["max"] == pytest.approx([0.9 - 0.85, 0.95 - 0.9])
    assert f["end"] == pytest.approx([0.05, 0.05])
    assert m["just_learned"] == [0.9, 0.95, 0.99]
    assert m["bwt"] == pytest.approx(((0.85 - 0.9) + (0.9 - 0.95)) / 2)
    m2 = metrics([[0.9, None], [0.95, 0.8]])  # got better: no forgetting, a negative drop
    assert m2["forgetting"]["max"] == pytest.approx([-0.05])
