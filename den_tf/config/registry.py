"""Where everything a run can name is registered: settings, methods, architectures, data
sets and task streams (Mammoth's `register_*`, FACIL's one file per approach).

Each thing is defined once, in the module it belongs to, which registers it on import:

* a `Setting` (`define`): name, kind, default, rule, help, the methods and task streams
  it applies to, whether a checkpoint learned it, may change on resume, or names an
  output. The command line's flags (den_tf.flags), the library's configs and their check
  by name (den_tf.config.Config), the sweep's value kinds (den_tf.sweep.values), the
  checkpoint's learned and free lists (den_tf.io.checkpoint) and the docs' flag table
  (`den_tf.config.table`) all read it;
* a `MethodCard` (`register_method`): DEN (den_tf/den/__init__.py) and each baseline
  (den_tf/baselines/<name>/__init__.py), with its own settings and memory estimate;
* an architecture (`register_arch`; den_tf.model.archs), a `DatasetCard`
  (`register_dataset`; den_tf.datasets.idx, den_tf.datasets.cifar) and a `StreamCard`
  (`register_stream`; den_tf.datasets.streams).

Nothing here imports TensorFlow: the command line checks a setting before TensorFlow is
loaded. Importing `den_tf` registers every built-in thing; `--import=module` (the command
line) or a plain `import` (the library) registers a user's own (docs/extending.md).

Imports: den_tf.errors.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
from typing import Any, Callable, Dict, Generic, Iterator, List, Optional, Sequence, TypeVar

from den_tf.errors import ConfigError

KINDS = ("integer", "float", "boolean", "enum", "list", "string")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting of a run or of the command line, defined once.

    Attributes:
      name: the setting's name in the library (a `Config` attribute, a keyword of
        `den_tf.DEN(...)`).
      kind: how the command line parses it: integer, float, boolean, enum, list (comma
        separated) or string.
      default: its value when not given (None: unset).
      help: what it does, one paragraph (the flag's --help and the docs' flag table).
      rule: `rule(name, value)` raises ConfigError (flag style, "--name=value: ...") for
        a bad value; None: any value of its kind.
      flag: the command-line flag's name when it is not `name` (--tasks, --tf32).
      choices: an enum's values, or a function giving them (registered names).
      convert: flag value -> setting value (e.g. "0,1;2,3" -> ((0, 1), (2, 3))).
      methods: the methods it belongs to (None: every method). A setting of another
        method is refused, not stored.
      streams: the task streams a non-default value needs (None: any).
      command: of the command line only (outputs, modes): not part of a run's config.
      learned: what a checkpoint learned (its data, task stream and network): eval and
        export use the checkpoint's and refuse another value.
      resume: "same" (a resumed run must have the checkpoint's value) or "free" (may
        change on resume).
      output: names an output (a file or folder the run writes).
      group: the section of the docs' flag table.
      default_text: the default as the docs' table writes it (None: the value).
      owner: the module that defined it (set by `define`).
    """

    name: str
    kind: str
    default: Any
    help: str
    rule: Optional[Callable] = None
    flag: Optional[str] = None
    choices: Any = None
    convert: Optional[Callable] = None
    methods: Optional[tuple] = None
    streams: Optional[tuple] = None
    command: bool = False
    learned: bool = False
    resume: str = "same"
    output: bool = False
    group: str = "run"
    default_text: Optional[str] = None
    owner: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"setting {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if self.resume not in ("same", "free"):
            raise ValueError(f"setting {self.name}: resume must be 'same' or 'free'")

    @property
    def flag_name(self) -> str:
        """The command-line flag (`--flag_name`)."""
        return self.flag or self.name

    def values(self) -> tuple:
        """An enum's values (registered names are read now)."""
        c = self.choices
        return tuple(c() if callable(c) else (c or ()))

    def check(self, value) -> None:
        """The setting's rule (and an enum's values) on `value`; ConfigError, flag style."""
        if self.kind == "enum" and value not in self.values():
            raise ConfigError(f"--{self.flag_name}={value}: must be one of "
                              f"{', '.join(map(str, self.values()))}"
                              f"{did_you_mean(value, [str(v) for v in self.values()])}")
        if self.rule is not None:
            self.rule(self.flag_name, value)

    def applies_to(self, method: str) -> bool:
        return self.methods is None or method in self.methods


