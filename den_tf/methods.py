"""--method names and the classes that run them: DEN (`den_tf.trainer.DENTrainer`) and
the baselines of `den_tf.baselines` (one module each). Every class takes
(config, tasks, batches, init, log, callbacks) and has config, records, scores, done,
learn_task(t) and evaluate_all(t)."""

from __future__ import annotations

import dataclasses
import importlib

from den_tf.config import DENConfig

# name -> (module, class)
METHODS = {
    "den": ("den_tf.trainer", "DENTrainer"),
    "dnn": ("den_tf.baselines.dnn", "DNN"),
    "l2": ("den_tf.baselines.l2", "L2"),
    "ewc": ("den_tf.baselines.ewc", "EWC"),
    "progressive": ("den_tf.baselines.progressive", "Progressive"),
    "stl": ("den_tf.baselines.stl", "STL"),
    "mtl": ("den_tf.baselines.mtl", "MTL"),
}
NAMES = tuple(METHODS)


def method_of(config: DENConfig) -> str:
    """The method a config runs (a plain DENConfig runs DEN)."""
    return getattr(config, "method", "den")


def method_class(name: str):
    module, cls = METHODS[name]
    return getattr(importlib.import_module(module), cls)


def config_for(config: DENConfig, method: str, **settings) -> DENConfig:
    """The config of `method` with DEN's settings of `config`: DEN's own DENConfig for
    "den" (its results are unchanged), else a BaselineConfig with `settings` (l2_pull,
    ewc_lambda, ewc_samples, column_scale)."""
    base = {f.name: getattr(config, f.name) for f in dataclasses.fields(DENConfig)}
    if method == "den":
        return DENConfig(**base)
    from den_tf.baselines.config import BaselineConfig
    return BaselineConfig(**base, method=method, **settings)
