"""Data set loaders: CIFAR-10/100 python-version archives and folders (synthetic, written
here in the real format: the real data cannot be downloaded on the test machine), each
fault as one line naming the file; Fashion-MNIST's IDX files; the no-network message."""

import collections
import gzip
import io
import os
import pickle
import re
import tarfile

import numpy as np
import pytest

from den_tf.datasets import cifar, fetch, load_dataset
from den_tf.datasets.cifar import read_cifar, write_cifar_folder
from den_tf.errors import DataError
from tests.conftest import run_main

N_PER_BATCH, N_TEST, VAL = 30, 10, 50
REAL = {  # the real archives' layout
    "cifar10": dict(archive="cifar-10-python.tar.gz", folder="cifar-10-batches-py",
                    train=[f"data_batch_{i}" for i in range(1, 6)], test=["test_batch"],
                    extra=["batches.meta", "readme.html"], key=b"labels", classes=10),
    "cifar100": dict(archive="cifar-100-python.tar.gz", folder="cifar-100-python",
                     train=["train"], test=["test"], extra=["meta", "file.txt~"],
                     key=b"fine_labels", classes=100),
}


def planes(images):
    """[n, 32, 32, 3] -> CIFAR's rows: the red plane, then green, then blue (32x32 each)."""
    n = len(images)
    return np.concatenate([images[:, :, :, c].reshape(n, 1024) for c in range(3)], axis=1)


