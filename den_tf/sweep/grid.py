"""The grid of a sweep and its points (den_tf.sweep.command is the command line):

* `parse_grid`: `--grid=flag=v1,v2` arguments as [(flag, [values])], split on commas, or
  on `|` when a list holds one; an empty value leaves the flag at its default;
* `check_grid`: every grid value, and every fixed `--flag=value` of a run's flag, parsed
  and checked by its flag's rule (den_tf.sweep.values) before any point starts;
* `points`: every combination of the values; `point_name`: a point's folder name
  (`prox_order=gl_only__train_seed=1`); `run_args`: the flags of a point's run;
  `is_complete`: whether a point's run finished (its results.json says so);
* `flag_names`, `defining_args`: the flags an argument list sets, and the arguments that
  define a run's figures (all but where its outputs go).

`SweepError` is a problem with the sweep's own arguments or folder: one line for the
user, exit status 2.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Dict, List, Sequence

from den_tf.sweep import execution, values
from den_tf.sweep.report import DEFAULT_VALUE


class SweepError(Exception):
    """A problem with the sweep's own arguments or folder (one line for the user)."""


def parse_grid(specs: Sequence[str]) -> List[tuple]:
    """[(flag, [values])] from `--grid=flag=v1,v2` arguments, in the order given."""
    grid, seen = [], set()
    for spec in specs:
        if "=" not in spec:
            raise SweepError(f"--grid={spec}: expected FLAG=VALUE[,VALUE...]")
        name, values = spec.split("=", 1)
        name = name.strip().lstrip("-")
        if not name:
            raise SweepError(f"--grid={spec}: no flag name")
        if name in seen:
            raise SweepError(f"--grid={spec}: flag {name} is already in the grid")
        seen.add(name)
        sep = "|" if "|" in values else ","
        vals = [v.strip() for v in values.split(sep)]
        if len(set(vals)) != len(vals):
            raise SweepError(f"--grid={spec}: a value is repeated")
        grid.append((name, vals))
    return grid


def check_grid(grid: Sequence[tuple], fixed: Sequence[str] = ()) -> None:
    """Every grid value, and every fixed `--flag=value` of a known flag, parsed and checked
    by its flag's rule (den_tf.sweep.values) before any point starts; SweepError (one
    line naming the flag and the value) at the first fault."""
    try:  # (first: a fixed --import registers the settings the grid may name)
        fixed_known = values.fixed_values(fixed)
    except ValueError as e:
        raise SweepError(f"{e} (no point was run)") from None
    for name, vals in grid:
        if not values.known(name):
            raise SweepError(f"--grid={name}=...: {name} is not a flag of python -m "
                             f"den_tf.cli (python -m den_tf.cli --help lists them)")
    for name, vals in grid:
        for v in vals:
            if v != "":  # an empty value: the flag's default
                try:
                    values.check_value(name, v)
                except ValueError as e:
                    raise SweepError(f"--grid={name}=...: {e} (no point was run)") from None
    try:
        for name, text in fixed_known.items():
            values.check_value(name, text)
    except ValueError as e:
        raise SweepError(f"{e} (no point was run)") from None
    for pt in points(grid):
        try:
            values.check_point(pt, fixed_known)
        except ValueError as e:
            raise SweepError(f"point {point_name(pt)}: {e} (no point was run)") from None


def points(grid: Sequence[tuple]) -> List[Dict[str, str]]:
    """Every combination of the grid's values, as {flag: value}, first flag slowest."""
    names = [n for n, _ in grid]
    return [dict(zip(names, combo)) for combo in itertools.product(*[v for _, v in grid])]


def point_name(point: Dict[str, str]) -> str:
    """The folder name of a point: `flag=value` joined by `__` (grid order)."""
    parts = []
    for k, v in point.items():
        v = v if v != "" else DEFAULT_VALUE
        parts.append(f"{k}={v.replace('/', '_').replace(',', '+')}")
    return "__".join(parts) if parts else "run"


def run_args(point: Dict[str, str], fixed: Sequence[str]) -> List[str]:
    """The flags that make a point's run: the fixed ones, then the point's grid values. A
    fixed flag of a method's own setting goes only to that method's points (a grid over
    --method with a fixed --ewc_lambda: the ewc points get it)."""
    method = point.get("method") or values.fixed_values(fixed).get("method") or "den"
    kept = [a for a in fixed if values.applies(_flag_of(a), method)]
    return kept + [f"--{k}={v}" for k, v in point.items() if v != ""]


def _flag_of(arg: str) -> str:
    """The flag name of a `--name=value` (or `--name`) argument."""
    return arg.lstrip("-").split("=", 1)[0]


def is_complete(folder: str) -> bool:
    """Whether the point's run finished (its results JSON says so)."""
    try:
        with open(os.path.join(folder, "results.json")) as f:
            return json.load(f).get("complete") is True
    except (OSError, ValueError, AttributeError):
        return False


def flag_names(args: Sequence[str]) -> List[str]:
    """The flag names in an argument list (`--name=v`, `--name v`, `--noname`)."""
    names = []
    for a in args:
        if a.startswith("-") and len(a) > 1 and not _is_number(a):
            n = a.lstrip("-").split("=", 1)[0]
            names.append(n)
            if n.startswith("no") and "=" not in a:
                names.append(n[2:])
    return names


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def defining_args(args: Sequence[str]) -> List[str]:
    """The arguments that define a run's figures: all but where its outputs go. The data
    folder counts by the folder it names (`../shared/mnist` from a checkout beside it
    and `/work/shared/mnist` are one folder, one run)."""
    out = []
    for a in args:
        name, eq, value = a.lstrip("-").partition("=")
        if name in execution.MANAGED_FLAGS:
            continue
        if name == "data_dir" and eq:
            a = f"--data_dir={os.path.realpath(value)}"
        out.append(a)
    return sorted(out)
