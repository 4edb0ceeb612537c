"""den_tf command line: `python main.py --max_iter=... --l1_lambda=...`.

Runs DEN on permuted MNIST and prints the original's log lines (plus our own, prefixed
with " [den_tf] ") to stdout and to a log file under logs/. Errors are one line on
stderr and an exit status: 2 for a bad flag, 1 for bad data, 3 for a numerical fault.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback

from absl import flags as absl_flags

import flags as den_flags

FLAGS = den_flags.FLAGS


def _say_error(message: str) -> None:
    print(f"den_tf: error: {message}", file=sys.stderr)


def _default_log_path() -> str:
    return os.path.join("logs", time.strftime("den_tf_%Y%m%d-%H%M%S.log"))


def parse(argv) -> int:
    """Parses argv into FLAGS; returns 0, or 2 after printing one error line."""
    den_flags.define_flags()
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
        return _run()
    except KeyboardInterrupt:
        _say_error("interrupted")
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


def _run() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from den_tf import api, logfmt, results
    from den_tf.data import load_mnist

    cfg = den_flags.config_from_flags(FLAGS)
    cfg.validate()
    data = load_mnist(FLAGS.data_dir)
    cfg.validate(data.input_size, data.n_classes, len(data.train))

    log_path = FLAGS.log_file or _default_log_path()
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    results_path = FLAGS.results or os.path.splitext(log_path)[0] + ".json"
    log = logfmt.Log(log_path)
    try:
        import tensorflow as tf
        log(logfmt.ours(f"den_tf on TensorFlow {tf.__version__}, Python "
                        f"{platform.python_version()}; argv: {' '.join(argv_for_log())}"))
        log(logfmt.ours(f"log: {log_path}; results: {results_path}"))
        start = time.perf_counter()
        out = api.run(cfg, data, log=log)
        wall = time.perf_counter() - start
        out["wall_s"] = wall
        results.write_json(out, results_path)
        log(logfmt.ours("wall time: %.1f s" % wall))
    finally:
        log.close()
    return 0


def argv_for_log():
    return sys.argv[1:] if sys.argv else []


def cli() -> None:
    """Console-script entry point (`den-tf`)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