def member_bytes(name, images, labels, spec):
    d = {b"batch_label": b"synthetic batch", spec["key"]: [int(v) for v in labels],
         b"data": planes(images), b"filenames": [b"img_%d.png" % i for i in range(len(labels))]}
    if name == "cifar100":
        d[b"coarse_labels"] = [int(v) // 5 for v in labels]
    return pickle.dumps(d, protocol=2)


def synthetic(name, seed=0, n_per_batch=N_PER_BATCH, n_test=N_TEST):
    """{member: bytes} of a small data set in the real layout, and the images/labels."""
    spec = REAL[name]
    rng = np.random.RandomState(seed)
    n_train = n_per_batch * 5  # CIFAR-100's one train file holds as many as CIFAR-10's five
    x = rng.randint(0, 256, (n_train + n_test, 32, 32, 3)).astype(np.uint8)
    y = rng.randint(0, spec["classes"], n_train + n_test)
    members = {}
    chunks = np.array_split(np.arange(n_train), len(spec["train"]))
    for m, idx in zip(spec["train"], chunks):
        members[m] = member_bytes(name, x[idx], y[idx], spec)
    members[spec["test"][0]] = member_bytes(name, x[n_train:], y[n_train:], spec)
    for m in spec["extra"]:
        members[m] = b"not read"
    return members, x, y, n_train


def write_archive(path, name, members):
    spec = REAL[name]
    with tarfile.open(path, "w:gz") as tar:
        for m, data in members.items():
            info = tarfile.TarInfo(f"{spec['folder']}/{m}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_folder(d, name, members):
    folder = d / REAL[name]["folder"]
    folder.mkdir(parents=True)
    for m, data in members.items():
        (folder / m).write_bytes(data)
    return folder


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("form", ["archive", "folder"])
def test_cifar_reads_the_real_layout(tmp_path, name, form):
    members, x, y, n_train = synthetic(name)
    if form == "archive":
        write_archive(tmp_path / REAL[name]["archive"], name, members)
    else:
        write_folder(tmp_path, name, members)
    d = read_cifar(str(tmp_path), name, validation_size=VAL)
    assert d.name == name and d.image_shape == (32, 32, 3) and d.input_size == 3072
    assert d.n_classes == REAL[name]["classes"]
    assert (len(d.validation), len(d.train), len(d.test)) == (VAL, n_train - VAL, N_TEST)
    assert d.train.pixels.dtype == np.uint8
    # channel-last, flattened: pixel (r, c), channel ch at (r * 32 + c) * 3 + ch
    flat = x.reshape(len(x), 3072)
    np.testing.assert_array_equal(d.validation.pixels, flat[:VAL])  # TF1: the FIRST ones
    np.testing.assert_array_equal(d.train.pixels, flat[VAL:n_train])
    np.testing.assert_array_equal(d.test.pixels, flat[n_train:])
    assert d.train.pixels[7, (5 * 32 + 9) * 3 + 2] == x[VAL + 7, 5, 9, 2]
    np.testing.assert_array_equal(d.train.class_ids, y[VAL:n_train])
    np.testing.assert_array_equal(d.test.labels.argmax(1), y[n_train:])
    assert d.test.labels.dtype == np.float32 and (d.test.labels.sum(1) == 1).all()


def test_cifar_folder_is_preferred_and_writer_round_trips(tmp_path):
    members, x, y, n_train = synthetic("cifar10")
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"broken archive, never read")
    write_cifar_folder(str(tmp_path), "cifar10", (x[:n_train], y[:n_train]),
                       (x[n_train:], y[n_train:]))
    assert sorted(os.listdir(tmp_path / "cifar-10-batches-py")) == sorted(
        REAL["cifar10"]["train"] + REAL["cifar10"]["test"])
    d = read_cifar(str(tmp_path), "cifar10", validation_size=VAL)
    np.testing.assert_array_equal(d.validation.pixels, x[:VAL].reshape(VAL, 3072))
    np.testing.assert_array_equal(d.test.class_ids, y[n_train:])


def replace(members, name, content):
    out = dict(members)
    out[name] = content
    return out


def bad_batch(**entries):
    d = {b"data": np.zeros((30, 3072), np.uint8), b"labels": [0] * 30}
    for k, v in entries.items():
        if v is None:
            d.pop(k.encode())
        else:
            d[k.encode()] = v
    return pickle.dumps(d, protocol=2)


# name, how the archive is broken (members -> members, or raw bytes), words of the message
BAD_ARCHIVES = {
    "not-a-tar": ("cifar10", lambda m: b"this is not an archive at all" * 10,
                  ["cifar-10-python.tar.gz", "not a tar.gz archive"]),
    "gzip-but-not-tar": ("cifar10", lambda m: gzip.compress(b"hello" * 300),
                         ["cifar-10-python.tar.gz", "not a tar.gz archive"]),
    "truncated": ("cifar100", "truncate", ["cifar-100-python.tar.gz", "truncated"]),
    "missing-member": ("cifar10", lambda m: {k: v for k, v in m.items() if k != "data_batch_3"},
                       ["cifar-10-python.tar.gz", "member cifar-10-batches-py/data_batch_3 missing"]),
    "missing-test": ("cifar100", lambda m: {k: v for k, v in m.items() if k != "test"},
                     ["cifar-100-python.tar.gz", "member cifar-100-python/test missing"]),
    "not-a-pickle": ("cifar10", lambda m: replace(m, "data_batch_2", b"plain text"),
                     ["data_batch_2", "bad pickle"]),
    "pickle-runs-code": ("cifar10", lambda m: replace(m, "test_batch",
                                                      pickle.dumps(collections.Counter("ab"))),
                         ["test_batch", "bad pickle", "collections.Counter"]),
    "not-a-dict": ("cifar10", lambda m: replace(m, "data_batch_1", pickle.dumps([1, 2, 3])),
                   ["data_batch_1", "not a CIFAR batch", "list"]),
    "no-data": ("cifar10", lambda m: replace(m, "data_batch_4", bad_batch(data=None)),
                ["data_batch_4", "no 'data' entry"]),
    "no-fine-labels": ("cifar100", lambda m: replace(m, "train", bad_batch()),
                       ["cifar-100-python/train", "no 'fine_labels' entry"]),
    "wrong-width": ("cifar10", lambda m: replace(m, "data_batch_5",
                                                 bad_batch(data=np.zeros((30, 3000), np.uint8))),
                    ["data_batch_5", "uint8 [30, 3000]", "expected uint8 [n, 3072]"]),
    "wrong-dtype": ("cifar10", lambda m: replace(m, "data_batch_5",
                                                 bad_batch(data=np.zeros((30, 3072), np.int64))),
                    ["data_batch_5", "int64 [30, 3072]", "expected uint8"]),
    "label-count": ("cifar10", lambda m: replace(m, "test_batch", bad_batch(labels=[1] * 29)),
                    ["test_batch", "29 labels for 30 images"]),
    "label-out-of-range": ("cifar10", lambda m: replace(m, "data_batch_1",
                                                        bad_batch(labels=[3] * 29 + [10])),
                           ["data_batch_1", "label 10 out of range (labels are 0..9)"]),
    "label-negative": ("cifar10", lambda m: replace(m, "data_batch_1",
                                                    bad_batch(labels=[-1] + [3] * 29)),
                       ["data_batch_1", "label -1 out of range"]),
    "cifar100-label-out-of-range": (
        "cifar100", lambda m: replace(m, "test", pickle.dumps(
            {b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [99, 100]}, protocol=2)),
        ["cifar-100-python/test", "label 100 out of range (labels are 0..99)"]),
    "labels-not-integers": ("cifar10", lambda m: replace(m, "data_batch_1",
                                                         bad_batch(labels=["a"] * 30)),
                            ["data_batch_1", "'labels' is not a list of integers"]),
}


def one_line(e):
    msg = str(e.value)
    assert "\n" not in msg and msg.strip() == msg
    return msg


@pytest.mark.parametrize("case", list(BAD_ARCHIVES))
def test_cifar_bad_archive_is_one_line_naming_file_and_fault(tmp_path, case):
    name, breaker, needles = BAD_ARCHIVES[case]
    members = synthetic(name)[0]
    path = tmp_path / REAL[name]["archive"]
    if breaker == "truncate":
        raw = open(write_archive(path, name, members), "rb").read()
        path.write_bytes(raw[: len(raw) // 2])
    else:
        broken = breaker(members)
        if isinstance(broken, bytes):
            path.write_bytes(broken)
        else:
            write_archive(path, name, broken)
    with pytest.raises(DataError) as e:
        read_cifar(str(tmp_path), name, validation_size=VAL)
    msg = one_line(e)
    for n in needles:
        assert n in msg, (n, msg)


@pytest.mark.parametrize("case", ["missing-member", "not-a-pickle", "label-out-of-range",
                                  "no-fine-labels"])
def test_cifar_bad_folder_is_one_line_naming_file_and_fault(tmp_path, case):
    name, breaker, needles = BAD_ARCHIVES[case]
    write_folder(tmp_path, name, breaker(synthetic(name)[0]))
    with pytest.raises(DataError) as e:
        read_cifar(str(tmp_path), name, validation_size=VAL)
    msg = one_line(e)
    assert os.path.join(str(tmp_path), REAL[name]["folder"]) in msg, msg
    fault = {"missing-member": "data_batch_3: file not found"}.get(case, needles[-1])
    assert fault in msg, msg


def test_cifar_needs_more_training_images_than_tf1_sets_aside(tmp_path):
    write_folder(tmp_path, "cifar10", synthetic("cifar10")[0])
    with pytest.raises(DataError) as e:
        read_cifar(str(tmp_path), "cifar10")  # 150 images, TF1 sets aside 5000
    assert "150 training images, need more than the 5000" in one_line(e)


@pytest.mark.parametrize("name,files", [("cifar10", "cifar-10-python.tar.gz"),
                                        ("cifar100", "cifar-100-python.tar.gz"),
                                        ("mnist", "train-images-idx3-ubyte.gz"),
                                        ("fashion_mnist", "t10k-labels-idx1-ubyte.gz")])
def test_no_files_and_no_network_is_one_fast_line(tmp_path, monkeypatch, name, files):
    # no connection is even tried: every route's host is unreachable
    tried = []
    monkeypatch.setattr(fetch, "reachable", lambda *a, **k: tried.append(a) or False)
    where = tmp_path / "nowhere"
    with pytest.raises(DataError) as e:
        load_dataset(name, str(where))
    msg = one_line(e)
    assert str(where) in msg and files in msg and "cannot be reached" in msg, msg
    assert tried and not where.exists()  # checked the hosts; nothing half-made left


@pytest.mark.parametrize("name,routes,leftover", [
    ("mnist", ("_fetch_with_tfds", "_fetch_with_keras"), ".downloads"),
    ("cifar10", ("_fetch_with_tfds_download", "_fetch_with_tfds_load"), ".tfds")])
def test_fetching_tries_every_route_in_turn_and_leaves_nothing(tmp_path, monkeypatch, name,
                                                               routes, leftover):
    from den_tf.datasets import idx
    module = idx if name == "mnist" else cifar
    monkeypatch.setattr(fetch, "reachable", lambda *a, **k: True)
    calls = []

    def failing(error):
        def route(data_dir, source):
            calls.append(error.__name__)
            os.makedirs(os.path.join(data_dir, leftover), exist_ok=True)  # half-made work
            raise error("no")
        return route

    monkeypatch.setattr(module, routes[0], failing(OSError))
    monkeypatch.setattr(module, routes[1], failing(ValueError))
    where = tmp_path / "new"
    with pytest.raises(DataError) as e:
        load_dataset(name, str(where))
    msg = one_line(e)
    assert calls == ["OSError", "ValueError"] and not where.exists(), (calls, msg)
    assert re.search(r", and fetching (it|them) failed \(.+: OSError; .+: ValueError\)$", msg), msg
    # the first route that works ends the search (here it writes nothing: read fails)
    calls.clear()
    monkeypatch.setattr(module, routes[0], lambda data_dir, source: calls.append("first"))
    with pytest.raises(DataError, match="not found"):
        load_dataset(name, str(where))
    assert calls == ["first"]


def test_cli_cifar_without_files_or_network_is_one_line(tmp_path):
    if fetch.reachable(cifar.CIFAR_HOST, timeout=2):
        pytest.skip("this machine reaches www.cs.toronto.edu: the CLI would download CIFAR")
    p = run_main([f"--data_dir={tmp_path / 'none'}", "--dataset=cifar100"], cwd=str(tmp_path),
                 timeout=60)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(err) == 1, p.stderr[-2000:]
    assert "cifar-100-python.tar.gz" in err[0] and "cannot be reached" in err[0], err


def test_cli_loads_cifar_and_checks_dims_against_it(tmp_path):
    # enough training images for TF1's split (5000 set aside); fails at the settings
    members = synthetic("cifar10", n_per_batch=1004)[0]
    write_folder(tmp_path, "cifar10", members)
    p = run_main([f"--data_dir={tmp_path}", "--dataset=cifar10"], cwd=str(tmp_path))
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1, p.stderr[-2000:]
    assert "--dims=784,312,128,10" in err[0] and "input size 3072" in err[0], err


# ----------------------------------------------------------------------------- Fashion-MNIST
def test_fashion_mnist_reads_its_idx_files(fashion_mnist_dir, mnist):
    d = load_dataset("fashion_mnist", fashion_mnist_dir, download=False)
    assert d.name == "fashion_mnist" and d.image_shape == (28, 28, 1)
    assert (len(d.train), len(d.validation), len(d.test)) == (55000, 5000, 10000)
    assert d.n_classes == 10
    # Fashion-MNIST's well-known training mean (0.2860), not MNIST's (0.1307)
    allpix = np.concatenate([d.validation.pixels, d.train.pixels])
    assert allpix.mean(dtype=np.float64) / 255 == pytest.approx(0.2860, abs=5e-4)
    assert d.validation.class_ids[0] == 9  # the first training image is an ankle boot
    assert np.bincount(d.test.class_ids).tolist() == [1000] * 10


def test_cli_runs_a_fashion_mnist_task(tmp_path, fashion_mnist_dir):
    import json
    p = run_main([f"--data_dir={fashion_mnist_dir}", "--dataset=fashion_mnist", "--n_tasks=1",
                  "--max_iter=100", "--train_seed=1", "--dims=784,64,32,10", "--log_file=f.log",
                  "--results=f.json", "--nofigure", "--nocheckpoints"], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads((tmp_path / "f.json").read_text())
    assert out["config"]["dataset"] == "fashion_mnist" and out["tasks_learned"] == 1
    assert "Task: 1, nn_test_loss" in p.stdout
    # learned something on Fashion-MNIST (chance is 0.5), in 100 steps
    assert out["final_avg_perf"] > 0.9


def test_cifar_from_tfds_load_is_put_back_in_the_files_order(tmp_path, monkeypatch):
    # tfds.load's route (used when the python archive cannot be downloaded) gives the
    # examples in its own order with their ids; the folder written must be in the files'
    # order, so that TF1's validation split is the first 5000 of data_batch_1.
    import sys
    import types
    rng = np.random.RandomState(1)
    n_train, n_test = 5005, 7
    images = rng.randint(0, 256, (n_train + n_test, 32, 32, 3)).astype(np.uint8)
    labels = rng.randint(0, 10, n_train + n_test)
    ids = np.array([b"train_%05d" % i for i in range(n_train)]
                   + [b"test_%05d" % i for i in range(n_test)], dtype=object)
    calls = []

    def load(name, split, batch_size, data_dir, try_gcs):
        calls.append((name, split))
        sel = np.arange(n_train) if split == "train" else np.arange(n_train, n_train + n_test)
        sel = rng.permutation(sel)  # tfds' own order
        return {"id": ids[sel], "image": images[sel], "label": labels[sel]}

    fake = types.SimpleNamespace(load=load, as_numpy=lambda d: d)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    cifar._fetch_with_tfds_load(str(tmp_path), cifar.LAYOUTS["cifar10"])
    assert calls == [("cifar10", "train"), ("cifar10", "test")]
    d = read_cifar(str(tmp_path), "cifar10")
    flat = images.reshape(len(images), 3072)
    np.testing.assert_array_equal(d.validation.pixels, flat[:5000])
    np.testing.assert_array_equal(d.train.pixels, flat[5000:n_train])
    np.testing.assert_array_equal(d.test.pixels, flat[n_train:])
    np.testing.assert_array_equal(d.train.class_ids, labels[5000:n_train])


def test_cli_runs_convolutional_den_on_a_cifar100_split(tmp_path):
    """README's CIFAR-100 command on a small synthetic CIFAR-100 folder (32x32x3 images in
    the real layout), cut to 2 tasks of 50 classes and 3 iterations per phase: the
    convolutional network is built for 32x32x3 images (flatten 50 x 5 x 5), both tasks
    are learned with heads of 50 classes, and task 2 grows the network."""
    import json
    # 5100 training images (100 after TF1's 5000); 1000 test images: every class has some
    members = synthetic("cifar100", n_per_batch=1020, n_test=1000)[0]
    write_folder(tmp_path, "cifar100", members)
    results = tmp_path / "run.json"
    p = run_main([f"--data_dir={tmp_path}", "--dataset=cifar100", "--tasks=split",
                  "--n_tasks=2", "--n_classes=50", "--dims=50", "--arch=lenet",
                  "--spl_thr=0.002", "--spl_thr_conv=0.02", "--noxla", "--max_iter=3",
                  "--batch_size=16", "--train_seed=1", "--nofigure", "--nocheckpoints",
                  f"--log_file={tmp_path / 'run.log'}", f"--results={results}"],
                 cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(results.read_text())
    assert r["complete"] and len(r["auroc_matrix"]) == 2
    assert all(0.0 <= x <= 1.0 for x in r["auroc_matrix"][-1])
    first, last = r["units_per_layer"]
    assert first == [20, 50, 800, 500] and len(last) == 4
    assert sum(last) > sum(first), r["units_per_layer"]  # task 2 expanded (loss far above 0.01)
