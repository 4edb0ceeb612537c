"""Sources of randomness (spec "The benchmark", step 8, Q10): the task stream (pixel
permutations, task_seed) and the training stream (initial values, minibatches,
duplicates' biases, train_seed) never feed each other."""

import os

import numpy as np
import pytest

from den_tf import api
from den_tf.config import DENConfig
from den_tf.datasets.streams import task_permutations
from den_tf.reference import replay

CFG = DENConfig(n_tasks=3, max_iter=10, xla=False)


def trainer(mnist, **kw):
    return api.make_trainer(CFG.replace(**kw), mnist)


def test_duplicate_biases_continue_the_permutations_randomstate(mnist, trace_dir):
    """Q10, no train_seed: the duplicates' biases are RandomState(task_seed) after the ten
    permutations, then rand(n) per layer in turn, task after task, whatever the glorot
    draws in between. The prune/split recording splits 10 units per layer in tasks 2
    and 3: its duplicates' biases (the last 10 biases of each layer at the split's start)
    are exactly these draws."""
    z = replay.load(os.path.join(trace_dir, "trace_prune_split.npz"))
    init = trainer(mnist).init
    for t in (2, 3):
        init.glorot(f"t{t}/head_W", (128, 10))  # the task's other draws come between
        for l in (1, 2):
            n = len(replay.indices(z, f"t{t}_split_units/layer{l}"))
            assert n == 10
            got = init.duplicate_bias(f"t{t}/split/b{l}", n)
            np.testing.assert_array_equal(got, z[f"t{t}_split/start/layer{l}/biases:0"][-n:])


def test_with_a_train_seed_duplicate_biases_have_a_stream_of_their_own(mnist):
    """With a train_seed: the biases come from RandomState([train_seed, 10]), untouched by
    the glorot draws and by the task seed; the glorot values come from
    RandomState(train_seed); the task stream is not consumed."""
    a = trainer(mnist, train_seed=7)
    b = trainer(mnist, train_seed=7, task_seed=5)
    b.init.glorot("t1/W1", (784, 312))
    want = np.random.RandomState([7, 10]).rand(5).astype(np.float32)
    for tr in (a, b):
        np.testing.assert_array_equal(tr.init.duplicate_bias("t2/split/b1", 5), want)
    lim = np.sqrt(6 / (3 + 4))  # glorot-uniform (Q2)
    np.testing.assert_array_equal(a.init.glorot("t1/W1", (3, 4)), np.random.RandomState(7).uniform(
        -lim, lim, (3, 4)).astype(np.float32))
    _, rng = task_permutations(10, 1004)
    assert a.tasks.rng.rand() == rng.rand()  # the permutations' RandomState is left alone
    c = trainer(mnist, train_seed=8)
    assert not np.array_equal(c.init.duplicate_bias("t2/split/b1", 5), want)


@pytest.mark.parametrize("train_seed", [None, 7, 8])
def test_permutations_depend_on_the_task_seed_only(mnist, train_seed):
    for task_seed in (1004, 5):
        tr = trainer(mnist, train_seed=train_seed, task_seed=task_seed)
        want, _ = task_permutations(3, task_seed)
        for p, w in zip(tr.tasks.permutations, want):
            np.testing.assert_array_equal(p, w)


def test_minibatches_depend_on_the_train_seed_only(mnist):
    draw = lambda **kw: trainer(mnist, **kw).batches.indices("t1_train", 3).numpy()
    a = draw(train_seed=7)
    np.testing.assert_array_equal(a, draw(train_seed=7, task_seed=5))
    assert not np.array_equal(a, draw(train_seed=8))
