"""Networks as specs, without TensorFlow: the layers an architecture stacks, their sizes
and geometry, and the grammar of `--arch` (the command line checks a setting against the
data before TensorFlow is imported).

A network is a feed-forward stack (`Stack`) of convolutional layers (`Conv`: filters,
kernel size, stride, padding, optionally max- or average-pooling after it), then dense
layers (`Dense`), then one head per task (added by DEN). Every convolutional filter and
dense unit is a DEN unit: selected, expanded by ex_k, pruned and split
(docs/algorithm.md#expansion). The convolutional layers' output is flattened
channel-major for the first dense layer (den_tf.model.conv).

* `mlp` (`MLP`): the original's network: dense layers of --dims' hidden sizes.
* `lenet`: the paper's submission network for CIFAR-100, "a LeNet with two
  convolutional and three fully connected layers". Sizes (the paper gives none): Caffe's
  LeNet-5 convolutions, 5x5 with 20 and 50 filters, VALID padding, each followed by 2x2
  max-pooling with stride 2; dense layers of 800 and 500 units, and the head. On 28x28
  MNIST: 28 -> 24 -> 12 -> 8 -> 4, a flatten of 50 x 4 x 4 = 800 rows.
* `conv5`: the camera-ready network: five 5x5 convolutions of 64, 128, 256, 256, 128
  filters (SAME) and dense layers of 384 and 192 units. The paper does not say where it
  pools: as AlexNet, 3x3 max-pooling with stride 2 after the first, second and fifth.
* any other stack as a layer spec (`parse_spec`), e.g. `conv32k5p2,conv64k5p2,fc256`, or
  from a keras.Sequential (den_tf.model.archs.keras_model).

The grammar of a layer spec, comma-separated layers, convolutions first:

    conv<F>k<K>[s<S>][v][p<W>[s<S>] | a<W>[s<S>]]    F filters of K x K, stride S
                                                     (default 1), SAME padding (v:
                                                     VALID), then W x W max-pooling (p)
                                                     or average-pooling (a) with stride
                                                     S (default W), SAME padding
    fc<U>                                            U dense units

e.g. `conv20k5vp2,conv50k5vp2,fc800,fc500` is lenet.

Imports: den_tf.errors, den_tf.config.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import List, Optional, Sequence, Tuple

from den_tf.config.rules import fmt_dims
from den_tf.errors import ConfigError

PADDINGS = ("SAME", "VALID")
POOLS = ("", "max", "avg")


def _out(n: int, window: int, stride: int, padding: str) -> int:
    """Output length of a window sliding over n entries (TensorFlow's rule)."""
    if padding == "SAME":
        return -(-n // stride)
    return (n - window) // stride + 1 if n >= window else 0


@dataclasses.dataclass(frozen=True)
class Conv:
    """A convolutional layer: `filters` kernels of `kernel` x `kernel`, `stride`,
    `padding`, relu, then `pool` ("max", "avg" or "": none) over `pool_size` x
    `pool_size` windows with `pool_stride` (default: the window) and `pool_padding`."""

    filters: int
    kernel: int = 5
    stride: int = 1
    padding: str = "SAME"
    pool: str = ""
    pool_size: int = 0
    pool_stride: Optional[int] = None
    pool_padding: str = "SAME"

    def __post_init__(self):
        for name in ("filters", "kernel", "stride"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"conv layer: {name}={v!r} must be a positive integer")
        if self.padding not in PADDINGS or self.pool_padding not in PADDINGS:
            raise ConfigError(f"conv layer: padding must be one of {', '.join(PADDINGS)}")
        if self.pool not in POOLS:
            raise ConfigError(f"conv layer: pool={self.pool!r} must be max, avg or none")
        if self.pool and (not isinstance(self.pool_size, int) or self.pool_size < 1):
            raise ConfigError(f"conv layer: pool_size={self.pool_size!r} must be a positive "
                              f"integer")
        if self.pool and self.pool_stride is None:
            object.__setattr__(self, "pool_stride", self.pool_size)
        if self.pool and (isinstance(self.pool_stride, bool)
                          or not isinstance(self.pool_stride, int) or self.pool_stride < 1):
            raise ConfigError(f"conv layer: pool_stride={self.pool_stride!r} must be a positive "
                              f"integer")
        if not self.pool:
            object.__setattr__(self, "pool_size", 0)
            object.__setattr__(self, "pool_stride", 0)

    def conv_hw(self, h: int, w: int) -> Tuple[int, int]:
        """Spatial size of the convolution's output (before its pooling)."""
        return (_out(h, self.kernel, self.stride, self.padding),
                _out(w, self.kernel, self.stride, self.padding))

    def out_hw(self, h: int, w: int) -> Tuple[int, int]:
        """Spatial size of the layer's output maps (after its pooling) for h x w inputs."""
        h, w = self.conv_hw(h, w)
        if self.pool and h > 0 and w > 0:
            h = _out(h, self.pool_size, self.pool_stride, self.pool_padding)
            w = _out(w, self.pool_size, self.pool_stride, self.pool_padding)
        return h, w

    def spec(self) -> str:
        s = f"conv{self.filters}k{self.kernel}"
        s += f"s{self.stride}" if self.stride != 1 else ""
        s += "v" if self.padding == "VALID" else ""
        if self.pool:
            s += ("p" if self.pool == "max" else "a") + str(self.pool_size)
            s += f"s{self.pool_stride}" if self.pool_stride != self.pool_size else ""
            s += "v" if self.pool_padding == "VALID" else ""
        return s

    def describe(self) -> str:
        s = f"{self.kernel}x{self.kernel} conv {self.filters} ({self.padding}" \
            + (f", stride {self.stride})" if self.stride != 1 else ")")
        if self.pool:
            s += f" + {self.pool}-pool {self.pool_size}x{self.pool_size}/{self.pool_stride}"
        return s


@dataclasses.dataclass(frozen=True)
class Dense:
    """A dense layer of `units` relu units."""

    units: int

    def __post_init__(self):
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise ConfigError(f"dense layer: units={self.units!r} must be a positive integer")

    def spec(self) -> str:
        return f"fc{self.units}"


class Architecture:
    """What `--arch` names: how a network of DEN layers is stacked. den_tf's own are
    `Stack`s (and `MLP`); an architecture of your own implements the same methods
    (docs/extending.md#an-architecture).

    TF-free methods (the checks before the first step): `check_dims`, `check`,
    `units`, `parameter_count`, `activations`, `describe`; `build` and `parts` make the
    network (TensorFlow, den_tf.model.archs.networks)."""

    name = ""
    reads_dims = False  # its hidden sizes come from --dims (the MLP)
    dense_only = False  # every hidden layer dense (shape lines: the timestamp's pairs)

    def check_dims(self, dims: Sequence[int]) -> None:
        """--dims as this architecture reads it: only the head's size."""
        if len(dims) != 1:
            raise ConfigError(
                f"--dims={fmt_dims(dims)}: --arch={self.name} has its own hidden layers "
                f"and reads only the head's size: give --dims={dims[-1] if dims else 10} "
                f"(or leave it out: --n_classes)")

    def check(self, input_size: int, image_shape=None, dims: Sequence[int] = ()) -> None:
        """Raises ConfigError when the network does not fit images of `input_size` values
        (of `image_shape`, H x W x C, when the data say)."""

    def units(self, dims: Sequence[int] = ()) -> List[int]:
        """Units (dense) and filters (convolutional) of each hidden layer at task 1."""
        raise NotImplementedError

    def parameter_count(self, input_size: int, image_shape, units: Sequence[int],
                        n_out: int, n_heads: int) -> int:
        """Weights and biases with these hidden sizes and `n_heads` heads of `n_out`."""
        raise NotImplementedError

    def activations(self, input_size: int, image_shape, units: Sequence[int],
                    n_out: int) -> int:
        """Activations per example of a forward pass with these hidden sizes."""
        raise NotImplementedError

    def describe(self, units: Sequence[int], image_shape=None) -> str:
        return f"hidden sizes {list(units)}"

    def build(self, config, init, input_size: int, image_shape=None, task: int = 1,
              n_out: Optional[int] = None):
        raise NotImplementedError

    def parts(self, config, input_size: int, image_shape=None) -> dict:
        raise NotImplementedError

    def base_params(self, config, input_size: int, image_shape=None) -> int:
        """Parameters of the base network (initial sizes, one head of the last dims
        size): the unit of capacity."""
        shape = self.image_shape(input_size, image_shape)
        return self.parameter_count(input_size, shape, self.units(config.dims),
                                    int(config.dims[-1]), 1)

    def image_shape(self, input_size: int, image_shape=None):
        """The image shape the network reads (None: flat vectors)."""
        return None


class Stack(Architecture):
    """A feed-forward stack of `Conv` layers, then `Dense` layers (module docstring)."""

    def __init__(self, name: str, layers: Sequence):
        layers = tuple(layers)
        if not layers:
            raise ConfigError(f"--arch={name}: a network needs at least one hidden layer")
        seen_dense = False
        for i, layer in enumerate(layers):
            if not isinstance(layer, (Conv, Dense)):
                raise ConfigError(f"--arch={name}: layer {i + 1} is a "
                                  f"{type(layer).__name__}, not a Conv or Dense spec")
            if isinstance(layer, Dense):
                seen_dense = True
            elif seen_dense:
                raise ConfigError(f"--arch={name}: convolutional layer {i + 1} after a dense "
                                  f"layer (convolutions first, then dense layers)")
        if isinstance(layers[-1], Conv):
            raise ConfigError(f"--arch={name}: end the convolutions with at least one dense "
                              f"layer (e.g. ,fc256): the heads read dense units")
        self.name = name
        self.layers = layers
        self.dense_only = not any(isinstance(x, Conv) for x in layers)

    def __eq__(self, other) -> bool:
        return isinstance(other, Stack) and type(other) is type(self) \
            and self.layers == other.layers

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.layers))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.spec()!r})"

    # ----------------------------------------------------------------- its layers
    @property
    def convs(self) -> Tuple[Conv, ...]:
        return tuple(x for x in self.layers if isinstance(x, Conv))

    @property
    def fc(self) -> Tuple[int, ...]:
        return tuple(x.units for x in self.layers if isinstance(x, Dense))

    def spec(self) -> str:
        """The layer spec that makes this stack (`parse_spec`)."""
        return ",".join(x.spec() for x in self.layers)

    def stack_for(self, dims: Sequence[int]) -> "Stack":
        """The stack these --dims give (the MLP reads its hidden sizes from them)."""
        return self

    # ----------------------------------------------------------------- geometry
    def image_shape(self, input_size: int, image_shape=None):
        return resolve(input_size, image_shape) if self.convs else None

    def maps(self, image_shape: Sequence[int], filters: Optional[Sequence[int]] = None
             ) -> List[Tuple[int, int, int]]:
        """(H, W, channels) after each convolutional layer (`filters`: other numbers of
        filters than the stack's, e.g. grown ones)."""
        h, w, _ = image_shape
        out = []
        for i, c in enumerate(self.convs):
            h, w = c.out_hw(h, w)
            out.append((h, w, c.filters if filters is None else int(filters[i])))
        return out

    def flat_block(self, image_shape: Sequence[int]) -> int:
        """Rows of the first dense layer per filter of the last convolutional layer: its
        output's H*W (the channel-major flatten, den_tf.model.conv); 1 without one."""
        if not self.convs:
            return 1
        h, w, _ = self.maps(image_shape)[-1]
        return h * w

    def check(self, input_size: int, image_shape=None, dims: Sequence[int] = ()) -> None:
        if not self.convs:
            return
        try:
            shape = resolve(input_size, image_shape)
        except ConfigError as e:
            raise ConfigError(f"--arch={self.name}: {e}") from None
        for i, (h, w, _) in enumerate(self.maps(shape)):
            if h < 1 or w < 1:
                raise ConfigError(f"--arch={self.name}: images of {shape[0]}x{shape[1]} are "
                                  f"too small (nothing is left after convolutional layer "
                                  f"{i + 1})")

    # ----------------------------------------------------------------- sizes
    def units(self, dims: Sequence[int] = ()) -> List[int]:
        return [x.filters if isinstance(x, Conv) else x.units for x in self.layers]

    def parameter_count(self, input_size: int, image_shape, units: Sequence[int],
                        n_out: int, n_heads: int) -> int:
        """A k x k x c_in x filters kernel and a bias per filter per convolutional layer;
        the first dense layer has (filters of the last convolution) x H*W rows (its
        channel-major flatten), or the input size; each head top-units x n_out + n_out."""
        units = [int(u) for u in units]
        n_conv = len(self.convs)
        n, rows = 0, int(input_size)
        if n_conv:
            c = int(image_shape[2])
            for layer, f in zip(self.convs, units[:n_conv]):
                n += layer.kernel * layer.kernel * c * f + f
                c = f
            rows = c * self.flat_block(image_shape)
        for u in units[n_conv:]:
            n += rows * u + u
            rows = u
        return int(n + n_heads * (rows * int(n_out) + int(n_out)))

    def activations(self, input_size: int, image_shape, units: Sequence[int],
                    n_out: int) -> int:
        """Every convolution's output map at its resolution BEFORE its pooling, every
        dense hidden unit and the head's outputs."""
        units = [int(u) for u in units]
        n_conv = len(self.convs)
        n = 0
        if n_conv:
            h, w = int(image_shape[0]), int(image_shape[1])
            for layer, f in zip(self.convs, units[:n_conv]):
                ch, cw = layer.conv_hw(h, w)
                n += ch * cw * f
                h, w = layer.out_hw(h, w)
        return int(n + sum(units[n_conv:]) + int(n_out))

    def describe(self, units: Sequence[int], image_shape=None) -> str:
        units = [int(u) for u in units]
        n_conv = len(self.convs)
        if not n_conv:
            return f"hidden sizes {units}"
        text = (f"convolutional layers of {units[:n_conv]} filters and fully connected "
                f"layers of {units[n_conv:]} units")
        if image_shape is not None:
            text += f" (on {'x'.join(str(int(d)) for d in image_shape)} images)"
        return text

    def summary(self, image_shape=None) -> str:
        """The layers in words (log lines, docs)."""
        parts = [c.describe() for c in self.convs]
        if self.convs and image_shape is not None:
            h, w, c = self.maps(image_shape)[-1]
            parts.append(f"flatten {c}x{h}x{w}")
        parts += [f"fc {u}" for u in self.fc]
        return ", ".join(parts)

    # ----------------------------------------------------------------- the network
    def build(self, config, init, input_size: int, image_shape=None, task: int = 1,
              n_out: Optional[int] = None):
        """A fresh DENNetwork of this stack with task `task`'s head (den_tf.model.archs.build,
        TensorFlow)."""
        from den_tf.model.archs import networks  # (TensorFlow: only when a network is made)
        return networks.build(self.stack_for(config.dims), config, init, input_size,
                           image_shape, task, n_out)

    def parts(self, config, input_size: int, image_shape=None) -> dict:
        from den_tf.model.archs import networks  # (TensorFlow: only when a network is made)
        return networks.parts(self.stack_for(config.dims), config, input_size, image_shape)

    def base_params(self, config, input_size: int, image_shape=None) -> int:
        stack = self.stack_for(config.dims)
        shape = stack.image_shape(input_size, image_shape)
        return stack.parameter_count(input_size, shape, stack.units(), int(config.dims[-1]), 1)