T = TypeVar("T")


def closest(name: str, known: Sequence[str]) -> Optional[str]:
    """The known name closest to `name` (difflib, letter case aside), or None when none
    is close."""
    by_lower = {str(k).lower(): k for k in known}
    match = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """" (did you mean x?)" or ""."""
    near = closest(name, known)
    return f" (did you mean {near}?)" if near else ""


class Registry(Generic[T]):
    """Named things of one kind ("method", "architecture", ...), in registration order."""

    def __init__(self, what: str, flag: str):
        self.what, self.flag = what, flag
        self._items: Dict[str, T] = {}

    def register(self, name: str, item: T, replace: bool = False) -> T:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"register a {self.what}: its name must be an identifier "
                              f"(got {name!r})")
        if name in self._items and not replace and self._items[name] is not item:
            raise ConfigError(f"register a {self.what}: {name!r} is already registered "
                              f"(by {getattr(self._items[name], 'owner', '') or 'another module'});"
                              f" pass replace=True to replace it")
        self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)

    def __contains__(self, name) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def names(self) -> tuple:
        return tuple(self._items)

    def get(self, name: str) -> T:
        """The thing registered as `name`; ConfigError naming the closest name."""
        if name not in self._items:
            raise ConfigError(f"--{self.flag}={name}: no such {self.what}"
                              f"{did_you_mean(name, self.names())} (known: "
                              f"{', '.join(self.names())})")
        return self._items[name]

    def items(self):
        return list(self._items.items())


# ----------------------------------------------------------------------------- settings
SETTINGS: "Registry[Setting]" = Registry("setting", "setting")


def define(*settings: Setting, owner: str = "", replace: bool = False) -> tuple:
    """Registers settings (a module's own, at its import); returns them. A name or flag
    already taken by another setting is refused."""
    out = []
    flags = {s.flag_name: s.name for _, s in SETTINGS.items()}
    for s in settings:
        s = dataclasses.replace(s, owner=owner or s.owner)
        if not replace and s.name in SETTINGS and SETTINGS.get(s.name) != s:
            raise ConfigError(f"setting {s.name!r} is already defined (by "
                              f"{SETTINGS.get(s.name).owner or 'another module'})")
        taken = flags.get(s.flag_name)
        if taken is not None and taken != s.name:
            raise ConfigError(f"setting {s.name!r}: the flag --{s.flag_name} is already "
                              f"setting {taken!r}'s")
        SETTINGS.register(s.name, s, replace=True)
        flags[s.flag_name] = s.name
        out.append(s)
    return tuple(out)


def setting(name: str) -> Setting:
    return SETTINGS.get(name)


def settings(command: Optional[bool] = None) -> List[Setting]:
    """Every setting, in definition order (`command`: only those of the command line, or
    only those of a run's config)."""
    return [s for _, s in SETTINGS.items() if command is None or s.command == command]


def learned() -> tuple:
    """What a checkpoint learned: its data set, task stream and network (the settings
    marked `learned`). --mode=eval and --mode=export use the checkpoint's; a setting given
    that differs is refused (den_tf.io.checkpoint.check_learned)."""
    return tuple(s.name for s in settings(command=False) if s.learned)


def free() -> tuple:
    """The settings that may differ between a run and its resumption (`resume="free"`)."""
    return tuple(s.name for s in settings(command=False) if s.resume == "free")


def by_flag(flag: str) -> Optional[Setting]:
    """The setting whose flag is `--flag`, or None."""
    for s in settings():
        if s.flag_name == flag:
            return s
    return None


def flag_of(name: str) -> str:
    """The flag of setting `name` (its name unless its flag has another)."""
    return SETTINGS.get(name).flag_name if name in SETTINGS else name


