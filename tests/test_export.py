"""The exported SavedModel serves the data set's raw images (issue 15, items 2 and 3), and
the two seeds say what they seed (item 1).

A seeded 2-task run is evaluated (`--mode=eval`) and exported (`--mode=export`); the
export lines of docs/usage.md ("Exported model") then run, as they stand there, in a
separate Python where den_tf cannot be imported, on the raw MNIST test images. The folder
is laid out so that the page's paths (`mnist`, `den_savedmodel`) are the real ones.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, run_main

TINY = ["--max_iter=100", "--progress=off", "--figure=false"]
N_PIXELS = 784


def original_permutations(n, seed=1004):
    """The original's task permutations, drawn here with numpy alone."""
    rng = np.random.RandomState(seed)
    return [rng.permutation(N_PIXELS) for _ in range(n)]


def readme_export_code():
    """The Python block of the "Exported model" section of docs/usage.md (it was README's
    until the docs became a site)."""
    text = open(os.path.join(ROOT, "docs", "usage.md"), encoding="utf-8").read()
    section = text[text.index("\n## Exported model\n"):]
    section = section[:section.find("\n## ", 1)]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, mnist_dir):
    """work/mnist -> the data; work: a 2-task run, its eval and its export."""
    work = tmp_path_factory.mktemp("export") / "work"
    work.mkdir()
    os.symlink(os.path.abspath(mnist_dir), work / "mnist")
    data = "--data_dir=mnist"
    p = run_main([data, "--n_tasks=2", "--train_seed=21", "--checkpoint_dir=ck",
                  "--log_file=run.log"] + TINY, cwd=str(work))
    assert p.returncode == 0, p.stderr[-2000:]
    p = run_main([data, "--mode=eval", "--checkpoint_dir=ck", "--log_file=eval.log",
                  "--results=eval.json"], cwd=str(work))
    assert p.returncode == 0, p.stderr[-2000:]
    p = run_main([data, "--mode=export", "--checkpoint_dir=ck", "--export_dir=den_savedmodel",
                  "--log_file=export.log"], cwd=str(work))
    assert p.returncode == 0, p.stderr[-2000:]
    return work


# What the separate process adds after the page's lines: AUROC in numpy (no den_tf, no
# sklearn), what the model carries, and the transformed signature on given inputs.
CHECKS = '''
import json
with gzip.open("mnist/t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)

def auroc(score, positive):  # Mann-Whitney statistic, ties at their mid-rank
    order = np.argsort(score, kind="stable")
    s, pos = score[order], positive[order]
    _, first, count = np.unique(s, return_index=True, return_counts=True)
    rank = np.repeat(first + (count + 1) / 2.0, count)
    n_pos = pos.sum()
    return (rank[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * (len(pos) - n_pos))

transformed = model.signatures["serve_transformed"]
for t in range(1, n_tasks + 1):
    np.save(f"raw{t}.npy", probabilities[t][:64])
    x = tf.constant(np.load(f"x{t}.npy"))
    np.save(f"transformed{t}.npy", transformed(images=x, task_id=tf.constant(t))["probabilities"].numpy())
try:
    serve(images=tf.constant(images[:2]), task_id=tf.constant(n_tasks + 1))
    beyond = "served"
except tf.errors.InvalidArgumentError as e:
    beyond = e.message
json.dump({"auroc": [float(np.mean([auroc(probabilities[t][:, c], labels == c) for c in range(10)]))
                     for t in range(1, n_tasks + 1)],
           "images": [str(images.dtype), float(images.min()), float(images.max())],
           "kinds": [k.decode() for k in model.transform_kinds.numpy()],
           "permutations": model.permutations.numpy().tolist(),
           "permutations_dtype": model.permutations.dtype.name,
           "timestamps": model.timestamps.numpy().tolist(),
           "beyond": beyond}, open("served.json", "w"))
'''


