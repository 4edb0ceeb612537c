"""den_tf command line: `python main.py --max_iter=... --l1_lambda=...` (also `den-tf`,
`python -m den_tf.cli`).

Runs DEN (or, with --method, one of the paper's baselines) on a task stream of a data
set (--dataset, --tasks; permuted MNIST by default) and prints the original's log lines (plus our own, prefixed
with " [den_tf] ") to stdout and to a log file under logs/. Errors are one line on
stderr and an exit status:
  0  done;
  1  bad data or a bad checkpoint;
  2  a bad flag or setting, including an output that cannot be written (log, results,
     figure, checkpoint, TensorBoard or export folder) and a network that could outgrow
     the memory: all checked before the first training step;
  3  a numerical fault (non-finite loss);
  4  the run finished but a write failed: the line names what was not written and where
     the results are (the results JSON, else `<log file>.results.json`, else stdout and
     the log on the line starting " [den_tf] results-json: "); a failed checkpoint only
     counts when no later task's checkpoint replaced it;
  130  interrupted.

Modes: train (default; --resume continues from the latest checkpoint), eval (overall
evaluation of the latest checkpoint), export (SavedModel of the latest checkpoint).
eval and export use what the checkpoint learned on its own data: a data or network flag
given that differs from the checkpoint's, or a --data_dir holding other data, is
refused (status 2). An output flag given an empty value is refused (status 2).
Checkpoints, --resume, eval, export and --export_dir are DEN's only: with a baseline
they are refused (status 2), and no checkpoints are written.

Imports: den_tf.errors, den_tf.config, den_tf.flags, den_tf.model, den_tf.datasets, den_tf.evaluation, den_tf.engine, den_tf.io, den_tf.preflight, den_tf.api.
"""

from __future__ import annotations

import importlib
import os
import platform
import resource
import sys
import tempfile
import time
import traceback

from absl import flags as absl_flags

from den_tf import flags as den_flags
from den_tf import preflight
from den_tf.config.registry import method_card
from den_tf.datasets import DEFAULT_DATA_DIRS, load_dataset, stream_for
from den_tf.engine import numerics
from den_tf.errors import ConfigError, DENError
from den_tf.evaluation import results
from den_tf.io import files, loglines
from den_tf.io.csvlog import CSVLogger
from den_tf.io.figures import figure_png
from den_tf.io.logfile import Log
from den_tf.io.progress import ProgressBar
from den_tf.io.tensorboard import TensorBoard
from den_tf.io.writes import Writes
from den_tf.model.archs import image_shape_of

# TensorFlow, and what imports it (den_tf.api, den_tf.io.checkpoint, den_tf.io.export), is
# imported inside the functions that need it, once the flags and the data are checked:
# a bad flag is refused in a fraction of a second (tests/test_layout.py holds importing
# this module to no TensorFlow).

FLAGS = den_flags.FLAGS


def _say_error(message: str) -> None:
    print(f"den_tf: error: {message}", file=sys.stderr)


def _default_log_path(mode: str) -> str:
    name = "den_tf" if mode == "train" else f"den_tf_{mode}"
    return os.path.join("logs", time.strftime(f"{name}_%Y%m%d-%H%M%S.log"))


def imports_of(argv) -> list:
    """The modules `--import=a,b` (or `--import a,b`) names, before any flag is parsed:
    they register their settings, methods, architectures, data sets and streams, whose
    flags must exist when the command line is parsed."""
    out = []
    for i, a in enumerate(argv[1:], start=1):
        if a.startswith("--import="):
            out += a[len("--import="):].split(",")
        elif a == "--import" and i + 1 < len(argv):
            out += argv[i + 1].split(",")
    return [m.strip() for m in out if m.strip()]


def import_modules(names) -> int:
    """Imports the modules of --import; 0, or 2 after one error line. A module that
    imports TensorFlow does so with its import-time C++ lines kept off the terminal, as
    den_tf's own import does (`_quietly`)."""
    for name in names:
        try:
            _quietly(lambda: importlib.import_module(name))
        except Exception as e:  # a user's module: any failure is one line
            detail = str(e).splitlines()[0] if str(e) else type(e).__name__
            _say_error(f"--import={name}: {type(e).__name__}: {detail}")
            return 2
    return 0


