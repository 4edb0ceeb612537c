"""The flags a run takes, their kinds and rules, for checking a sweep's grid before any
point starts (without absl and without TensorFlow): read from the registered settings
(den_tf.config.registry), as the command line's flags are (den_tf.flags).

`check_value(name, text)` parses one grid value as absl parses the flag's kind and
applies the setting's rule; `check_point(point, fixed)` also checks --dims against the
point's --arch, and refuses a grid value of a setting of another method than the point's
--method, as the command line does (a fixed flag of a method's own setting goes only to
that method's points). Every fault is a ValueError of one line naming the flag and the value.
A grid that names a user's method or setting gives `--import=module` among its fixed
flags: `import_modules` imports them first, as the command line does.
"""

from __future__ import annotations

import csv
import importlib
from typing import Dict, Mapping, Optional, Sequence

from den_tf.config import Config, registry, rules
from den_tf.errors import ConfigError


def _setting(name: str):
    """The setting of flag --name, or None."""
    return registry.by_flag(name)


def known(name: str) -> bool:
    return _setting(name) is not None


def kind_of(name: str) -> Optional[str]:
    """The flag's kind (integer, float, boolean, enum, list, string), or None."""
    s = _setting(name)
    return None if s is None else s.kind


def kinds() -> Dict[str, str]:
    """{flag: kind} of every flag the command line has now."""
    return {s.flag_name: s.kind for s in registry.settings()}


def enum_values(name: str) -> tuple:
    s = _setting(name)
    return s.values() if s is not None and s.kind == "enum" else ()


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
    s = _setting(name)
    if s is None:
        raise ValueError(f"--{name}: no such flag of python -m den_tf.cli")
    try:
        if s.kind == "integer":
            return _integer(text)
        if s.kind == "float":
            return float(text)
        if s.kind == "boolean":
            return _boolean(text)
        if s.kind == "list":
            return _list(text)
    except (ValueError, csv.Error):
        raise ValueError(f"--{name}={text}: must be {WHAT[s.kind]}") from None
    return text


def check_value(name: str, text: str):
    """Parses `text` as flag `name` and applies the setting's rule; returns the value."""
    value = parse_value(name, text)
    s = _setting(name)
    try:
        if s.name == "dims":
            rules.check_dims(rules.dims_of(value), 1)  # (check_point knows the arch)
        else:
            s.check(s.convert(value) if s.convert is not None and s.kind != "list"
                    else value)
    except ConfigError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(f"--{name}=") else f"--{name}={text}: {msg}") \
            from None
    return value


def check_dims(values: Sequence[str], arch: str) -> None:
    """--dims as its flag's validator checks it against --arch: integers, every one
    positive, as many as the architecture reads (the MLP: at least 3; another: only the
    head's)."""
    dims = rules.dims_of(values)
    rules.check_dims(dims, 1)
    try:
        registry.resolve_arch(arch).check_dims(dims)
    except ConfigError as e:
        raise ConfigError(f"--dims={','.join(values)}: {str(e).split(': ', 1)[1]}") from None


def import_modules(fixed: Mapping[str, str]) -> None:
    """Imports the modules of a fixed --import (they register their settings and
    methods), as the command line does before it parses its flags."""
    for name in _list(fixed.get("import", "")):
        try:
            importlib.import_module(name)
        except Exception as e:  # a user's module: any failure is one line
            raise ValueError(f"--import={name}: {type(e).__name__}: {e}") from None


def fixed_values(fixed: Sequence[str]) -> Dict[str, str]:
    """{flag: value} of the fixed arguments written `--flag=value` whose flag is known
    (others are left to the run); --import's modules are imported first."""
    raw = {}
    for a in fixed:
        if a.startswith("-") and "=" in a:
            name, value = a.lstrip("-").split("=", 1)
            raw[name] = value
    if "import" in raw:
        import_modules(raw)
    return {name: value for name, value in raw.items() if known(name)}


def applies(flag: str, method: str) -> bool:
    """Whether flag --flag is a setting `method` has (a flag den_tf does not know is left
    to the run)."""
    s = _setting(flag)
    return s is None or s.applies_to(method)


def check_point(point: Mapping[str, str], fixed: Optional[Mapping[str, str]] = None) -> None:
    """One point's flags (the grid's values over the fixed ones; an empty value is the
    default): every value by its flag's rule, --dims against the point's --arch, and no
    grid value of a setting of another method than the point's --method (a fixed one of
    another method's setting is not given to the point: `grid.run_args`)."""
    method = point.get("method") or (fixed or {}).get("method") or Config.DEFAULT_METHOD
    flags = {k: v for k, v in (fixed or {}).items() if applies(k, method)}
    flags.update({k: v for k, v in point.items() if v != ""})
    for name, text in flags.items():
        check_value(name, text)
    for name, text in point.items():
        if text != "" and not applies(name, method):
            raise ValueError(f"--{name}={text}: a setting of --method="
                             f"{'/'.join(_setting(name).methods)}, not of --method={method}")
    if "dims" in flags:
        try:
            check_dims(_list(flags["dims"]), flags.get("arch", "mlp"))
        except ConfigError as e:
            raise ValueError(str(e)) from None
