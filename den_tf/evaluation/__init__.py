"""How a learned task is scored and what a run reports.

* `metrics`: the mean one-vs-rest AUROC (the original's "perf", faithfulness.md#q3) over the
  classes that can be scored, and top-1 accuracy, in numpy;
* `scoring`: one task's test figures on its own timestamp and head (algorithm.md#evaluation);
* `results`: the results dict of a run: AUROC and accuracy matrices, averages, backward
  transfer, capacity, timing; `forward_transfer` of a run against a reference run.

Every figure is defined on docs/metrics.md.

Imports: den_tf.errors, den_tf.model, den_tf.datasets.
"""

from den_tf._lazy import exports

__getattr__, __dir__ = exports(__name__, {
    "mean_auroc": ".metrics", "auroc_per_class": ".metrics", "top1_accuracy": ".metrics",
    "scorable": ".metrics", "unscorable": ".metrics",
    "TaskScore": ".scoring", "score": ".scoring",
    "forward_transfer": ".results", "check_same_stream": ".results",
})
__all__ = ["mean_auroc", "auroc_per_class", "top1_accuracy", "scorable", "unscorable",
           "TaskScore", "score", "forward_transfer", "check_same_stream"]
