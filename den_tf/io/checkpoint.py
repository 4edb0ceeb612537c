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
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from den_tf.config import Config, settings
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


def free_settings() -> tuple:
    """Settings that may differ between a run and its resumption (the registry's
    `resume="free"`)."""
    return tuple(x.name for x in settings(command=False) if x.resume == "free")


def learned_settings() -> tuple:
    """What a checkpoint learned: its data set, task stream and network (the registry's
    `learned`). --mode=eval and --mode=export use the checkpoint's; a setting given that
    differs is refused (`check_learned`)."""
    return tuple(x.name for x in settings(command=False) if x.learned)


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
             "n_outputs": int(tasks.n_outputs(t))} for t in range(1, learner.done + 1)]


def save(learner, directory: str) -> str:
    """Writes the checkpoint of the tasks learned so far; returns its folder."""
    if not isinstance(learner.init, RandomInit):
        raise CheckpointError("checkpoints need the default (random) initialiser")
    t = learner.done
    layers = learner.checkpoint_layers()
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"task-{t:03d}")
    tmp = tempfile.mkdtemp(prefix=f".task-{t:03d}-", dir=directory)
    try:
        tf.train.Checkpoint(**_trackables(layers, learner.generators())).write(
            os.path.join(tmp, WEIGHTS))
        extra = learner.checkpoint_extra()
        if extra:
            np.savez(os.path.join(tmp, EXTRA), **extra)
        shape = learner.input_shape()
        state = {
            "format": FORMAT,
            "method": learner.name,
            "tasks_learned": t,
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
            "pool": int(learner.batches_pool),
        }
        data = getattr(learner.tasks, "data", None)
        if data is not None and getattr(data, "test", None) is not None:
            state["data"] = {"name": getattr(data, "name", None), "digest": data_digest(data)}
        with open(os.path.join(tmp, STATE), "w") as f:
            json.dump(state, f)
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
    return final


def latest(directory: str) -> str:
    """The folder of the newest complete checkpoint in `directory`."""
    path = os.path.join(directory, LATEST)
    try:
        with open(path) as f:
            name = f.read().strip()
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: no checkpoint (no {LATEST} file)") from None
    folder = os.path.join(directory, name)
    if not os.path.isfile(os.path.join(folder, STATE)):
        raise CheckpointError(f"{folder}: checkpoint named by {path} is missing")
    return folder


def read_state(folder: str) -> dict:
    try:
        with open(os.path.join(folder, STATE)) as f:
            state = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{os.path.join(folder, STATE)}: unreadable ({e})") from None
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{folder}: checkpoint format {state.get('format')} is not "
                              f"{FORMAT} (written by another version of den_tf)")
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
    for name, a in saved.asdict().items():
        if name in free and not (name == "n_tasks" and saved.task_stream == "rotated"):
            continue  # (a rotated stream's angles depend on the number of tasks)
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


def restore_into(learner, folder: str, check: bool = True):
    """Puts `learner` (a new learner of the checkpoint's method, made with the run's
    config and task stream: den_tf.api.restore) in the state the checkpoint in `folder`
    recorded; returns it. `check`: refuse settings that differ from the checkpoint's."""
    state = read_state(folder)
    if check:
        check_compatible(config_of(state), learner.config)
    n = state["network"]
    try:
        layers = {name: empty_layer(h, name) for name, h in n["layers"].items()}
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{folder}: unreadable network description ({e})") from None
    image_shape = n.get("image_shape")
    learner.restore_layers(layers, n["input_size"],
                           None if image_shape is None else tuple(image_shape))
    learner.stamps.update({int(k): v for k, v in n["stamps"].items()})
    learner.prepare_generators(state.get("generators", []))
    try:
        tf.train.Checkpoint(**_trackables(layers, learner.generators())).read(
            os.path.join(folder, WEIGHTS)).assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
        raise CheckpointError(f"{folder}: weights unreadable ({str(e).splitlines()[0]})") from None
    extra_path = os.path.join(folder, EXTRA)
    if os.path.exists(extra_path):
        with np.load(extra_path) as z:
            learner.restore_extra({k: z[k] for k in z.files})
    _set_rng(learner.init.rng, state["init_rng"])
    _set_rng(learner.init.dup_rng, state["duplicate_rng"])
    learner.done = state["tasks_learned"]
    learner.records = [learner.Record(**r) for r in state["records"]]
    learner.scores = [[TaskScore(**s) for s in row] for row in state["scores"]]
    for layer in layers.values():
        layer.freeze()
    return learner