@pytest.fixture(scope="module")
def served(exported, mnist):
    """The page's export lines and CHECKS in a fresh Python without den_tf; and the live
    model."""
    from den_tf import api
    from den_tf.datasets.streams import make_tasks
    from den_tf.io import checkpoint
    folder = checkpoint.latest(str(exported / "ck"))
    cfg = checkpoint.saved_config(folder)
    tasks = make_tasks(mnist, cfg.tasks, cfg.task_seed)
    trainer = api.restore(folder, cfg, tasks)
    live = {}
    for t in (1, 2):
        x = tasks.transform(t).numpy(mnist.test.images)[:64]
        np.save(exported / f"x{t}.npy", x)
        live[t] = 1 / (1 + np.exp(-trainer.network.logits(x, t).numpy().astype(np.float64)))
    code = "import sys; sys.modules['den_tf'] = None\n" + readme_export_code() + CHECKS
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=exported, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.load(open(exported / "served.json"))
    out["live"], out["trainer"], out["tasks"] = live, trainer, tasks
    return out


def test_raw_test_images_give_the_eval_modes_auroc(exported, served):
    assert served["images"][0] == "float32" and served["images"][1:] == [0.0, 1.0]
    want = json.load(open(exported / "eval.json"))["auroc_matrix"][-1]
    assert len(want) == 2 and min(want) > 0.9
    np.testing.assert_allclose(served["auroc"], want, atol=1e-4)
    printed = [float(v) for v in re.findall(r"Evaluation, Task:\d, test_acc: (\d\.\d{4})",
                                            (exported / "eval.log").read_text())]
    np.testing.assert_allclose(served["auroc"], printed, atol=5e-5 + 1e-6)


def test_transformed_signature_agrees_with_the_live_model(exported, served):
    for t in (1, 2):
        got = np.load(exported / f"transformed{t}.npy")
        assert got.shape == (64, 10)
        np.testing.assert_allclose(got, served["live"][t], atol=1e-6)
        # the raw signature on unpermuted images: the same outputs
        np.testing.assert_allclose(np.load(exported / f"raw{t}.npy"), got, atol=1e-5)


def test_model_carries_each_tasks_transform_and_timestamp(served):
    assert served["kinds"] == ["permute", "permute"]
    assert served["permutations_dtype"] == "int32"
    perms = np.array(served["permutations"])
    assert perms.shape == (2, N_PIXELS)
    np.testing.assert_array_equal(perms, np.array(served["tasks"].permutations))
    np.testing.assert_array_equal(perms, np.array(original_permutations(2)))
    stamps = served["trainer"].network.stamps
    assert served["timestamps"] == [list(stamps[1]), list(stamps[2])]
    assert served["timestamps"][1][1] > 312  # task 2 expanded: the stamps differ
    assert "task_id above the number of tasks learned" in served["beyond"]


# ----------------------------------------------------------------- the export library

def test_export_checks_the_transforms(tmp_path):
    from den_tf.io.export import export
    from tests.helpers import toy_network
    net = toy_network()  # one task, 20 inputs
    net.stamps[1] = net.stamp(1)
    for transforms, msg in (
            ([], "1 tasks learned but 0 input transforms given"),
            ([{"kind": "blur", "sigma": 1}], "task 1: unknown input transform kind 'blur'"),
            ([{"kind": "rotate", "degrees": 30}], 'task 1: a "rotate" transform needs'),
            ([{"kind": "permute"}], 'task 1: a "permute" transform needs a "permutation"'),
            ([{"kind": "permute", "permutation": [0] * 20}], "task 1: the permutation must"),
            ([{"kind": "permute", "permutation": np.arange(19)}], "task 1: the permutation must")):
        with pytest.raises(ValueError, match=re.escape(msg)):
            export(net, str(tmp_path / "m"), transforms)
    assert not (tmp_path / "m").exists()


