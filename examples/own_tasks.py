"""DEN on your own tasks: three tasks of Fashion-MNIST class groups, built from numpy
arrays, then the same from tf.data; learned with DEN and with a baseline through the
model object; save / load and learning on after the load, predictions and a SavedModel.

    python examples/own_tasks.py --data_dir=PATH/TO/fashion-mnist [--max_iter=300]

(with den_tf installed, `pip install .`; in a checkout, `PYTHONPATH=. python examples/...`).

PATH/TO/fashion-mnist holds Fashion-MNIST's four IDX files (Debian's
dataset-fashion-mnist puts them in /usr/share/datasets/fashion-mnist). Any arrays do:
images as uint8 0..255 or floats in [0, 1], flat [n, d] or [n, H, W, C]; labels as
integer class ids or one-hot rows.
"""

import argparse
import os
import tempfile

import numpy as np
import tensorflow as tf

import den_tf
from den_tf.datasets import from_arrays, from_datasets, load_dataset


def arrays(data_dir):
    """(train images, train labels, test images, test labels) as plain numpy arrays."""
    d = load_dataset("fashion_mnist", data_dir)
    x = np.concatenate([d.validation.pixels, d.train.pixels])  # uint8 [60000, 784]
    y = np.concatenate([d.validation.class_ids, d.train.class_ids])  # int [60000]
    return x.reshape(-1, 28, 28, 1), y, d.test.pixels.reshape(-1, 28, 28, 1), d.test.class_ids


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--max_iter", type=int, default=300)
    p.add_argument("--per_class", type=int, default=0,
                   help="training examples per class (0: all)")
    p.add_argument("--out", default="")
    a = p.parse_args(argv)
    out = a.out or tempfile.mkdtemp(prefix="den_tf_example_")
    x, y, xt, yt = arrays(a.data_dir)

    # Three tasks with different numbers of classes: {T-shirt, Trouser},
    # {Pullover, Dress, Coat}, {Sandal, Shirt}.
    groups = [[0, 1], [2, 3, 4], [5, 6]]
    tasks = []
    for g in groups:
        keep = np.flatnonzero(np.isin(y, g))
        if a.per_class:
            keep = np.concatenate([np.flatnonzero(y == c)[:a.per_class] for c in g])
        test = np.isin(yt, g)
        tasks.append({"train": (x[keep], y[keep]), "test": (xt[test], yt[test])})
    stream = from_arrays(tasks)  # validation: a seeded 10% of each task's training set

    # The same tasks from tf.data: any Dataset of (image, label), batched or not.
    ds = [{"train": tf.data.Dataset.from_tensor_slices(t["train"]).batch(512),
           "test": tf.data.Dataset.from_tensor_slices(t["test"]).batch(512)} for t in tasks]
    stream_tf = from_datasets(ds)

    model = den_tf.DEN(max_iter=a.max_iter, train_seed=1)
    model.learn_task(stream)  # task 1 (then every task learned so far is evaluated)
    model.learn_task()        # task 2 of the same stream
    model.save(os.path.join(out, "den"))
    again = den_tf.load(os.path.join(out, "den"))
    same = np.array_equal(again.predict(xt[:5], task=2).scores,
                          model.predict(xt[:5], task=2).scores)
    print("saved and loaded: identical predictions:", same)

    # The loaded model learns on: given the stream again (its first two tasks checked to
    # be the ones it learned), it learns task 3 as it would have without the save.
    results = again.learn(stream)
    print(f"DEN: final mean AUROC {results['final_avg_perf']:.4f}, accuracy "
          f"{results['avg_accuracy'][-1]:.4f}, capacity {results['capacity'][-1]:.2f}x")
    print("forgetting (largest drop per task):",
          results["metrics"]["accuracy"]["forgetting"]["max"])

    # Per-class sigmoid scores (one-vs-rest: a row need not sum to 1) and class ids.
    scores, classes = again.predict(xt[np.isin(yt, groups[1])][:5], task=2)
    print("task 2 predictions (class ids):", classes.tolist(), "scores", scores.shape)
    again.export(os.path.join(out, "den_savedmodel"))

    ewc = den_tf.DEN(method="ewc", max_iter=a.max_iter, train_seed=1)
    r = ewc.learn(stream_tf)
    print(f"EWC (from tf.data): final mean AUROC {r['final_avg_perf']:.4f}, accuracy "
          f"{r['avg_accuracy'][-1]:.4f}")
    print("everything written under", out)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
