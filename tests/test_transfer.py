"""Forward transfer (issue 29, item 5): den_tf.evaluation.forward_transfer against a
reference that learns each task alone (STL), its command-line tool, the refusal of
results of other tasks; and docs/metrics.md defining every key of the results dict.

Tiny settings: three 2-class tasks of random 8x8 images, 5 steps per phase."""

import json
import os
import re
import subprocess
import sys

import pytest

import den_tf
from den_tf.datasets import from_arrays
from den_tf.errors import ConfigError
from den_tf.evaluation import forward_transfer
from tests import helpers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
D = 64
TINY = dict(max_iter=5, batch_size=16, train_seed=1, dims=(D, 8, 4, 2))


def images_of(classes, n, seed):
    return helpers.images_of(classes, n, seed, D)


def stream_of(groups=((0, 1), (2, 3), (4, 5))):
    return from_arrays([{"train": images_of(g, 64, 10 * i + 1),
                         "test": images_of(g, 24, 10 * i + 2)} for i, g in enumerate(groups)])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """DEN on three tasks (its results after two kept too) and STL on the same three,
    written as results JSON files."""
    folder = tmp_path_factory.mktemp("transfer")
    stream = stream_of()
    den = den_tf.DEN(**TINY)
    den.learn_task(stream)
    den.learn_task(stream)
    two = den.results
    three = den.learn(stream)
    stl = den_tf.DEN(method="stl", **TINY)
    reference = stl.learn(stream)
    from den_tf.io import files
    paths = {}
    for name, r in (("den", three), ("den2", two), ("stl", reference)):
        paths[name] = files.write_json(str(folder / f"{name}.json"), r)
    tested = den.evaluate(stream)
    return {"den": three, "den2": two, "stl": reference, "paths": paths, "folder": folder,
            "evaluated": tested}


def test_forward_transfer_is_the_just_learned_difference_over_tasks_2_to_t(runs):
    den, stl = runs["den"], runs["stl"]
    out = forward_transfer(den, stl)
    assert out["tasks"] == 3 and out["reference_method"] == "stl"
    for kind in ("accuracy", "auroc"):
        mine = [den[f"{kind}_matrix"][t][t] for t in range(3)]
        ref = [stl[f"{kind}_matrix"][t][t] for t in range(3)]
        assert out["per_task"][kind] == [a - b for a, b in zip(mine, ref)]
        assert out[kind] == pytest.approx((mine[1] - ref[1] + mine[2] - ref[2]) / 2, abs=1e-15)
    # the reference against itself: no transfer
    same = forward_transfer(stl, stl)
    assert same["accuracy"] == 0.0 and same["auroc"] == 0.0


def test_results_of_other_tasks_are_refused(runs):
    den, stl = runs["den"], runs["stl"]
    with pytest.raises(ConfigError, match=r"^run learned 2 tasks, reference 3: forward "
                                          r"transfer compares runs of the same tasks$"):
        forward_transfer(runs["den2"], stl)
    other = json.loads(json.dumps(stl))
    other["stream"]["class_ids"][1] = [2, 7]
    with pytest.raises(ConfigError, match=r"^run and reference learned other tasks \(their "
                                          r"class ids differ\): forward transfer compares "
                                          r"runs of the same tasks$"):
        forward_transfer(den, other)
    other = json.loads(json.dumps(stl))
    other["stream"]["data"] = "0" * 16
    with pytest.raises(ConfigError, match=r"their test data differ"):
        forward_transfer(den, other)
    # results from before "stream" existed: their configs name the stream's settings
    old = dict({k: v for k, v in den.items() if k != "stream"},
               config=dict(den["config"], task_seed=1004))
    older = dict({k: v for k, v in stl.items() if k != "stream"},
                 config=dict(stl["config"], task_seed=5))
    with pytest.raises(ConfigError, match=r"^run and reference learned other tasks "
                                          r"\(task_seed 1004 and 5\)"):
        forward_transfer(old, older)
    with pytest.raises(ConfigError, match=r"^reference: not a den_tf results dict"):
        forward_transfer(den, {"x": 1})


def tool(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "den_tf.experiments.transfer", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_command_line_tool_prints_the_figures(runs):
    p = runs["paths"]
    r = tool(p["den"], p["stl"], cwd=runs["folder"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    out = forward_transfer(runs["den"], runs["stl"])
    lines = r.stdout.splitlines()
    assert lines[0] == (f"forward transfer of {p['den']} against {p['stl']} "
                        f"(--method=stl), tasks 2..3:")
    assert lines[1].split()[:2] == ["accuracy", f"{out['accuracy']:+.4f}"]
    assert lines[2].split()[:2] == ["AUROC", f"{out['auroc']:+.4f}"]
    r = tool(p["den"], p["stl"], "--json", cwd=runs["folder"])
    assert json.loads(r.stdout) == json.loads(json.dumps(out))


def test_the_command_line_tool_refuses_in_one_line(runs, tmp_path):
    p = runs["paths"]
    r = tool(p["den2"], p["stl"], cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == (f"den_tf: error: {p['den2']} learned 2 tasks, {p['stl']} 3: forward "
                        f"transfer compares runs of the same tasks\n")
    (tmp_path / "bad.json").write_text("{")
    r = tool(str(tmp_path / "bad.json"), p["stl"], cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith(
        f"den_tf: error: {tmp_path / 'bad.json'}: not a JSON file (") and r.stderr.count("\n") == 1


# ----------------------------------------------------------------------------- the page
PAGE = os.path.join(ROOT, "docs", "metrics.md")
# Keys below these are not listed one by one on the page: the run's settings (Usage),
# and the figures of one phase under its name.
OPAQUE = {"config"}
KINDS = {"metrics": "<kind>", "phases": "<phase>"}


def key_paths(value, prefix=""):
    """Every key of a results dict as a dotted path; a list's items as `[]`; the keys of
    `metrics` (auroc, accuracy) as <kind>, those of `phases` (the phase names) as
    <phase>."""
    out = set()
    if isinstance(value, dict):
        parent = prefix.rsplit(".", 1)[-1].rstrip("[]")
        for k, v in value.items():
            name = KINDS.get(parent, k)
            path = f"{prefix}.{name}" if prefix else name
            out.add(path)
            if path not in OPAQUE:
                out |= key_paths(v, path)
    elif isinstance(value, list):
        for v in value:
            out |= key_paths(v, prefix + "[]")
    return out


def test_every_key_of_the_results_dict_is_defined_on_the_metrics_page(runs):
    page = open(PAGE, encoding="utf-8").read()
    defined = set(re.findall(r"^\| `([^`]+)` \|", page, re.M))
    keys = set()
    for r in (runs["den"], runs["stl"], runs["evaluated"]):
        keys |= key_paths(r)
    assert "metrics.<kind>.forgetting.mean_max" in keys and "tasks[].expanded" in keys
    assert "timing.per_task[].phases.<phase>.train_s" in keys and "test[].auroc" in keys
    missing = sorted(keys - defined)
    assert not missing, f"results keys not defined on docs/metrics.md: {missing}"
    assert "forward transfer" in page.lower() and "python -m den_tf.experiments.transfer" in page
