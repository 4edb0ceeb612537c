"""Per-task checkpoints of a whole run, and resuming from them, for DEN and the
baselines alike (den_tf.learner: every method names its layers and extra state).

After every task, `save` writes `CHECKPOINT_DIR/task-NNN/`: every weight and bias of the
method's layers and the state of its minibatch generators (`tf.train.Checkpoint`),
`extra.npz` with the method's other arrays (EWC's Fisher sums), and `state.json` with
what is not a tensor: every layer's name, kind (dense or conv), kernel shape, settings
(padding, rows per input unit) and unit births, the image shape, timestamps, the task
counter, the numpy RandomStates (weight initialisation, duplicate biases), the per-task
records and evaluations, what each learned task's outputs stand for (its input
transform and class ids: enough to predict and export without the data), a digest of
the data set's test split (`check_data`: eval, export and --resume refuse other data),
and the settings of the run. The architecture's forward pass and base size come from the
settings (den_tf.model.archs).

Writing is atomic: the folder is written under a temporary name, flushed to disk, then
renamed; only then does the `LATEST` file (itself replaced atomically) point at it. A
process killed at any moment leaves the previous task's checkpoint intact and `LATEST`
pointing at a complete one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile

import numpy as np
import tensorflow as tf

from den_tf.config import Config, registry
from den_tf.config.registry import flag_of
from den_tf.engine.randomness import RandomInit
from den_tf.errors import CheckpointError, ConfigError
from den_tf.evaluation.scoring import TaskScore
from den_tf.io import files
from den_tf.model.conv import DenConv2D
from den_tf.model.layers import DenDense

LATEST = "LATEST"
STATE = "state.json"
WEIGHTS = "weights"
EXTRA = "extra.npz"
FORMAT = 3  # 2: task_seed and train_seed replace seed; 3: named layers of any method


# What a checkpoint learned and what a resumed run may change: registered with each
# setting (den_tf.config.registry: `learned`, `resume="free"`).
learned_settings, free_settings = registry.learned, registry.free


LAYER_KINDS = {cls.KIND: cls for cls in (DenDense, DenConv2D)}


def layer_state(layer) -> dict:
    return {"n_in": layer.n_in, "kind": layer.KIND, "shape": list(layer.kernel.shape),
            "options": layer.options(), "birth": layer.birth.tolist()}


def empty_layer(h: dict, name: str):
    """A layer of the recorded kind and shape, zeros (the weights are read next)."""
    births = np.asarray(h["birth"], np.int64)
    return LAYER_KINDS[h["kind"]](np.zeros(h["shape"], np.float32),
                                  np.zeros(len(births), np.float32), births, name=name,
                                  **h["options"])


def _rng_state(rng: np.random.RandomState) -> list:
    name, keys, pos, has_gauss, cached = rng.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _set_rng(rng: np.random.RandomState, state: list) -> None:
    name, keys, pos, has_gauss, cached = state
    rng.set_state((name, np.asarray(keys, np.uint32), pos, has_gauss, cached))


def _trackables(layers: dict, generators: dict) -> dict:
    out = {}
    for name, layer in layers.items():
        out[f"{name}_kernel"], out[f"{name}_bias"] = layer.kernel, layer.bias
    out.update(generators)
    return out


def _fsync_tree(path: str) -> None:
    for root, _, names in os.walk(path):
        for f in names:
            with open(os.path.join(root, f), "rb") as fh:
                os.fsync(fh.fileno())


def task_descriptions(learner) -> list:
    """What each learned task's outputs stand for: its input transform, class ids and
    number of outputs (predict and export need nothing else of the data)."""
    tasks = learner.tasks
    return [{"transform": tasks.transform(t).describe(),
             "class_ids": [int(c) for c in tasks.class_ids(t)],
             "n_outputs": int(tasks.n_outputs(t)),
             "test_digest": tasks.test_digest(t)} for t in range(1, learner.done + 1)]


def _state(learner) -> dict:
    """The state.json of the learner's checkpoint (see the module docstring)."""
    shape = learner.input_shape()
    layers = learner.checkpoint_layers()
    state = {
        "format": FORMAT,
        "method": learner.name,
        "tasks_learned": learner.done,
        "config": learner.config.asdict(),
        "network": {
            "input_size": shape[0],
            "image_shape": list(shape[1]) if shape[1] is not None else None,
            "layers": {name: layer_state(layer) for name, layer in layers.items()},
            "stamps": {str(k): v for k, v in learner.stamps.items()},
        },
        "generators": sorted(learner.generators()),
        "init_rng": _rng_state(learner.init.rng),
        "duplicate_rng": _rng_state(learner.init.dup_rng),
        "records": [dataclasses.asdict(r) for r in learner.records],
        "scores": [[dataclasses.asdict(s) for s in row] for row in learner.scores],
        "tasks": task_descriptions(learner),
        "own_stream": bool(getattr(learner.tasks, "own", False)),
        "pool": int(learner.batches_pool),
    }
    data = getattr(learner.tasks, "data", None)
    if data is not None and getattr(data, "test", None) is not None:
        state["data"] = {"name": getattr(data, "name", None), "digest": data_digest(data)}
    elif getattr(learner, "checkpoint_data", None):  # a loaded model's (no data held)
        state["data"] = dict(learner.checkpoint_data)
    return state