def test_identity_and_permute_tasks_in_one_model(tmp_path):
    """A mixed stream: identity rows of `permutations` are 0..n-1; each task's raw
    signature equals the transformed one on the images it describes."""
    import tensorflow as tf

    from den_tf.io.export import export
    from tests.helpers import toy_init, toy_network
    net = toy_network()
    net.stamps[1] = net.stamp(1)
    init = toy_init(3)
    net.add_head(2, init.glorot("h2", (net.hidden[-1].n_out, 10)), init.glorot("b2", (10,)))
    net.stamps[2] = net.stamp(2)
    perm = np.random.RandomState(0).permutation(20)
    export(net, str(tmp_path / "m"), [{"kind": "identity"},
                                      {"kind": "permute", "permutation": perm},
                                      {"kind": "identity"}])  # a longer stream: fine
    m = tf.saved_model.load(str(tmp_path / "m"))
    assert [k.decode() for k in m.transform_kinds.numpy()] == ["identity", "permute"]
    np.testing.assert_array_equal(m.permutations.numpy(), [np.arange(20), perm])
    x = np.random.RandomState(1).rand(5, 20).astype(np.float32)
    raw, transformed = m.signatures["serving_default"], m.signatures["serve_transformed"]
    for t, seen in ((1, x), (2, x[:, perm])):
        want = 1 / (1 + np.exp(-net.logits(seen, t).numpy()))
        got = raw(images=tf.constant(x), task_id=tf.constant(t))["probabilities"].numpy()
        np.testing.assert_allclose(got, want, atol=1e-6)
        got = transformed(images=tf.constant(seen), task_id=tf.constant(t))["probabilities"]
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    # task 2's raw signature is not the identity: unpermuted images give other outputs
    assert not np.allclose(raw(images=tf.constant(x), task_id=tf.constant(2))["probabilities"],
                           transformed(images=tf.constant(x), task_id=tf.constant(2))["probabilities"])


def test_timestamps_record_each_heads_real_width_and_the_pixel_rule_holds(tmp_path):
    """Issue 29: a head of 3 outputs is recorded as 3 (the network's stamp keeps the
    original's literal 10, spec Q12); float images outside [0, 1] are refused by both
    float signatures, uint8 images served by serve_uint8 as their /255 floats."""
    import tensorflow as tf

    from den_tf.io.export import PIXEL_RULE, export
    from tests.helpers import toy_init, toy_network
    net = toy_network()  # task 1: a head of 10
    net.stamps[1] = net.stamp(1)
    init = toy_init(3)
    net.add_head(2, init.glorot("h2", (net.hidden[-1].n_out, 3)), init.glorot("b2", (3,)))
    net.stamps[2] = net.stamp(2)
    assert net.stamps[2][-1] == 10  # the log's stamp
    m = tf.saved_model.load(export(net, str(tmp_path / "m"), [{"kind": "identity"}] * 2))
    assert m.timestamps.numpy().tolist() == [net.stamps[1], net.stamps[2][:-1] + [3]]
    x = (np.random.RandomState(1).rand(5, 20) * 255).astype(np.uint8)
    for name in ("serving_default", "serve_transformed"):
        with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(PIXEL_RULE)):
            m.signatures[name](images=tf.constant(x.astype(np.float32)), task_id=tf.constant(2))
    raw = m.signatures["serving_default"](images=tf.constant(x / np.float32(255)),
                                          task_id=tf.constant(2))["probabilities"].numpy()
    u8 = m.signatures["serve_uint8"](images=tf.constant(x), task_id=tf.constant(2))
    assert raw.shape == (5, 3)
    np.testing.assert_allclose(u8["probabilities"].numpy(), raw, rtol=0, atol=1e-6)
    np.testing.assert_allclose(raw, 1 / (1 + np.exp(-net.logits(x / np.float32(255), 2).numpy())),
                               atol=1e-6)


# ----------------------------------------------------------------- seeds (item 1)

@pytest.fixture(scope="module")
def one_task_runs(tmp_path_factory, mnist_dir):
    """1-task runs next to the 2-task one (task_seed 1004, train_seed 21): another
    training seed; another task seed; the deprecated --seed (= --train_seed=22)."""
    out = {}
    for name, args in (("train22", ["--train_seed=22", "--export_dir=sm"]),
                       ("task5", ["--train_seed=21", "--task_seed=5", "--export_dir=sm"]),
                       ("seed22", ["--seed=22"])):
        d = tmp_path_factory.mktemp(name)
        p = run_main([f"--data_dir={mnist_dir}", "--n_tasks=1", "--checkpoints=false",
                      "--log_file=run.log", "--results=run.json"] + TINY + args, cwd=str(d))
        assert p.returncode == 0, p.stderr[-2000:]
        out[name] = {"dir": d, "stderr": p.stderr,
                     "results": json.load(open(d / "run.json"))}
    return out


