"""The rules a setting's value must follow, one function each: `rule(name, value)` raises
ConfigError with one line in the command line's terms ("--name=value: the rule"); the
library rewrites it in its own terms (`ConfigError.for_library`).

Imports: den_tf.errors.
"""

from __future__ import annotations

import math
from typing import Sequence

from den_tf.errors import ConfigError

# The largest count any integer setting may take (TensorFlow's int32 counters and
# shapes; far above any real run's).
INT_MAX = 2 ** 31 - 1
# numpy's seeds (RandomState, and the tf.random.Generator seeded alike): 0 .. 2**32 - 1.
SEED_MAX = 2 ** 32 - 1


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int)


def _check_int_max(name: str, value) -> None:
    if value > INT_MAX:
        raise ConfigError(f"--{name}={value}: must be at most {INT_MAX}")


def check_positive_int(name: str, value) -> None:
    if not _is_int(value) or value < 1:
        raise ConfigError(f"--{name}={value}: must be a positive integer")
    _check_int_max(name, value)


def check_nonnegative_int(name: str, value) -> None:
    if not _is_int(value) or value < 0:
        raise ConfigError(f"--{name}={value}: must be an integer >= 0")
    _check_int_max(name, value)


def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) \
        and math.isfinite(value)


def check_positive_float(name: str, value) -> None:
    if not _is_number(value) or value <= 0:
        raise ConfigError(f"--{name}={value}: must be a finite number > 0")


def check_nonnegative_float(name: str, value) -> None:
    if not _is_number(value) or value < 0:
        raise ConfigError(f"--{name}={value}: must be a finite number >= 0")


def check_seed(name: str, value) -> None:
    if not _is_int(value) or not 0 <= value <= SEED_MAX:
        raise ConfigError(f"--{name}={value}: must be an integer from 0 to {SEED_MAX} "
                          f"(numpy's seeds)")


def check_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"--{name}={value}: must be true or false")


def check_text(name: str, value) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"--{name}={value}: must be a string")


def optional(check):
    """The rule `check`, or None (the setting's default: not given)."""
    def rule(name: str, value) -> None:
        if value is not None:
            check(name, value)
    rule.__name__ = f"optional_{check.__name__}"
    return rule


def fmt_dims(dims: Sequence) -> str:
    return ",".join(str(d) for d in dims)


def check_dims(dims: Sequence, min_sizes: int = 1) -> None:
    """--dims: at least `min_sizes` positive integers (the MLP needs 3: input, one or more
    hidden layers, output; another architecture reads only the head's size)."""
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__len__"):
        raise ConfigError(f"--dims={dims}: must be a list of positive integers")
    for d in dims:
        if not _is_int(d) or d < 1:
            raise ConfigError(f"--dims={fmt_dims(dims)}: every size must be a positive "
                              f"integer")
    if len(dims) < min_sizes:
        if min_sizes >= 3:
            raise ConfigError(
                f"--dims={fmt_dims(dims)}: needs at least 3 sizes (input, one or more hidden "
                f"layers, output)")
        raise ConfigError(f"--dims={fmt_dims(dims)}: needs at least one size (the head's)")


def dims_of(values) -> tuple:
    """--dims' list of strings (or any sequence of integers) as a tuple of ints."""
    try:
        return tuple(int(d) for d in values)
    except (TypeError, ValueError):
        raise ConfigError(f"--dims={fmt_dims(values)}: must be a comma-separated list of "
                          f"integers") from None


def parse_class_groups(text) -> tuple:
    """--class_groups: groups separated by ";", class ids in a group by "," (e.g.
    "0,1;2,3;4,5"); a tuple of tuples. ConfigError naming the fault."""
    if isinstance(text, (tuple, list)):
        groups = text
    else:
        groups = [g for g in str(text).split(";") if g.strip()] if str(text).strip() else []
        try:
            groups = [[int(c) for c in g.replace(" ", "").split(",") if c] for g in groups]
        except ValueError:
            raise ConfigError(f"--class_groups={text}: groups of class ids separated by ';', "
                              f"ids by ',' (e.g. 0,1;2,3;4,5)") from None
    try:
        return tuple(tuple(int(c) for c in g) for g in groups)
    except (TypeError, ValueError):
        raise ConfigError(f"--class_groups={text}: groups of integer class ids") from None


def class_groups_text(groups) -> str:
    return ";".join(",".join(str(c) for c in g) for g in groups)
