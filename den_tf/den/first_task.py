"""Task 1 (algorithm.md#task-1): every variable trains, no pull toward previous weights,
max_iter iterations with iteration lines."""

from __future__ import annotations

from den_tf.den.context import PhaseContext
from den_tf.engine.runner import PhaseResult, PhaseSpec
from den_tf.model.network import DENNetwork


def first_task_spec(net: DENNetwork, task: int = 1) -> PhaseSpec:
    """Everything trains; iteration lines."""
    layers = net.layers_for(task)
    for layer in layers:
        layer.set_trainable(True, True)
    return PhaseSpec(task, "train", layers, forward=net.forward)


def train_first_task(ctx: PhaseContext) -> PhaseResult:
    return ctx.run(first_task_spec(ctx.network, ctx.task))
