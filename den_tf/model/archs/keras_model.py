"""A keras.Sequential read as a DEN architecture (`from_keras`): its layer sizes, not its
weights (DEN draws its own, docs/algorithm.md#task-1).

Read: `Conv2D` (square kernel and stride, SAME or VALID padding, relu), then optionally
`MaxPooling2D` or `AveragePooling2D` right after it (square window and stride, SAME or
VALID), `Flatten` between the convolutions and the dense layers, `Dense` (relu), and
`InputLayer`. A last `Dense` without relu (linear, sigmoid or softmax) is the classifier
you would put on top: DEN adds a head per task in its place, so it is left out (its
width is each head's unless the tasks say otherwise). Any other layer, activation or
setting (dilation, groups, bias off, a non-square kernel) is refused, naming the layer.

No TensorFlow is imported here: the model given is read through its layers' configs.

Imports: den_tf.errors, den_tf.config.
"""

from __future__ import annotations

from typing import Optional

from den_tf.errors import ConfigError
from den_tf.model.archs.specs import Conv, Dense, Stack

HEAD_ACTIVATIONS = ("linear", "sigmoid", "softmax", None)


def _square(value, what: str, where: str) -> int:
    v = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(v) != 2 or v[0] != v[1]:
        raise ConfigError(f"{where}: {what} {value} is not square (den_tf reads square "
                          f"{what}s)")
    return int(v[0])


def _activation(cfg: dict) -> Optional[str]:
    a = cfg.get("activation")
    if isinstance(a, dict):  # a serialized activation
        a = a.get("config", {}).get("name", a.get("class_name"))
    return a


def from_keras(model, name: Optional[str] = None) -> Stack:
    """The `Stack` of a keras.Sequential's layers (module docstring); ConfigError naming
    the first layer den_tf cannot read."""
    layers = getattr(model, "layers", None)
    if layers is None:
        raise ConfigError(f"from_keras: give a keras.Sequential, got {type(model).__name__}")
    name = name or getattr(model, "name", None) or "keras"
    out, flattened = [], False
    real = [x for x in layers if type(x).__name__ != "InputLayer"]
    for i, layer in enumerate(real):
        kind, cfg = type(layer).__name__, layer.get_config()
        where = f"layer {layer.name!r} ({kind})"
        act = _activation(cfg)
        if kind == "Conv2D":
            if flattened or any(isinstance(x, Dense) for x in out):
                raise ConfigError(f"{where}: a convolution after the flatten (den_tf reads "
                                  f"convolutions, then dense layers)")
            if act != "relu":
                raise ConfigError(f"{where}: activation {act!r}: den_tf's hidden layers are "
                                  f"relu")
            if _square(cfg.get("dilation_rate", 1), "dilation", where) != 1 \
                    or int(cfg.get("groups", 1)) != 1 or not cfg.get("use_bias", True):
                raise ConfigError(f"{where}: dilation, groups and use_bias=False are not "
                                  f"read by den_tf")
            if cfg.get("data_format") not in (None, "channels_last"):
                raise ConfigError(f"{where}: data_format {cfg.get('data_format')!r}: den_tf "
                                  f"reads channels_last images")
            out.append(Conv(int(cfg["filters"]), _square(cfg["kernel_size"], "kernel", where),
                            _square(cfg.get("strides", 1), "stride", where),
                            str(cfg.get("padding", "valid")).upper()))
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            if not out or not isinstance(out[-1], Conv) or out[-1].pool:
                raise ConfigError(f"{where}: den_tf reads one pooling right after each "
                                  f"convolution")
            size = _square(cfg.get("pool_size", 2), "pool size", where)
            stride = cfg.get("strides") or size
            prev = out.pop()
            out.append(Conv(prev.filters, prev.kernel, prev.stride, prev.padding,
                            "max" if kind == "MaxPooling2D" else "avg", size,
                            _square(stride, "pool stride", where),
                            str(cfg.get("padding", "valid")).upper()))
        elif kind == "Flatten":
            flattened = True
        elif kind == "Dense":
            last = i == len(real) - 1
            if act != "relu":
                if last and act in HEAD_ACTIVATIONS:
                    break  # the classifier: DEN's heads take its place
                raise ConfigError(f"{where}: activation {act!r}: den_tf's hidden layers are "
                                  f"relu (a last linear, sigmoid or softmax Dense is read "
                                  f"as the classifier and left out)")
            if not cfg.get("use_bias", True):
                raise ConfigError(f"{where}: use_bias=False is not read by den_tf")
            if any(isinstance(x, Conv) for x in out) and not flattened:
                raise ConfigError(f"{where}: a Dense after a convolution needs a Flatten "
                                  f"between them")
            out.append(Dense(int(cfg["units"])))
        else:
            raise ConfigError(f"{where}: not a layer den_tf reads (Conv2D, MaxPooling2D, "
                              f"AveragePooling2D, Flatten, Dense)")
    if not out:
        raise ConfigError(f"from_keras: {name}: no hidden layer to read")
    return Stack(str(name), out)
