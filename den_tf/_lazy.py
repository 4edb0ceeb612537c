"""Lazy re-exports for package `__init__`s: a package names what it offers without
importing its modules (and TensorFlow) until a name is used, so that the command line
can check its flags before TensorFlow is imported.

Imports: nothing of den_tf.
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Dict, Tuple


def exports(package: str, names: Dict[str, str]) -> Tuple[Callable, Callable]:
    """(__getattr__, __dir__) for `package`, where `names` maps each exported name to the
    module (relative to the package, e.g. ".layers") that defines it."""

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name], package), name)
        globals_of(package)[name] = value
        return value

    def __dir__():
        return sorted(set(globals_of(package)) | set(names))

    return __getattr__, __dir__


def globals_of(package: str) -> dict:
    return vars(sys.modules[package])
