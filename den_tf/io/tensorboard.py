"""TensorBoard summaries of a run (a callback, `--tensorboard_dir`)."""

from __future__ import annotations

from den_tf.engine.callbacks import Callback


class TensorBoard(Callback):
    """tf.summary scalars: per phase (train loss, learning rate, validation loss and
    AUROC, on a global step counter), per task (test AUROC of every learned task,
    avg_perf, units per layer, capacity, sparsity), and the results figure."""

    def __init__(self, logdir: str):
        import tensorflow as tf

        self.tf = tf
        self.writer = tf.summary.create_file_writer(logdir)
        self.global_step = 0
        self._last_iter = 0

    def on_phase_begin(self, spec, runner) -> None:
        self._last_iter = spec.start_iter

    def on_chunk(self, spec, iteration, loss, lr) -> None:
        self.global_step += int(round(iteration - self._last_iter))
        self._last_iter = iteration
        phase = spec.phase
        with self.writer.as_default(step=self.global_step):
            self.tf.summary.scalar(f"train_loss/{phase}", loss)
            self.tf.summary.scalar(f"learning_rate/{phase}", lr)

    def on_validation(self, spec, iteration, loss, perf) -> None:
        phase = spec.phase
        with self.writer.as_default(step=self.global_step):
            self.tf.summary.scalar(f"val_loss/{phase}", loss)
            if perf is not None:
                self.tf.summary.scalar(f"val_auroc/{phase}", perf)

    def on_task_end(self, trainer, record) -> None:
        t = record.task
        with self.writer.as_default(step=t):
            for i, n in enumerate(record.sizes):
                self.tf.summary.scalar(f"units/layer{i + 1}", n)
            self.tf.summary.scalar("capacity", record.capacity)
            self.tf.summary.scalar("sparsity", record.sparsity)
            self.tf.summary.scalar("test_perf", record.test_perf)
        self.writer.flush()

    def on_evaluation(self, trainer, task, scores) -> None:
        with self.writer.as_default(step=task):
            for s in scores:
                self.tf.summary.scalar(f"test_auroc/task{s.task}", s.auroc)
                self.tf.summary.scalar(f"test_accuracy/task{s.task}", s.accuracy)
            self.tf.summary.scalar("avg_perf", sum(s.auroc for s in scores) / len(scores))
        self.writer.flush()

    def image(self, name: str, png: bytes, step: int) -> None:
        """Adds a PNG (e.g. the results figure)."""
        img = self.tf.image.decode_png(png, channels=4)[None]
        with self.writer.as_default(step=step):
            self.tf.summary.image(name, img)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