class MLP(Stack):
    """The original's network: dense relu layers of --dims' hidden sizes (dims[1:-1]),
    reading flat inputs of dims[0] values."""

    reads_dims = True
    dense_only = True

    def __init__(self, name: str = "mlp"):
        self.name = name
        self.layers = ()

    def __eq__(self, other) -> bool:
        return isinstance(other, MLP)

    def __hash__(self) -> int:
        return hash("MLP")

    def __repr__(self) -> str:
        return "MLP()"

    def spec(self) -> str:
        return self.name

    def stack_for(self, dims: Sequence[int]) -> Stack:
        return Stack(self.name, [Dense(int(d)) for d in dims[1:-1]])

    def check_dims(self, dims: Sequence[int]) -> None:
        if len(dims) < 3:
            raise ConfigError(
                f"--dims={fmt_dims(dims)}: needs at least 3 sizes (input, one or more hidden "
                f"layers, output)")

    def check(self, input_size: int, image_shape=None, dims: Sequence[int] = ()) -> None:
        if dims and int(dims[0]) != int(input_size):
            raise ConfigError(f"--dims={fmt_dims(dims)}: the first size must equal the data's "
                              f"input size {input_size}")

    def units(self, dims: Sequence[int] = ()) -> List[int]:
        return [int(d) for d in dims[1:-1]]

    def image_shape(self, input_size: int, image_shape=None):
        return None


