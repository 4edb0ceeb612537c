"""The network DEN grows: expandable layers whose units carry birth timestamps, the
network (hidden layers, one head per task, timestamps, the forward pass) and the
architectures (the MLP of --dims, lenet, conv5).

* `layers`: `DenLayer` (every growth operation: append, delete, duplicate units and
  inputs; selection and block views; trainable masks) and `DenDense`;
* `conv`: `DenConv2D`, whose units are filters, and the convolutional forward pass;
* `network`: `DENNetwork`, the hidden layers, heads and timestamps;
* `forward`: `mlp_logits`, `mean_sigmoid_ce`, `predict` (the compiled prediction),
  `matmul` and `TrailingGrad` (a kernel's gradient only on the blocks a phase trains);
* `archs`: the architectures, every one an entry of the registry (den_tf.config): mlp,
  lenet, conv5, any layer spec (`conv32k5p2,conv64k5p2,fc256`) or keras.Sequential
  (`archs.specs` has their layers and sizes, without TensorFlow; `archs.networks` makes
  the network).

Imports: den_tf.errors, den_tf.config.
"""

from den_tf._lazy import exports

__getattr__, __dir__ = exports(__name__, {
    "DenLayer": ".layers", "DenDense": ".layers", "DenConv2D": ".conv",
    "ConvForward": ".conv", "DENNetwork": ".network", "mlp_logits": ".forward",
    "mean_sigmoid_ce": ".forward", "predict": ".forward",
})
__all__ = ["DenLayer", "DenDense", "DenConv2D", "ConvForward", "DENNetwork", "mlp_logits",
           "mean_sigmoid_ce", "predict"]
