"""Spec "Task 1": every variable trains, no pull toward previous weights, max_iter
iterations with iteration lines."""

from __future__ import annotations

from den_tf.phases.context import PhaseContext
from den_tf.runner import PhaseResult, PhaseSpec


def train_first_task(ctx: PhaseContext) -> PhaseResult:
    layers = ctx.network.layers_for(ctx.task)
    for layer in layers:
        layer.set_trainable(True, True)
    return ctx.run(PhaseSpec(ctx.phase_name("train"), layers))
