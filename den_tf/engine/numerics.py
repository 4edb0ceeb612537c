"""Float32 numerics on every device (algorithm.md#shared: the original ran full float32).

TensorFlow runs float32 matmuls and convolutions as TensorFloat-32 (about 10 mantissa
bits) on GPUs that have it (Ampere, Hopper) unless told otherwise. den_tf turns that off
by default, so a run on a GPU computes what the original computed; `allow_tf32=True`
trades that for speed. On a CPU the setting has no effect on the results.
"""

from __future__ import annotations


def configure(allow_tf32: bool = False) -> str:
    """Applies the TF32 setting process-wide (call it before the first op runs); returns
    a short description for the log."""
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(bool(allow_tf32))
    return describe()


def describe() -> str:
    import tensorflow as tf

    on = tf.config.experimental.tensor_float_32_execution_enabled()
    return "float32 matmuls: TF32 allowed (--tf32)" if on else "float32 matmuls: full float32 (TF32 off)"
