"""Checks before the first training step, without TensorFlow: every output the run will
write (`outputs`) and the memory of the largest network it holds or can grow to
(`memory`, from its method's own estimate).

Imports: den_tf.errors, den_tf.config, den_tf.model.
"""

from den_tf.preflight.memory import (  # noqa: F401
                                     available_memory,
                                     check_memory,
                                     check_run_memory,
                                     data_bytes,
                                     eval_rows,
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
