"""DNN-STL: single-task learning, a separate base network per task (the paper's
"DNN-STL", Sec. 4.1).

Task t gets a fresh network of --dims (glorot, its own head) and trains it alone for
--max_iter steps; nothing is shared, so nothing is forgotten and nothing transfers.
Capacity after t tasks is t base networks (t.00x): every task's hidden layers and head.
"""

from __future__ import annotations

from typing import Dict, List

from den_tf.baselines.base import Method
from den_tf.io import export
from den_tf.learner.frame import network_from_layers, network_layers
from den_tf.model.network import DENNetwork


class STL(Method):
    """One base network per task."""

    name = "stl"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.networks: Dict[int, DENNetwork] = {}

    def describe(self) -> str:
        return "stl: a separate base network (hidden layers and head) per task"

    def begin_task(self, t, data) -> None:
        self.networks[t] = self.new_network(t)

    def trainable(self, t) -> list:
        layers = self.networks[t].layers_for(t)
        for layer in layers:
            layer.set_trainable(True, True)
        return layers

    def params_for(self, t) -> list:
        return self.networks[t].params_for(t)

    def forward_for(self, t):
        return self.networks[t].forward

    def n_params(self) -> int:
        """Every task's network, head included."""
        return sum(net.n_params() for net in self.networks.values())

    def sizes(self) -> List[int]:
        """Units per hidden layer, summed over the tasks' networks."""
        return [sum(s) for s in zip(*(net.sizes() for net in self.networks.values()))]

    def stamp(self, t) -> List[int]:
        net = self.networks[t]
        return [net.input_size] + net.sizes() + [self.n_outputs(t)]

    def kernel_shapes(self, t):
        net = self.networks[t]
        return net.shape_lines_shapes(self.stamps[t])

    # ----------------------------------------------------------------- checkpoints
    def checkpoint_layers(self) -> dict:
        out = {}
        for t, net in sorted(self.networks.items()):
            out.update(network_layers(net, prefix=f"t{t}_"))
        return out

    def restore_layers(self, layers, input_size, image_shape) -> None:
        tasks = sorted({int(name[1:].split("_", 1)[0]) for name in layers})
        self.networks = {t: network_from_layers(self.config, layers, input_size, image_shape,
                                                prefix=f"t{t}_") for t in tasks}

    def export_parts(self):
        tasks = sorted(self.networks)
        return export.layer_parts([self.networks[t].layers_for(t) for t in tasks],
                                  [self.networks[t].forward for t in tasks],
                                  [self.stamps[t] for t in tasks], self.input_shape()[0])

