"""The memory estimates the baselines' cards share (den_tf.preflight.memory checks them
against the machine before the first step): a baseline does not grow, so its largest
network is the architecture's at its initial sizes, held once or once per task. No
TensorFlow.
"""

from __future__ import annotations

from den_tf.config import rules
from den_tf.config.registry import SETTINGS, Footprint


def flags(config, n_tasks: int, *more: str) -> str:
    """The settings a baseline's estimate depends on, as flags."""
    text = (f"--method={config.method} --dims={rules.fmt_dims(config.dims)} "
            f"--n_tasks={n_tasks}")
    if config.arch != SETTINGS.get("arch").default:
        text = f"--arch={config.arch} {text}"
    return " ".join((text,) + more)


ADVICE = "smaller --dims or fewer --n_tasks fit"


def one_network(config, arch, input_size, image_shape, n_tasks, extra_per_param: int = 0,
                pooled: bool = False) -> Footprint:
    """The architecture's network and one head per task (dnn, l2, ewc, mtl).
    `extra_per_param`: bytes held per hidden weight and bias besides the usual (EWC's
    Fisher sums); `pooled`: the forward pass computes every task's head for every example
    and validates on every task's validation set at once (mtl)."""
    units = arch.units(config.dims)
    n_out = int(config.dims[-1])
    params = arch.parameter_count(input_size, image_shape, units, n_out, n_tasks)
    hidden = arch.parameter_count(input_size, image_shape, units, n_out, 0)
    acts = arch.activations(input_size, image_shape, units, n_out)
    return Footprint(params, acts + (n_out * n_tasks if pooled else 0),
                     extra_per_param * hidden,
                     f"a network of {arch.describe(units, image_shape)} with {n_tasks} heads",
                     flags(config, n_tasks), ADVICE, pooled_tasks=n_tasks if pooled else 0)


def one_per_task(config, arch, input_size, image_shape, n_tasks) -> Footprint:
    """One base network (hidden layers and head) per task, one at a time in a forward
    pass (stl)."""
    units = arch.units(config.dims)
    n_out = int(config.dims[-1])
    one = arch.parameter_count(input_size, image_shape, units, n_out, 1)
    return Footprint(n_tasks * one, arch.activations(input_size, image_shape, units, n_out),
                     0, f"{n_tasks} base networks of {arch.describe(units, image_shape)}",
                     flags(config, n_tasks), ADVICE)


def holds(estimate, **kw):
    """The `memory` of a card whose method holds a network that does not grow:
    `estimate(config, arch, input_size, image_shape, n_tasks, **kw)`, no worst case
    apart (`MethodCard.memory`)."""
    def memory(config, arch, input_size, image_shape, n_tasks, worst=False):
        return None if worst else estimate(config, arch, input_size, image_shape, n_tasks,
                                           **kw)
    return memory
