"""What a run writes and reads: the log (its line formats and the file), checkpoints,
the SavedModel export, the progress bar, TensorBoard summaries and the figures.

* `loglines`: every line the original prints, in its format, and their parsers;
* `logfile`: `Log`, where the log is written (stdout and the log file);
* `checkpoint`: per-task checkpoints, atomic, and reading them back;
* `export`: the SavedModel that serves raw images per task;
* `progress`, `tensorboard`, `csvlog`: callbacks that watch a run (a progress bar,
  TensorBoard summaries, a CSV row per evaluated task);
* `figures`: the results figure (matplotlib, optional);
* `writes`: what a command-line run does when an output cannot be written after
  training has started (nothing learned is lost; exit status 4 at the end).

Imports: den_tf.errors, den_tf.config, den_tf.preflight, den_tf.model, den_tf.datasets,
den_tf.evaluation, den_tf.engine.
"""

from den_tf._lazy import exports

__getattr__, __dir__ = exports(__name__, {
    "Log": ".logfile", "pyplot": ".figures", "png_bytes": ".figures",
    "figure_png": ".figures", "ProgressBar": ".progress", "TensorBoard": ".tensorboard",
    "CSVLogger": ".csvlog",
})
__all__ = ["Log", "pyplot", "png_bytes", "figure_png", "ProgressBar", "TensorBoard",
           "CSVLogger"]
