"""The library's way in: the model object `DEN`, `load`, and `run(config, data)`.

    model = DEN(train_seed=1, max_iter=1000)           # or DEN(config), DEN(method="ewc")
    results = model.learn(tasks)                         # a task stream (den_tf.datasets)
    probs, classes = model.predict(images, task=2)       # class ids in the task's own labels
    model.save("my_model"); model = load("my_model")     # exactly as it was
    model.export("my_savedmodel")                        # a SavedModel, no den_tf needed

Every method runs the loop of the original's benchmark script (spec "The benchmark"):
for every task, learn it, then evaluate every task learned so far. The method is DEN
for a DENConfig, and the baseline a BaselineConfig names (`method_class`).

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation, den_tf.engine, den_tf.io, den_tf.learner, den_tf.den, den_tf.baselines, den_tf.preflight.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import time
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from den_tf.config import METHODS, DENConfig, config_for, method_of
from den_tf.datasets import DATASETS, ImageData, TaskStream
from den_tf.den.trainer import DENTrainer
from den_tf.engine import numerics
from den_tf.engine.randomness import BatchSource, InitSource
from den_tf.errors import ConfigError, InputError
from den_tf.evaluation import results
from den_tf.io import loglines
from den_tf.model.archs import image_shape_of
from den_tf.model.forward import probabilities


def method_class(name: str):
    """The class that runs --method `name`: DEN's trainer (den_tf.den), or the baseline
    of den_tf.baselines.<name> (each baseline module names its class `METHOD`)."""
    if name not in METHODS:
        raise ConfigError(f"--method={name}: must be one of {', '.join(METHODS)}")
    if name == "den":
        return DENTrainer
    return importlib.import_module(f"den_tf.baselines.{name}").METHOD


def restore(folder: str, config: DENConfig, tasks: TaskStream, log=None,
            callbacks: Sequence = ()) -> DENTrainer:
    """A DEN trainer in the state the checkpoint in `folder` recorded (den_tf.io.checkpoint;
    refused when a setting of `config` that shapes the run differs from the checkpoint's)."""
    from den_tf.io import checkpoint
    return checkpoint.restore_into(DENTrainer(config, tasks, log=log, callbacks=callbacks),
                                   folder)


def make_task_stream(config: DENConfig, data: ImageData) -> TaskStream:
    """The task stream the config names (config.task_stream, config.tasks tasks,
    config.task_seed) on `data`, checked against the config: `data` must not be another
    built-in data set than config.dataset (any other name is a user's), every task's head
    the last --dims size, every task's training set at least one minibatch."""
    config.validate(data.input_size, data.n_classes, len(data.train), image_shape_of(data))
    name = getattr(data, "name", config.dataset)
    if name != config.dataset and name in DATASETS:
        raise ConfigError(f"--dataset={config.dataset}: the data given is {name}")
    return config.stream_for(data)


def make_trainer(config: DENConfig, data: ImageData, *, batches: Optional[BatchSource] = None,
                 init: Optional[InitSource] = None, log: Optional[Callable[[str], None]] = None,
                 callbacks: Sequence = (), tasks: Optional[TaskStream] = None) -> DENTrainer:
    """A trainer for a new run on the tasks of `data` the config names (permuted MNIST
    by default): DENTrainer, or the baseline config.method names; `tasks` reuses a stream
    `make_task_stream(config, data)` already made."""
    if tasks is None:
        tasks = make_task_stream(config, data)
    cls = method_class(method_of(config))
    return cls(config, tasks, batches, init, log, callbacks)


def run(config: DENConfig, data: ImageData, *, batches: Optional[BatchSource] = None,
        init: Optional[InitSource] = None, log: Optional[Callable[[str], None]] = None,
        callbacks: Sequence = (),
        on_task_end: Optional[Callable[[DENTrainer], None]] = None,
        trainer: Optional[DENTrainer] = None) -> dict:
    """Learns the config.tasks tasks of config.task_stream; returns the results dict.

    `trainer` continues a run restored from a checkpoint; `on_task_end(trainer)` is
    called after every task's overall evaluation (checkpoints hook in there).
    """
    config.validate(data.input_size, data.n_classes, len(data.train), image_shape_of(data))
    numerics.configure(config.allow_tf32)
    quiet_retracing()
    log = log or (lambda line: None)
    if trainer is None:
        trainer = make_trainer(config, data, batches=batches, init=init, log=log,
                               callbacks=callbacks)
    start = time.perf_counter()
    for t in range(trainer.done + 1, config.tasks + 1):
        trainer.learn_task(t)
        trainer.evaluate_all(t)
        if on_task_end is not None:
            on_task_end(trainer)
    wall = time.perf_counter() - start
    out = results.build(trainer, wall)
    for line in loglines.summary_lines(out):
        log(line)
    return out


# ----------------------------------------------------------------------------- the model
HIDDEN = DENConfig().dims[1:-1]  # the hidden sizes DEN(...) takes when given no dims


class Prediction(tuple):
    """(probabilities [n, k] float32, class ids [n] in the task's own labels)."""

    __slots__ = ()

    def __new__(cls, probabilities, classes):
        return super().__new__(cls, (probabilities, classes))

    @property
    def probabilities(self) -> np.ndarray:
        return self[0]

    @property
    def classes(self) -> np.ndarray:
        return self[1]


class DEN:
    """DEN (or one of its baselines, `method=`) as a model that learns task after task,
    predicts, evaluates, saves, loads and exports.

    Args:
      config: a DENConfig (or BaselineConfig); default: DEN's defaults.
      method: "den" (default) or a baseline of den_tf.baselines ("dnn", "l2", "ewc",
        "progressive", "stl", "mtl").
      log: receives every log line (the original's lines and den_tf's own); default: none.
      callbacks: den_tf.engine.callbacks.Callback objects (progress bar, TensorBoard,
        CSV log: den_tf.io).
      **settings: any DENConfig or BaselineConfig field (max_iter=..., train_seed=...,
        arch="lenet", dims=(784, 312, 128, 10), ewc_lambda=...).

    Without `dims` (in `settings` or `config`) the network takes its input and head
    sizes from the first stream it learns: (input size, 312, 128, widest task's classes);
    with `dims`, the first size must be the input size and the last the widest task's
    number of classes. Each task's head has as many outputs as the task has classes.
    """

    def __init__(self, config: Optional[DENConfig] = None, *, method: Optional[str] = None,
                 log: Optional[Callable[[str], None]] = None, callbacks: Sequence = (),
                 **settings):
        self._given_dims = "dims" in settings or config is not None
        self._given_classes = "n_classes" in settings or config is not None
        try:
            base = config if config is not None else DENConfig()
            method = method or method_of(base)
            own = {f.name for f in dataclasses.fields(DENConfig)}
            den_settings = {k: v for k, v in settings.items() if k in own}
            extra = {k: v for k, v in settings.items() if k not in own}
            if "dims" in den_settings:
                den_settings["dims"] = tuple(int(d) for d in den_settings["dims"])
            base = base.replace(**den_settings) if den_settings else base
            if method != "den":
                kept = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)
                        if f.name not in own and f.name != "method"}
                extra = {**kept, **extra}
            self.config = config_for(base, method, **extra)
        except TypeError as e:
            raise ConfigError(f"DEN: {e}") from None
        if method not in METHODS:
            raise ConfigError(f"method={method!r}: must be one of {', '.join(METHODS)}")
        self.log = log
        self.callbacks = list(callbacks)
        self.learner = None
        self.wall_s = 0.0

    # ----------------------------------------------------------------- learning
    @property
    def method(self) -> str:
        return method_of(self.config)

    @property
    def tasks_learned(self) -> int:
        return 0 if self.learner is None else self.learner.done

    def _settings_for(self, tasks: TaskStream) -> DENConfig:
        """The config checked against (and, where not given, sized by) the stream."""
        cfg = self.config
        widest = max(tasks.n_outputs(t) for t in range(1, tasks.n_tasks + 1))
        size, shape = tasks.input_size, tasks.image_shape
        changes = {}
        if not self._given_dims:
            changes["dims"] = (size,) + tuple(cfg.dims[1:-1]) + (widest,)
        if not self._given_classes:
            changes["n_classes"] = (changes.get("dims") or cfg.dims)[-1]
        if cfg.n_tasks is None:
            changes["n_tasks"] = tasks.n_tasks
        cfg = cfg.replace(**changes) if changes else cfg
        try:
            cfg.validate(size, None, None, shape)
        except ConfigError as e:
            raise ConfigError(e.for_library()) from None
        check_stream_for(cfg, tasks)
        return cfg

    def _attach(self, tasks: Optional[TaskStream]):
        if tasks is None:
            if self.learner is None:
                raise ConfigError("learn: give the task stream (den_tf.datasets: "
                                  "from_arrays, split_classes, make_stream)")
            return self.learner
        if not isinstance(tasks, TaskStream):
            raise ConfigError(f"tasks: a task stream (den_tf.datasets) is needed, got "
                              f"{type(tasks).__name__}")
        if self.learner is None:
            self.config = self._settings_for(tasks)
            numerics.configure(self.config.allow_tf32)
            cls = method_class(self.method)
            self.learner = cls(self.config, tasks, log=self._log, callbacks=self.callbacks)
        elif tasks is not self.learner.tasks:
            check_same_tasks(self.learner.tasks, tasks, self.learner.done)
            check_stream_for(self.config, tasks)
            self.learner.tasks = tasks
        return self.learner

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def learn_task(self, tasks: Optional[TaskStream] = None):
        """Learns the next task of `tasks` (then evaluates every task learned so far, as
        the original's loop does); returns its record."""
        learner = self._attach(tasks)
        t = learner.done + 1
        if t > self.config.tasks:
            raise ConfigError(f"learn_task: all {self.config.tasks} tasks are learned")
        quiet_retracing()
        start = time.perf_counter()
        record = learner.learn_task(t)
        learner.evaluate_all(t)
        self.wall_s += time.perf_counter() - start
        return record

    def learn(self, tasks: Optional[TaskStream] = None, callbacks: Sequence = ()) -> dict:
        """Learns every task of `tasks` not yet learned (up to n_tasks); returns the
        results dict (den_tf.evaluation.results)."""
        learner = self._attach(tasks)
        extra = [cb for cb in callbacks if cb not in learner.callbacks]
        learner.callbacks.extend(extra)
        try:
            while learner.done < self.config.tasks:
                self.learn_task()
        finally:
            for cb in extra:
                learner.callbacks.remove(cb)
        return self.results

    @property
    def results(self) -> dict:
        """The results dict of what is learned so far (matrices, metrics, capacity)."""
        if self.learner is None:
            raise ConfigError("results: nothing is learned yet")
        return results.build(self.learner, self.wall_s)

    # ----------------------------------------------------------------- using it
    def _task(self, task: int) -> int:
        if self.learner is None or not 1 <= int(task) <= self.learner.done:
            raise ConfigError(f"task={task}: the model has learned tasks 1.."
                              f"{self.tasks_learned}")
        return int(task)

    def predict(self, x, task: int) -> Prediction:
        """(probabilities [n, k], predicted class ids [n]) of images `x` for `task`: x as
        the data stores them (flat [n, d] or [n, H, W, C]; uint8, or floats in [0, 1]);
        the task's own input transform is applied here. The class ids are the task's own
        labels (its `class_ids`)."""
        t = self._task(task)
        from den_tf.datasets import checks, to_float
        pixels, _ = checks.flatten(checks.check_pixels(x, t, "predict"), t, "predict")
        size = self.learner.tasks.input_size
        if pixels.shape[1] != size:
            raise InputError(f"task {t}, predict: images of {pixels.shape[1]} values, the "
                             f"model reads {size}")
        images = self.learner.tasks.transform(t).numpy(to_float(pixels))
        quiet_retracing()
        p = probabilities(self.learner.params_for(t), tf.constant(images), self.config.xla,
                          self.learner.forward_for(t)).numpy()
        ids = np.asarray(self.learner.tasks.class_ids(t))
        return Prediction(p, ids[p.argmax(axis=1)])

    def evaluate(self, tasks: Optional[TaskStream] = None) -> dict:
        """The results dict (den_tf.evaluation.results: AUROC and accuracy matrices,
        averages, BWT, forgetting); with `tasks`, also "test": every learned task
        evaluated now on the stream's test sets (AUROC, accuracy, CE per task)."""
        out = self.results
        if tasks is not None:
            check_same_tasks(self.learner.tasks, tasks, self.learner.done)
            scores = []
            for j in range(1, self.learner.done + 1):
                x, y = tasks.test_set(j)
                s = self.learner.score(j, x, y)
                scores.append({"task": j, "auroc": s.auroc, "accuracy": s.accuracy,
                               "loss": s.loss})
            out["test"] = scores
        return out

    # ----------------------------------------------------------------- files
    def save(self, path: str, replace: bool = False) -> str:
        """Saves everything the model holds (den_tf.io.checkpoint: a folder with the
        checkpoint of the tasks learned); `load(path)` gives it back exactly. A folder
        that holds another model's checkpoints (another method, other settings, data
        or tasks) is refused (CheckpointError), unless `replace=True`: then they are
        removed once this model's checkpoint is written. Saving again into the model's
        own folder (after more tasks) adds its newest checkpoint."""
        from den_tf.io import checkpoint
        if self.learner is None:
            raise ConfigError("save: nothing is learned yet")
        return checkpoint.save(self.learner, path, replace=replace)

    def export(self, path: str) -> str:
        """Writes a SavedModel that serves every learned task (den_tf.io.export): raw
        images in, probabilities out; it records each task's class ids."""
        from den_tf.io.export import export_learner
        if self.learner is None:
            raise ConfigError("export: nothing is learned yet")
        return export_learner(self.learner, path)