def parse(argv) -> int:
    """Parses argv into FLAGS; returns 0, or 2 after printing one error line."""
    status = import_modules(imports_of(argv))
    if status:
        return status
    den_flags.define_flags()
    FLAGS.unparse_flags()
    try:
        rest = FLAGS(argv)
    except absl_flags.Error as e:  # "flag --name=value: rule" -> "--name=value: rule"
        line = str(e).splitlines()[0]
        _say_error(line[len("flag "):] if line.startswith("flag --") else line)
        return 2
    if len(rest) > 1:
        _say_error(f"unexpected arguments: {' '.join(rest[1:])} (flags are --name=value)")
        return 2
    return 0


HELP_ARGS = ("-h", "-?", "-help", "--help", "--helpshort", "--helpfull")


def main(argv=None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if any(a in HELP_ARGS for a in argv[1:]):  # absl.app handles these; we parse ourselves
        if import_modules(imports_of(argv)):
            return 2
        den_flags.define_flags()
        print(__doc__.strip() + "\n" + FLAGS.module_help(den_flags))
        return 0
    status = parse(argv)
    if status:
        return status
    try:
        return _run(argv)
    except KeyboardInterrupt:
        _say_error("interrupted (the checkpoint of the last completed task is kept)")
        return 130
    except Exception as e:  # one line, unless --verbose
        if FLAGS.verbose:
            traceback.print_exc()
        if isinstance(e, DENError):
            _say_error(str(e))
            return e.exit_code
        _say_error(f"{type(e).__name__}: {e} (run with --verbose for the traceback)")
        return 1


def _callbacks():
    cbs = []
    show = {"on": True, "off": False, "auto": sys.stdout.isatty()}[FLAGS.progress]
    if show:
        cbs.append(ProgressBar())
    if FLAGS.tensorboard_dir:
        cbs.append(TensorBoard(FLAGS.tensorboard_dir))
    if FLAGS.csv_log:
        cbs.append(CSVLogger(FLAGS.csv_log))
    return cbs


def _quietly(load):
    """Runs `load()` (an import) with what is written to stderr meanwhile kept off the
    terminal: TensorFlow's import-time C++ log lines (oneDNN, CUDA probing), written
    before any log setting applies; shown if the import fails."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            return load()
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _import_tensorflow_quietly():
    """Imports TensorFlow with its import-time C++ log lines kept off the terminal."""
    def load():
        import tensorflow as tf
        tf.config.list_physical_devices()  # device probing logs here, too
        return tf

    tf = _quietly(load)
    tf.get_logger().setLevel("ERROR")
    return tf


def _run(argv) -> int:
    """One run of the command line: the settings, the outputs, the data and the memory
    checked before TensorFlow is even imported (a bad input costs a fraction of a
    second), then the run itself in its mode."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings = []  # each on stderr at once, and into the log once it is open

    def warn(w: str) -> None:
        print(f"den_tf: warning: {w}", file=sys.stderr)
        warnings.append(w)

    cfg = _settings(warn)
    log_path = FLAGS.log_file or _default_log_path(FLAGS.mode)
    results_path = FLAGS.results or os.path.splitext(log_path)[0] + ".json"
    _check_outputs(cfg, log_path, results_path)
    tf = folder = state = None
    if FLAGS.mode != "train":
        tf = _import_tensorflow_quietly()  # (reading a checkpoint needs it)
        folder, state, cfg = _learned(cfg, warn)
    data = load_dataset(cfg.dataset, FLAGS.data_dir)
    if state is not None:
        _check_data(state, data, cfg)
    cfg.validate(data.input_size, data.n_classes, len(data.train), image_shape_of(data))
    tasks = stream_for(cfg, data)
    _check_memory(cfg, data, warn)

    if tf is None:
        tf = _import_tensorflow_quietly()
    float_note = numerics.configure(cfg.allow_tf32)  # before any op runs
    if FLAGS.threads:  # before any op runs
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    if FLAGS.resume:
        from den_tf.io import checkpoint  # (TensorFlow)
        folder = checkpoint.latest(cfg.checkpoint_dir)
        _check_data(checkpoint.read_state(folder), data, cfg)
    header = (f"den_tf on TensorFlow {tf.__version__}, Python {platform.python_version()}; "
              f"{float_note}; argv: {' '.join(argv[1:])}")
    return _logged(cfg, data, tasks, folder, log_path, results_path, [header] + [
        f"warning: {w}" for w in warnings], (OSError, tf.errors.OpError))


def _settings(warn):
    """The run's settings from the flags, checked (a train run's now; eval's and
    export's are the checkpoint's, `_learned`), and the flags that go together."""
    _check_paths_given()
    cfg = den_flags.config_from_flags(FLAGS)
    if FLAGS.mode == "train":  # (eval and export: the checkpoint's settings, `_learned`)
        cfg.validate()
    for w in den_flags.deprecation_warnings(FLAGS):
        warn(w)
    if FLAGS.mode == "export" and not FLAGS.export_dir:
        raise ConfigError("--mode=export: needs --export_dir")
    if FLAGS.mode != "train" and FLAGS.resume:
        raise ConfigError(f"--resume: only with --mode=train (got --mode={FLAGS.mode})")
    if not _keeps_checkpoints():
        for asked, what in ((FLAGS.mode != "train", f"--mode={FLAGS.mode}"),
                            (FLAGS.resume, "--resume"), (FLAGS.export_dir, "--export_dir")):
            if asked:
                raise ConfigError(f"{what}: checkpoints, eval and export are DEN's only "
                                  f"(got --method={FLAGS.method})")
    return cfg


def _learned(cfg, warn):
    """(folder, state, settings) of the latest checkpoint, for eval and export: what it
    learned (data set, task stream, network) is evaluated or exported, on its own data;
    a flag given that differs is refused."""
    from den_tf.io import checkpoint  # (TensorFlow)
    folder = checkpoint.latest(cfg.checkpoint_dir)
    state = checkpoint.read_state(folder)
    saved = checkpoint.config_of(state)
    checkpoint.check_learned(saved, cfg, den_flags.given_settings(FLAGS))
    ignored = den_flags.given_training_flags(FLAGS, checkpoint.learned_settings())
    if ignored:
        warn(f"--mode={FLAGS.mode} uses the checkpoint's training settings; ignored: "
             + ", ".join(f"--{n}" for n in ignored))
    return folder, state, saved.replace(checkpoint_dir=cfg.checkpoint_dir,
                                        xla=cfg.xla).validate()


def _logged(cfg, data, tasks, folder, log_path, results_path, first_lines, errors) -> int:
    """The run in its mode, with its log open (its first lines: the header and the
    warnings) and the callbacks watching; a checkpoint's `folder` restored first."""
    from den_tf import api  # (TensorFlow)
    cbs = _callbacks()
    log = Log(log_path, before_write=[cb.before_log_line for cb in cbs])
    try:
        for line in first_lines:
            log(loglines.ours(line))
        trainer = None
        if folder is not None:
            trainer = api.restore(folder, cfg, tasks, log, cbs)
            log(loglines.ours(f"restored {folder} ({trainer.done} tasks learned)"))
        writes = Writes(log, log_path, errors)
        if FLAGS.mode == "eval":
            return _evaluate(trainer, log, results_path, writes)
        if FLAGS.mode == "export":
            return _export(trainer, log)
        return _train(cfg, data, tasks, trainer, log, cbs, results_path, writes)
    finally:
        log.close()
        for cb in cbs:
            if hasattr(cb, "close"):
                cb.close()


def _check_data(state: dict, data, cfg) -> None:
    """The data read from --data_dir must be the data the checkpoint learned on."""
    from den_tf.io import checkpoint  # (TensorFlow)
    checkpoint.check_data(state, data, FLAGS.data_dir or DEFAULT_DATA_DIRS[cfg.dataset])


def _train(cfg, data, tasks, trainer, log, cbs, results_path, writes) -> int:
    from den_tf import api  # (TensorFlow)
    from den_tf.io import checkpoint  # (TensorFlow)

    den = _keeps_checkpoints()
    log(loglines.ours(f"log: {writes.log_path}; results: {results_path}"
                    + (f"; checkpoints: {cfg.checkpoint_dir}" if FLAGS.checkpoints and den
                       else "")))
    if FLAGS.checkpoints and not den:
        log(loglines.ours(f"no checkpoints: they are DEN's only (--method={FLAGS.method})"))
    start = time.perf_counter()

    def after_task(tr):
        if FLAGS.checkpoints and den:
            writes.checkpoint(lambda: checkpoint.save(tr, cfg.checkpoint_dir), tr.done,
                              cfg.checkpoint_dir)
        # results so far, so that a crash loses nothing already learned
        writes.partial_results(lambda: files.write_json(results_path, results.build(
            tr, time.perf_counter() - start, {"complete": False})), results_path)

    if trainer is None:
        trainer = api.make_trainer(cfg, data, log=log, callbacks=cbs, tasks=tasks)
        if FLAGS.checkpoints and den:  # a new run: never into another run's checkpoints
            why = checkpoint.other_model(cfg.checkpoint_dir, checkpoint.identity(trainer))
            if why is not None:
                raise ConfigError(f"--checkpoint_dir={cfg.checkpoint_dir}: holds the "
                                  f"checkpoints of another run ({why}); give another folder, "
                                  f"--resume to continue that run, or --nocheckpoints")
    elif trainer.done >= cfg.tasks:
        log(loglines.ours(f"nothing left to learn: the checkpoint has learned {trainer.done} "
                          f"tasks, the run has {cfg.tasks}"))
    out = api.run(cfg, data, log=log, on_task_end=after_task, trainer=trainer)
    wall = time.perf_counter() - start
    out["timing"]["wall_s"] = wall
    out["timing"]["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out["complete"] = True  # the run learned every task (a sweep skips it on rerun)
    writes.results(out, results_path)
    if FLAGS.figure:
        writes.attempt(f"the figure {_figure_path(results_path)}",
                       lambda: _figure(out, results_path, cbs, log))
    if FLAGS.export_dir:
        writes.attempt(f"the SavedModel in --export_dir={FLAGS.export_dir}",
                       lambda: _export(trainer, log))
    log(loglines.ours("wall time: %.1f s" % wall))
    writes.finish()
    return 0


def _figure(out, results_path, cbs, log) -> None:
    try:
        png = figure_png(out)
    except ImportError:
        log(loglines.ours("no figure: matplotlib is not installed (pip install .[plot])"))
        return
    path = _figure_path(results_path)
    with open(path, "wb") as f:
        f.write(png)
    for cb in cbs:
        if hasattr(cb, "image"):
            cb.image("results", png, out["tasks_learned"])
    log(loglines.ours(f"figure: {path}"))


def _figure_path(results_path: str) -> str:
    return os.path.splitext(results_path)[0] + ".png"


# Largest AUROC difference between a checkpoint's last evaluation and eval's (the same
# network on the same data: float reordering only).
EVAL_TOLERANCE = 1e-3


def _evaluate(trainer, log, results_path, writes) -> int:
    # The summary's rows: the checkpoint's, each measured when its task was learned, and
    # the last one measured again now. They are one set only when today's evaluation
    # gives the checkpoint's last row (the same network on the same data).
    saved = trainer.scores[trainer.done - 1] if len(trainer.scores) >= trainer.done else None
    trainer.scores = trainer.scores[: trainer.done - 1]
    now = trainer.evaluate_all(trainer.done)
    if saved is not None:
        for s_then, s_now in zip(saved, now):
            if abs(s_then.auroc - s_now.auroc) > EVAL_TOLERANCE:
                raise ConfigError(
                    f"--data_dir={FLAGS.data_dir or '(default)'}: task {s_now.task} "
                    f"scores AUROC {s_now.auroc:.4f} on these data but {s_then.auroc:.4f} "
                    f"in the checkpoint: not the data it learned on (no results written)")
    out = results.build(trainer, 0.0)
    for line in loglines.summary_lines(out):
        log(line)
    writes.results(out, results_path)
    writes.finish()
    return 0


def _export(trainer, log) -> int:
    """SavedModel of the trainer's network, serving each task's raw images through the
    task's own permutation (the run's task stream: its config's task_seed)."""
    from den_tf.io.export import export, task_transforms  # (TensorFlow)
    path = export(trainer.network, FLAGS.export_dir, task_transforms(trainer.tasks))
    log(loglines.ours(f"SavedModel: {path}"))
    return 0


# ----------------------------------------------------------------------------- preflight
# The output flags, and what leaving each out does: one rule for all of them, an empty
# value given (--checkpoint_dir=) is refused before any work.
OUTPUT_FLAGS = {
    "log_file": "leave the flag out for the default logs/den_tf_<date-time>.log",
    "results": "leave the flag out for the default (the log file's name with .json)",
    "checkpoint_dir": "leave the flag out for the default checkpoints (--nocheckpoints "
                      "writes none)",
    "tensorboard_dir": "leave the flag out to write no TensorBoard summaries",
    "csv_log": "leave the flag out to write no CSV log",
    "export_dir": "leave the flag out to export nothing",
}


def _check_paths_given() -> None:
    """Every output flag given names a path (the figure's path is --results' with .png)."""
    for name, instead in OUTPUT_FLAGS.items():
        if FLAGS[name].present:
            preflight.check_path_given(name, FLAGS[name].value, instead)


def _check_outputs(cfg, log_path: str, results_path: str) -> None:
    """Every output this run will write is checked before any work: writable
    (or creatable: folders are made when first written, the log's now), a folder where a
    folder is needed and a file where a file is; else ConfigError (exit 2) naming the
    flag, the path and the reason."""
    train = FLAGS.mode == "train"
    preflight.check_file_output("log_file", log_path, append=True, make=True)
    if FLAGS.mode != "export":
        preflight.check_file_output("results", results_path)
    if train and FLAGS.figure:
        preflight.check_file_output("figure", _figure_path(results_path), what="figure file")
    if train and FLAGS.checkpoints:
        preflight.check_dir_output("checkpoint_dir", cfg.checkpoint_dir)
    elif not train or FLAGS.resume:
        preflight.check_dir_kind("checkpoint_dir", cfg.checkpoint_dir)
    if FLAGS.tensorboard_dir:
        preflight.check_dir_output("tensorboard_dir", FLAGS.tensorboard_dir)
    if FLAGS.csv_log:
        preflight.check_file_output("csv_log", FLAGS.csv_log, append=True)
    if FLAGS.export_dir and FLAGS.mode in ("train", "export"):
        # SavedModel writes into a folder; an existing one is overwritten
        preflight.check_dir_output("export_dir", FLAGS.export_dir)


def _keeps_checkpoints() -> bool:
    """Whether the command line keeps per-task checkpoints of --method (and can resume,
    eval and export it): its card says (DEN's does)."""
    return method_card(FLAGS.method).checkpoints


def _check_memory(cfg, data, warn) -> None:
    """Before the first step, a run whose network could outgrow the memory is refused
    (exit 2). The estimate is the method's own (its card's `memory`: den_tf/den,
    den_tf/baselines/<name>) of the largest network the run holds or can grow to, checked
    by den_tf.preflight.memory (a worst case the method only warns about, DEN's
    --paper=Q8 splits, goes through `warn` into the log)."""
    if FLAGS.mode != "train":
        return
    preflight.check_run_memory(cfg, data, warn=warn)


def cli() -> None:
    """Console-script entry point (`den-tf`)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