# ----------------------------------------------------------------------------- methods
@dataclasses.dataclass(frozen=True)
class Footprint:
    """What a method's largest network holds at once, for the memory check before the
    first step (den_tf.preflight.memory).

    Attributes:
      params: weights and biases.
      activations: per example of its widest forward pass.
      extra: bytes held besides (per-parameter state the usual factor does not cover,
        e.g. EWC's Fisher sums).
      what: the words the refusal uses for it ("hidden sizes [492, 308]").
      flags: the settings the estimate depends on, as flags.
      advice: what would fit ("a smaller --ex_k or fewer --n_tasks fit").
      grows: the network grows to it (DEN), rather than holding it from the start.
      pooled_tasks: validation sets it holds at once (mtl validates on every task's).
    """

    params: int
    activations: int
    extra: int = 0
    what: str = ""
    flags: str = ""
    advice: str = ""
    grows: bool = False
    pooled_tasks: int = 0


@dataclasses.dataclass(frozen=True)
class MethodCard:
    """A continual-learning method (`--method`): DEN or a baseline.

    Attributes:
      name: its --method name.
      learner: its class (a den_tf.learner.Learner), or "module:Class" imported when
        first used (den_tf's own: their modules import TensorFlow).
      summary: one line for --help and the docs.
      settings: its own settings (`Setting`s; `methods` is set to this method).
      memory: `memory(config, arch, input_size, image_shape, n_tasks, worst=False) ->
        Footprint`: the largest network it holds (den_tf.preflight.memory checks it
        against the machine); `worst`: a worst case that is only warned about (DEN's
        --paper=Q8 splits), or None. None: the memory is not checked.
      paper: the --paper switches it follows (den_tf.config.PAPER_SWITCHES); others are
        refused.
      ignores: settings of every method that do nothing for it: a non-default value is
        refused (e.g. mtl's pooled minibatches and --permute_once).
      check: `check(config)` raises ConfigError for settings it cannot run (None: none).
      checkpoints: the command line writes per-task checkpoints and can resume, eval and
        export it.
      equal_heads: every task must have the same number of classes (mtl's pooled heads).
      owner: the module that registered it.
    """

    name: str
    learner: Any
    summary: str
    settings: tuple = ()
    memory: Optional[Callable] = None
    paper: tuple = ()
    ignores: tuple = ()
    check: Optional[Callable] = None
    checkpoints: bool = False
    equal_heads: bool = False
    owner: str = ""

    def learner_class(self):
        """The learner class (imports its module when given as "module:Class")."""
        if isinstance(self.learner, str):
            import importlib  # (den_tf's own learners import TensorFlow: only when used)
            module, _, cls = self.learner.partition(":")
            return getattr(importlib.import_module(module), cls)
        return self.learner


METHODS: "Registry[MethodCard]" = Registry("method", "method")


def register_method(card: MethodCard, replace: bool = False) -> MethodCard:
    """Registers a method and defines its settings (each belonging to it alone)."""
    own = tuple(dataclasses.replace(s, methods=(card.name,), group=s.group
                                    if s.group != "run" else "method")
                for s in card.settings)
    card = dataclasses.replace(card, settings=own)
    METHODS.register(card.name, card, replace=replace)
    define(*own, owner=card.owner or card.name, replace=replace)
    return card


def method_card(name: str) -> MethodCard:
    return METHODS.get(name)


# ----------------------------------------------------------------------------- data
@dataclasses.dataclass(frozen=True)
class DatasetCard:
    """A data set (`--dataset`): `load(data_dir, download) -> den_tf.datasets.ImageData`.

    Attributes:
      name: its --dataset name.
      load: reads it from `data_dir` (fetching it there when allowed and possible).
      default_dir: --data_dir when none is given.
      files: what `data_dir` holds, for --help and the docs.
      summary: one line for --help and the docs.
      owner: the module that registered it.
    """

    name: str
    load: Callable
    default_dir: str
    files: str = ""
    summary: str = ""
    owner: str = ""


DATASETS: "Registry[DatasetCard]" = Registry("data set", "dataset")


def register_dataset(card: DatasetCard, replace: bool = False) -> DatasetCard:
    return DATASETS.register(card.name, card, replace=replace)


