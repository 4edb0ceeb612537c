"""Per-task checkpoints of a whole run, and resuming from them.

After every task, `save` writes `CHECKPOINT_DIR/task-NNN/`: every weight and bias of the
network and the state of the minibatch generator (`tf.train.Checkpoint`), and
`state.json` with what is not a tensor: every hidden layer's kind (dense or conv), kernel
shape, settings (padding, rows per input unit) and unit births, heads' shapes, the image
shape, timestamps, the task counter, the numpy RandomStates (weight initialisation,
duplicate biases), the per-task records and evaluations, and the settings of the run.
The architecture's forward pass and base size come from the settings (den_tf.model.archs).

Writing is atomic: the folder is written under a temporary name, flushed to disk, then
renamed; only then does the `LATEST` file (itself replaced atomically) point at it. A
process killed at any moment leaves the previous task's checkpoint intact and `LATEST`
pointing at a complete one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from den_tf.config import DENConfig
from den_tf.engine.randomness import RandomBatches, RandomInit
from den_tf.errors import CheckpointError
from den_tf.evaluation.scoring import TaskScore
from den_tf.io import files
from den_tf.model import archs
from den_tf.model.conv import DenConv2D
from den_tf.model.layers import DenDense
from den_tf.model.network import DENNetwork

LATEST = "LATEST"
STATE = "state.json"
WEIGHTS = "weights"
FORMAT = 2  # 2: task_seed and train_seed replace seed
# Settings that may differ between a run and its resumption.
FREE = ("checkpoint_dir", "n_tasks", "xla", "allow_tf32")
LAYER_KINDS = {cls.KIND: cls for cls in (DenDense, DenConv2D)}


def _layer_state(layer) -> dict:
    return {"n_in": layer.n_in, "kind": layer.KIND, "shape": list(layer.kernel.shape),
            "options": layer.options(), "birth": layer.birth.tolist()}


def _empty_layer(h: dict, name: str):
    """A hidden layer of the recorded kind and shape, zeros (the weights are read next).
    A state without "kind" is a dense layer of [n_in, units] (the first checkpoints)."""
    births = np.asarray(h["birth"], np.int64)
    shape = h.get("shape", [h["n_in"], len(births)])
    options = h.get("options", {"activation": "relu"})
    return LAYER_KINDS[h.get("kind", "dense")](np.zeros(shape, np.float32),
                                               np.zeros(len(births), np.float32), births,
                                               name=name, **options)


def _rng_state(rng: np.random.RandomState) -> list:
    name, keys, pos, has_gauss, cached = rng.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _set_rng(rng: np.random.RandomState, state: list) -> None:
    name, keys, pos, has_gauss, cached = state
    rng.set_state((name, np.asarray(keys, np.uint32), pos, has_gauss, cached))


def _trackables(net: DENNetwork, batches) -> dict:
    out = {}
    for i, layer in enumerate(net.hidden):
        out[f"hidden{i + 1}_kernel"], out[f"hidden{i + 1}_bias"] = layer.kernel, layer.bias
    for t, head in sorted(net.heads.items()):
        out[f"head{t}_kernel"], out[f"head{t}_bias"] = head.kernel, head.bias
    if isinstance(batches, RandomBatches):
        out["batch_generator"] = batches.generator
    return out


def _fsync_tree(path: str) -> None:
    for root, _, names in os.walk(path):
        for f in names:
            with open(os.path.join(root, f), "rb") as fh:
                os.fsync(fh.fileno())


def save(trainer, directory: str) -> str:
    """Writes the checkpoint of the tasks learned so far; returns its folder."""
    if not isinstance(trainer.init, RandomInit):
        raise CheckpointError("checkpoints need the default (random) initialiser")
    net, t = trainer.network, trainer.done
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"task-{t:03d}")
    tmp = tempfile.mkdtemp(prefix=f".task-{t:03d}-", dir=directory)
    try:
        tf.train.Checkpoint(**_trackables(net, trainer.batches)).write(os.path.join(tmp, WEIGHTS))
        state = {
            "format": FORMAT,
            "tasks_learned": t,
            "config": dataclasses.asdict(trainer.config),
            "network": {
                "input_size": net.input_size,
                "image_shape": list(getattr(net, "image_shape", ()) or ()) or None,
                "hidden": [_layer_state(l) for l in net.hidden],
                "heads": {str(k): list(h.kernel.shape) for k, h in net.heads.items()},
                "stamps": {str(k): v for k, v in net.stamps.items()},
            },
            "init_rng": _rng_state(trainer.init.rng),
            "duplicate_rng": _rng_state(trainer.init.dup_rng),
            "records": [dataclasses.asdict(r) for r in trainer.records],
            "scores": [[dataclasses.asdict(s) for s in row] for row in trainer.scores],
        }
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
                              f"{FORMAT}")
    return state


def saved_config(folder: str) -> DENConfig:
    c = read_state(folder)["config"]
    c["dims"] = tuple(c["dims"])
    c["paper"] = tuple(c.get("paper", ()))
    return DENConfig(**c)


def check_compatible(saved: DENConfig, config: DENConfig) -> None:
    """Raises CheckpointError when a setting that shapes the run differs."""
    for f in dataclasses.fields(DENConfig):
        if f.name in FREE and not (f.name == "n_tasks" and saved.task_stream == "rotated"):
            continue  # (a rotated stream's angles depend on the number of tasks)
        a, b = getattr(saved, f.name), getattr(config, f.name)
        if a != b:
            raise CheckpointError(
                f"--{f.name}={b} differs from the checkpoint's value {a}; resume with the "
                f"same settings")


def restore_into(trainer, folder: str):
    """Puts `trainer` (a new DEN trainer made with the run's config and task stream,
    den_tf.api.restore) in the state the checkpoint in `folder` recorded; returns it."""
    config = trainer.config
    state = read_state(folder)
    check_compatible(saved_config(folder), config)
    n = state["network"]
    try:
        hidden = [_empty_layer(h, f"layer{i + 1}") for i, h in enumerate(n["hidden"])]
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{folder}: unreadable network description ({e})") from None
    net = archs.assemble(config, hidden, n["input_size"], n.get("image_shape"))
    for k, shape in sorted(n["heads"].items(), key=lambda kv: int(kv[0])):
        net.add_head(int(k), np.zeros(shape, np.float32), np.zeros(shape[1], np.float32))
    net.stamps = {int(k): v for k, v in n["stamps"].items()}
    try:
        tf.train.Checkpoint(**_trackables(net, trainer.batches)).read(
            os.path.join(folder, WEIGHTS)).assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
        raise CheckpointError(f"{folder}: weights unreadable ({str(e).splitlines()[0]})") from None
    _set_rng(trainer.init.rng, state["init_rng"])
    _set_rng(trainer.init.dup_rng, state["duplicate_rng"])
    trainer.network = net
    trainer.done = state["tasks_learned"]
    trainer.records = [trainer.Record(**r) for r in state["records"]]
    trainer.scores = [[TaskScore(**s) for s in row] for row in state["scores"]]
    for layer in net.hidden + list(net.heads.values()):
        layer.freeze()
    return trainer
