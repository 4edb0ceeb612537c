"""A task's input transform, written once for numpy, TensorFlow and the SavedModel.

A task stream (den_tf.datasets.streams) gives every task a `Transform`: how the images as
the data set stores them become the images the network reads for that task.

| class | KIND | what |
| --- | --- | --- |
| `Identity` | identity | the images as they are (a class split of the classes) |
| `Permute` | permute | a fixed pixel permutation: out[:, j] = images[:, permutation[j]] (algorithm.md#benchmark: permuted MNIST) |
| `Rotate` | rotate | a fixed rotation as a bilinear resampling: out[:, j] = sum_k weights[k, j] * images[:, indices[k, j]], 4 taps per pixel (the rotated stream) |

Each has the same three forms:

* `numpy(images)`: float32 images [n, d] -> transformed (validation and test sets are
  held transformed);
* `tf_apply(images, tensors)` (a static method): the same in TensorFlow ops on the
  transform's parameters given as tensors, so one compiled step serves every task of a
  kind (training minibatches are transformed inside the compiled step), and the
  SavedModel traces it with the parameters read from its own variables (it loads
  without den_tf);
* `arrays()`: the parameters by the name of the SavedModel variable that carries them
  (`neutral(d)`: the row of a task of another kind), `describe()`: a JSON-ready
  description, and `from_description` its inverse (checked: one line per fault).

Adding a kind (say a colour jitter): subclass `Transform`, set `KIND`, check the
parameters in `__init__`, write `arrays`, `neutral`, `numpy` and `tf_apply`, and add the
class to `TRANSFORMS`.

Imports: nothing of den_tf but den_tf.datasets.
"""

from __future__ import annotations

import math
from typing import Dict, Sequence

import numpy as np


class Transform:
    """One task's input transform (module docstring)."""

    KIND = ""
    # True for a transform that only moves pixels (a permutation): applied to the stored
    # pixels or to their float32 values it gives the same numbers, so the phase runner may
    # apply it once to a task's training pixels (`TaskTensors.train_view`) instead of to
    # every minibatch.
    REARRANGES = False

    def __init__(self, input_size: int):
        self.input_size = int(input_size)
        self._tensors = None

    def arrays(self) -> Dict[str, np.ndarray]:
        """The parameters, by the name of the SavedModel variable that carries them."""
        return {}

    @classmethod
    def neutral(cls, input_size: int) -> Dict[str, np.ndarray]:
        """`arrays()` of a task of another kind (a row of the SavedModel's variables)."""
        return {}

    def numpy(self, images) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def tf_apply(images, tensors: dict):
        raise NotImplementedError

    def tensors(self) -> dict:
        """`arrays()` as TensorFlow constants (made once)."""
        if self._tensors is None:
            import tensorflow as tf
            self._tensors = {k: tf.constant(v) for k, v in self.arrays().items()}
        return self._tensors

    def tf(self, images):
        """`tf_apply` with this transform's own parameters."""
        return self.tf_apply(images, self.tensors())

    @property
    def is_identity(self) -> bool:
        return False

    def describe(self) -> dict:
        return {"kind": self.KIND, **{k: np.asarray(v).tolist() for k, v in self.arrays().items()}}

    @classmethod
    def from_description(cls, description, input_size: int) -> "Transform":
        """The transform a description names (a Transform passes through, checked
        against the input size); ValueError naming the fault."""
        if isinstance(description, Transform):
            if description.input_size != int(input_size):
                raise ValueError(f"a {description.KIND} transform of {description.input_size} "
                                 f"inputs for images of {input_size}")
            return description
        kind = description.get("kind") if isinstance(description, dict) else None
        if kind not in TRANSFORMS:
            raise ValueError(f"unknown input transform kind {kind!r} (known: "
                             f"{', '.join(sorted(TRANSFORMS))})")
        return TRANSFORMS[kind]._from(description, int(input_size))

    @classmethod
    def _from(cls, description: dict, input_size: int) -> "Transform":
        return cls(input_size)


class Identity(Transform):
    """The images as they are."""

    KIND = "identity"

    def numpy(self, images):
        return np.asarray(images, np.float32)

    @staticmethod
    def tf_apply(images, tensors):
        return images

    @property
    def is_identity(self) -> bool:
        return True


class Permute(Transform):
    """A fixed pixel permutation (algorithm.md#benchmark): out[:, j] = images[:, perm[j]]."""

    KIND = "permute"
    REARRANGES = True

    def __init__(self, permutation, input_size=None):
        perm = np.asarray(permutation)
        super().__init__(perm.shape[0] if input_size is None and perm.ndim == 1
                         else (input_size or 0))
        if (perm.shape != (self.input_size,) or not np.issubdtype(perm.dtype, np.integer)
                or not np.array_equal(np.sort(perm), np.arange(self.input_size))):
            raise ValueError(f"the permutation must hold each of 0..{self.input_size - 1} "
                             f"once (got shape {perm.shape}, dtype {perm.dtype})")
        self.permutation = perm.astype(np.int32)

    @classmethod
    def _from(cls, description, input_size):
        if "permutation" not in description:
            raise ValueError('a "permute" transform needs a "permutation"')
        return cls(description["permutation"], input_size)

    def describe(self) -> dict:
        return {"kind": self.KIND, "permutation": self.permutation.tolist()}

    def arrays(self):
        return {"permutations": self.permutation}

    @classmethod
    def neutral(cls, input_size):
        return {"permutations": np.arange(input_size, dtype=np.int32)}

    def numpy(self, images):
        return np.ascontiguousarray(np.asarray(images, np.float32)[:, self.permutation])

    @staticmethod
    def tf_apply(images, tensors):
        import tensorflow as tf
        return tf.gather(images, tensors["permutations"], axis=1)


