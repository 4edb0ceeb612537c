"""Capacity buckets (`Hyper.bucket`, --capacity_bucket; 0, the default, keeps the exact
shapes): a compiled MLP phase runs on a padded program, the hidden sizes rounded up to
multiples of the bucket, the padded units zero and frozen, one program per kind of phase
and padded shapes (`padded_program`), so that a later task whose sizes stay in the
bucket reuses the compiled chunk; the phase's values are loaded into it before the steps
(`load`) and the trained weights written back into the layers after them
(`store_params`). The phase runner (den_tf.engine.runner) takes its program from here
when `bucketed` says so.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Dict, List

import numpy as np
import tensorflow as tf

from den_tf.engine.program import (
    BETA1,
    BETA2,
    Program,
    Slot,
    layer_variables,
    pad_to,
    pull_target,
    trailing_blocks,
    trainables,
)


def bucketed(spec, hyper) -> bool:
    """Whether the phase runs on a padded program (`--capacity_bucket`): a
    bucket is set, the phase is compiled (not the one-step head phase), it draws its own
    task's minibatches, and its forward pass declares `pads_units` (the MLP's: a padded
    unit is relu(0) = 0 and its rows below are zero, so it adds exact zeros)."""
    return (hyper.bucket > 0 and not spec.one_step and spec.batch is None
            and getattr(spec.forward, "pads_units", False))


def padded_shapes(spec, bucket: int) -> List[tuple]:
    """The kernel and bias shapes of the padded program: every hidden size (a hidden
    layer's units, the next layer's input rows) rounded up to a multiple of `bucket`;
    the input size and the head's outputs stay."""
    up = lambda n: -(-int(n) // bucket) * bucket  # noqa: E731
    last = len(spec.layers) - 1
    out = []
    for i, layer in enumerate(spec.layers):
        k, b = [int(d) for d in layer.kernel.shape], [int(d) for d in layer.bias.shape]
        if i > 0:
            k[-2] = up(k[-2])
        if i < last:
            k[-1], b[-1] = up(k[-1]), up(b[-1])
        out += [tuple(k), tuple(b)]
    return out


def _padded_trailing(spec, shapes, bucket: int) -> Dict[int, tuple]:
    """The TrailingGrad blocks of the padded kernels: those of the real masks, their
    starts rounded down to a multiple of the bucket (so that every expansion inside one
    bucket shares the program; the rows and columns added are frozen entries, whose
    gradient the mask discards); a start at the real size (no trailing rows or units)
    becomes the padded size."""
    out = {}
    if not getattr(spec.forward, "trailing_grads", False):
        return out
    for i, layer in enumerate(spec.layers):
        blocks = trailing_blocks(layer.kernel_mask)
        if blocks is None:
            continue
        real, padded = layer.kernel.shape, shapes[2 * i]
        out[2 * i] = tuple(padded[ax] if start >= int(real[ax]) else start // bucket * bucket
                           for start, ax in zip(blocks, (-2, -1)))
    return out


class _PaddedSlot(Slot):
    """A slot of a padded program: the masks, the pull and its weights and the group
    blocks as variables of the padded shape, loaded for each phase (`load`); every
    padded entry is frozen."""

    def __init__(self, var: tf.Variable, has_prev: bool, has_weight: bool, n_groups: int):
        shape = tuple(var.shape)
        self.var = var
        self.mask = tf.Variable(tf.zeros(shape, tf.bool), trainable=False)
        self.m = tf.Variable(tf.zeros(shape), trainable=False)
        self.v = tf.Variable(tf.zeros(shape), trainable=False)
        self.prev = tf.Variable(tf.zeros(shape), trainable=False) if has_prev else None
        self.prev_mask = (tf.Variable(tf.zeros(shape, tf.bool), trainable=False)
                          if has_prev else None)
        self.prev_weight = tf.Variable(tf.zeros(shape), trainable=False) if has_weight else None
        self.groups = [tf.Variable(tf.zeros(shape, tf.bool), trainable=False)
                       for _ in range(n_groups)]

    def load(self, real_shape, train_mask, prev=None, groups=(), prev_weight=None):
        shape = tuple(self.var.shape)
        self.mask.assign(pad_to(np.broadcast_to(np.asarray(train_mask, bool),
                                              tuple(real_shape)), shape, bool))
        self.m.assign(tf.zeros(shape))
        self.v.assign(tf.zeros(shape))
        if prev is not None:
            prev, block = pull_target(prev, shape)
            self.prev.assign(prev)
            self.prev_mask.assign(block)
            if prev_weight is not None:
                self.prev_weight.assign(pad_to(np.asarray(prev_weight, np.float32), shape))
        for var, g in zip(self.groups, groups):
            var.assign(pad_to(np.asarray(g, bool), shape, bool))


# Padded programs by their key (`padded_program`), the most recently used last.
_PROGRAMS: "collections.OrderedDict[tuple, Program]" = collections.OrderedDict()
MAX_PROGRAMS = 32


def padded_program(spec, hyper, xla: bool) -> Program:
    """The padded program of the phase's kind: one per forward pass, settings, padded
    shapes, slot layout and TrailingGrad blocks, compiled the first time and reused by
    every later phase with the same key (growth inside a bucket keeps the shapes)."""
    shapes = padded_shapes(spec, hyper.bucket)
    trailing = _padded_trailing(spec, shapes, hyper.bucket)
    # the slots: which parameters train, with a pull, pull weights, how many groups
    layout = tuple((j, prev is not None, weight is not None, len(groups))
                   for j, _, _, prev, groups, weight in trainables(spec))
    key = (spec.forward, spec.printing, bool(xla), dataclasses.astuple(hyper),
           tuple(shapes), tuple(sorted(trailing.items())), layout)
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    params = [tf.Variable(tf.zeros(shape), trainable=False) for shape in shapes]
    slots = [_PaddedSlot(params[j], *pulls) for j, *pulls in layout]
    if not slots:
        raise ValueError(f"phase {spec.name}: nothing to train")
    program = Program(spec, hyper, xla, params, slots, trailing)
    _PROGRAMS[key] = program
    while len(_PROGRAMS) > MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return program


def load(program: Program, spec) -> None:
    """The phase's weights, masks, pulls and groups into a padded program, its Adam
    state and counters reset (what a fresh program of the phase starts from)."""
    load_params(program, spec)
    for slot, (_, var, mask, prev, groups, weight) in zip(program.slots, trainables(spec)):
        slot.load(var.shape, mask, prev, groups, weight)
    program.step.assign(0.0)
    program.beta1_power.assign(BETA1)
    program.beta2_power.assign(BETA2)


def load_params(program: Program, spec) -> None:
    """The layers' weights into the padded program's parameters (zeros around them)."""
    for p, v in zip(program.params, layer_variables(spec)):
        p.assign(pad_to(v.numpy(), tuple(p.shape)))


def store_params(program: Program, spec) -> None:
    """The padded program's parameters, cut to the layers' shapes, back into the layers."""
    for p, v in zip(program.params, layer_variables(spec)):
        v.assign(p[tuple(slice(0, int(n)) for n in v.shape)])
