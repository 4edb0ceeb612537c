"""The settings of one run: `Config` (also `DENConfig`; `BaselineConfig` defaults to a
baseline), made of the registered settings (den_tf.config.registry) that apply to its
method.

    Config(max_iter=1000, train_seed=1)            # DEN, the other settings default
    Config(method="ewc", ewc_lambda=10.0)          # a baseline with its own setting
    Config(maxiter=5)      # ConfigError: maxiter: no such setting (did you mean max_iter?)
    Config(method="ewc", ex_k=5)  # ConfigError: ex_k: a setting of method den, not of ewc

A setting is checked by name when the config is made (an unknown name, one of the
command line alone, or one of another method is refused: it is never stored) and by its
rule when `validate` runs (with the data's sizes when they are known). A config holds
only the settings its method uses; `asdict()` is what a run records.

Imports: den_tf.errors.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

from den_tf.config import rules
from den_tf.config.registry import (
    METHODS,
    SETTINGS,
    STREAMS,
    Setting,
    did_you_mean,
    resolve_arch,
    settings,
)
from den_tf.config.shared import PAPER_SWITCHES, parse_paper
from den_tf.errors import ConfigError


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _name_error(name: str, method: str) -> Optional[ConfigError]:
    """Why `name` cannot be a setting of a config of `method` (None: it can)."""
    if name not in SETTINGS:
        known = [s.name for s in settings(command=False)]
        return ConfigError(f"{name}: no such setting{did_you_mean(name, known)}")
    s = SETTINGS.get(name)
    if s.command:
        return ConfigError(f"{name}: a setting of the command line alone (--{s.flag_name}), "
                           f"not of a run")
    if not s.applies_to(method):
        owners = ", ".join(s.methods)
        return ConfigError(f"{name}: a setting of method {owners}, not of {method} "
                           f"(method={method!r})")
    return None


class Config:
    """The settings of a run (module docstring). Immutable; `replace(**settings)` makes
    another. Attributes: every setting of its method (`Config.names(method)`)."""

    DEFAULT_METHOD = "den"
    __slots__ = ("_values", "_given")

    def __init__(self, method: Optional[str] = None, **settings_given):
        if method is None:
            method = self.DEFAULT_METHOD
        if not isinstance(method, str):
            raise ConfigError(f"method={method!r}: give a method's name")
        METHODS.get(method)  # ConfigError naming the closest method
        for name in settings_given:
            err = _name_error(name, method)
            if err is not None:
                raise err
        values: Dict[str, object] = {}
        for s in self.settings_of(method):
            if s.name == "method":
                values[s.name] = method
            elif s.name in settings_given:
                values[s.name] = self._convert(s, settings_given[s.name])
            else:
                values[s.name] = s.default
        if "dims" not in settings_given:
            values["dims"] = self._default_dims(values)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_given", frozenset(settings_given) | {"method"})

    # ----------------------------------------------------------------- the settings
    @staticmethod
    def settings_of(method: str):
        """The registered settings a config of `method` holds, in definition order."""
        return [s for s in settings(command=False) if s.applies_to(method)]

    @classmethod
    def names(cls, method: str = "den") -> tuple:
        return tuple(s.name for s in cls.settings_of(method))

    @staticmethod
    def _convert(s: Setting, value):
        """The setting's value in its stored form (dims as a tuple of ints, --paper's
        switches sorted, class groups as tuples); left as given when it cannot be
        converted (`validate` names the fault)."""
        if s.convert is not None and value is not None:
            try:
                return _hashable(s.convert(value))
            except ConfigError:
                return _hashable(value)
        return _hashable(value)

    @staticmethod
    def _default_dims(values: dict):
        """--dims when not given: the original's for an architecture that reads its
        hidden sizes from dims (the MLP), else only the head's size, --n_classes (the
        widest class group's size with explicit groups)."""
        dims = SETTINGS.get("dims").default
        try:
            reads = getattr(resolve_arch(values.get("arch", "mlp")), "reads_dims", True)
        except ConfigError:
            return dims
        if reads:
            return dims
        groups = values.get("class_groups") or ()
        n = max((len(g) for g in groups), default=0) or values.get("n_classes", dims[-1])
        return (n,)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            pass
        if name in SETTINGS:
            raise AttributeError(str(_name_error(name, self._values["method"])))
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}"
                             f"{did_you_mean(name, list(self._values))}")

    def __setattr__(self, name, value):
        raise AttributeError("a Config is immutable: use replace(...)")

    def __reduce__(self):
        return (_rebuild, (self._values["method"],
                           {k: v for k, v in self._values.items() if k in self._given
                            and k != "method"}))

    @property
    def method(self) -> str:
        return self._values["method"]

    @property
    def given(self) -> frozenset:
        """The settings given when the config was made (the others are defaults)."""
        return self._given

    def asdict(self) -> dict:
        """{setting: value} of every setting the run uses (JSON-ready but for tuples)."""
        return dict(self._values)

    def replace(self, **changes) -> "Config":
        """A config with `changes` (checked by name as a new one); the method may change
        only to one that has every setting given so far (`for_method` drops the old
        method's own)."""
        method = changes.pop("method", self.method)
        kept = {k: v for k, v in self._values.items() if k in self._given and k != "method"}
        return type(self)(method=method, **{**kept, **changes})

    def for_method(self, method: str, **settings_given) -> "Config":
        """The config of `method` with this config's shared settings (those that apply to
        every method) and `settings_given` (the new method's own)."""
        shared = {k: v for k, v in self._values.items()
                  if k in self._given and k != "method" and SETTINGS.get(k).methods is None}
        return Config(method=method, **{**shared, **settings_given})

    @classmethod
    def from_dict(cls, d: dict, lenient: bool = False) -> "Config":
        """The config a dict of `asdict` (a results file's, a checkpoint's) recorded.
        `lenient`: settings of other methods (older checkpoints recorded every setting)
        and unknown names are dropped instead of refused."""
        d = dict(d)
        method = d.pop("method", cls.DEFAULT_METHOD)
        out = {}
        for k, v in d.items():
            if lenient and _name_error(k, method) is not None:
                continue
            out[k] = _hashable(v)
        return Config(method=method, **out)

    def __eq__(self, other) -> bool:
        return isinstance(other, Config) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._values.items()
                          if k in self._given or k == "method")
        return f"Config({shown})"

    # ----------------------------------------------------------------- derived
    @property
    def tasks(self) -> int:
        """Number of tasks: n_tasks, else the number of class groups, else n_classes
        (docs/faithfulness.md#q1)."""
        if self.n_tasks is not None:
            return self.n_tasks
        return len(self.class_groups) if self.class_groups else self.n_classes

    @property
    def head_sizes(self) -> Optional[list]:
        """Each task's number of classes when explicit class groups set them, else None
        (every head the last dims size)."""
        return [len(g) for g in self.class_groups] if self.class_groups else None

    def follows_paper(self, q: str) -> bool:
        """Whether departure `q` (e.g. "Q6") is done as the paper says."""
        return q in self.paper

    @property
    def n_hidden(self) -> int:
        return len(self.dims) - 2

    @property
    def architecture(self):
        """The network this config names (den_tf.model.archs: a registered name or a
        layer spec)."""
        return resolve_arch(self.arch)

    # ----------------------------------------------------------------- the rules
    def validate(self, input_size: Optional[int] = None, n_classes_data: Optional[int] = None,
                 train_size: Optional[int] = None,
                 image_shape: Optional[Sequence[int]] = None) -> "Config":
        """Checks every rule; raises ConfigError naming the flag, the value and the rule.

        The data-dependent rules (dims[0], dims[-1], batch_size; an architecture's layers
        against the images: `image_shape` (H, W, C), or a square single-channel image of
        input_size) run when the data's sizes are given.
        """
        card = METHODS.get(self.method)
        for s in self.settings_of(self.method):
            s.check(self._values[s.name])
        arch = resolve_arch(self.arch)
        arch.check_dims(self.dims)
        paper = parse_paper(self.paper)
        if tuple(self.paper) != paper:
            raise ConfigError(f"--paper={','.join(self.paper)}: must be a sorted list of "
                              f"known switches ({', '.join(PAPER_SWITCHES)})")
        own = [q for q in paper if q not in card.paper]
        if own:
            raise ConfigError(
                f"--paper={','.join(self.paper)}: {', '.join(own)}: not followed by "
                f"--method={self.method}, which follows "
                f"{', '.join(card.paper) if card.paper else 'none of them'}")
        for name in card.ignores:
            s = SETTINGS.get(name)
            if self._values.get(name, s.default) != s.default:
                raise ConfigError(f"--{s.flag_name}={self._values[name]}: does nothing with "
                                  f"--method={self.method} (leave it out)")
        stream = STREAMS.get(self.task_stream)
        for s in self.settings_of(self.method):
            if s.streams and self.task_stream not in s.streams \
                    and self._values[s.name] != s.default:
                value = self._values[s.name]
                if s.name == "class_groups":
                    value = rules.class_groups_text(value)
                raise ConfigError(f"--{s.flag_name}={value}: only with --tasks="
                                  f"{'/'.join(s.streams)}")
        if self.permute_once and not stream.rearranges:
            raise ConfigError(f"--permute_once=True: only with a task stream that permutes "
                              f"pixels (--tasks={self.task_stream} does not)")
        if stream.check is not None:
            stream.check(self, n_classes_data)
        if self.class_groups:
            widest = max(self.head_sizes)
            if self.dims[-1] != widest:
                raise ConfigError(
                    f"--dims={rules.fmt_dims(self.dims)}: the last size must be the widest "
                    f"class group's size {widest} (--class_groups)")
        elif self.dims[-1] != self.n_classes:
            raise ConfigError(
                f"--dims={rules.fmt_dims(self.dims)}: the last size must equal --n_classes="
                f"{self.n_classes}")
        if input_size is not None:
            arch.check(input_size, image_shape, self.dims)
        if train_size is not None and self.batch_size > train_size:
            raise ConfigError(
                f"--batch_size={self.batch_size}: must be at most the training set size "
                f"{train_size}")
        if card.check is not None:
            card.check(self)
        return self


def _rebuild(method, given):
    return Config(method=method, **given)


DENConfig = Config


class BaselineConfig(Config):
    """A `Config` whose method defaults to a baseline ("dnn")."""

    DEFAULT_METHOD = "dnn"
    __slots__ = ()


def method_of(config) -> str:
    """The method a config runs."""
    return config.method


def config_for(config: Config, method: str, **settings_given) -> Config:
    """The config of `method` with the shared settings of `config` (`Config.for_method`)."""
    return config.for_method(method, **settings_given)
