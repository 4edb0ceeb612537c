"""Benchmark: `python -m den_tf.experiments.bench [--data_dir=...] [--full] [--json=PATH]`.

Prints, as a table and as JSON, in one process:
* the steady-state train-step time of every phase shape (task 1; selective retraining;
  expansion; split), at task 2's sizes and at the sizes of a default run's last task,
  measured over compiled chunks of 100 steps after the first (which pays the
  compilation), and each phase's compile time (the head-only phase is one eager step
  per task, not a hot step);
* the time of a bare forward+backward+Adam step of the same matmuls at the same shapes
  and batch (no DEN logic: no masks, no regularisers, no proximal steps, no minibatch
  gather; Keras' Adam), compiled the same way, its chunks interleaved with the DEN
  step's: the "matmul limit" on this machine, and the ratio;
* a reduced full run (10 tasks, --reduced_iter iterations per phase, default 430): wall
  time, and the shares of compilation, validation and evaluation in it; peak resident
  memory; with --full, the same for the default run (max_iter 4300).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from den_tf import api  # noqa: E402
from den_tf.config import DENConfig  # noqa: E402
from den_tf.datasets import TaskTensors, load_dataset, make_tasks  # noqa: E402
from den_tf.den import (  # noqa: E402
    expansion_spec,
    first_task_spec,
    select_units,
    selective_spec,
    split_spec,
    subnetwork,
)
from den_tf.engine import VALIDATE_EVERY, Hyper, PhaseRunner, RandomBatches, RandomInit  # noqa: E402
from den_tf.evaluation import results  # noqa: E402
from den_tf.model import DENNetwork, mean_sigmoid_ce, mlp_logits  # noqa: E402

CHUNKS = 12  # timed chunks of 100 steps per phase, after the compiling one


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _den_chunk(spec, hyper, data, batches, xla):
    """A callable running one chunk of 100 steps of the phase."""
    runner = PhaseRunner(spec, hyper, xla)

    def chunk():
        idx = batches.indices(spec.name, VALIDATE_EVERY)
        kind, params = data.batch_transform
        runner._chunk(data.train_x, data.train_y, idx, tf.constant(VALIDATE_EVERY), None,
                      kind, params).numpy()
    return chunk


def _bare_chunk(shapes, data, batch, xla):
    """A callable running 100 plain forward+backward+Adam steps at `shapes`."""
    rng = np.random.RandomState(0)
    params = []
    for w_shape, b_shape in shapes:
        params += [tf.Variable(rng.uniform(-0.1, 0.1, w_shape).astype(np.float32)),
                   tf.Variable(np.zeros(b_shape, np.float32))]
    opt = keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8)
    opt.build(params)
    x, y = data.val_x[:batch], data.val_y[:batch]

    def loop():
        def body(i):
            with tf.GradientTape() as tape:
                loss = mean_sigmoid_ce(y, mlp_logits(params, x))
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
            return (i + 1,)
        return tf.while_loop(lambda i: i < VALIDATE_EVERY, body, (tf.constant(0),))

    f = tf.function(loop, jit_compile=xla)

    def chunk():
        f()
        params[0].numpy()
    return chunk


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def _compare(den, bare, chunks=CHUNKS):
    """(compile s of den, median s per step of den, of bare), chunks interleaved so that
    both see the same machine."""
    first = _timed(den)
    _timed(bare)
    d, b = [], []
    for _ in range(chunks):
        d.append(_timed(den))
        b.append(_timed(bare))
    steady = statistics.median(d)
    return max(0.0, first - steady), steady / VALIDATE_EVERY, statistics.median(b) / VALIDATE_EVERY


def _shapes(layers):
    return [(tuple(l.kernel.shape), tuple(l.bias.shape)) for l in layers]


def step_benchmark(data, cfg: DENConfig, label: str = "") -> list:
    """Per phase shape: compile time, DEN step, bare step, ratio."""
    tasks = make_tasks(data, 2, cfg.task_seed)
    t1 = TaskTensors.build(data, tasks.permutations[0])
    hyper = Hyper.from_config(cfg, len(data.train))
    init = RandomInit(np.random.RandomState(0), np.random.RandomState(1))
    batches = RandomBatches(len(data.train), cfg.batch_size, 0, cfg.xla)
    net = DENNetwork.create(cfg.dims, init)
    rows = []

    def record(name, spec, layers):
        comp, step, bare = _compare(_den_chunk(spec, hyper, t1, batches, cfg.xla),
                                    _bare_chunk(_shapes(layers), t1, cfg.batch_size, cfg.xla))
        rows.append({"phase": name + label, "shapes": [list(s[0]) for s in _shapes(layers)],
                     "compile_s": comp, "step_ms": 1e3 * step, "bare_ms": 1e3 * bare,
                     "ratio": step / bare})

    record("task 1", first_task_spec(net, 1), net.layers_for(1))
    net.stamps[1] = net.stamp(1)
    prev = net.hidden_values()
    net.add_head(2, init.glorot("w", (cfg.dims[-2], cfg.dims[-1])), init.glorot("b", (cfg.dims[-1],)))
    # (the head-only phase is one eager step per task: not a hot step, not timed here)
    sub, sub_prev = subnetwork(net, 2, select_units(net, 2), prev)
    record("selective", selective_spec(2, sub, sub_prev, net.forward), sub)
    for i, layer in enumerate(net.hidden):
        layer.append_units(init.glorot("bw", (layer.n_in, cfg.ex_k)), init.glorot("bb", (cfg.ex_k,)), 2)
        if i:
            layer.append_inputs(init.glorot("tw", (cfg.ex_k, layer.n_out)))
    net.heads[2].append_inputs(init.glorot("r", (cfg.ex_k, cfg.dims[-1])))
    record("expansion", expansion_spec(net, 2), net.layers_for(2))
    record("split", split_spec(net, 2, prev), net.layers_for(2))
    return rows


def run_benchmark(data, cfg: DENConfig) -> dict:
    """A full run; wall time and the shares of compilation, validation, evaluation."""
    t0 = time.perf_counter()
    out = api.run(cfg, data)
    wall = time.perf_counter() - t0
    tot = results.phase_totals(out)
    compile_s, validate_s, eval_s = tot["compile_s"], tot["validate_s"], tot["eval_s"]
    return {"max_iter": cfg.max_iter, "tasks": cfg.tasks, "wall_s": wall,
            "final_avg_perf": out["final_avg_perf"], "compile_s": compile_s,
            "validate_s": validate_s, "evaluate_s": eval_s,
            "compile_share": compile_s / wall, "validate_share": validate_s / wall,
            "evaluate_share": eval_s / wall, "peak_rss_mib": peak_rss_mib()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m den_tf.experiments.bench", description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", default="MNIST_data")
    p.add_argument("--reduced_iter", type=int, default=430)
    p.add_argument("--full", action="store_true", help="also time the default run (4300)")
    p.add_argument("--no_xla", action="store_true")
    p.add_argument("--skip_runs", action="store_true", help="step timings only")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default="")
    a = p.parse_args(argv)
    data = load_dataset("mnist", a.data_dir)
    base = DENConfig(xla=not a.no_xla, train_seed=a.seed)
    res = {"tensorflow": tf.__version__, "xla": base.xla, "cpus": os.cpu_count(),
           "steps": step_benchmark(data, base, " t2")}
    # the same phases at the sizes a default run reaches by its last task (~380/190)
    late = base.replace(dims=(base.dims[0], base.dims[1] + 68, base.dims[2] + 62) + base.dims[3:])
    res["steps"] += step_benchmark(data, late, " t10")
    print(f"{'phase':<16} {'shapes':<34} {'compile s':>9} {'step ms':>8} {'bare ms':>8} {'ratio':>6}")
    for r in res["steps"]:
        shp = " ".join("x".join(map(str, s)) for s in r["shapes"])
        print(f"{r['phase']:<16} {shp:<34} {r['compile_s']:9.2f} {r['step_ms']:8.3f} "
              f"{r['bare_ms']:8.3f} {r['ratio']:6.2f}")
    runs = [] if a.skip_runs else [base.replace(max_iter=a.reduced_iter)]
    if a.full:
        runs.append(base)
    res["runs"] = []
    for cfg in runs:
        r = run_benchmark(data, cfg)
        res["runs"].append(r)
        print(f"full run, 10 tasks, max_iter {r['max_iter']}: {r['wall_s']:.1f} s "
              f"(compile {100 * r['compile_share']:.1f}%, validation "
              f"{100 * r['validate_share']:.1f}%, evaluation {100 * r['evaluate_share']:.1f}%), "
              f"final avg_perf {r['final_avg_perf']:.4f}, peak RSS {r['peak_rss_mib']:.0f} MiB")
    res["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