def carried_permutations(folder):
    import tensorflow as tf
    return tf.saved_model.load(str(folder)).permutations.numpy()


def test_another_training_seed_keeps_the_tasks(exported, one_task_runs):
    run = one_task_runs["train22"]
    base = json.load(open(exported / "run.json"))
    assert run["results"]["config"]["task_seed"] == 1004
    # the training did change (other initial values and minibatches) ...
    assert run["results"]["auroc_matrix"][0][0] != base["auroc_matrix"][0][0]
    # ... and the task did not
    np.testing.assert_array_equal(carried_permutations(run["dir"] / "sm"),
                                  carried_permutations(exported / "den_savedmodel")[:1])


def test_another_task_seed_changes_the_tasks(exported, one_task_runs):
    got = carried_permutations(one_task_runs["task5"]["dir"] / "sm")
    np.testing.assert_array_equal(got, original_permutations(1, seed=5))
    assert not np.array_equal(got[0], original_permutations(1)[0])


def test_deprecated_seed_warns_and_is_the_training_seed(one_task_runs):
    old, new = one_task_runs["seed22"], one_task_runs["train22"]
    warning = ("den_tf: warning: --seed is deprecated: it now sets only the training "
               "randomness, as --train_seed=22 (the tasks keep --task_seed=1004); use "
               "--train_seed and --task_seed")
    assert [l for l in old["stderr"].splitlines() if "warning" in l] == [warning]
    assert "warning" not in new["stderr"]
    assert f" [den_tf] {warning[len('den_tf: '):]}" in (old["dir"] / "run.log").read_text()
    for r in (old, new):
        r["results"].pop("timing")
    assert old["results"] == new["results"]  # bit for bit the run of --train_seed=22


def test_seed_with_train_seed_is_refused(tmp_path, mnist_dir):
    p = run_main([f"--data_dir={mnist_dir}", "--seed=3", "--train_seed=4"], cwd=str(tmp_path))
    assert p.returncode == 2
    assert p.stderr == ("den_tf: error: --seed=3: deprecated, and --train_seed=4 is given "
                        "too; give --train_seed only\n")
    assert not os.listdir(tmp_path)  # refused before any work


def test_help_documents_both_seeds(tmp_path):
    p = run_main(["--help"], cwd=str(tmp_path))
    assert p.returncode == 0 and p.stderr == ""
    text = " ".join(p.stdout.split())
    assert "--task_seed: Seed of the task stream: the tasks' pixel permutations" in text
    assert "--train_seed: Seed of the training randomness" in text
    assert "--seed: Deprecated" in text and "(default: '1004')" in text


def test_rotated_stream_exports_its_resampling(tmp_path, mnist):
    """A rotated task's SavedModel applies the stream's own rotation to raw images and
    carries its tables and angle."""
    import tensorflow as tf

    from den_tf.datasets.streams import make_stream
    from den_tf.io.export import export, task_transforms
    from den_tf.model.network import DENNetwork
    from tests.helpers import toy_init
    stream = make_stream(mnist, "rotated", n_tasks=2, task_seed=1)
    net = DENNetwork.create((784, 16, 8, 10), toy_init(0))
    net.stamps[1] = net.stamp(1)
    net.add_head(2, toy_init(1).glorot("h", (8, 10)), toy_init(1).glorot("b", (10,)))
    net.stamps[2] = net.stamp(2)
    path = export(net, str(tmp_path / "m"), task_transforms(stream))
    m = tf.saved_model.load(path)
    raw = mnist.test.images[:32]
    for t in (1, 2):
        x, _ = stream.task_images(t, "test")
        want = tf.sigmoid(net.logits(x[:32], t)).numpy()
        got = m.signatures["serving_default"](images=tf.constant(raw),
                                              task_id=tf.constant(t))["probabilities"]
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5)
    assert m.transform_kinds.numpy().tolist() == [b"rotate", b"rotate"]
    assert m.rotation_degrees.numpy().tolist() == [0.0, 90.0]
