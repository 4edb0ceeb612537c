"""Checks before the first training step, without TensorFlow: every output the run will
write (`outputs`) and the memory of the largest network it can grow to (`memory`).

Imports: den_tf.errors, den_tf.config, den_tf.model.
"""

from den_tf.config import COLUMN_SCALE, column_units  # noqa: F401
from den_tf.preflight.memory import (  # noqa: F401
                                     EWC_BYTES,
                                     Largest,
                                     available_memory,
                                     baseline_network,
                                     check_memory,
                                     conv_activations,
                                     conv_max_sizes,
                                     conv_parameter_count,
                                     data_bytes,
                                     estimate_peak_bytes,
                                     eval_rows,
                                     grown_size,
                                     largest_network,
                                     max_hidden_sizes,
                                     parameter_count,
                                     peak_bytes,
)
from den_tf.preflight.outputs import (  # noqa: F401
                                     check_dir_kind,
                                     check_dir_output,
                                     check_file_output,
                                     check_path_given,
                                     reason,
)
