"""The command line's flags, made from the registered settings (den_tf.config.registry):
one flag per setting, its kind, default, help and rule as the setting defines them.

The original script's flags keep their names and defaults (docs/usage.md#flags); a
method's, a task stream's and a user's own settings get flags when they are registered
(`--import=module` first: den_tf.cli). Validators reject a bad value while the command
line is parsed, before any work, with one line naming the flag, the value and the rule;
a flag of another method than --method is refused, as the library refuses the setting.

Imports: den_tf.errors, den_tf.config, den_tf.datasets, den_tf.model.
"""

from __future__ import annotations

from typing import List

from absl import flags

from den_tf.config import Config, registry, rules
from den_tf.config.registry import METHODS, Setting, resolve_arch, settings
from den_tf.errors import ConfigError

FLAGS = flags.FLAGS


def _flag_default(s: Setting):
    """The setting's default as its flag holds it."""
    if s.kind == "list":
        return [str(v) for v in (s.default or ())]
    if s.kind == "string" and not isinstance(s.default, str):
        return ""  # (class_groups' default, no groups: an empty flag)
    return s.default


def _help(s: Setting) -> str:
    text = s.help
    if s.methods is not None:
        text = f"--method={'/'.join(s.methods)}: {text}"
    if s.kind == "enum" and callable(s.choices):
        text += f" One of: {', '.join(map(str, s.values()))} (registered)."
    return text


def define_flags() -> None:
    """Defines a flag for every registered setting that has none yet (idempotent: a
    setting registered later, e.g. by --import, gets its flag on the next call)."""
    for s in settings():
        name = s.flag_name
        if name in FLAGS:
            continue
        default, help_text = _flag_default(s), _help(s)
        if s.kind == "integer":
            flags.DEFINE_integer(name, default, help_text)
        elif s.kind == "float":
            flags.DEFINE_float(name, default, help_text)
        elif s.kind == "boolean":
            flags.DEFINE_boolean(name, default, help_text)
        elif s.kind == "list":
            flags.DEFINE_list(name, default, help_text)
        elif s.kind == "enum" and not callable(s.choices):
            flags.DEFINE_enum(name, default, list(s.values()), help_text)
        else:  # strings, and enums of registered names (checked when parsed, below)
            flags.DEFINE_string(name, default, help_text)
        flags.register_validator(name, _validator(s))


def _validator(s: Setting):
    """A flag validator applying the setting's rule: a bad value is one line, "flag
    --name=value: the rule" (absl names the flag and the value)."""
    def validate(value):
        if s.name == "dims":
            return _dims(value)
        if s.kind == "enum" and not callable(s.choices):
            return True  # (absl's enum checks the value)
        try:
            s.check(s.convert(value) if s.convert is not None and s.kind != "list" else value)
        except ConfigError as e:
            msg = str(e)
            if msg.startswith(f"--{s.flag_name}"):  # the flag and value are absl's to name
                msg = msg.split(": ", 1)[1]
            raise flags.ValidationError(msg) from None
        except (TypeError, ValueError):
            raise flags.ValidationError("invalid value") from None
        return True
    validate.__name__ = f"validate_{s.flag_name}"
    return validate


def _dims(value) -> bool:
    """--dims: integers; as the --arch given reads them (validators run once every flag
    is parsed, so --arch holds its value here). The default's hidden sizes are the MLP's:
    another architecture leaves them out (`config_from_flags`)."""
    try:
        dims = rules.dims_of(value)
        rules.check_dims(dims, 1)
        if FLAGS["dims"].present:
            try:
                arch = resolve_arch(FLAGS["arch"].value)
            except ConfigError:
                return True  # (--arch's own validator says why)
            arch.check_dims(dims)
    except ConfigError as e:
        msg = str(e)
        raise flags.ValidationError(msg.split(": ", 1)[1] if msg.startswith("--dims") else msg) \
            from None
    return True


def given_settings(f=FLAGS) -> set:
    """The settings (a run config's) whose flags were given on the command line (--seed
    gives train_seed)."""
    out = {s.name for s in settings(command=False)
           if s.flag_name in f and f[s.flag_name].present}
    if f["seed"].present:
        out.add("train_seed")
    return out


# The settings --mode=eval and --mode=export take from the command line; every other
# setting of a run is the checkpoint's.
EVAL_USES = ("checkpoint_dir", "xla")


def given_training_flags(f=FLAGS, learned=()) -> List[str]:
    """The flags given of the settings that only shape training (every setting of a run
    but `learned` and EVAL_USES), in the order they are defined: what --mode=eval and
    --mode=export ignore (they use the checkpoint's)."""
    out = [s.flag_name for s in settings(command=False)
           if s.name not in set(learned) | set(EVAL_USES) and s.name != "method"
           and s.flag_name in f and f[s.flag_name].present]
    return out + (["seed"] if f["seed"].present else [])


SEED_DEPRECATED = ("--seed is deprecated: it now sets only the training randomness, as "
                   "--train_seed={value} (the tasks keep --task_seed={task_seed}); use "
                   "--train_seed and --task_seed")


def deprecation_warnings(f=FLAGS) -> list:
    """One line for every deprecated flag given."""
    out = []
    if f.seed is not None:
        out.append(SEED_DEPRECATED.format(value=f.seed, task_seed=f.task_seed))
    return out


def check_method_flags(f=FLAGS) -> None:
    """Refuses a flag given of a setting of another method than --method (as the library
    refuses the setting: it would do nothing)."""
    method = f["method"].value
    METHODS.get(method)
    for s in settings(command=False):
        if s.methods is not None and method not in s.methods and f[s.flag_name].present:
            raise ConfigError(f"--{s.flag_name}={_text(f[s.flag_name].value)}: a setting of "
                              f"--method={'/'.join(s.methods)}, not of --method={method} "
                              f"(leave it out)")


def _text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def config_from_flags(f=FLAGS) -> Config:
    """The Config the parsed flags describe: the settings whose flags were given (every
    other one its default, the flags' defaults being the settings')."""
    if f.seed is not None and f.train_seed is not None:
        raise ConfigError(f"--seed={f.seed}: deprecated, and --train_seed={f.train_seed} is "
                          f"given too; give --train_seed only")
    check_method_flags(f)
    method = f["method"].value
    given = {}
    for s in Config.settings_of(method):
        if s.name != "method" and f[s.flag_name].present:
            given[s.name] = f[s.flag_name].value
    if f.seed is not None and f.train_seed is None:
        given["train_seed"] = f.seed
    return Config(method=method, **given)


__all__ = ["FLAGS", "config_from_flags", "define_flags", "deprecation_warnings",
           "given_settings", "given_training_flags", "registry"]
