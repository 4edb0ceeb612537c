"""The model object: `DEN` (DEN or any registered method) learns task after task,
predicts, evaluates, saves, loads and exports; `load` gives a saved one back.

    model = DEN(train_seed=1, max_iter=1000)           # or DEN(config), DEN(method="ewc")
    results = model.learn(tasks)                         # a task stream (den_tf.datasets)
    scores, classes = model.predict(images, task=2)      # class ids in the task's own labels
    model.save("my_model"); model = load("my_model")     # exactly as it was
    model.learn(longer_stream)                           # learns on: tasks 4, 5, ...
    model.export("my_savedmodel")                        # a SavedModel, no den_tf needed

The contract (docs/usage.md#as-a-library):
* every setting is checked by name when the model is made (den_tf.config.Config): an
  unknown one is refused naming the closest known name, one of another method is
  refused; settings of the built-in task streams (dataset, task_stream, task_seed,
  n_classes, class_groups, class_order) are refused when the stream is your own;
* a model learns as long as tasks come: `learn(stream)` learns every task of the stream
  it has not learned (n_tasks, when given, is a cap), `learn_task(stream)` one more, in
  one process or after `save`/`load`; the tasks it learned are checked against the stream
  given (class ids, input shape and transform, a digest of each test set), in `learn`
  and `evaluate` alike;
* its figures are defined (den_tf.evaluation: no NaN), its errors one line of den_tf's
  own types.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from den_tf.api.run import method_class, quiet_retracing
from den_tf.api.tasks import check_same_tasks, check_stream_for
from den_tf.config import Config
from den_tf.config.registry import ARCHITECTURES, DATASETS, resolve_arch
from den_tf.config.shared import BUILTIN_STREAM_SETTINGS
from den_tf.datasets import TaskStream
from den_tf.engine import numerics
from den_tf.errors import ConfigError, InputError
from den_tf.evaluation import results
from den_tf.model.archs import Stack, from_keras
from den_tf.model.forward import probabilities

HIDDEN = Config().dims[1:-1]  # the MLP's hidden sizes when no dims are given


def arch_name(arch) -> str:
    """The `arch` setting of an architecture given as an object: a keras.Sequential (read
    by den_tf.model.archs.from_keras) or a `Stack` as its layer spec (its registered name
    when it is a registered one), a registered architecture object as its name; a text
    as it is."""
    if isinstance(arch, str):
        return arch
    if hasattr(arch, "layers") and hasattr(arch, "get_config") and not isinstance(arch, Stack):
        arch = from_keras(arch)
    for name, registered in ARCHITECTURES.items():
        if registered is arch or (isinstance(arch, Stack) and registered == arch):
            return name
    if isinstance(arch, Stack):
        return arch.spec()
    raise ConfigError(f"arch={arch!r}: give a registered architecture's name, a layer spec, "
                      f"a den_tf Stack or a keras.Sequential (den_tf.register_arch registers "
                      f"an architecture of your own)")


class Prediction(tuple):
    """(scores [n, k] float32, class ids [n] in the task's own labels).

    `scores` are the task's per-class sigmoid outputs, each in [0, 1]: DEN's heads are
    one-vs-rest (the original's sigmoid cross-entropy, docs/algorithm.md#objective), so a
    row need not sum to 1; the predicted class is the highest. `probabilities` is the
    same array under its earlier name."""

    __slots__ = ()

    def __new__(cls, scores, classes):
        return super().__new__(cls, (scores, classes))

    @property
    def scores(self) -> np.ndarray:
        return self[0]

    @property
    def probabilities(self) -> np.ndarray:
        return self[0]

    @property
    def classes(self) -> np.ndarray:
        return self[1]


class DEN:
    """DEN (or another registered method, `method=`) as a model that learns task after
    task, predicts, evaluates, saves, loads and exports (module docstring).

    Args:
      config: a den_tf.Config; default: the method's defaults.
      method: "den" (default), a baseline ("dnn", "l2", "ewc", "progressive", "stl",
        "mtl") or a method you registered.
      log: receives every log line (the original's lines and den_tf's own); default: none.
      callbacks: den_tf.engine.callbacks.Callback objects (progress bar, TensorBoard,
        CSV log: den_tf.io).
      **settings: any setting of the method (max_iter=..., train_seed=..., ex_k=... for
        DEN, ewc_lambda=... for ewc); arch= also takes a keras.Sequential or a den_tf
        Stack. An unknown name, or a setting of another method, is refused.

    Without `dims` the network takes its sizes from the first stream it learns: the MLP
    (input size, 312, 128, widest task's classes), another architecture (widest task's
    classes,); with `dims`, the MLP's first size must be the input size and the last the
    widest task's number of classes. Each task's head has as many outputs as the task has
    classes.
    """

    def __init__(self, config: Optional[Config] = None, *, method: Optional[str] = None,
                 log: Optional[Callable[[str], None]] = None, callbacks: Sequence = (),
                 **settings):
        if config is not None and not isinstance(config, Config):
            raise ConfigError(f"config: a den_tf.Config is needed, got {type(config).__name__}"
                              f" (settings go as keywords: DEN(max_iter=...))")
        if "method" in settings:
            method = settings.pop("method")
        if "arch" in settings:
            settings["arch"] = arch_name(settings["arch"])
        if config is None:
            self.config = Config(method=method or Config.DEFAULT_METHOD, **settings)
            given = set(settings)
        else:
            given = set(config.given) | set(settings)
            if method is not None and method != config.method:
                self.config = config.for_method(method, **settings)
            else:
                self.config = config.replace(**settings) if settings else config
        self._given = given - {"method"}
        self.log = log
        self.callbacks = list(callbacks)
        self.learner = None
        self.wall_s = 0.0

    # ----------------------------------------------------------------- learning
    @property
    def method(self) -> str:
        return self.config.method

    @property
    def tasks_learned(self) -> int:
        return 0 if self.learner is None else self.learner.done

    def _target(self, tasks: TaskStream) -> int:
        """How many tasks of `tasks` the model learns: all of them, or n_tasks when that
        cap is given and smaller."""
        cap = self.config.n_tasks
        return tasks.n_tasks if cap is None else min(int(cap), tasks.n_tasks)

    def _settings_for(self, tasks: TaskStream) -> Config:
        """The config checked against (and, where not given, sized by) the first stream
        the model learns."""
        cfg, given = self.config, self._given
        if getattr(tasks, "own", False):
            refused = [n for n in BUILTIN_STREAM_SETTINGS if n in given]
            if refused:
                raise ConfigError(
                    f"{refused[0]}={getattr(cfg, refused[0])!r}: a setting of den_tf's "
                    f"built-in task streams; this model learns your own stream "
                    f"({tasks.kind!r}), whose tasks say their own classes (leave it out)")
            if cfg.permute_once:
                raise ConfigError("permute_once=True: only with the built-in permuted stream "
                                  "(your own stream's tasks permute no pixels)")
        else:
            for name, actual in (("dataset", getattr(tasks.data, "name", None)),
                                 ("task_stream", tasks.kind)):
                if name in given and actual is not None and getattr(cfg, name) != actual:
                    raise ConfigError(f"{name}={getattr(cfg, name)!r}: the stream given is "
                                      f"{actual!r}")
        target = self._target(tasks)
        widest = max(tasks.n_outputs(t) for t in range(1, target + 1))
        size, shape = tasks.input_size, tasks.image_shape
        changes = {}
        if not getattr(tasks, "own", False):  # (what a built-in stream is, recorded)
            changes["task_stream"] = tasks.kind
            if getattr(tasks.data, "name", None) in DATASETS:
                changes["dataset"] = tasks.data.name
        if "dims" not in given:
            reads = getattr(resolve_arch(cfg.arch), "reads_dims", False)
            changes["dims"] = ((size,) + tuple(cfg.dims[1:-1] if len(cfg.dims) > 2
                                               else HIDDEN) + (widest,)) if reads else (widest,)
        if "n_classes" not in given:
            changes["n_classes"] = (changes.get("dims") or cfg.dims)[-1]
        try:
            cfg = cfg.replace(**changes) if changes else cfg
            cfg.validate(size, None, None, shape)
        except ConfigError as e:
            raise ConfigError(e.for_library()) from None
        check_stream_for(cfg, tasks, 1, target)
        return cfg

    def _attach(self, tasks: Optional[TaskStream]):
        """The learner, given the stream `tasks` (the one it has when None)."""
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
            if getattr(tasks, "own", False) != getattr(self.learner.tasks, "own", False):
                raise ConfigError(f"tasks: the model learned "
                                  f"{'your own' if self.learner.tasks.own else 'a built-in'} "
                                  f"stream; this one is "
                                  f"{'your own' if tasks.own else 'a built-in one'}")
            self.learner.tasks = tasks
        target = self._target(tasks)
        check_stream_for(self.config, tasks, self.learner.done + 1, target)
        self.learner.n_tasks = max(target, self.learner.done)
        return self.learner

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def learn_task(self, tasks: Optional[TaskStream] = None):
        """Learns the next task of `tasks` (default: the stream it has; then evaluates
        every task learned so far, as the original's loop does); returns its record."""
        learner = self._attach(tasks)
        t = learner.done + 1
        if t > learner.n_tasks:
            n = learner.tasks.n_tasks
            more = ("the n_tasks" if self.config.n_tasks is not None and learner.n_tasks < n
                    else "the stream's")
            raise ConfigError(f"learn_task: all {learner.n_tasks} tasks are learned ({more} "
                              f"cap); give a stream with more tasks to learn on")
        quiet_retracing()
        start = time.perf_counter()
        record = learner.learn_task(t)
        learner.evaluate_all(t)
        self.wall_s += time.perf_counter() - start
        return record

    def learn(self, tasks: Optional[TaskStream] = None, callbacks: Sequence = ()) -> dict:
        """Learns every task of `tasks` not yet learned (up to n_tasks, when given);
        returns the results dict (den_tf.evaluation.results, docs/metrics.md)."""
        learner = self._attach(tasks)
        extra = [cb for cb in callbacks if cb not in learner.callbacks]
        learner.callbacks.extend(extra)
        try:
            while learner.done < learner.n_tasks:
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
    def _task(self, task) -> int:
        """A learned task's id, checked: an integer (not a bool, float or text) of 1..the
        tasks learned."""
        done = self.tasks_learned
        if isinstance(task, (bool, np.bool_)) or not isinstance(task, (int, np.integer)):
            raise ConfigError(f"task={task!r}: a task id is an integer"
                              + (f" (1..{done})" if done else ""))
        if done == 0:
            raise ConfigError(f"task={task}: the model has learned no task yet")
        if not 1 <= int(task) <= done:
            raise ConfigError(f"task={task}: the model has learned tasks 1..{done}")
        return int(task)

    def _one_image(self, x):
        """x with a batch axis added when it is ONE image of the task's shape ([H, W, C],
        [H, W] for one channel, or [d] flat)."""
        arr = x if isinstance(x, np.ndarray) else np.asarray(x)
        tasks = self.learner.tasks
        shape = tuple(tasks.image_shape) if tasks.image_shape is not None else None
        one = (arr.ndim == 1 and arr.size == tasks.input_size) or (
            shape is not None and (tuple(arr.shape) == shape
                                   or (shape[2] == 1 and tuple(arr.shape) == shape[:2])))
        return arr[None] if one else arr

    def predict(self, x, task: int) -> Prediction:
        """(scores [n, k], predicted class ids [n]) of images `x` for `task`: x as the data
        stores them (a batch, flat [n, d] or [n, H, W, C], or one image of the task's
        shape; uint8, or floats in [0, 1]); the task's own input transform is applied
        here. `scores` are the per-class sigmoid outputs (one-vs-rest, each in [0, 1]; a
        row need not sum to 1); the class ids are the task's own labels (its
        `class_ids`). An empty batch gives empty arrays."""
        t = self._task(task)
        from den_tf.datasets import checks, to_float
        tasks = self.learner.tasks
        ids = np.asarray(tasks.class_ids(t))
        arr = self._one_image(x)
        if getattr(arr, "ndim", 0) >= 1 and len(arr) == 0:
            k = int(tasks.n_outputs(t))
            return Prediction(np.zeros((0, k), np.float32), ids[:0])
        pixels, _ = checks.flatten(checks.check_pixels(arr, t, "predict"), t, "predict")
        if pixels.shape[1] != tasks.input_size:
            raise InputError(f"task {t}, predict: images of {pixels.shape[1]} values, the "
                             f"model reads {tasks.input_size}")
        images = tasks.transform(t).numpy(to_float(pixels))
        quiet_retracing()
        p = probabilities(self.learner.params_for(t), tf.constant(images), self.config.xla,
                          self.learner.forward_for(t)).numpy()
        return Prediction(p, ids[p.argmax(axis=1)])

    def evaluate(self, tasks: Optional[TaskStream] = None) -> dict:
        """The results dict (den_tf.evaluation.results: AUROC and accuracy matrices,
        averages, BWT, forgetting); with `tasks` (checked to be the stream the model
        learned), also "test": every learned task evaluated now on the stream's test sets
        (AUROC, accuracy, CE per task)."""
        if self.learner is None:
            raise ConfigError("evaluate: nothing is learned yet")
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
        images in, per-class sigmoid scores out; it records each task's class ids."""
        from den_tf.io.export import export_learner
        if self.learner is None:
            raise ConfigError("export: nothing is learned yet")
        return export_learner(self.learner, path)


def load(path: str, log: Optional[Callable[[str], None]] = None,
         callbacks: Sequence = ()) -> DEN:
    """The model `DEN.save(path)` saved (or the latest checkpoint of a run's
    --checkpoint_dir), exactly as it was: it predicts, evaluates and exports; given its
    task stream again (the tasks it learned, then new ones), it learns on as it would have
    without the save."""
    import os

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
                           state["pool"], own=bool(state.get("own_stream", False)))
    except checkpoint.DAMAGED as e:
        raise CheckpointError(f"{folder}: {checkpoint.STATE} unreadable ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}); the checkpoint "
                              f"is damaged") from None
    model = DEN(config, log=log, callbacks=callbacks)
    numerics.configure(config.allow_tf32)
    cls = method_class(model.method)
    model.learner = cls(config, tasks, log=model._log, callbacks=model.callbacks)
    checkpoint.restore_into(model.learner, folder, check=False)
    model.learner.n_tasks = model.learner.done
    model.wall_s = sum(r.wall_s for r in model.learner.records)
    return model