def identity(learner) -> dict:
    """What `other_model` compares of a learner that may have learned nothing yet: its
    method, settings, data digest and the descriptions of every task of its stream."""
    tasks = learner.tasks
    out = {"method": learner.name, "config": learner.config.asdict(),
           "tasks": [{"transform": tasks.transform(t).describe(),
                      "class_ids": [int(c) for c in tasks.class_ids(t)],
                      "n_outputs": int(tasks.n_outputs(t)),
                      "test_digest": tasks.test_digest(t)}
                     for t in range(1, tasks.n_tasks + 1)]}
    data = getattr(tasks, "data", None)
    if data is not None and getattr(data, "test", None) is not None:
        out["data"] = {"name": getattr(data, "name", None), "digest": data_digest(data)}
    return out


CHECKPOINT_FOLDER = re.compile(r"^task-\d{3}$")


def _checkpoints_in(directory: str) -> list:
    """The checkpoint folders (task-NNN) in `directory`, in order."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(n for n in names if CHECKPOINT_FOLDER.match(n)
                  and os.path.isdir(os.path.join(directory, n)))


def _json_form(value):
    return json.loads(json.dumps(value))


def other_model(directory: str, state: dict):
    """Why the checkpoints in `directory` are another model's than the one whose state is
    `state` (a reason, in words), or None: no checkpoint there, or checkpoints of the
    same model. The same model: the same method, the same settings (every setting but
    those a run may change when it resumes, FREE), the same data (the digest of its test
    split, where both know it) and the same tasks for those both learned (each task's
    class ids and input transform): a run's own earlier tasks, its resumption, and a
    rerun of the same settings on the same data (the same seeds give the same model)."""
    names = _checkpoints_in(directory)
    if not names:
        return None
    try:
        with open(os.path.join(directory, LATEST)) as f:
            newest = f.read().strip()
    except (OSError, ValueError):
        newest = ""
    folder = os.path.join(directory, newest if newest in names else names[-1])
    try:
        with open(os.path.join(folder, STATE)) as f:
            saved = json.load(f)
    except FileNotFoundError:
        return None  # (a folder a killed write left without its state: nothing to mix)
    except (OSError, ValueError) as e:
        return f"{folder} is unreadable ({str(e).splitlines()[0]})"
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        return f"{folder} was written by another version of den_tf"
    mine = _json_form(state)
    if saved.get("method") != mine["method"]:
        return f"it holds a {saved.get('method')} model, this is {mine['method']}"
    a, b = saved.get("config") or {}, mine["config"]
    for key in sorted(set(a) | set(b)):
        if key not in free_settings() and a.get(key) != b.get(key):
            return (f"its {key} is {flag_text(key, a.get(key))}, this model's "
                    f"{flag_text(key, b.get(key))}")
    da, db = (saved.get("data") or {}).get("digest"), (mine.get("data") or {}).get("digest")
    if da and db and da != db:
        return "it learned on other data (another test set)"
    for t, (ta, tb) in enumerate(zip(saved.get("tasks") or [], mine["tasks"]), start=1):
        if ta != tb:
            return f"its task {t} is another task (other classes or input transform)"
    return None


def save(learner, directory: str, replace: bool = False) -> str:
    """Writes the checkpoint of the tasks learned so far into `directory`; returns its
    folder. A folder that holds another model's checkpoints (`other_model`) is refused
    (CheckpointError), unless `replace`: then the other model's checkpoints are removed
    once this one is written."""
    if not isinstance(learner.init, RandomInit):
        raise CheckpointError("checkpoints need the default (random) initialiser")
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise CheckpointError(f"{directory}: is a file, a checkpoint folder is needed")
    t = learner.done
    layers = learner.checkpoint_layers()
    state = _state(learner)
    if not replace:
        why = other_model(directory, state)
        if why is not None:
            raise CheckpointError(f"{directory}: holds the checkpoint of another model "
                                  f"({why}); save into another folder, or replace it "
                                  f"(replace=True)")
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"task-{t:03d}")
    tmp = tempfile.mkdtemp(prefix=f".task-{t:03d}-", dir=directory)
    try:
        tf.train.Checkpoint(**_trackables(layers, learner.generators())).write(
            os.path.join(tmp, WEIGHTS))
        extra = learner.checkpoint_extra()
        if extra:
            np.savez(os.path.join(tmp, EXTRA), **extra)
        try:
            text = json.dumps(state, allow_nan=False)
        except ValueError as e:  # a NaN or an infinity: never written (strict JSON)
            raise CheckpointError(f"{directory}: task {t}'s state holds a value that is "
                                  f"not a finite number ({e})") from None
        with open(os.path.join(tmp, STATE), "w") as f:
            f.write(text)
        _fsync_tree(tmp)
        if os.path.exists(final):  # a rerun of the same task: swap the old one out
            old = final + ".old"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files.write_text(os.path.join(directory, LATEST), os.path.basename(final) + "\n",
                     durable=True)
    if replace:  # the other model's checkpoints, once this one is complete
        for name in _checkpoints_in(directory):
            if name != os.path.basename(final):
                shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
    return final


def latest(directory: str) -> str:
    """The folder of the newest complete checkpoint in `directory`."""
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise CheckpointError(f"{directory}: is a file, a checkpoint folder is needed (the "
                              f"folder a model was saved into, or a run's checkpoint_dir)")
    path = os.path.join(directory, LATEST)
    try:
        with open(path) as f:
            name = f.read().strip()
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: no checkpoint (no {LATEST} file)") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable ({str(e).splitlines()[0]})") from None
    folder = os.path.join(directory, name)
    if not name or not os.path.isfile(os.path.join(folder, STATE)):
        raise CheckpointError(f"{folder}: checkpoint named by {path} is missing")
    return folder


# What every checkpoint's state.json holds (a state without one is unreadable).
STATE_KEYS = ("method", "tasks_learned", "config", "network", "init_rng", "duplicate_rng",
              "records", "scores", "tasks", "pool")


def read_state(folder: str) -> dict:
    path = os.path.join(folder, STATE)
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable ({str(e).splitlines()[0]})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: unreadable (not a checkpoint's state)")
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{folder}: checkpoint format {state.get('format')} is not "
                              f"{FORMAT} (written by another version of den_tf)")
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{path}: unreadable (no {missing[0]!r})")
    return state


def config_of(state: dict) -> Config:
    """The settings a checkpoint's state recorded (lists back as tuples; settings of
    other methods, which checkpoints of earlier versions recorded, dropped)."""
    try:
        return Config.from_dict(state["config"], lenient=True)
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"the checkpoint's settings are unreadable ({e})") from None


def saved_config(folder: str) -> Config:
    return config_of(read_state(folder))


def flag_text(name: str, value) -> str:
    """A setting's value as its flag is written (--dims=784,312,10, --class_groups=0,1;2,3,
    --paper=Q2,Q4; an unset or empty one: none)."""
    if value is None or (isinstance(value, (tuple, list)) and not value):
        return "none"
    if name == "class_groups":
        return ";".join(",".join(str(c) for c in g) for g in value)
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def _difference(name: str, given, saved) -> str:
    """"--flag=given differs from the checkpoint's value saved" (the flag's name)."""
    return (f"--{flag_of(name)}={flag_text(name, given)} differs from the "
            f"checkpoint's value {flag_text(name, saved)}")


def check_compatible(saved: Config, config: Config) -> None:
    """Raises CheckpointError when a setting that shapes the run differs."""
    if saved.method != config.method:
        raise CheckpointError(f"--method={config.method} differs from the checkpoint's "
                              f"{saved.method}")
    free = free_settings()
    stream = registry.STREAMS.get(saved.task_stream) if saved.task_stream in registry.STREAMS \
        else None
    for name, a in saved.asdict().items():
        if name in free and not (name == "n_tasks" and getattr(stream, "sized_by_n_tasks",
                                                               False)):
            continue  # (a stream whose tasks depend on their number: rotated's angles)
        b = getattr(config, name)
        if a != b:
            raise CheckpointError(f"{_difference(name, b, a)}; resume with the same "
                                  f"settings")


def _learned(config: Config, name: str):
    """The value of a LEARNED setting, as compared: the number of tasks (n_tasks, else
    its default), a convolutional arch's head size (the only --dims size it reads)."""
    if name == "n_tasks":
        return config.tasks
    if name == "method":
        return config.method
    if name == "dims" and not config.architecture.reads_dims:
        return tuple(config.dims[-1:])
    return getattr(config, name)


def check_learned(saved: Config, config: Config, given) -> None:
    """--mode=eval and --mode=export use what the checkpoint learned (`saved`): raises
    ConfigError (exit 2) for the first setting of LEARNED in `given` (the settings the
    user gave) whose value in `config` differs from the checkpoint's, naming the flag
    and both values."""
    for name in learned_settings():
        if name not in given:
            continue
        a, b = _learned(saved, name), _learned(config, name)
        if a != b:
            raise ConfigError(f"{_difference(name, b, a)} (the checkpoint is evaluated and "
                              f"exported on what it learned: leave the flag out, or give "
                              f"the checkpoint's value)")


def data_digest(data) -> str:
    """A short digest of a data set's test split (its pixels and labels): the same data
    gives the same digest, whatever folder it is read from."""
    h = hashlib.sha1()
    for a in (data.test.pixels, data.test.labels):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def check_data(state: dict, data, data_dir: str) -> None:
    """Raises ConfigError (exit 2) when the checkpoint recorded its data (`state["data"]`,
    written by `save`) and `data`, read from `data_dir`, is other data."""
    saved = state.get("data")
    if not saved or not saved.get("digest"):
        return  # (a checkpoint of a stream without a data set, or of an older den_tf)
    if data_digest(data) != saved["digest"]:
        raise ConfigError(f"--data_dir={data_dir}: holds other images than the "
                          f"{saved.get('name') or 'data'} the checkpoint learned on (their "
                          f"test sets differ); give the folder of the checkpoint's data")


# What reading a damaged checkpoint raises (a truncated weights file: IndexError; a
# damaged extra.npz: BadZipFile, EOFError; a state of the wrong shape: KeyError,
# TypeError ...): each becomes one CheckpointError line.
DAMAGED = (KeyError, TypeError, ValueError, IndexError, AttributeError, OSError, EOFError,
           zipfile.BadZipFile, AssertionError, tf.errors.OpError)


def _damaged(folder: str, what: str, e: BaseException) -> CheckpointError:
    text = (str(getattr(e, "message", "") or e).strip().splitlines() or [""])[0]
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)  # (TensorFlow's op name)
    return CheckpointError(f"{folder}: {what} unreadable ({type(e).__name__}"
                           f"{': ' + text if text else ''}); the checkpoint is damaged")


