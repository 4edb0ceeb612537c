"""Your own network: a layer spec (`--arch=conv32k5p2,conv64k5p2,fc256`), den_tf's spec
objects or a keras.Sequential, read into DEN's expandable layers (den_tf.model.archs);
mlp, lenet and conv5 are named entries of the same mechanism. DEN and every baseline run
on such a network; checkpoints and export rebuild it."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import den_tf
from den_tf.config import Config
from den_tf.config.registry import resolve_arch
from den_tf.errors import ConfigError
from den_tf.model.archs import CONV5, LENET, Conv, Dense, from_keras, parse_spec
from den_tf.model.conv import conv2d, pool2d
from tests import helpers

keras = tf.keras


# ----------------------------------------------------------------------------- the grammar
def test_the_issue_s_example_and_the_named_networks_as_specs():
    s = parse_spec("conv32k5p2,conv64k5p2,fc256")
    assert s.layers == (Conv(32, 5, 1, "SAME", "max", 2, 2), Conv(64, 5, 1, "SAME", "max", 2, 2),
                        Dense(256))
    assert s.maps((28, 28, 1)) == [(14, 14, 32), (7, 7, 64)]
    assert s.parameter_count(784, (28, 28, 1), s.units(), 2, 1) == \
        (5 * 5 * 1 * 32 + 32) + (5 * 5 * 32 * 64 + 64) + (64 * 49 * 256 + 256) + (256 * 2 + 2)
    assert parse_spec("conv20k5vp2,conv50k5vp2,fc800,fc500") == LENET
    assert parse_spec(CONV5.spec()) == CONV5 and parse_spec(LENET.spec()) == LENET
    assert resolve_arch("lenet") is LENET and resolve_arch("conv5") is CONV5
    assert parse_spec("conv8k3s2va3s2,fc16").layers[0] == Conv(8, 3, 2, "VALID", "avg", 3, 2)
    assert parse_spec("mlp") is None  # a name, not a spec


@pytest.mark.parametrize("text,needle", [
    ("conv32k5p2,conv64k5x2,fc256", "'conv64k5x2' is not a layer"),
    ("fc64,conv8k3", "convolutional layer 2 after a dense layer"),
    ("conv8k3", "end the convolutions with at least one dense layer"),
    ("conv8k3,,fc4", "an empty layer"),
    ("conv0k3,fc4", "filters=0"),
    ("conv8k3s0,fc4", "stride=0 must be a positive integer"),
    ("conv8k3p0,fc4", "pool_size=0 must be a positive integer"),
    ("conv8k3p2s0,fc4", "pool_stride=0 must be a positive integer"),
    ("conv8k3,fc0", "units=0 must be a positive integer"),
    ("lenett", "no such architecture (did you mean lenet?)"),
])
def test_a_bad_spec_is_refused_naming_the_layer(text, needle):
    with pytest.raises(ConfigError, match="^--arch=") as e:
        Config(arch=text, dims=(2,), n_classes=2).validate()
    assert needle in str(e.value)


def test_the_spec_objects_check_their_values():
    assert Conv(8, 3, pool="max", pool_size=3).pool_stride == 3  # the window by default
    for bad in (dict(pool_stride=0), dict(pool_stride=-1), dict(pool_stride=True)):
        with pytest.raises(ConfigError, match="^conv layer: pool_stride=.* must be a positive"):
            Conv(8, 3, pool="max", pool_size=2, **bad)
    assert Conv(8, 3).pool_stride == 0 and Conv(8, 3).spec() == "conv8k3"


def test_images_too_small_for_the_spec_are_refused():
    with pytest.raises(ConfigError, match="too small"):
        Config(arch="conv8k5vp2,conv8k5vp2,fc4", dims=(10,)).validate(144, 10, 100)


# ----------------------------------------------------------------------------- the layers
@pytest.mark.parametrize("stride,padding", [(2, "SAME"), (2, "VALID"), (3, "SAME")])
@pytest.mark.parametrize("jit", [False, True])
def test_a_strided_convolution_has_tensorflow_s_gradients(stride, padding, jit):
    rng = np.random.RandomState(0)
    x = tf.constant(rng.randn(3, 11, 9, 2), tf.float32)
    k = tf.constant(rng.randn(3, 3, 2, 4), tf.float32)

    def grads(native):
        with tf.GradientTape() as tape:
            tape.watch([x, k])
            y = tf.reduce_sum(tf.sin(conv2d(x, k, padding, native, stride)))
        return tape.gradient(y, [x, k])

    ours = tf.function(lambda: grads(False), jit_compile=jit)()
    theirs = grads(True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4, atol=2e-5)


def test_average_pooling_is_keras_s():
    h = tf.constant(np.random.RandomState(1).rand(2, 7, 7, 3), tf.float32)
    for padding in ("SAME", "VALID"):
        ours = pool2d(h, Conv(3, 3, 1, "SAME", "avg", 3, 2, padding))
        theirs = keras.layers.AveragePooling2D(3, 2, padding=padding.lower())(h)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------- keras
def _sequential(**kw):
    return keras.Sequential([
        keras.layers.Input((12, 12, 1)),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2, padding="same"),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(2, **kw),
    ])


def test_a_keras_sequential_is_read_into_a_stack():
    stack = from_keras(_sequential(activation="softmax"))
    assert stack.layers == (Conv(6, 3, 1, "SAME", "max", 2, 2, "SAME"),
                            Conv(8, 3, 2, "VALID", "avg", 2, 2, "VALID"), Dense(16))
    assert stack.spec() == "conv6k3p2,conv8k3s2va2v,fc16"
    assert parse_spec(stack.spec()) == stack


@pytest.mark.parametrize("layers,needle", [
    ([keras.layers.Conv2D(4, 3, activation="tanh"), keras.layers.Flatten(),
      keras.layers.Dense(4, activation="relu")], "activation 'tanh'"),
    ([keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.BatchNormalization(),
      keras.layers.Flatten(), keras.layers.Dense(4, activation="relu")],
     "(BatchNormalization): not a layer den_tf reads"),
    ([keras.layers.Conv2D(4, (3, 5), activation="relu"), keras.layers.Flatten(),
      keras.layers.Dense(4, activation="relu")], "kernel (3, 5) is not square"),
    ([keras.layers.Flatten(), keras.layers.Dense(4, activation="tanh"),
      keras.layers.Dense(2)], "activation 'tanh'"),
])
def test_a_keras_layer_den_tf_cannot_read_is_refused_naming_it(layers, needle):
    model = keras.Sequential([keras.layers.Input((8, 8, 1))] + layers)
    with pytest.raises(ConfigError, match="^layer '") as e:
        den_tf.DEN(arch=model)
    assert needle in str(e.value)


# ----------------------------------------------------------------------------- runs
def _tasks(n_tasks=2, side=12, seed=0):
    return den_tf.from_arrays(helpers.half_bright_tasks(n_tasks, side, seed, dark=60,
                                                        bright=120, top=True,
                                                        sizes=(96, 32, 48)))


TINY = dict(max_iter=20, batch_size=16, train_seed=1, xla=False, ex_k=2)


@pytest.fixture(scope="module")
def spec_run():
    """DEN on the layer spec of `_sequential()` (two tasks): the model and its results."""
    tasks = _tasks()
    model = den_tf.DEN(arch="conv6k3p2,conv8k3s2va2v,fc16", **TINY)
    return tasks, model, model.learn(tasks)


def test_a_keras_sequential_gives_the_same_figures_as_its_spec(spec_run):
    tasks, _, by_spec = spec_run
    by_keras = den_tf.DEN(arch=_sequential(), **TINY).learn(tasks)
    assert by_spec["auroc_matrix"] == by_keras["auroc_matrix"]
    assert by_spec["units_per_layer"] == by_keras["units_per_layer"]
    assert den_tf.DEN(arch=from_keras(_sequential()), **TINY).config == \
        den_tf.DEN(arch=_sequential(), **TINY).config
    assert by_keras["config"]["arch"] == "conv6k3p2,conv8k3s2va2v,fc16"
    assert by_keras["units_per_layer"][0] == [6, 8, 16]


def test_a_dense_spec_is_the_mlp():
    """fc312,fc128 is the original's MLP of 784,312,128,10: the same draws, the same
    forward pass, the same shape lines."""
    from den_tf.engine.randomness import RandomInit
    a = Config(dims=(784, 312, 128, 10))
    b = Config(arch="fc312,fc128", dims=(10,))
    nets = [resolve_arch(c.arch).build(c, RandomInit(np.random.RandomState(3),
                                                     np.random.RandomState(4)), 784)
            for c in (a, b)]
    for la, lb in zip(nets[0].layers_for(1), nets[1].layers_for(1)):
        np.testing.assert_array_equal(la.kernel.numpy(), lb.kernel.numpy())
    assert nets[0].dense_only and nets[1].dense_only
    assert nets[0].base_n_params == nets[1].base_n_params


@pytest.mark.parametrize("method", ["dnn", "l2", "ewc", "progressive", "stl", "mtl"])
def test_every_baseline_runs_on_a_network_of_your_own(method):
    settings = {k: v for k, v in TINY.items() if k != "ex_k"} | {"max_iter": 5}
    r = den_tf.DEN(method=method, arch="conv4k3s2a2,fc8", **settings).learn(_tasks(side=8))
    flat = [x for row in r["auroc_matrix"] for x in row if x is not None]
    # (mtl has no figure of task 1 before it trains on both tasks at once)
    assert len(flat) == (2 if method == "mtl" else 3) and all(0.0 <= x <= 1.0 for x in flat)


def test_a_network_of_your_own_is_saved_loaded_and_exported(spec_run, tmp_path):
    tasks, model, _ = spec_run
    x = tasks.task(2).images("test")[:5].reshape(5, 12, 12, 1)
    before = model.predict(x, task=2)
    model.save(str(tmp_path / "m"))
    loaded = den_tf.load(str(tmp_path / "m"))
    assert loaded.config.arch == "conv6k3p2,conv8k3s2va2v,fc16"
    assert [l.stride for l in loaded.learner.network.hidden[:2]] == [1, 2]
    np.testing.assert_array_equal(loaded.predict(x, task=2).scores, before.scores)
    path = loaded.export(str(tmp_path / "saved"))
    served = tf.saved_model.load(path)
    out = served.signatures["serving_default"](images=tf.constant(x.reshape(5, -1)),
                                              task_id=tf.constant(2, tf.int32))
    np.testing.assert_allclose(out["probabilities"].numpy(), before.scores, atol=1e-6)