@dataclasses.dataclass(frozen=True)
class StreamCard:
    """A task stream (`--tasks`): `build(data, config) -> den_tf.datasets.TaskStream`.

    Attributes:
      name: its --tasks name.
      build: the stream of `config.tasks` tasks on `data` (config.task_seed, and the
        stream's own settings).
      summary: one line for --help and the docs.
      settings: its own settings (`Setting`s; their `streams` is set to this stream).
      check: `check(config, n_classes_data)` raises ConfigError for settings the stream
        cannot make tasks of (n_classes_data None: the data are not known yet).
      rearranges: its transform only moves pixels (a permutation), so --permute_once
        applies.
      sized_by_n_tasks: its tasks depend on the number of tasks (rotated: the angles), so
        a resumption may not change --n_tasks.
      owner: the module that registered it.
    """

    name: str
    build: Callable
    summary: str = ""
    settings: tuple = ()
    check: Optional[Callable] = None
    rearranges: bool = False
    sized_by_n_tasks: bool = False
    owner: str = ""


STREAMS: "Registry[StreamCard]" = Registry("task stream", "tasks")


def register_stream(card: StreamCard, replace: bool = False) -> StreamCard:
    """Registers a task stream and defines its settings (each needing it when given)."""
    own = tuple(dataclasses.replace(s, streams=(card.name,), group="data")
                for s in card.settings)
    card = dataclasses.replace(card, settings=own)
    STREAMS.register(card.name, card, replace=replace)
    define(*own, owner=card.owner or card.name, replace=replace)
    return card


# ----------------------------------------------------------------------------- networks
ARCHITECTURES: "Registry[Any]" = Registry("architecture", "arch")


def register_arch(name: str, arch: Any, replace: bool = False) -> Any:
    """Registers an architecture under `name` (a den_tf.model.archs.Architecture: a
    network of den_tf's layer specs, or a class of your own with the same methods)."""
    return ARCHITECTURES.register(name, arch, replace=replace)


# Parsers of architectures given as text rather than a registered name (den_tf.model.archs
# registers its layer-spec grammar, "conv32k5p2,conv64k5p2,fc256"): each returns an
# architecture, or None when the text is not of its grammar, or raises ConfigError naming
# the fault.
ARCH_PARSERS: List[Callable] = []


def register_arch_parser(parse: Callable) -> Callable:
    if parse not in ARCH_PARSERS:
        ARCH_PARSERS.append(parse)
    return parse


def resolve_arch(arch: Any) -> Any:
    """The architecture `arch` names: a registered name, a text a registered parser reads
    (a layer spec), or an architecture object itself; ConfigError naming the closest
    registered name."""
    if not isinstance(arch, str):
        if hasattr(arch, "build") and hasattr(arch, "check"):
            return arch
        raise ConfigError(f"--arch={arch}: give a registered architecture or a layer spec")
    text = arch.strip()
    if text in ARCHITECTURES:
        return ARCHITECTURES.get(text)
    for parse in ARCH_PARSERS:
        found = parse(text)
        if found is not None:
            return found
    raise ConfigError(f"--arch={arch}: no such architecture{did_you_mean(text, ARCHITECTURES.names())}"
                      f" (known: {', '.join(ARCHITECTURES.names())}; or a layer spec such as "
                      f"conv32k5p2,conv64k5p2,fc256)")


# ----------------------------------------------------------------------------- keywords
def checks_keywords(*forwards_to: Callable) -> Callable:
    """Decorator for the library's functions that take settings as keywords (the stream
    builders): a keyword the function does not take (nor the functions its **kw goes on
    to, `forwards_to`) is refused with one ConfigError line naming the closest one,
    instead of Python's TypeError."""
    def decorate(fn: Callable) -> Callable:
        known = []
        for f in (fn,) + forwards_to:
            params = inspect.signature(f).parameters.items()
            known += [n for n, p in params if n not in known
                      and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

        @functools.wraps(fn)
        def wrapper(*args, **kw):
            for name in kw:
                if name not in known:
                    raise ConfigError(f"{fn.__name__}: {name}: no such argument"
                                      f"{did_you_mean(name, known)} (it takes "
                                      f"{', '.join(k for k in known if k != 'tasks')})")
            return fn(*args, **kw)
        return wrapper
    return decorate