def restore_into(learner, folder: str, check: bool = True):
    """Puts `learner` (a new learner of the checkpoint's method, made with the run's
    config and task stream: den_tf.api.restore) in the state the checkpoint in `folder`
    recorded; returns it. `check`: refuse settings that differ from the checkpoint's.
    A damaged checkpoint (a truncated file, a state of the wrong shape) is one
    CheckpointError line."""
    state = read_state(folder)
    if check:
        check_compatible(config_of(state), learner.config)
    n = state["network"]
    try:
        layers = {name: empty_layer(h, name) for name, h in n["layers"].items()}
        image_shape = n.get("image_shape")
        learner.restore_layers(layers, n["input_size"],
                               None if image_shape is None else tuple(image_shape))
        learner.stamps.update({int(k): v for k, v in n["stamps"].items()})
        learner.prepare_generators(state.get("generators", []))
    except DAMAGED as e:
        raise _damaged(folder, "network description", e) from None
    try:
        tf.train.Checkpoint(**_trackables(layers, learner.generators())).read(
            os.path.join(folder, WEIGHTS)).assert_existing_objects_matched()
    except DAMAGED as e:
        raise _damaged(folder, "weights", e) from None
    extra_path = os.path.join(folder, EXTRA)
    try:
        if os.path.exists(extra_path):
            with np.load(extra_path) as z:
                learner.restore_extra({k: z[k] for k in z.files})
    except DAMAGED as e:
        raise _damaged(folder, EXTRA, e) from None
    try:
        _set_rng(learner.init.rng, state["init_rng"])
        _set_rng(learner.init.dup_rng, state["duplicate_rng"])
        learner.done = int(state["tasks_learned"])
        learner.checkpoint_data = state.get("data")  # (kept when it is saved again)
        learner.records = [learner.Record(**r) for r in state["records"]]
        learner.scores = [[TaskScore(**s) for s in row] for row in state["scores"]]
    except DAMAGED as e:
        raise _damaged(folder, STATE, e) from None
    for layer in layers.values():
        layer.freeze()
    return learner