def load(path: str, log: Optional[Callable[[str], None]] = None,
         callbacks: Sequence = ()) -> DEN:
    """The model `DEN.save(path)` saved (or the latest checkpoint of a run's
    --checkpoint_dir), exactly as it was: it predicts, evaluates, exports; it learns on
    when given its task stream again."""
    from den_tf.datasets.streams import SavedTasks
    from den_tf.errors import CheckpointError
    from den_tf.io import checkpoint
    folder = path if os.path.isfile(os.path.join(path, checkpoint.STATE)) \
        else checkpoint.latest(path)
    state = checkpoint.read_state(folder)
    try:
        config = checkpoint.config_of(state)
        n = state["network"]
        tasks = SavedTasks(state["tasks"], n["input_size"], n.get("image_shape"),
                           state["pool"])
    except checkpoint.DAMAGED as e:
        raise CheckpointError(f"{folder}: {checkpoint.STATE} unreadable ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}); the checkpoint "
                              f"is damaged") from None
    model = DEN(config, log=log, callbacks=callbacks)
    cls = method_class(model.method)
    model.learner = cls(config, tasks, log=model._log, callbacks=model.callbacks)
    checkpoint.restore_into(model.learner, folder, check=False)
    model.wall_s = sum(r.wall_s for r in model.learner.records)
    return model


