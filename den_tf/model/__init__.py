"""The network DEN grows: expandable layers whose units carry birth timestamps, the
network (hidden layers, one head per task, timestamps, the forward pass) and the
architectures (the MLP of --dims, lenet, conv5).

* `layers`: `DenLayer` (every growth operation: append, delete, duplicate units and
  inputs; selection and block views; trainable masks) and `DenDense`;
* `conv`: `DenConv2D`, whose units are filters, and the convolutional forward pass;
* `network`: `DENNetwork`, the hidden layers, heads and timestamps;
* `forward`: `mlp_logits`, `mean_sigmoid_ce`, `predict` (the compiled prediction),
  `matmul` and `TrailingGrad` (a kernel's gradient only on the blocks a phase trains);
* `archs`: which layers an architecture stacks (`archs.specs` has their sizes, without
  TensorFlow).

Imports: den_tf.errors.
"""

from den_tf._lazy import exports

__getattr__, __dir__ = exports(__name__, {
    "DenLayer": ".layers", "DenDense": ".layers", "DenConv2D": ".conv",
    "ConvForward": ".conv", "DENNetwork": ".network", "mlp_logits": ".forward",
    "mean_sigmoid_ce": ".forward", "predict": ".forward",
})
__all__ = ["DenLayer", "DenDense", "DenConv2D", "ConvForward", "DENNetwork", "mlp_logits",
           "mean_sigmoid_ce", "predict"]
