"""Every setting is defined once (den_tf.config.registry.Setting), and everything that
names settings reads that one definition: the command line's flags, the library's
configs and their check by name, the sweep's value kinds, the checkpoint's learned and
free lists, and the docs' flag table. No TensorFlow is needed for any of it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from absl import flags as absl_flags

import den_tf  # noqa: F401  (registers den_tf's own methods, data sets, streams, networks)
from den_tf import flags as den_flags
from den_tf.config import Config, registry, table
from den_tf.config.registry import METHODS, settings
from den_tf.errors import ConfigError
from den_tf.sweep import values

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARSERS = {"integer": absl_flags.IntegerParser, "float": absl_flags.FloatParser,
           "boolean": absl_flags.BooleanParser, "list": absl_flags.ListParser}


def test_every_flag_is_a_setting_with_its_kind_default_and_help():
    den_flags.define_flags()
    flag_names = {s.flag_name for s in settings()}
    ours = {name for name, fl in den_flags.FLAGS._flags().items()
            if fl.name == name and fl.name in flag_names}
    assert ours == flag_names
    for s in settings():
        fl = den_flags.FLAGS[s.flag_name]
        assert fl.default == den_flags._flag_default(s), s.name
        assert s.help in fl.help, s.name
        if s.kind in PARSERS:
            assert isinstance(fl.parser, PARSERS[s.kind]), s.name
        elif s.kind == "enum" and not callable(s.choices):
            assert tuple(fl.parser.enum_values) == s.values(), s.name
        else:  # strings, and enums of registered names (a validator checks them)
            assert type(fl.parser) is absl_flags.ArgumentParser, s.name


def test_a_config_holds_the_settings_of_its_method_and_no_other():
    for method in METHODS.names():
        cfg = Config(method=method)
        expected = [s.name for s in settings(command=False) if s.applies_to(method)]
        assert list(cfg.asdict()) == expected
        for s in settings(command=False):
            if s.applies_to(method) and s.name not in ("dims", "method"):
                assert getattr(cfg, s.name) == s.default, (method, s.name)
    assert Config().dims == (784, 312, 128, 10)  # the original's MLP
    assert Config(arch="lenet").dims == (10,)  # another network reads only the head's size


def test_the_sweep_kinds_are_the_settings():
    assert values.kinds() == {s.flag_name: s.kind for s in settings()}
    for s in settings():
        if s.kind == "enum":
            assert values.enum_values(s.flag_name) == s.values()


def test_the_checkpoint_lists_are_the_settings():
    assert registry.learned() == tuple(s.name for s in settings(command=False) if s.learned)
    assert set(registry.learned()) >= {"dataset", "task_stream", "task_seed", "n_tasks",
                                       "class_groups", "class_order", "n_classes", "arch",
                                       "dims", "method"}
    assert set(registry.free()) == {"checkpoint_dir", "n_tasks", "xla", "allow_tf32",
                                    "capacity_bucket", "permute_once"}


def test_the_docs_flag_table_is_made_from_the_settings():
    page = open(os.path.join(ROOT, "docs", "usage.md"), encoding="utf-8").read()
    start, end = page.index(table.BEGIN), page.index(table.END) + len(table.END)
    assert page[start:end] == table.markdown(), (
        "docs/usage.md's flag table is out of date: python -c \"from den_tf.config import "
        "table; table.write('docs/usage.md')\"")
    for s in settings():
        assert f"`--{s.flag_name}`" in page


# ----------------------------------------------------------------------------- by name
@pytest.mark.parametrize("settings_given,message", [
    ({"maxiter": 5}, "maxiter: no such setting (did you mean max_iter?)"),
    ({"batchsize": 32}, "batchsize: no such setting (did you mean batch_size?)"),
    ({"ewc_lambda": 1.0}, "ewc_lambda: a setting of method ewc, not of den"),
    ({"method": "ewc", "ex_k": 5}, "ex_k: a setting of method den, not of ewc"),
    ({"method": "ewcc"}, "--method=ewcc: no such method (did you mean ewc?)"),
    ({"method": "EWC"}, "--method=EWC: no such method (did you mean ewc?)"),
    ({"Max_Iter": 5}, "Max_Iter: no such setting (did you mean max_iter?)"),
    ({"log_file": "x.log"}, "log_file: a setting of the command line alone (--log_file)"),
])
def test_a_setting_is_checked_by_name(settings_given, message):
    with pytest.raises(ConfigError) as e:
        den_tf.DEN(**settings_given)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


@pytest.mark.parametrize("call,message", [
    (lambda d, x, y: d.from_arrays([], scal=1),
     "from_arrays: scal: no such argument (did you mean scale?)"),
    (lambda d, x, y: d.from_datasets([], max_unkown=5),
     "from_datasets: max_unkown: no such argument (did you mean max_unknown?)"),
    (lambda d, x, y: d.split_classes((x, y), (x, y), group=[[0, 1]]),
     "split_classes: group: no such argument (did you mean groups?)"),
    (lambda d, x, y: d.split_classes((x, y), (x, y), validation_splt=0.1),
     "split_classes: validation_splt: no such argument (did you mean validation_split?)"),
    (lambda d, x, y: d.make_stream(None, kind="split", n_tasks=2, class_group=((0, 1),)),
     "class_group: not a setting of task stream split (did you mean class_groups?)"),
])
def test_the_stream_builders_check_their_settings_by_name(call, message):
    """The stream builders refuse a misspelled keyword in one ConfigError line naming the
    closest one (not Python's TypeError), before reading any data."""
    import numpy as np

    from den_tf import datasets
    x, y = np.zeros((8, 4), np.uint8), np.arange(8) % 2
    with pytest.raises(ConfigError) as e:
        call(datasets, x, y)
    assert str(e.value).startswith(message) and "\n" not in str(e.value), str(e.value)


def test_a_setting_of_another_method_is_not_an_attribute():
    cfg = Config(method="ewc", ewc_lambda=2.0)
    assert cfg.ewc_lambda == 2.0 and "ex_k" not in cfg.asdict()
    with pytest.raises(AttributeError, match="ex_k: a setting of method den, not of ewc"):
        cfg.ex_k
    assert cfg.for_method("den", ex_k=3).asdict()["ex_k"] == 3


@pytest.mark.parametrize("argv,needle", [
    (["--ewc_lambda=2"], "--ewc_lambda=2.0: a setting of --method=ewc, not of --method=den"),
    (["--method=ewc", "--ex_k=3"], "--ex_k=3: a setting of --method=den, not of "
                                   "--method=ewc"),
    (["--permute_once", "--tasks=split", "--n_tasks=5", "--n_classes=2", "--dims=784,8,2"],
     "--permute_once=True: only with a task stream that permutes pixels"),
    (["--permute_once", "--method=mtl", "--n_tasks=2"],
     "--permute_once=True: does nothing with --method=mtl"),
    (["--arch=lenet", "--dims=784,10"], "--dims=['784', '10']: --arch=lenet has its own "
                                       "hidden layers"),
])
def test_the_command_line_refuses_what_the_library_refuses(tmp_path, argv, needle):
    p = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *argv],
                       cwd=str(tmp_path), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1 and needle in err[0], p.stderr