# ----------------------------------------------------------------------------- the grammar
_CONV = re.compile(r"^conv(\d+)k(\d+)(?:s(\d+))?(v)?(?:([pa])(\d+)(?:s(\d+))?(v)?)?$")
_DENSE = re.compile(r"^fc(\d+)$")


def parse_layer(token: str, where: str = ""):
    """One layer of a spec (`conv32k5p2`, `fc256`) as a `Conv` or `Dense`."""
    try:
        m = _DENSE.match(token)
        if m:
            return Dense(int(m.group(1)))
        m = _CONV.match(token)
        if m:
            f, k, s, v, pool, w, ps, pv = m.groups()
            return Conv(int(f), int(k), int(s or 1), "VALID" if v else "SAME",
                        {"p": "max", "a": "avg"}.get(pool or "", ""), int(w or 0),
                        None if ps is None else int(ps), "VALID" if pv else "SAME")
    except ConfigError as e:
        raise ConfigError(f"--arch={where or token}: {token!r}: {e}") from None
    raise ConfigError(f"--arch={where or token}: {token!r} is not a layer (conv<F>k<K>"
                      f"[s<S>][v][p<W>[s<S>]|a<W>[s<S>]] or fc<U>, e.g. "
                      f"conv32k5p2,conv64k5p2,fc256)")


