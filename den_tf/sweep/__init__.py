"""Sweeps: a grid over flags, each point one run of the command line (`python -m
den_tf.sweep`), here or as Ray tasks, with a report over the runs.

* `command`: the command line (the sweep's folder, its points run, the report);
* `grid`: the grid and its points (their values checked, their folders' names);
* `lock`: the lock that keeps a second sweep out of a folder;
* `resources`: how many runs at once this machine holds;
* `progress`: a line per finished point, with an ETA;
* `values`: the run's flags, their kinds and rules (the grid is checked before any point
  starts);
* `execution`: how points run (local worker processes, or Ray tasks);
* `report`: the report over a sweep's folder (pure functions).

The sweep launches runs the way a user would and sits above the library, which never
imports it.

Imports: den_tf (public API).
"""

from den_tf.sweep.command import main  # noqa: F401
from den_tf.sweep.grid import parse_grid, points  # noqa: F401
from den_tf.sweep.report import aggregate, load_points, mean_std, write_report  # noqa: F401
