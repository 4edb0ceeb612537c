"""Architectures of a DEN network (`--arch`, `Config.arch`): what layers a network stacks.

Every architecture is an entry of one mechanism (den_tf.config.registry.ARCHITECTURES):

* `mlp`, `lenet`, `conv5`: registered here (`specs.NAMED`);
* a layer spec such as `conv32k5p2,conv64k5p2,fc256`: read by `specs.parse_spec`, the
  grammar registered here;
* a keras.Sequential of Conv2D, MaxPooling2D, AveragePooling2D, Flatten and Dense (relu)
  layers: `from_keras` (den_tf.model.archs.keras_model);
* an architecture of your own: `den_tf.register_arch(name, arch)` (docs/extending.md).

`specs` holds the layers and their sizes (no TensorFlow: the command line checks a
setting before it is imported); `networks` makes the network (TensorFlow).

Imports: den_tf.errors, den_tf.config.
"""

from __future__ import annotations

from typing import Optional, Sequence

from den_tf.config.registry import register_arch, register_arch_parser, resolve_arch
from den_tf.model.archs.keras_model import from_keras
from den_tf.model.archs.specs import (
    CONV5,
    LENET,
    NAMED,
    MLP,
    Architecture,
    Conv,
    Dense,
    Stack,
    image_shape_of,
    parse_spec,
    resolve,
)

for _name, _arch in NAMED.items():
    register_arch(_name, _arch, replace=True)
register_arch_parser(parse_spec)

__all__ = ["Architecture", "CONV5", "Conv", "Dense", "LENET", "MLP", "NAMED", "Stack",
           "assemble", "base_params", "build", "build_for", "from_keras", "image_shape_of",
           "parse_spec", "resolve", "resolve_arch"]


def build(config, init, input_size: int, image_shape: Optional[Sequence[int]] = None,
          task: int = 1, n_out: Optional[int] = None):
    """A fresh DENNetwork of `config.arch` with task `task`'s head of `n_out` outputs
    (default: the last dims size); new values from `init` (glorot-uniform,
    docs/faithfulness.md#q2)."""
    return resolve_arch(config.arch).build(config, init, input_size, image_shape, task, n_out)


def build_for(config, init, data, task: int = 1, n_out: Optional[int] = None):
    """`build` for a data set (its input_size and, when it has one, its image_shape)."""
    return build(config, init, data.input_size, image_shape_of(data), task, n_out)


def base_params(config, input_size: int, image_shape: Optional[Sequence[int]] = None) -> int:
    """Parameters of the architecture's base network (initial sizes, one head of the
    last dims size): the unit of capacity."""
    return resolve_arch(config.arch).base_params(config, input_size, image_shape)


def assemble(config, hidden, input_size: int, image_shape: Optional[Sequence[int]] = None):
    """A DENNetwork of `config.arch` made of the given hidden layers (a checkpoint's),
    whole: its forward pass and base size given to it."""
    from den_tf.model.network import DENNetwork  # (TensorFlow: only when a network is made)
    return DENNetwork(hidden, input_size=input_size,
                      **resolve_arch(config.arch).parts(config, input_size, image_shape))