def parse_spec(text: str) -> Optional[Stack]:
    """The `Stack` of a layer spec (module docstring), or None when `text` does not look
    like one (a name); ConfigError naming the faulty layer."""
    tokens = [t.strip() for t in str(text).split(",")]
    if not any(_CONV.match(t) or _DENSE.match(t) for t in tokens):
        return None
    if any(not t for t in tokens):
        raise ConfigError(f"--arch={text}: an empty layer (two commas in a row?)")
    return Stack(text, [parse_layer(t, text) for t in tokens])


# ----------------------------------------------------------------------------- images
def image_shape_of(data) -> Optional[Tuple[int, int, int]]:
    """The data's image shape (H, W, C) when it says, else None (see `resolve`)."""
    shape = getattr(data, "image_shape", None)
    return None if shape is None else tuple(int(d) for d in shape)


def resolve(input_size: int, image_shape: Optional[Sequence[int]] = None) -> Tuple[int, int, int]:
    """(H, W, C) of images of `input_size` values: `image_shape` when given (it must hold
    input_size values), else a square single-channel image (784 -> 28x28x1). The flat
    images are in (H, W, C) order."""
    if image_shape is not None:
        shape = tuple(int(d) for d in image_shape)
        if len(shape) != 3 or min(shape) < 1 or math.prod(shape) != input_size:
            raise ConfigError(f"image shape {shape} does not hold the data's input size "
                              f"{input_size} (H x W x C)")
        return shape
    side = math.isqrt(int(input_size))
    if side * side != input_size:
        raise ConfigError(f"the data's input size {input_size} is not a square image and the "
                          f"data gives no image shape: a convolutional --arch needs images")
    return (side, side, 1)


# ----------------------------------------------------------------------------- the named ones
LENET = Stack("lenet", (Conv(20, 5, 1, "VALID", "max", 2, 2), Conv(50, 5, 1, "VALID", "max", 2, 2),
                        Dense(800), Dense(500)))
CONV5 = Stack("conv5", (Conv(64, 5, 1, "SAME", "max", 3, 2), Conv(128, 5, 1, "SAME", "max", 3, 2),
                        Conv(256, 5), Conv(256, 5), Conv(128, 5, 1, "SAME", "max", 3, 2),
                        Dense(384), Dense(192)))
NAMED = {"mlp": MLP(), "lenet": LENET, "conv5": CONV5}
