"""The settings of a run, each defined once, and the registries of what a run can name.

* `registry`: `Setting`, `define`, and the registries of methods (`register_method`),
  architectures (`register_arch`), data sets (`register_dataset`) and task streams
  (`register_stream`); every flag, config, sweep kind, checkpoint list and the docs' flag
  table read them;
* `shared`: the settings every run has, and the command line's own;
* `rules`: one rule per kind of value;
* `config`: `Config` (`DENConfig`, `BaselineConfig`), a run's settings checked by name and
  by rule;
* `table`: the docs' flag table, made from the registry.

No TensorFlow: the command line checks its flags before TensorFlow is imported.

Imports: den_tf.errors.
"""

from __future__ import annotations

from den_tf.config import registry, rules, shared
from den_tf.config.config import BaselineConfig, Config, DENConfig, config_for, method_of
from den_tf.config.registry import (
    ARCHITECTURES,
    DATASETS,
    METHODS,
    SETTINGS,
    STREAMS,
    DatasetCard,
    Footprint,
    MethodCard,
    Setting,
    StreamCard,
    closest,
    define,
    method_card,
    register_arch,
    register_arch_parser,
    register_dataset,
    register_method,
    register_stream,
    resolve_arch,
    setting,
    settings,
)
from den_tf.config.rules import (
    INT_MAX,
    SEED_MAX,
    check_dims,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    check_seed,
    optional,
    parse_class_groups,
)
from den_tf.config.shared import PAPER_SWITCHES, parse_paper


def __getattr__(name: str):
    # Names whose value is whatever is registered now (den_tf registers its own methods
    # when imported; a user's module may add more).
    if name == "METHOD_NAMES":
        return METHODS.names()
    if name == "BASELINES":
        return tuple(m for m in METHODS.names() if m != "den")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARCHITECTURES", "BaselineConfig", "Config", "DATASETS", "DENConfig", "DatasetCard",
    "Footprint", "INT_MAX", "METHODS", "MethodCard", "PAPER_SWITCHES", "SEED_MAX",
    "SETTINGS", "STREAMS", "Setting", "StreamCard", "check_dims", "check_nonnegative_float",
    "check_nonnegative_int", "check_positive_float", "check_positive_int", "check_seed",
    "closest", "config_for", "define", "method_card", "method_of", "optional",
    "parse_class_groups", "parse_paper", "register_arch", "register_arch_parser",
    "register_dataset", "register_method", "register_stream", "resolve_arch", "rules",
    "setting", "settings", "shared",
]
