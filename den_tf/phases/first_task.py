"""Spec "Task 1": every variable trains, no pull toward previous weights, max_iter
iterations with iteration lines."""

from __future__ import annotations

from den_tf.network import DENNetwork
from den_tf.phases.context import PhaseContext
from den_tf.runner import PhaseResult, PhaseSpec


def first_task_spec(net: DENNetwork, task: int = 1) -> PhaseSpec:
    """Everything trains; iteration lines."""
    layers = net.layers_for(task)
    for layer in layers:
        layer.set_trainable(True, True)
    return PhaseSpec(f"t{task}_train", layers, forward=net.forward)


def train_first_task(ctx: PhaseContext) -> PhaseResult:
    return ctx.run(first_task_spec(ctx.network, ctx.task))
