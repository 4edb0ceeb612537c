"""The architectures' sizes and geometry, without TensorFlow (the command line checks a
setting against the data before TensorFlow is imported).

* `mlp`: today's network, hidden sizes from --dims (spec "Notation").
* `lenet`: the paper's submission network for CIFAR-100, "a LeNet with two convolutional
  and three fully connected layers". Sizes (the paper gives none): the convolutional
  part of Caffe's LeNet-5: 5x5 convolutions with 20 and 50 filters, VALID padding, each
  followed by relu and 2x2 max-pooling with stride 2; then fully connected layers of 800
  and 500 relu units and the head (n_classes sigmoid outputs): three fully connected
  layers. On 28x28 MNIST: 28 -> 24 -> 12 -> 8 -> 4, a flatten of 50 x 4 x 4 = 800 rows;
  on 32x32 CIFAR: 32 -> 28 -> 14 -> 10 -> 5, 50 x 5 x 5 = 1250 rows.
* `conv5`: the camera-ready network: five 5x5 convolutional layers of 64, 128, 256, 256
  and 128 filters (SAME padding, stride 1, relu) and fully connected layers of 384 and
  192 relu units, then the head. The paper does not say where it pools: as AlexNet,
  overlapping 3x3 max-pooling with stride 2 ("SAME") after the first, second and fifth
  convolutional layers, none after the third and fourth. 28x28: 28 -> 14 -> 7 -> 7 -> 7
  -> 4, a flatten of 128 x 4 x 4 = 2048 rows; 32x32: 32 -> 16 -> 8 -> 8 -> 8 -> 4, 2048.

Every hidden layer (convolutional or dense) is a DEN layer: its units (filters) are
selected, expanded by ex_k, pruned and split. For the convolutional architectures,
--dims is ignored except its last entry, the head's size (= --n_classes).
"""

from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Sequence, Tuple

from den_tf.errors import ConfigError

ARCHS = ("mlp", "lenet", "conv5")


@dataclasses.dataclass(frozen=True)
class ConvBlock:
    """One convolutional layer (size x size kernel, stride 1, relu) and the max-pooling
    after it (window `pool`, stride `pool_stride`, "SAME"; pool 0: none)."""

    filters: int
    size: int = 5
    padding: str = "SAME"
    pool: int = 0
    pool_stride: int = 0

    def out_hw(self, h: int, w: int) -> Tuple[int, int]:
        """Spatial size of the block's output maps for h x w inputs."""
        if self.padding == "VALID":
            h, w = h - self.size + 1, w - self.size + 1
        if self.pool and h > 0 and w > 0:
            h, w = -(-h // self.pool_stride), -(-w // self.pool_stride)
        return h, w


@dataclasses.dataclass(frozen=True)
class ConvArch:
    """Convolutional blocks, then fully connected relu layers, then the head."""

    name: str
    convs: Tuple[ConvBlock, ...]
    fc: Tuple[int, ...]

    def maps(self, image_shape: Sequence[int]) -> List[Tuple[int, int, int]]:
        """(H, W, channels) after each convolutional block."""
        h, w, _ = image_shape
        out = []
        for blk in self.convs:
            h, w = blk.out_hw(h, w)
            out.append((h, w, blk.filters))
        return out

    def flat_block(self, image_shape: Sequence[int]) -> int:
        """Rows of the first dense layer per filter of the last convolutional layer: its
        output's H*W (the channel-major flatten, den_tf/model/conv.py)."""
        h, w, _ = self.maps(image_shape)[-1]
        return h * w

    def base_params(self, image_shape: Sequence[int], n_classes: int) -> int:
        """Parameters of the network at its initial sizes with one head."""
        n, c = 0, image_shape[2]
        for blk in self.convs:
            n += blk.size * blk.size * c * blk.filters + blk.filters
            c = blk.filters
        rows = c * self.flat_block(image_shape)
        for units in tuple(self.fc) + (n_classes,):
            n += rows * units + units
            rows = units
        return int(n)

    def describe(self, image_shape: Sequence[int]) -> str:
        parts = [f"{blk.size}x{blk.size} conv {blk.filters} ({blk.padding})"
                 + (f" + max-pool {blk.pool}x{blk.pool}/{blk.pool_stride}" if blk.pool else "")
                 for blk in self.convs]
        h, w, c = self.maps(image_shape)[-1]
        parts.append(f"flatten {c}x{h}x{w}")
        parts += [f"fc {u}" for u in self.fc]
        return ", ".join(parts)


CONV_ARCHS = {
    "lenet": ConvArch("lenet", (ConvBlock(20, 5, "VALID", 2, 2), ConvBlock(50, 5, "VALID", 2, 2)),
                      (800, 500)),
    "conv5": ConvArch("conv5", (ConvBlock(64, 5, "SAME", 3, 2), ConvBlock(128, 5, "SAME", 3, 2),
                                ConvBlock(256, 5, "SAME"), ConvBlock(256, 5, "SAME"),
                                ConvBlock(128, 5, "SAME", 3, 2)),
                      (384, 192)),
}


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


def check(arch: str, input_size: Optional[int] = None,
          image_shape: Optional[Sequence[int]] = None) -> None:
    """Raises ConfigError when `arch` is unknown or its layers do not fit the images."""
    if arch not in ARCHS:
        raise ConfigError(f"--arch={arch}: must be one of {', '.join(ARCHS)}")
    if arch not in CONV_ARCHS or input_size is None:
        return
    try:
        shape = resolve(input_size, image_shape)
    except ConfigError as e:
        raise ConfigError(f"--arch={arch}: {e}") from None
    for i, (h, w, _) in enumerate(CONV_ARCHS[arch].maps(shape)):
        if h < 1 or w < 1:
            raise ConfigError(f"--arch={arch}: images of {shape[0]}x{shape[1]} are too small "
                              f"(nothing is left after convolutional layer {i + 1})")