# ----------------------------------------------------------------------------- a new one
NEW_SETTING = textwrap.dedent("""
    import den_tf
    from den_tf.config import Config, registry, rules, table
    from den_tf.config.registry import MethodCard, Setting, register_method
    from den_tf.sweep import values

    register_method(MethodCard(
        "toy_method", "den_tf.baselines.dnn.learner:DNN", "a toy: dnn under another name",
        settings=(Setting("toy_switch", "boolean", False, "A toy switch.",
                          rules.check_bool),)))

    from den_tf import cli, flags
    assert cli.parse(["main.py", "--method=toy_method", "--toy_switch"]) == 0
    assert flags.config_from_flags().toy_switch is True
    assert Config(method="toy_method", toy_switch=True).asdict()["toy_switch"] is True
    assert values.kind_of("toy_switch") == "boolean"
    values.check_point({"method": "toy_method", "toy_switch": "true"})
    assert "`--toy_switch` / `--notoy_switch`" in table.markdown()
    assert "toy_switch" not in registry.learned() and "toy_switch" not in registry.free()
    try:
        Config(toy_switch=True)
    except Exception as e:
        assert "toy_switch: a setting of method toy_method, not of den" in str(e), e
    else:
        raise AssertionError("a toy setting given to DEN was taken")
    assert cli.parse(["main.py", "--toy_switch"]) == 0  # parsing takes any known flag,
    try:
        flags.config_from_flags()  # the config refuses it
    except Exception as e:
        assert "a setting of --method=toy_method" in str(e), e
    else:
        raise AssertionError("--toy_switch with DEN was taken")
    print("ok")
""")


def test_a_new_boolean_setting_needs_only_its_definition(tmp_path):
    """One definition (here with a toy method) gives a flag, a config field checked by
    name, a sweep kind, a docs-table row, and the checkpoint's lists their default."""
    script = tmp_path / "new_setting.py"
    script.write_text(NEW_SETTING)
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PYTHONPATH=ROOT), cwd=str(tmp_path))
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-3000:]
