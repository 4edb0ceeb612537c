"""A task stream checked against a model: the tasks it learned must be the stream's first
tasks (`check_same_tasks`), and the tasks it is about to learn must be learnable with its
settings (`check_stream_for`). ConfigError / InputError, one line, in the library's terms.
"""

from __future__ import annotations

from den_tf.config import Config
from den_tf.config.registry import method_card
from den_tf.datasets import TaskStream
from den_tf.errors import ConfigError, InputError


def check_same_tasks(have: TaskStream, tasks: TaskStream, done: int) -> None:
    """Refuses a stream whose first `done` tasks are not the ones learned (`have`'s):
    fewer tasks, another input size or image shape, or a task with other class ids,
    another input transform, or another test set (its digest: other images or labels,
    the check the command line makes by the data's digest)."""
    if tasks.n_tasks < done:
        raise ConfigError(f"tasks: {tasks.n_tasks} tasks given, the model has learned {done}")
    if tasks.input_size != have.input_size:
        raise ConfigError(f"tasks: images of {tasks.input_size} values, the model's have "
                          f"{have.input_size}")
    a, b = have.image_shape, tasks.image_shape
    if a is not None and b is not None and tuple(a) != tuple(b):
        raise ConfigError(f"tasks: images of {'x'.join(map(str, b))}, the model's are "
                          f"{'x'.join(map(str, a))}")
    for t in range(1, done + 1):
        theirs, mine = ([int(c) for c in s.class_ids(t)] for s in (tasks, have))
        if theirs != mine:
            raise ConfigError(f"tasks: task {t}'s classes {theirs} are not the learned "
                              f"task's {mine}")
        if tasks.transform(t).describe() != have.transform(t).describe():
            raise ConfigError(f"tasks: task {t}'s input transform is not the learned "
                              f"task's")
        a, b = have.test_digest(t), tasks.test_digest(t)
        if a is not None and b is not None and a != b:
            raise ConfigError(f"tasks: task {t}'s test set is not the one the model learned "
                              f"with (other images or labels); give the stream it learned, "
                              f"new tasks after its own")


def check_stream_for(config: Config, tasks: TaskStream, first: int, last: int) -> None:
    """Refuses (ConfigError, in terms of arguments) tasks first..last of `tasks` that the
    settings cannot learn: a task the stream does not have, a head wider than the
    network's base head at the first stream (dims), a training split smaller than one
    minibatch, tasks of different numbers of classes for a method that pools their heads
    (mtl)."""
    if last > tasks.n_tasks:
        raise ConfigError(f"n_tasks={last}: the stream has {tasks.n_tasks} tasks")
    if first > last:
        return
    sizes = [tasks.n_outputs(t) for t in range(1, last + 1)]
    if first == 1 and config.dims[-1] != max(sizes):
        raise ConfigError(f"dims={tuple(config.dims)}: the last size must be the widest "
                          f"task's number of classes, {max(sizes)} (the tasks have "
                          f"{sizes})")
    if method_card(config.method).equal_heads and len(set(sizes)) > 1:
        raise ConfigError(f"method={config.method}: trains every head on one pooled "
                          f"minibatch, so every task needs the same number of classes (the "
                          f"tasks have {sizes})")
    for t in range(first, last + 1):
        n = tasks.n_train(t)
        if n < config.batch_size:
            raise InputError(f"task {t}, train: {n} examples, fewer than one minibatch "
                             f"(batch_size={config.batch_size})")
