"""Errors that den_tf reports to a user as one line, without a traceback.

`den_tf/cli.py` maps each to an exit status: a bad setting is a usage error (2), a bad or
missing data file is a data error (1), a non-finite loss is a numerical fault (3), a run
that finished but could not write one of its outputs is a write failure (4).

Imports: nothing of den_tf.
"""

import re


class DENError(Exception):
    """Base class: the message is the whole story, printed as one line."""

    exit_code = 1


class ConfigError(DENError):
    """A setting violates its rule (flag name, value and rule are in the message)."""

    exit_code = 2
    # flags whose setting has another name in den_tf.config.DENConfig
    SETTING_OF_FLAG = {"tasks": "task_stream", "tf32": "allow_tf32"}

    def for_library(self) -> str:
        """The message in terms of the library's arguments (the DENConfig fields: the
        flags' names without "--") rather than the command line's flags."""
        return re.sub(r"--(\w+)", lambda m: self.SETTING_OF_FLAG.get(m.group(1), m.group(1)),
                      str(self))


class DataError(DENError):
    """A data file is missing or malformed (file name and fault are in the message)."""

    exit_code = 1


class InputError(DataError):
    """A user's data given to the library does not follow a rule (den_tf.datasets.checks):
    the message names the task, the split and the fault, in terms of the arguments."""


class NumericalError(DENError):
    """A training loss became NaN or infinite (task, phase and step in the message)."""

    exit_code = 3


class CheckpointError(DENError):
    """A checkpoint is missing, unreadable, or does not match the run's settings."""

    exit_code = 1


class WriteError(DENError):
    """The run finished, but an output (results, figure, checkpoint, SavedModel, log)
    could not be written; the message names it and says where the results are instead
    (a failed write at the end loses nothing)."""

    exit_code = 4