class Rotate(Transform):
    """A fixed rotation by `degrees` counter-clockwise about the image centre, as a
    bilinear resampling (`rotation_tables`); `Rotate.of(image_shape, degrees)` makes it."""

    KIND = "rotate"

    def __init__(self, indices, weights, degrees: float = float("nan"), input_size=None):
        idx, w = np.asarray(indices), np.asarray(weights)
        d = idx.shape[1] if input_size is None and idx.ndim == 2 else (input_size or 0)
        super().__init__(d)
        if idx.shape != (4, self.input_size) or w.shape != (4, self.input_size):
            raise ValueError(f'a "rotate" transform needs "indices" and "weights" of shape '
                             f'(4, {self.input_size})')
        if idx.min() < 0 or idx.max() >= self.input_size:
            raise ValueError("rotation indices out of range")
        self.indices, self.weights = idx.astype(np.int32), w.astype(np.float32)
        self.degrees = float(degrees)

    @classmethod
    def of(cls, image_shape: Sequence[int], degrees: float) -> "Rotate":
        indices, weights = rotation_tables(image_shape, degrees)
        return cls(indices, weights, degrees)

    @classmethod
    def _from(cls, description, input_size):
        return cls(np.asarray(description.get("indices")), np.asarray(description.get("weights")),
                   description.get("degrees", float("nan")), input_size)

    def describe(self) -> dict:
        return {"kind": self.KIND, "degrees": self.degrees, "indices": self.indices.tolist(),
                "weights": self.weights.tolist()}

    def arrays(self):
        return {"rotation_indices": self.indices, "rotation_weights": self.weights,
                "rotation_degrees": np.float32(self.degrees)}

    @classmethod
    def neutral(cls, input_size):
        idx = np.zeros((4, input_size), np.int32)
        idx[0] = np.arange(input_size)
        w = np.zeros((4, input_size), np.float32)
        w[0] = 1.0
        return {"rotation_indices": idx, "rotation_weights": w,
                "rotation_degrees": np.float32(0.0)}

    @property
    def is_identity(self) -> bool:
        d = self.input_size
        return bool(np.all(self.indices[0] == np.arange(d)) and np.all(self.weights[0] == 1.0)
                    and np.all(self.weights[1:] == 0.0))

    def numpy(self, images):
        """sum_j weights[j] * x[:, indices[j]] in float32, tap by tap."""
        x = np.asarray(images, np.float32)
        out = x[:, self.indices[0]] * self.weights[0]
        for j in range(1, len(self.indices)):
            out += x[:, self.indices[j]] * self.weights[j]
        return out

    @staticmethod
    def tf_apply(images, tensors):
        import tensorflow as tf
        idx, w = tensors["rotation_indices"], tensors["rotation_weights"]
        return tf.add_n([tf.gather(images, idx[k], axis=1) * w[k]
                         for k in range(int(idx.shape[0]))])


TRANSFORMS = {cls.KIND: cls for cls in (Identity, Permute, Rotate)}


def rotation_tables(image_shape: Sequence[int], degrees: float):
    """Bilinear resampling tables of a rotation by `degrees` counter-clockwise about the
    image centre, for images flattened channel-last (index (r * W + c) * C + ch).

    Returns (indices int32 [4, d], weights float32 [4, d]): the rotated image's pixel i is
    sum_j weights[j, i] * x[indices[j, i]]. Output pixel (r, c), at (y, x) = (r - cy,
    c - cx) from the centre (cy, cx) = ((H - 1) / 2, (W - 1) / 2), reads the source point
    (cy + y cos a + x sin a, cx + x cos a - y sin a): at 90 degrees that is np.rot90.
    The four taps are the source point's neighbours with the bilinear weights; a tap
    outside the image has weight 0 (and points at the pixel's own channel in the
    corner). Source coordinates within 1e-9 of an integer are taken as that integer, so
    multiples of 90 degrees give weights exactly 1 and 0.
    """
    h, w, ch = (int(v) for v in image_shape)
    a = math.radians(float(degrees))
    cos, sin = math.cos(a), math.sin(a)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    r, c = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                       indexing="ij")
    y, x = r - cy, c - cx
    sr, sc = cy + y * cos + x * sin, cx + x * cos - y * sin
    for s in (sr, sc):
        near = np.round(s)
        s[np.abs(s - near) < 1e-9] = near[np.abs(s - near) < 1e-9]
    r0, c0 = np.floor(sr), np.floor(sc)
    fr, fc = sr - r0, sc - c0
    taps = [(r0, c0, (1 - fr) * (1 - fc)), (r0, c0 + 1, (1 - fr) * fc),
            (r0 + 1, c0, fr * (1 - fc)), (r0 + 1, c0 + 1, fr * fc)]
    d = h * w * ch
    indices = np.zeros((4, d), np.int32)
    weights = np.zeros((4, d), np.float32)
    for j, (tr, tc, wt) in enumerate(taps):
        inside = (tr >= 0) & (tr <= h - 1) & (tc >= 0) & (tc <= w - 1)
        pix = np.where(inside, tr * w + tc, 0).astype(np.int64)  # [h, w]
        wt = np.where(inside, wt, 0.0)
        for k in range(ch):
            indices[j, k::ch] = (pix * ch + k).reshape(-1)
            weights[j, k::ch] = wt.reshape(-1)
    return indices, weights
