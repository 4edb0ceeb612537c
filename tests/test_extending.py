"""docs/extending.md's worked examples, run as they stand on the page: its code blocks
before "Running them" are one module (a method with a setting of its own, an
architecture, a data set, a task stream with a setting, a method with a boolean switch),
registered from outside den_tf through the public API; "Running them" runs them through
the command line (--import) and the library."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "extending.md")


def _blocks(text: str, lang: str) -> list:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def page_module(tmp_path_factory):
    """The page's module (`my_extensions.py`) in a folder of its own, and the page's
    "Running them" section."""
    text = open(PAGE, encoding="utf-8").read()
    before, running = text.split("## Running them", 1)
    folder = tmp_path_factory.mktemp("ext")
    (folder / "my_extensions.py").write_text("\n\n".join(_blocks(before, "python")))
    return folder, running


def _run(cmd, folder, **kw):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), ROOT]))
    return subprocess.run(cmd, cwd=str(folder), capture_output=True, text=True,
                          timeout=900, env=env, **kw)


def test_the_page_s_command_line_runs(page_module):
    folder, running = page_module
    (command,) = _blocks(running, "sh")
    command = " ".join(command.replace("\\\n", " ").split())
    assert command.startswith("python main.py ")
    argv = [sys.executable, os.path.join(ROOT, "main.py")] + command.split()[2:] + [
        "--progress=off", "--figure=false", "--log_file=run.log"]
    p = _run(argv, folder)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "avg_perf" in p.stdout and "method: pull_first" in p.stdout
    log = (folder / "run.log").read_text()
    assert "--first_pull=0.1" in log and "--arch=small_cnn" in log


def test_the_page_s_library_example_runs(page_module):
    folder, running = page_module
    code = "\n".join(_blocks(running, "python"))
    code += ("\nassert model.learner.name == 'pull_first' and model.config.first_pull == 0.1"
             "\nassert results['config']['arch'] == 'small_cnn'"
             "\nassert [l.n_out for l in model.learner.network.hidden] == [8, 16, 32]"
             "\nassert results['stream']['kind'] == 'flipped'"
             "\nassert results['config']['task_stream'] == 'flipped'"
             "\nprint('ok')")
    p = _run([sys.executable, "-c", code], folder)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stderr[-3000:]


@pytest.mark.parametrize("argv,needle", [
    (["--method=den", "--first_pull=0.1"], "--first_pull=0.1: a setting of "
                                           "--method=pull_first, not of --method=den"),
    (["--method=pull_first", "--tasks=permuted", "--flip_every=3"],
     "--flip_every=3: only with --tasks=flipped"),
    (["--method=dnn_with_switch", "--frozen_start=maybe"], "--frozen_start"),
    (["--arch=small_cnnn"], "no such architecture (did you mean small_cnn?)"),
])
def test_the_page_s_settings_follow_the_rules_of_every_setting(page_module, argv, needle):
    folder, _ = page_module
    p = _run([sys.executable, os.path.join(ROOT, "main.py"), "--import=my_extensions",
              "--dataset=blobs", *argv], folder)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1 and needle in err[0], p.stderr


def test_a_module_that_cannot_be_imported_is_one_line(tmp_path):
    p = _run([sys.executable, os.path.join(ROOT, "main.py"), "--import=no_such_module"],
             tmp_path)
    assert p.returncode == 2
    assert p.stderr.strip() == ("den_tf: error: --import=no_such_module: "
                                "ModuleNotFoundError: No module named 'no_such_module'")
