"""Sweeps: a grid over flags, each point one run of the command line (`python -m
den_tf.sweep`), here or as Ray tasks, with a report over the runs.

* `command`: the grid, the points' folders, the lock and the command line;
* `values`: the run's flags, their kinds and rules (the grid is checked before any point
  starts);
* `execution`: how points run (local worker processes, or Ray tasks);
* `report`: the report over a sweep's folder (pure functions).

The sweep launches runs the way a user would and sits above the library, which never
imports it.

Imports: den_tf (public API).
"""

from den_tf.sweep.command import main, parse_grid, points  # noqa: F401
from den_tf.sweep.report import aggregate, load_points, mean_std, write_report  # noqa: F401
