"""Where a run's randomness comes from: minibatches and the initial values of new
parameters. The trainer takes both as arguments, so a recorded run (shared/trace) can be
replayed step by step; the defaults are random, as algorithm.md#shared describes.

* Minibatches (algorithm.md#minibatches): every step a fresh random subset of
  batch_size training examples, as the original's "shuffle all indices, take the first
  batch_size" gives. `RandomBatches` draws them with a `tf.random.Generator` in a
  compiled function, 100 steps at a time.
* New parameters: glorot-uniform for every new weight and bias (faithfulness.md#q2), and U[0, 1)
  for duplicates' biases (Q10), drawn like the original from the numpy RandomState that
  drew the task permutations.

Keys name what is being initialised, e.g. "t2/head_W", "t3/expand/W2/tw",
"t2/split/b1"; random sources ignore them, replay sources look them up.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf


# ----------------------------------------------------------------------------- batches
class BatchSource:
    """Yields minibatch index tables [n_steps, batch_size] for a named phase.

    `pool`, when given, is the number of examples to draw from (a class-split task's own
    examples, `TaskTensors.train_index`); sources that replay recorded tables ignore it.
    """

    def indices(self, phase: str, n_steps: int, pool: Optional[int] = None):
        raise NotImplementedError


def _subset_by_rejection(gen: tf.random.Generator, n: int, batch: int, pool: int):
    """[n, batch] rows of distinct indices in [0, pool), each row a uniformly random
    ordered subset: 2*batch draws with replacement, repeats dropped, first `batch` kept
    (the law of "shuffle, take the first batch"). Falls back to random keys + top_k in the
    (astronomically rare) case that a row has fewer than `batch` distinct draws."""
    m = 2 * batch
    draws = gen.uniform([n, m], 0, pool, dtype=tf.int32)
    order = tf.argsort(draws, axis=1, stable=True)
    sorted_draws = tf.gather(draws, order, batch_dims=1)
    first = tf.concat([tf.ones([n, 1], tf.bool), sorted_draws[:, 1:] != sorted_draws[:, :-1]], 1)
    rows = tf.broadcast_to(tf.range(n)[:, None], [n, m])
    keep = tf.scatter_nd(tf.stack([rows, order], -1), tf.cast(first, tf.int32), [n, m])
    rank = tf.cumsum(keep, axis=1) - 1
    slot = tf.where((keep > 0) & (rank < batch), rank, batch)
    out = tf.scatter_nd(tf.stack([rows, slot], -1), draws, [n, batch + 1])[:, :batch]
    enough = tf.reduce_all(tf.reduce_sum(keep, axis=1) >= batch)
    return tf.cond(enough, lambda: out, lambda: _subset_by_keys(gen, n, batch, pool))


def _subset_by_keys(gen: tf.random.Generator, n: int, batch: int, pool: int):
    """[n, batch] random ordered subsets via the top `batch` of `pool` uniform keys."""
    return tf.math.top_k(gen.uniform([n, pool]), batch).indices


class RandomBatches(BatchSource):
    """Fresh random subsets of the training set, one per step (algorithm.md#minibatches).

    Args:
      pool: number of training examples (55000); `indices(..., pool=n)` draws from the
        first n instead (one class-split task's examples).
      batch_size: examples per step.
      seed: seeds the generator; None draws a non-deterministic seed.
      xla: compile the sampler with XLA.
    """

    def __init__(self, pool: int, batch_size: int, seed: Optional[int] = None,
                 xla: bool = True):
        self.pool, self.batch_size = int(pool), int(batch_size)
        self.generator = (tf.random.Generator.from_seed(seed) if seed is not None
                          else tf.random.Generator.from_non_deterministic_state())
        self._sample = tf.function(self._draw, jit_compile=xla)

    def _draw(self, n: int, pool: int):
        sample = _subset_by_rejection if 16 * self.batch_size <= pool else _subset_by_keys
        return sample(self.generator, n, self.batch_size, pool)

    def indices(self, phase: str, n_steps: int, pool: Optional[int] = None):
        return self._sample(int(n_steps), self.pool if pool is None else int(pool))


class TaskPool(BatchSource):
    """Another source's minibatches, drawn from a task's first `pool` examples (the
    index space of `TaskTensors.train_index`)."""

    def __init__(self, source: BatchSource, pool: int):
        self.source, self.pool = source, int(pool)

    def indices(self, phase: str, n_steps: int, pool: Optional[int] = None):
        return self.source.indices(phase, n_steps, self.pool if pool is None else pool)


class RecordedBatches(BatchSource):
    """Replays recorded index tables: `tables[phase]` is int [steps, batch_size]."""

    def __init__(self, tables: dict):
        self.tables = {k: np.asarray(v, dtype=np.int32) for k, v in tables.items()}
        self.pos = {k: 0 for k in self.tables}

    def indices(self, phase: str, n_steps: int, pool: Optional[int] = None):
        if phase not in self.tables:
            raise KeyError(f"no recorded minibatches for phase {phase!r}")
        p = self.pos[phase]
        rows = self.tables[phase][p:p + n_steps]
        if len(rows) < n_steps:
            raise IndexError(f"phase {phase!r}: {n_steps} steps asked at step {p}, "
                             f"only {len(self.tables[phase])} recorded")
        self.pos[phase] = p + n_steps
        return tf.constant(rows)


# ----------------------------------------------------------------------------- initial values
def glorot_limit(shape: Sequence[int]) -> float:
    """TF1's glorot_uniform limit: sqrt(6 / (fan_in + fan_out)); a 1-D shape [n] has
    fan_in = fan_out = n, so its limit is sqrt(3 / n) (faithfulness.md#q2). A convolutional
    kernel [kh, kw, c_in, c_out] has fan_in = kh*kw*c_in and fan_out = kh*kw*c_out (TF's
    rule: the receptive field times the channels)."""
    if len(shape) == 0:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in, fan_out = shape[-2], shape[-1]
    else:
        receptive = int(np.prod(shape[:-2]))
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    return math.sqrt(6.0 / max(1, fan_in + fan_out))


class InitSource:
    """Initial values of new parameters."""

    def glorot(self, key: str, shape: Sequence[int]) -> np.ndarray:
        raise NotImplementedError

    def duplicate_bias(self, key: str, n: int) -> np.ndarray:
        raise NotImplementedError

    def bias(self, key: str, shape: Sequence[int]) -> np.ndarray:
        """A new bias: glorot-uniform like a weight, as the original (faithfulness.md#q2)."""
        return self.glorot(key, shape)


class RandomInit(InitSource):
    """Glorot-uniform weights and biases from `rng`; duplicates' biases U[0, 1) from
    `dup_rng` (the permutations' RandomState, as the original's global numpy one).
    `zero_bias`: new biases start at zero instead (the paper's reading of Q2)."""

    def __init__(self, rng: np.random.RandomState, dup_rng: np.random.RandomState,
                 zero_bias: bool = False):
        self.rng, self.dup_rng, self.zero_bias = rng, dup_rng, zero_bias

    def bias(self, key, shape):
        if self.zero_bias:
            return np.zeros(tuple(shape), np.float32)
        return self.glorot(key, shape)

    def glorot(self, key, shape):
        lim = glorot_limit(shape)
        return self.rng.uniform(-lim, lim, size=tuple(shape)).astype(np.float32)

    def duplicate_bias(self, key, n):
        return self.dup_rng.rand(int(n)).astype(np.float32)
