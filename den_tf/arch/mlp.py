"""The MLP of the original (spec "Notation"): relu hidden layers of --dims, a linear head
per task; forward pass den_tf.network.mlp_logits."""

from __future__ import annotations

from den_tf.network import DENNetwork


def build(config, init, input_size, image_shape=None, task: int = 1) -> DENNetwork:
    """DENNetwork.create(config.dims): the draws and their order are the original's."""
    return DENNetwork.create(config.dims, init, task)


def attach(network: DENNetwork, config, input_size, image_shape=None) -> None:
    network.base_n_params = DENNetwork.base_params(config.dims)
