"""Architectures of a DEN network, selected by `DENConfig.arch` (`--arch`): each module
builds the layer stack and gives the forward pass (den_tf.model.network.DENNetwork.forward).

* `mlp` (den_tf/model/archs/mlp.py): the original's network, sizes from --dims (the default).
* `lenet`, `conv5` (den_tf/model/archs/conv.py): convolutional DEN; sizes, pooling and flatten
  in den_tf/model/archs/specs.py, the layer in den_tf/model/conv.py.

This package's top level imports no TensorFlow: `check` runs before it is imported.
"""

from __future__ import annotations

import importlib
from typing import Optional, Sequence

from den_tf.model.archs.specs import ARCHS, CONV_ARCHS, check, image_shape_of, resolve

_MODULES = {"mlp": "den_tf.model.archs.mlp", "lenet": "den_tf.model.archs.conv", "conv5": "den_tf.model.archs.conv"}

__all__ = ["ARCHS", "CONV_ARCHS", "assemble", "base_params", "build", "build_for", "check", "image_shape_of",
           "resolve"]


def _module(arch: str):
    check(arch)
    return importlib.import_module(_MODULES[arch])


def build(config, init, input_size: int, image_shape: Optional[Sequence[int]] = None,
          task: int = 1, n_out: Optional[int] = None):
    """A fresh DENNetwork of `config.arch` with task `task`'s head of `n_out` outputs
    (default: the last dims size); new values from `init` (glorot-uniform, spec Q2)."""
    return _module(config.arch).build(config, init, input_size, image_shape, task, n_out)


def build_for(config, init, data, task: int = 1, n_out: Optional[int] = None):
    """`build` for a data set (its input_size and, when it has one, its image_shape)."""
    return build(config, init, data.input_size, image_shape_of(data), task, n_out)


def base_params(config, input_size: int, image_shape: Optional[Sequence[int]] = None) -> int:
    """Parameters of the architecture's base network (initial sizes, one head of the
    last dims size): the unit of capacity."""
    return _module(config.arch).parts(config, input_size, image_shape)["base_n_params"]


def assemble(config, hidden, input_size: int, image_shape: Optional[Sequence[int]] = None):
    """A DENNetwork of `config.arch` made of the given hidden layers (a checkpoint's),
    whole: its forward pass and base size given to it."""
    from den_tf.model.network import DENNetwork
    return DENNetwork(hidden, input_size=input_size,
                      **_module(config.arch).parts(config, input_size, image_shape))
