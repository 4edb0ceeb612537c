"""Small synthetic pieces for unit tests (real-data tests use the fixtures)."""

import numpy as np
import tensorflow as tf

from den_tf.datasets.tensors import TaskTensors
from den_tf.engine.randomness import RandomInit
from den_tf.engine.runner import Hyper
from den_tf.model.network import DENNetwork


def toy_task(n=600, d=20, k=10, seed=0) -> TaskTensors:
    """Random images whose label is the argmax of a fixed linear map (learnable)."""
    rng = np.random.RandomState(seed)
    x = rng.rand(n, d).astype(np.float32)
    w = rng.randn(d, k).astype(np.float32)
    y = np.eye(k, dtype=np.float32)[np.argmax(x @ w, 1)]
    c = tf.constant
    return TaskTensors(c(x[:400]), c(y[:400]), c(x[400:500]), c(y[400:500]), c(x[500:]),
                       c(y[500:]))


def toy_hyper(max_iter=30, batch=32, **kw) -> Hyper:
    h = dict(lr=0.01, batch_size=batch, n_train=400, max_iter=max_iter, l1_lambda=1e-4,
             l2_lambda=1e-4, gl_lambda=1e-2, regular_lambda=0.5, prox_order="gl_only")
    h.update(kw)
    return Hyper(**h)


def toy_network(dims=(20, 12, 8, 10), seed=0) -> DENNetwork:
    init = RandomInit(np.random.RandomState(seed), np.random.RandomState(seed + 1))
    return DENNetwork.create(dims, init)


def toy_init(seed=0):
    return RandomInit(np.random.RandomState(seed), np.random.RandomState(seed + 1))


def images_of(classes, n, seed, d=64):
    """n uint8 images of d values whose label (one of `classes`) shows as a bright run of
    4 pixels at 6 * label: learnable in a few steps."""
    rng = np.random.RandomState(seed)
    y = np.asarray(classes)[np.arange(n) % len(classes)]
    rng.shuffle(y)
    x = rng.rand(n, d) * 0.5
    x[np.arange(n)[:, None], (y[:, None] * 6 + np.arange(4)) % d] += 0.5
    return (x * 255).astype(np.uint8), y


def half_bright_tasks(n_tasks, side, seed, dark, bright, top, sizes):
    """Task dicts of two classes each (ids 2t, 2t+1) of side x side x 1 uint8 images whose
    class 1 has one half brighter (the top half when `top`, else the left), with
    train/validation/test sizes `sizes`."""
    rng = np.random.RandomState(seed)
    out = []
    for t in range(n_tasks):
        def split(n):
            y = rng.randint(0, 2, n)
            x = (rng.rand(n, side, side, 1) * dark).astype(np.uint8)
            if top:
                x[y == 1, : side // 2] += bright
            else:
                x[y == 1, :, : side // 2] += bright
            return x, y + 2 * t
        out.append(dict(zip(("train", "validation", "test"), (split(n) for n in sizes))))
    return out
