"""The MLP of the original (spec "Notation"): relu hidden layers of --dims, a linear head
per task; forward pass den_tf.model.forward.mlp_logits."""

from __future__ import annotations

from den_tf.model.forward import mlp_logits
from den_tf.model.network import DENNetwork


def build(config, init, input_size, image_shape=None, task: int = 1,
          n_out=None) -> DENNetwork:
    """DENNetwork.create(config.dims): the draws and their order are the original's."""
    return DENNetwork.create(config.dims, init, task, n_out)


def parts(config, input_size, image_shape=None) -> dict:
    """What a DENNetwork of this architecture is made with besides its layers."""
    return {"forward": mlp_logits, "base_n_params": DENNetwork.base_params(config.dims),
            "arch": "mlp", "image_shape": None}