def check_same_tasks(have: TaskStream, tasks: TaskStream, done: int) -> None:
    """Refuses a stream whose first `done` tasks are not the ones learned (other class
    ids or input transform, or fewer tasks)."""
    if tasks.n_tasks < done:
        raise ConfigError(f"tasks: {tasks.n_tasks} tasks given, the model has learned {done}")
    if tasks.input_size != have.input_size:
        raise ConfigError(f"tasks: images of {tasks.input_size} values, the model's have "
                          f"{have.input_size}")
    for t in range(1, done + 1):
        if list(tasks.class_ids(t)) != list(have.class_ids(t)):
            raise ConfigError(f"tasks: task {t}'s classes {list(tasks.class_ids(t))} are "
                              f"not the learned task's {list(have.class_ids(t))}")
        if tasks.transform(t).describe() != have.transform(t).describe():
            raise ConfigError(f"tasks: task {t}'s input transform is not the learned "
                              f"task's")


def check_stream_for(config: DENConfig, tasks: TaskStream) -> None:
    """Refuses (ConfigError, in terms of arguments) a stream the settings cannot learn:
    more tasks asked than it has, a head size that is not the widest task's number of
    classes, a training split smaller than one minibatch, mtl on tasks with different
    numbers of classes."""
    if config.tasks > tasks.n_tasks:
        raise ConfigError(f"n_tasks={config.tasks}: the stream has {tasks.n_tasks} tasks")
    sizes = [tasks.n_outputs(t) for t in range(1, config.tasks + 1)]
    if config.dims[-1] != max(sizes):
        raise ConfigError(f"dims={tuple(config.dims)}: the last size must be the widest "
                          f"task's number of classes, {max(sizes)} (the tasks have "
                          f"{sizes})")
    if method_of(config) == "mtl" and len(set(sizes)) > 1:
        raise ConfigError(f"method=mtl: trains every head on one pooled minibatch, so "
                          f"every task needs the same number of classes (the tasks have "
                          f"{sizes})")
    for t in range(1, config.tasks + 1):
        n = tasks.n_train(t)
        if n < config.batch_size:
            raise InputError(f"task {t}, train: {n} examples, fewer than one minibatch "
                             f"(batch_size={config.batch_size})")


class _RetracingFilter(logging.Filter):
    def filter(self, record) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


_FILTER = _RetracingFilter()


def quiet_retracing() -> None:
    """Keeps TensorFlow's retracing warnings out of a library run: every phase is a new
    compiled function by design (its shapes change as the network grows)."""
    logger = tf.get_logger()
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
