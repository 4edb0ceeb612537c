"""den_tf command line: `python main.py --max_iter=... --l1_lambda=...` (also `den-tf`,
`python -m den_tf.cli`).

Runs DEN (or, with --method, one of the paper's baselines) on permuted MNIST and prints
the original's log lines (plus our own, prefixed with " [den_tf] ") to stdout and to a
log file under logs/. Errors are one line on stderr and an exit status: 2 for a bad
flag, 1 for bad data or a bad checkpoint, 3 for a numerical fault, 130 when
interrupted.

Modes: train (default; --resume continues from the latest checkpoint), eval (overall
evaluation of the latest checkpoint), export (SavedModel of the latest checkpoint).
Checkpoints, --resume, eval, export and --export_dir are DEN's only: with a baseline
they are refused (status 2), and no checkpoints are written.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
import traceback

from absl import flags as absl_flags

from den_tf import flags as den_flags

FLAGS = den_flags.FLAGS


def _say_error(message: str) -> None:
    print(f"den_tf: error: {message}", file=sys.stderr)


def _default_log_path(mode: str) -> str:
    name = "den_tf" if mode == "train" else f"den_tf_{mode}"
    return os.path.join("logs", time.strftime(f"{name}_%Y%m%d-%H%M%S.log"))


def parse(argv) -> int:
    """Parses argv into FLAGS; returns 0, or 2 after printing one error line."""
    den_flags.define_flags()
    FLAGS.unparse_flags()
    try:
        rest = FLAGS(argv)
    except absl_flags.Error as e:
        _say_error(str(e).splitlines()[0])
        return 2
    if len(rest) > 1:
        _say_error(f"unexpected arguments: {' '.join(rest[1:])} (flags are --name=value)")
        return 2
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv if argv is None else argv)
    status = parse(argv)
    if status:
        return status
    try:
        return _run(argv)
    except KeyboardInterrupt:
        _say_error("interrupted (the checkpoint of the last completed task is kept)")
        return 130
    except Exception as e:  # one line, unless --verbose
        from den_tf.errors import DENError
        if FLAGS.verbose:
            traceback.print_exc()
        if isinstance(e, DENError):
            _say_error(str(e))
            return e.exit_code
        _say_error(f"{type(e).__name__}: {e} (run with --verbose for the traceback)")
        return 1


def _callbacks():
    from den_tf import callbacks
    cbs = []
    show = {"on": True, "off": False, "auto": sys.stdout.isatty()}[FLAGS.progress]
    if show:
        cbs.append(callbacks.ProgressBar())
    if FLAGS.tensorboard_dir:
        cbs.append(callbacks.TensorBoard(FLAGS.tensorboard_dir))
    return cbs


def _import_tensorflow_quietly():
    """Imports TensorFlow with its import-time C++ log lines (oneDNN, CUDA probing: written
    before any log setting applies) kept off the terminal; shown if the import fails."""
    import tempfile
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()  # device probing logs here, too
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    tf.get_logger().setLevel("ERROR")
    return tf


def _run(argv) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Settings and data are checked before TensorFlow is even imported: a bad input
    # costs a fraction of a second.
    from den_tf.data import load_mnist, make_tasks
    from den_tf.errors import ConfigError

    cfg = den_flags.config_from_flags(FLAGS)
    cfg.validate()
    warnings = den_flags.deprecation_warnings(FLAGS)
    for w in warnings:
        print(f"den_tf: warning: {w}", file=sys.stderr)
    if FLAGS.mode == "export" and not FLAGS.export_dir:
        raise ConfigError("--mode=export: needs --export_dir")
    if FLAGS.mode != "train" and FLAGS.resume:
        raise ConfigError(f"--resume: only with --mode=train (got --mode={FLAGS.mode})")
    if FLAGS.method != "den":
        for asked, what in ((FLAGS.mode != "train", f"--mode={FLAGS.mode}"),
                            (FLAGS.resume, "--resume"), (FLAGS.export_dir, "--export_dir")):
            if asked:
                raise ConfigError(f"{what}: checkpoints, eval and export are DEN's only "
                                  f"(got --method={FLAGS.method})")
    data = load_mnist(FLAGS.data_dir)
    cfg.validate(data.input_size, data.n_classes, len(data.train))

    tf = _import_tensorflow_quietly()
    if FLAGS.threads:  # before any op runs
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    from den_tf import checkpoint
    folder = None
    if FLAGS.mode != "train" or FLAGS.resume:
        folder = checkpoint.latest(cfg.checkpoint_dir)
        if FLAGS.mode != "train":  # the run's own settings; data_dir and xla from flags
            cfg = checkpoint.saved_config(folder).replace(
                checkpoint_dir=cfg.checkpoint_dir, xla=cfg.xla)
            cfg.validate(data.input_size, data.n_classes, len(data.train))

    from den_tf import logfmt

    log_path = FLAGS.log_file or _default_log_path(FLAGS.mode)
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    results_path = FLAGS.results or os.path.splitext(log_path)[0] + ".json"
    cbs = _callbacks()
    log = logfmt.Log(log_path, before_write=[cb.before_log_line for cb in cbs])
    try:
        log(logfmt.ours(f"den_tf on TensorFlow {tf.__version__}, Python "
                        f"{platform.python_version()}; argv: {' '.join(argv[1:])}"))
        for w in warnings:
            log(logfmt.ours(f"warning: {w}"))
        tasks = make_tasks(data, cfg.tasks, cfg.task_seed)
        trainer = None
        if folder is not None:
            trainer = checkpoint.restore(folder, cfg, tasks, log, cbs)
            log(logfmt.ours(f"restored {folder} ({trainer.done} tasks learned)"))
        if FLAGS.mode == "eval":
            return _evaluate(trainer, log, results_path)
        if FLAGS.mode == "export":
            return _export(trainer, log)
        return _train(cfg, data, trainer, log, cbs, results_path, log_path)
    finally:
        log.close()
        for cb in cbs:
            if hasattr(cb, "close"):
                cb.close()


def _train(cfg, data, trainer, log, cbs, results_path, log_path) -> int:
    from den_tf import api, checkpoint, logfmt, results

    den = FLAGS.method == "den"
    log(logfmt.ours(f"log: {log_path}; results: {results_path}"
                    + (f"; checkpoints: {cfg.checkpoint_dir}" if FLAGS.checkpoints and den
                       else "")))
    if FLAGS.checkpoints and not den:
        log(logfmt.ours(f"no checkpoints: they are DEN's only (--method={FLAGS.method})"))
    start = time.perf_counter()

    def after_task(tr):
        if FLAGS.checkpoints and den:
            checkpoint.save(tr, cfg.checkpoint_dir)
        # results so far, so that a crash loses nothing already learned
        results.write_json(results.build(tr, time.perf_counter() - start,
                                         {"complete": False}), results_path)

    if trainer is None:
        trainer = api.make_trainer(cfg, data, log=log, callbacks=cbs)
    out = api.run(cfg, data, log=log, on_task_end=after_task, trainer=trainer)
    wall = time.perf_counter() - start
    out["timing"]["wall_s"] = wall
    out["timing"]["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out["complete"] = True  # the run learned every task (a sweep skips it on rerun)
    results.write_json(out, results_path)
    if FLAGS.figure:
        _figure(out, results_path, cbs, log)
    if FLAGS.export_dir:
        from den_tf.export import export
        log(logfmt.ours(f"SavedModel: {export(trainer.network, FLAGS.export_dir)}"))
    log(logfmt.ours("wall time: %.1f s" % wall))
    return 0


def _figure(out, results_path, cbs, log) -> None:
    from den_tf import logfmt
    try:
        from den_tf.plot import figure_png
        png = figure_png(out)
    except ImportError:
        log(logfmt.ours("no figure: matplotlib is not installed (pip install .[plot])"))
        return
    path = os.path.splitext(results_path)[0] + ".png"
    with open(path, "wb") as f:
        f.write(png)
    for cb in cbs:
        if hasattr(cb, "image"):
            cb.image("results", png, out["tasks_learned"])
    log(logfmt.ours(f"figure: {path}"))


def _evaluate(trainer, log, results_path) -> int:
    from den_tf import results
    trainer.scores = trainer.scores[: trainer.done - 1]
    trainer.evaluate_all(trainer.done)
    out = results.build(trainer, 0.0)
    for line in results.summary_lines(out):
        log(line)
    results.write_json(out, results_path)
    return 0


def _export(trainer, log) -> int:
    from den_tf import logfmt
    from den_tf.export import export
    log(logfmt.ours(f"SavedModel: {export(trainer.network, FLAGS.export_dir)}"))
    return 0


def cli() -> None:
    """Console-script entry point (`den-tf`)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
