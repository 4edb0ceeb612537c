"""The flags a run takes, their kinds and rules, for checking a sweep's grid before any
point starts (without absl and without TensorFlow).

Each flag of `python -m den_tf.cli` (den_tf/flags.py) has a kind (integer, float,
boolean, enum, list or string, parsed as absl parses it) and the rule den_tf.config gives
it (DEN_RULES, BASELINE_RULES, check_seed, parse_paper, parse_class_groups, check_dims).
`check_value(name, text)` parses one grid value and applies the rule; `check_point(point,
fixed)` also checks --dims against the point's --arch, as the flag's own validator does.
Every fault is a ValueError of one line naming the flag and the value. tests/test_sweep.py
holds FLAGS to den_tf.flags' definitions (names, kinds, enum values).
"""

from __future__ import annotations

import csv
from typing import Callable, Dict, Mapping, Optional, Sequence

from den_tf import config
from den_tf.datasets import CLASS_ORDERS, DATASETS, TASK_STREAMS
from den_tf.errors import ConfigError

INTEGERS = ("max_iter", "batch_size", "n_classes", "ex_k", "n_tasks", "task_seed",
            "train_seed", "seed", "ewc_samples", "threads", "capacity_bucket")
FLOATS = ("lr", "l1_lambda", "l2_lambda", "gl_lambda", "regular_lambda", "loss_thr",
          "spl_thr", "spl_thr_conv", "l2_pull", "ewc_lambda", "column_scale")
BOOLEANS = ("tf32", "xla", "permute_once", "resume", "checkpoints", "figure", "verbose")
LISTS = ("dims", "paper")
STRINGS = ("checkpoint_dir", "data_dir", "class_groups", "log_file", "results",
           "tensorboard_dir", "csv_log", "export_dir")
ENUMS: Dict[str, tuple] = {
    "arch": tuple(config.specs.ARCHS), "dataset": tuple(DATASETS),
    "tasks": tuple(TASK_STREAMS), "class_order": tuple(CLASS_ORDERS),
    "prox_order": tuple(config.PROX_ORDERS), "mode": ("train", "eval", "export"),
    "progress": ("auto", "on", "off"), "method": tuple(config.METHODS),
}
KINDS: Dict[str, str] = {
    **{n: "integer" for n in INTEGERS}, **{n: "float" for n in FLOATS},
    **{n: "boolean" for n in BOOLEANS}, **{n: "list" for n in LISTS},
    **{n: "string" for n in STRINGS}, **{n: "enum" for n in ENUMS},
}
# The rule of each flag, as den_tf/flags.py registers it (its validators).
RULES: Dict[str, Callable] = {
    **config.DEN_RULES, **config.BASELINE_RULES, "seed": config.optional(config.check_seed),
    "threads": config.check_nonnegative_int,
    "paper": lambda name, v: config.parse_paper(v),
    "class_groups": lambda name, v: config.parse_class_groups(v),
}


def known(name: str) -> bool:
    return name in KINDS


def _integer(text: str) -> int:  # absl's IntegerParser
    base = 10
    if len(text) > 2 and text[0] == "0":
        base = {"o": 8, "x": 16}.get(text[1], 10)
    return int(text, base)


def _boolean(text: str) -> bool:  # absl's BooleanParser
    if text.lower() in ("true", "t", "1"):
        return True
    if text.lower() in ("false", "f", "0"):
        return False
    raise ValueError("not a boolean")


def _list(text: str) -> list:  # absl's ListParser
    if not text:
        return []
    return [s.strip() for s in list(csv.reader([text], strict=True))[0]]


WHAT = {"integer": "an integer", "float": "a number", "boolean": "true or false",
        "list": "a comma-separated list"}


def parse_value(name: str, text: str):
    """The value of flag `name` given as `text`, parsed as the command line parses it;
    ValueError (one line naming the flag and the value) when it cannot be."""
    kind = KINDS.get(name)
    if kind is None:
        raise ValueError(f"--{name}: no such flag of python -m den_tf.cli")
    try:
        if kind == "integer":
            return _integer(text)
        if kind == "float":
            return float(text)
        if kind == "boolean":
            return _boolean(text)
        if kind == "list":
            return _list(text)
    except (ValueError, csv.Error):
        raise ValueError(f"--{name}={text}: must be {WHAT[kind]}") from None
    if kind == "enum" and text not in ENUMS[name]:
        raise ValueError(f"--{name}={text}: must be one of {', '.join(ENUMS[name])}")
    return text


def check_value(name: str, text: str):
    """Parses `text` as flag `name` and applies the flag's rule; returns the value."""
    value = parse_value(name, text)
    try:
        if name == "dims":
            check_dims(value, "lenet")  # the loosest; check_point knows the arch
        elif name in RULES:
            RULES[name](name, value)
    except ConfigError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(f"--{name}=") else f"--{name}={text}: {msg}") \
            from None
    return value


def check_dims(values: Sequence[str], arch: str) -> None:
    """--dims as its flag's validator checks it: integers, at least 3 for the MLP (1 for a
    convolutional arch), every one positive."""
    text = ",".join(values)
    try:
        dims = [int(d) for d in values]
    except ValueError:
        raise ConfigError(f"--dims={text}: must be a comma-separated list of integers") \
            from None
    try:
        config.check_dims(dims, min_sizes=1 if arch in config.specs.CONV_ARCHS else 3)
    except ConfigError as e:
        raise ConfigError(f"--dims={text}: {str(e).split(': ', 1)[1]}") from None


def fixed_values(fixed: Sequence[str]) -> Dict[str, str]:
    """{flag: value} of the fixed arguments written `--flag=value` whose flag is known
    (others are left to the run)."""
    out = {}
    for a in fixed:
        if a.startswith("-") and "=" in a:
            name, value = a.lstrip("-").split("=", 1)
            if known(name):
                out[name] = value
    return out


def check_point(point: Mapping[str, str], fixed: Optional[Mapping[str, str]] = None) -> None:
    """One point's flags (the grid's values over the fixed ones; an empty value is the
    default): every value by its flag's rule, --dims against the point's --arch."""
    flags = dict(fixed or {})
    flags.update({k: v for k, v in point.items() if v != ""})
    for name, text in flags.items():
        check_value(name, text)
    if "dims" in flags:
        try:
            check_dims(_list(flags["dims"]), flags.get("arch", config.DENConfig().arch))
        except ConfigError as e:
            raise ValueError(str(e)) from None
