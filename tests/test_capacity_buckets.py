"""Capacity buckets (issue 22, item 1; --capacity_bucket): the phase runner pads the
MLP's hidden sizes to multiples of the bucket, the padded units frozen at zero, so that
phases of one kind whose real sizes fall in the same bucket share one compiled program;
the results are those of the exact shapes within float rounding, and the layers keep
their real shapes."""

import functools

import numpy as np
import pytest

import den_tf
from den_tf.config import Config, DENConfig, config_for
from den_tf.den.expansion import expansion_spec
from den_tf.den.split import split_spec
from den_tf.engine.buckets import bucketed, padded_shapes
from den_tf.engine.randomness import RecordedBatches
from den_tf.engine.runner import PhaseRunner, PhaseSpec
from den_tf.errors import ConfigError
from den_tf.model.forward import mlp_logits
from tests.helpers import toy_hyper, toy_network, toy_task
from tests.test_trailing_grads import grown

DIMS = (20, 48, 40, 10)


def split_prev():
    """The task-start values of the split phase's pull: the old blocks."""
    return {i: (l.kernel.numpy(), l.bias.numpy()) for i, l in enumerate(toy_network(DIMS).hidden)}


def expand(net):
    return expansion_spec(net, 2)


def split(net):
    return split_spec(net, 2, split_prev())


def run_phase(make_spec, bucket, k=2, steps=60, seed=0):
    """A phase of task 2 on the grown toy network: (network, runner, result)."""
    net = grown(DIMS, k)
    spec = make_spec(net)
    idx = np.random.RandomState(seed).randint(0, 400, (steps, 32))
    runner = PhaseRunner(spec, toy_hyper(max_iter=steps, lr=0.01, bucket=bucket), xla=True)
    result = runner.run(toy_task(d=20), RecordedBatches({spec.name: idx}))
    return net, runner, result


@functools.lru_cache(maxsize=None)
def exact_weights(make_spec, k=2):
    """The task-2 weights the exact-shape phase gives (computed once per module)."""
    net, _, result = run_phase(make_spec, 0, k=k)
    return [v.numpy() for v in net.variables_for(2)], result


def test_padded_shapes_round_the_hidden_sizes_up_and_keep_the_input_and_the_head():
    net = grown(DIMS, 2)  # hidden sizes 50 and 42
    assert padded_shapes(expand(net), 16) == [(20, 64), (64,), (64, 48), (48,), (48, 10), (10,)]
    assert padded_shapes(expand(net), 64) == [(20, 64), (64,), (64, 64), (64,), (64, 10), (10,)]


@pytest.mark.parametrize("make_spec", [expand, split], ids=["expand", "split"])
def test_a_bucketed_phase_trains_as_the_exact_one_and_keeps_the_real_shapes(make_spec):
    exact_vars, exact = exact_weights(make_spec)
    net, runner, result = run_phase(make_spec, 16)
    assert runner.padded
    assert [tuple(p.shape) for p in runner.params] == padded_shapes(make_spec(grown(DIMS, 2)), 16)
    for a, b in zip(exact_vars, net.variables_for(2)):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-6)
    assert result.iters == exact.iters
    np.testing.assert_allclose(result.last_loss, exact.last_loss, rtol=1e-4)
    # frozen entries unmoved, padded entries zero
    before = grown(DIMS, 2)
    make_spec(before)
    for layer, old in zip(net.hidden, before.hidden):
        m = np.asarray(np.broadcast_to(layer.kernel_mask, layer.kernel.shape))
        assert np.array_equal(layer.kernel.numpy()[~m], old.kernel.numpy()[~m])
    for p, layer in zip(runner.params[0::2], net.layers_for(2)):
        pad = np.ones(p.shape, bool)
        pad[:layer.kernel.shape[0], :layer.kernel.shape[1]] = False
        assert not p.numpy()[pad].any()


def test_phases_of_one_kind_inside_one_bucket_share_one_compiled_program():
    """Two expansions of different real sizes (k = 2 and 5 new units) in the bucket of 64:
    one program, traced once; each gives its own exact-shape result; a validation of the
    first after the second ran is still the first's network."""
    data = toy_task(d=20)
    net1, r1, _ = run_phase(expand, 64, k=2)
    loss1, _ = r1.validate(data, with_perf=False)
    net2, r2, _ = run_phase(expand, 64, k=5)
    assert r1.program is r2.program
    assert r1.program.chunk.experimental_get_tracing_count() == 1
    assert r1.validate(data, with_perf=False)[0] == loss1
    for k, net in ((2, net1), (5, net2)):
        for a, b in zip(exact_weights(expand, k)[0], net.variables_for(2)):
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-6)
    # another kind of phase (a pull, no groups) has its own program
    _, r3, _ = run_phase(split, 64)
    assert r3.program is not r1.program


def test_only_compiled_mlp_phases_of_a_bucketed_run_are_padded():
    net = grown(DIMS, 2)
    spec = expand(net)
    h = toy_hyper(bucket=16)
    assert bucketed(spec, h) and not bucketed(spec, toy_hyper())
    head = PhaseSpec(2, "head", spec.layers, one_step=True, forward=mlp_logits)
    own_batch = PhaseSpec(2, "x", spec.layers, batch=lambda idx: None, forward=mlp_logits)
    other = PhaseSpec(2, "x", spec.layers, forward=lambda params, x: mlp_logits(params, x))
    assert not any(bucketed(s, h) for s in (head, own_batch, other))


def test_capacity_bucket_is_refused_where_it_pads_nothing():
    DENConfig(capacity_bucket=64).validate()
    with pytest.raises(ConfigError, match="--capacity_bucket=-1"):
        DENConfig(capacity_bucket=-1).validate()
    with pytest.raises(ConfigError, match="--arch=lenet"):
        DENConfig(capacity_bucket=64, arch="lenet", dims=(10,)).validate()
    with pytest.raises(ConfigError, match=r"^capacity_bucket: a setting of method den, not "
                                          r"of ewc"):
        Config(method="ewc", capacity_bucket=64).validate()
    # a baseline's config made from DEN's keeps the shared settings only
    ewc = config_for(DENConfig(capacity_bucket=64), "ewc").validate()
    assert ewc.method == "ewc" and "capacity_bucket" not in ewc.asdict()


def test_a_bucketed_run_learns_what_the_exact_run_learns():
    """Two toy tasks through DEN's whole task loop (task 2: every phase), exact and bucketed (as plain graphs,
    --noxla, which compile in a fraction of XLA's time): the same sizes and, within float
    rounding, the same figures."""
    rng = np.random.RandomState(0)
    w = rng.randn(784, 3)
    tasks = []
    for t in range(2):
        x = rng.randint(0, 256, (300, 784)).astype(np.uint8)
        y = np.argmax((x / 255.0) @ w + rng.randn(3) * t, 1)
        tasks.append({"train": (x[:200], y[:200]), "test": (x[200:], y[200:])})
    settings = dict(max_iter=60, batch_size=32, train_seed=3, dims=(784, 32, 16, 3), xla=False)
    exact = den_tf.DEN(**settings).learn(den_tf.datasets.from_arrays(tasks))
    padded = den_tf.DEN(**settings, capacity_bucket=16).learn(
        den_tf.datasets.from_arrays(tasks))
    assert padded["units_per_layer"] == exact["units_per_layer"]
    assert len(padded["auroc_matrix"]) == 2
    np.testing.assert_allclose(np.asarray(padded["auroc_matrix"], float),
                               np.asarray(exact["auroc_matrix"], float), atol=2e-3)
