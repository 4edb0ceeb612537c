"""Errors that den_tf reports to a user as one line, without a traceback.

`den_tf/cli.py` maps each to an exit status: a bad setting is a usage error (2), a bad or
missing data file is a data error (1), a non-finite loss is a numerical fault (3), a run
that finished but could not write one of its outputs is a write failure (4).

Imports: nothing of den_tf.
"""


class DENError(Exception):
    """Base class: the message is the whole story, printed as one line."""

    exit_code = 1


class ConfigError(DENError):
    """A setting violates its rule (flag name, value and rule are in the message)."""

    exit_code = 2


class DataError(DENError):
    """A data file is missing or malformed (file name and fault are in the message)."""

    exit_code = 1


class NumericalError(DENError):
    """A training loss became NaN or infinite (task, phase and step in the message)."""

    exit_code = 3


class CheckpointError(DENError):
    """A checkpoint is missing, unreadable, or does not match the run's settings."""

    exit_code = 1


class WriteError(DENError):
    """The run finished, but an output (results, figure, checkpoint, SavedModel, log)
    could not be written; the message names it and says where the results are instead
    (issue 9: a failed write at the end loses nothing)."""

    exit_code = 4
