"""Task streams on the real MNIST: permuted (the original's, unchanged), split (class
partition, label remap, each task's minibatches from its own examples, heads sized to its
classes) and rotated (bilinear resampling tables; 90 degrees is np.rot90, 0 the
identity); a tiny 2-task DEN run on each new stream learns."""

import numpy as np
import pytest
import tensorflow as tf

from den_tf import api
from den_tf.config import DENConfig
from den_tf.datasets import make_stream
from den_tf.datasets.streams import check_stream, make_tasks
from den_tf.datasets.tensors import task_batch
from den_tf.datasets.transforms import Identity, Permute, Rotate, rotation_tables


def resample_images(x, indices, weights):
    return Rotate(indices, weights).numpy(x)


def is_identity(indices, weights):
    return Rotate(indices, weights).is_identity
from den_tf.engine.randomness import RandomBatches
from den_tf.errors import ConfigError


# ----------------------------------------------------------------------------- permuted
def test_permuted_stream_is_the_original_benchmark(mnist):
    old, new = make_tasks(mnist, 12, 1004), make_stream(mnist, "permuted", 12, 1004)
    assert new.kind == "permuted" and new.n_tasks == 12
    for a, b in zip(old.permutations, new.permutations):
        np.testing.assert_array_equal(a, b)
    assert old.rng.rand() == new.rng.rand()  # the RandomState continues alike (Q10)
    assert new.n_outputs(3) == 10 and new.classes(3).tolist() == list(range(10))
    tr = new.transform(2)
    assert isinstance(tr, Permute) and tr.KIND == "permute"
    np.testing.assert_array_equal(tr.permutation, new.permutations[1])
    x, _ = new.test_set(2)
    np.testing.assert_array_equal(
        x.numpy(), mnist.test.pixels[:, new.permutations[1]].astype(np.float32)
        * np.float32(1 / 255))
    np.testing.assert_array_equal(tr.numpy(mnist.test.images), x.numpy())
    # the TensorFlow form of the same transform gives the same images
    np.testing.assert_array_equal(tr.tf(tf.constant(mnist.test.images[:50])).numpy(),
                                  x.numpy()[:50])


def test_train_view_permutes_the_pixels_once_to_the_same_minibatches(mnist, monkeypatch):
    from den_tf.datasets import tensors
    from den_tf.datasets.tensors import train_batch
    s = make_stream(mnist, "permuted", 3, 1004)
    t2, t3 = s.task_tensors(2), s.task_tensors(3)
    x_all, kind, params = t2.train_view()
    assert kind is None and params == {} and x_all.dtype == tf.uint8
    np.testing.assert_array_equal(x_all.numpy(), mnist.train.pixels[:, s.permutations[1]])
    assert t2.train_view()[0] is x_all  # made once
    # in the compiled step: the same minibatch, to the bit, as permuting it in the step
    rows = tf.constant(np.random.RandomState(0).randint(0, 55000, 256), tf.int32)
    step = tf.function(train_batch, jit_compile=True, reduce_retracing=True)
    x_view, y_view = step(x_all, t2.train_y, rows)
    k, p = t2.batch_transform
    x_step, y_step = step(t2.train_x, t2.train_y, rows, k, p)
    assert k is Permute
    np.testing.assert_array_equal(x_view.numpy(), x_step.numpy())
    np.testing.assert_array_equal(y_view.numpy(), y_step.numpy())
    # only the most recent task's copy is kept
    t3.train_view()
    assert list(tensors._VIEW) == [id(t3)]
    # a transform that does not only move pixels keeps the shared pixels and its
    # transform
    r = make_stream(mnist, "rotated", 2, 1004).task_tensors(2)
    xr, kr, _ = r.train_view()
    assert xr is r.train_x and kr is Rotate
    # a training set above MAX_VIEW_BYTES stays shared and is permuted in the step
    monkeypatch.setattr(tensors, "MAX_VIEW_BYTES", 1000)
    t4 = make_stream(mnist, "permuted", 4, 1004).task_tensors(4)
    xp, kp, _ = t4.train_view()
    assert xp is t4.train_x and kp is Permute


# ----------------------------------------------------------------------------- split
def test_split_partitions_the_classes_and_remaps_labels(mnist):
    s = make_stream(mnist, "split", 5, 1004)
    assert s.kind == "split" and s.n_tasks == 5
    assert [s.classes(t).tolist() for t in range(1, 6)] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert isinstance(s.transform(3), Identity)
    ids = mnist.train.class_ids
    seen = []
    for t in range(1, 6):
        assert s.n_outputs(t) == 2
        idx = s.task_index(t, "train")
        assert set(ids[idx]) == set(s.classes(t)) and len(idx) == np.isin(ids, s.classes(t)).sum()
        assert s.n_train(t) == len(idx)
        seen.append(idx)
        tt = s.task_tensors(t)
        np.testing.assert_array_equal(tt.train_index.numpy(), idx)
        assert tt.n_train == len(idx) and tt.batch_transform == (None, {})
        # train_y aligned with train_index, one-hot over the task's two classes
        y = tt.train_y.numpy()
        assert y.shape == (len(idx), 2) and (y.sum(1) == 1).all()
        np.testing.assert_array_equal(s.classes(t)[y.argmax(1)], ids[idx])
        for split, x_t, y_t in (("validation", tt.val_x, tt.val_y), ("test", tt.test_x, tt.test_y)):
            part = getattr(mnist, split)
            keep = np.isin(part.class_ids, s.classes(t))
            np.testing.assert_array_equal(x_t.numpy(), part.images[keep])
            np.testing.assert_array_equal(s.classes(t)[y_t.numpy().argmax(1)], part.class_ids[keep])
        x, y = s.test_set(t)
        assert y.shape[1] == 2 and x.shape[0] == np.isin(mnist.test.class_ids, s.classes(t)).sum()
    every = np.sort(np.concatenate(seen))  # the tasks partition the training set
    np.testing.assert_array_equal(every, np.arange(len(mnist.train)))


def test_split_minibatches_come_from_the_tasks_classes_only(mnist):
    s = make_stream(mnist, "split", 5, 1004)
    tt = s.task_tensors(4)  # classes 6 and 7
    batches = RandomBatches(len(mnist.train), 256, seed=3, xla=False)
    idx = batches.indices("t4_train", 20, pool=tt.n_train)
    assert int(tf.reduce_max(idx)) < tt.n_train
    assert int(tf.reduce_max(idx)) > 0.9 * tt.n_train  # the whole task is drawn from
    for row in idx.numpy():
        x, y = task_batch(tt, row)
        picked = tt.train_index.numpy()[row]
        assert set(mnist.train.class_ids[picked]) <= {6, 7}
        np.testing.assert_array_equal(x.numpy(), mnist.train.images[picked])
        np.testing.assert_array_equal(s.classes(4)[y.numpy().argmax(1)],
                                      mnist.train.class_ids[picked])


def test_split_class_order_shuffled_by_task_seed(mnist):
    a = make_stream(mnist, "split", 5, 7, class_order="shuffled")
    b = make_stream(mnist, "split", 5, 7, class_order="shuffled")
    order = np.random.RandomState(7).permutation(10)
    for t in range(1, 6):
        assert a.classes(t).tolist() == order[2 * t - 2: 2 * t].tolist() == b.classes(t).tolist()


def test_split_settings_are_checked(mnist):
    with pytest.raises(ConfigError, match="cannot be split into 3 tasks"):
        make_stream(mnist, "split", 3)
    with pytest.raises(ConfigError, match="--tasks=bogus"):
        make_stream(mnist, "bogus", 3)
    cfg = DENConfig(task_stream="split")  # 10 tasks of 10 classes: not MNIST
    with pytest.raises(ConfigError, match=r"n_tasks \* n_classes = 10"):
        cfg.validate(784, 10, 55000)
    DENConfig(task_stream="split", n_tasks=5, n_classes=2, dims=(784, 8, 2)).validate(784, 10, 55000)
    with pytest.raises(ConfigError, match="--dataset=svhn"):
        DENConfig(dataset="svhn").validate()
    s = make_stream(mnist, "split", 5)
    with pytest.raises(ConfigError, match="task 1's number of classes 2"):
        check_stream(s, 10, 256)
    with pytest.raises(ConfigError, match="--batch_size=20000: must be at most task 1's"):
        check_stream(s, 2, 20000)


class RecordingBatches(RandomBatches):
    """RandomBatches that remembers the pool and the largest index of every draw."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.draws = []

    def indices(self, phase, n_steps, pool=None):
        out = super().indices(phase, n_steps, pool)
        self.draws.append((phase, pool, int(tf.reduce_max(out))))
        return out


def test_split_run_learns_with_heads_of_the_tasks_classes(mnist):
    cfg = DENConfig(max_iter=100, dims=(784, 64, 32, 5), n_classes=5, n_tasks=2,
                    task_stream="split", train_seed=1, xla=False)
    batches = RecordingBatches(len(mnist.train), cfg.batch_size, seed=1, xla=False)
    trainer = api.make_trainer(cfg, mnist, batches=batches)
    out = api.run(cfg, mnist, trainer=trainer)
    tasks = trainer.tasks
    assert {t: h.n_out for t, h in trainer.network.heads.items()} == {1: 5, 2: 5}
    for phase, pool, top in batches.draws:  # every minibatch within its task's examples
        t = int(phase[1:].split("_")[0])
        assert pool == tasks.n_train(t) and top < pool, (phase, pool, top)
    assert {p.split("_")[0] for p, _, _ in batches.draws} == {"t1", "t2"}
    assert out["tasks_learned"] == 2
    auroc = [s.auroc for s in trainer.scores[-1]]
    assert auroc[0] > 0.95 and auroc[1] > 0.9, auroc
    assert trainer.network.sizes()[0] > 64  # task 2 grew the network


# ----------------------------------------------------------------------------- rotated
def test_rotation_by_90_degrees_is_rot90_and_0_the_identity(mnist):
    x = mnist.test.images[:5]
    ind, w = rotation_tables((28, 28, 1), 90)
    assert set(np.unique(w)) == {0.0, 1.0}  # exact taps at 90 degrees
    np.testing.assert_array_equal(resample_images(x, ind, w).reshape(5, 28, 28),
                                  np.rot90(x.reshape(5, 28, 28), 1, axes=(1, 2)))
    ind, w = rotation_tables((28, 28, 1), 180)
    np.testing.assert_array_equal(resample_images(x, ind, w).reshape(5, 28, 28),
                                  x.reshape(5, 28, 28)[:, ::-1, ::-1])
    ind, w = rotation_tables((28, 28, 1), 0)
    assert is_identity(ind, w)
    np.testing.assert_array_equal(resample_images(x, ind, w), x)
    assert not is_identity(*rotation_tables((28, 28, 1), 90))


def test_rotation_of_colour_images_keeps_channels():
    rng = np.random.RandomState(0)
    img = rng.randint(0, 256, (3, 32, 32, 3)).astype(np.float32)
    ind, w = rotation_tables((32, 32, 3), 90)
    out = resample_images(img.reshape(3, -1), ind, w).reshape(3, 32, 32, 3)
    np.testing.assert_array_equal(out, np.rot90(img, 1, axes=(1, 2)))
    ind, w = rotation_tables((32, 32, 3), 33)
    assert (ind % 3 == np.arange(32 * 32 * 3) % 3).all()  # every tap in its own channel
    # bilinear weights: sum 1 where the source point is inside, taps outside weigh 0
    s = w.sum(0)
    assert s.max() < 1 + 1e-6 and (np.abs(s - 1) < 1e-6).mean() > 0.7 and s.min() == 0


def test_rotation_is_linear_interpolation_between_pixels():
    # a horizontal ramp rotated by any angle keeps the ramp's value at the centre's
    # rotated coordinates where the source point is inside
    ramp = np.tile(np.arange(28, dtype=np.float32), 28)[None]  # value = column
    ind, w = rotation_tables((28, 28, 1), 30)
    out = resample_images(ramp, ind, w).reshape(28, 28)
    r, c = np.mgrid[0:28, 0:28].astype(np.float64)
    a = np.radians(30)
    src_c = 13.5 + (c - 13.5) * np.cos(a) - (r - 13.5) * np.sin(a)
    src_r = 13.5 + (r - 13.5) * np.cos(a) + (c - 13.5) * np.sin(a)
    inside = (src_r >= 0) & (src_r <= 27) & (src_c >= 0) & (src_c <= 27)
    np.testing.assert_allclose(out[inside], src_c[inside], atol=1e-4)


def test_rotated_stream_tensors(mnist):
    s = make_stream(mnist, "rotated", 4, 1004)
    assert s.kind == "rotated" and s.angles == [0.0, 45.0, 90.0, 135.0]
    assert s.n_outputs(2) == 10
    # 0 degrees: the images as they are
    assert s.task_tensors(1).batch_transform == (None, {})
    tr = s.transform(3)
    assert isinstance(tr, Rotate) and tr.degrees == 90.0
    assert tr.indices.shape == (4, 784) and tr.indices.dtype == np.int32
    assert tr.weights.dtype == np.float32
    tt = s.task_tensors(3)
    rot = np.rot90(mnist.test.images.reshape(-1, 28, 28), 1, axes=(1, 2)).reshape(-1, 784)
    np.testing.assert_array_equal(tt.test_x.numpy(), rot)
    np.testing.assert_array_equal(s.test_set(3)[0].numpy(), rot)
    np.testing.assert_array_equal(tt.test_y.numpy(), mnist.test.labels)
    # the training minibatch is rotated inside the compiled (XLA) step, as the runner does
    rows = tf.constant(np.arange(0, 5000, 17)[:256], tf.int32)
    step = tf.function(lambda i: task_batch(tt, i), jit_compile=True)
    x, y = step(rows)
    want = s.transform(2).numpy(mnist.train.images[rows.numpy()])
    want3 = np.rot90(mnist.train.images[rows.numpy()].reshape(-1, 28, 28), 1,
                     axes=(1, 2)).reshape(-1, 784)
    np.testing.assert_array_equal(x.numpy(), want3)
    assert not np.array_equal(want, want3)  # (45 degrees is another image)
    np.testing.assert_array_equal(y.numpy(), mnist.train.labels[rows.numpy()])


def test_rotated_run_learns(mnist):
    cfg = DENConfig(max_iter=100, dims=(784, 64, 32, 10), n_tasks=2, task_stream="rotated",
                    train_seed=1, xla=False)
    trainer = api.make_trainer(cfg, mnist)
    assert trainer.tasks.angles == [0.0, 90.0]
    api.run(cfg, mnist, trainer=trainer)
    auroc = [s.auroc for s in trainer.scores[-1]]
    assert auroc[0] > 0.95 and auroc[1] > 0.9, auroc


# ----------------------------------------------------------------------------- settings
def test_cli_checks_the_split_settings_against_the_data(tmp_path, mnist_dir):
    from tests.conftest import run_main
    p = run_main([f"--data_dir={mnist_dir}", "--tasks=split"], cwd=str(tmp_path))
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1, p.stderr[-2000:]
    assert "--n_classes=10" in err[0] and "n_tasks * n_classes = 10" in err[0], err
    p = run_main([f"--data_dir={mnist_dir}", "--tasks=shuffled"], cwd=str(tmp_path))
    want = "--tasks=shuffled: must be one of permuted, split, rotated"
    assert p.returncode == 2 and want in p.stderr, p.stderr[-2000:]


def test_resuming_a_rotated_run_keeps_its_number_of_tasks():
    from den_tf.errors import CheckpointError
    from den_tf.io.checkpoint import check_compatible
    saved = DENConfig(task_stream="rotated", n_tasks=4)
    check_compatible(saved, saved.replace(xla=False))
    with pytest.raises(CheckpointError, match="--n_tasks=5"):  # the angles would change
        check_compatible(saved, saved.replace(n_tasks=5))
    permuted = DENConfig(n_tasks=4)
    check_compatible(permuted, permuted.replace(n_tasks=5))  # its tasks 1..4 stay the same
    with pytest.raises(CheckpointError, match="--tasks|task_stream"):
        check_compatible(permuted, permuted.replace(task_stream="rotated"))
