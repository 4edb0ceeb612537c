"""Benchmark: `python -m den_tf.experiments.bench [--data_dir=...] [--archs=mlp,lenet] [--full] [--json=PATH]`.

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
  time, and the shares of the steps, compilation, validation, evaluation and the rest
  in it (validation: the host's part, the AUROC; the validation CE runs inside the
  compiled chunk and counts as steps; the rest: the host's work between phases); peak
  resident memory; with --full, the same for the default run (max_iter 4300);
* with `--archs=lenet` (or `--archs=mlp,lenet`), for the convolutional `lenet`: DEN's
  steady-state step at task 1's shapes and at task 2's expansion (ex_k more filters and
  units per layer), against a bare Keras LeNet step at the same kernel shapes, padding,
  pooling, flatten and batch (Conv2D/MaxPooling2D/Dense layers, Keras' Adam) compiled
  the same way (jit_compile as DEN's runner with --xla), and against the same Keras
  step compiled without XLA (a plain graph: Keras' own fast path on CPU, where XLA:CPU
  emits the kernel gradient of Keras' convolution as naive loops); all chunks
  interleaved, --lenet_steps steps per chunk (a lenet step costs about 100x an MLP
  step). The reduced and full runs are the MLP's (runs only when mlp is in --archs).

Imports: den_tf (public API): den_tf.api, config, datasets, den, engine, evaluation,
model (and its `archs` package, which builds a network of an architecture).
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
from den_tf.datasets import load_dataset, make_tasks  # noqa: E402
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
from den_tf.model import DENNetwork, archs, mean_sigmoid_ce, mlp_logits  # noqa: E402

CHUNKS = 12  # timed chunks of 100 steps per phase, after the compiling one
LENET_CHUNKS = 3  # lenet: timed chunks per shape, after the compiling one
LENET_STEPS = 3  # lenet: steps per chunk
ARCHS = ("mlp", "lenet")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _den_chunk(spec, hyper, data, batches, xla, steps=VALIDATE_EVERY):
    """A callable running one chunk of `steps` (<= 100) steps of the phase, in the
    runner's compiled loop of 100 (its rows past `steps` padded, as the runner pads a
    phase's last chunk)."""
    runner = PhaseRunner(spec, hyper, xla)

    def chunk():
        idx = batches.indices(spec.name, steps)
        if steps < VALIDATE_EVERY:
            idx = tf.pad(tf.convert_to_tensor(idx, tf.int32), [[0, VALIDATE_EVERY - steps], [0, 0]])
        x_all, kind, params = runner.source(data)
        runner._chunk(x_all, data.train_y, idx, tf.constant(steps), None,
                      kind, params).numpy()
    return chunk


def _bare_chunk(shapes, data, batch, xla):
    """A callable running 100 plain forward+backward+Adam steps at `shapes`."""
    rng = np.random.RandomState(0)
    params = []
    for w_shape, b_shape in shapes:
        params += [tf.Variable(rng.uniform(-0.1, 0.1, w_shape).astype(np.float32)),
                   tf.Variable(np.zeros(b_shape, np.float32))]
    x, y = data.val_x[:batch], data.val_y[:batch]
    return _adam_chunk(lambda: mlp_logits(params, x), params, y, VALIDATE_EVERY, xla)


def _adam_chunk(logits, variables, y, steps, xla):
    """A callable running `steps` plain steps (mean sigmoid CE of `logits()` against y,
    its gradient, Keras' Adam on `variables`) in one compiled while loop (XLA when
    `xla`), then reading one variable back (the host round trip a chunk ends with)."""
    opt = keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8)
    opt.build(variables)

    def loop():
        def body(i):
            with tf.GradientTape() as tape:
                loss = mean_sigmoid_ce(y, logits())
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return (i + 1,)
        return tf.while_loop(lambda i: i < steps, body, (tf.constant(0),))

    f = tf.function(loop, jit_compile=xla)

    def chunk():
        f()
        variables[0].numpy()
    return chunk


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def _interleaved(fns, chunks):
    """[(first chunk s, median s of the next `chunks`)] per callable: each called once
    (the first call pays the compilation), then `chunks` rounds calling each in turn, so
    that all see the same machine."""
    firsts = [_timed(f) for f in fns]
    times = [[] for _ in fns]
    for _ in range(chunks):
        for f, t in zip(fns, times):
            t.append(_timed(f))
    return [(first, statistics.median(t)) for first, t in zip(firsts, times)]


def _compare(den, bare, chunks=CHUNKS, steps=VALIDATE_EVERY):
    """(compile s of den, median s per step of den, of bare), chunks interleaved so that
    both see the same machine."""
    (first, steady), (_, b) = _interleaved([den, bare], chunks)
    return max(0.0, first - steady), steady / steps, b / steps


def _shapes(layers):
    return [(tuple(l.kernel.shape), tuple(l.bias.shape)) for l in layers]


def step_benchmark(data, cfg: DENConfig, label: str = "") -> list:
    """Per phase shape: compile time, DEN step, bare step, ratio."""
    tasks = make_tasks(data, 2, cfg.task_seed)
    t1 = tasks.task_tensors(1)
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


# ---------------------------------------------------------------------------- lenet
def keras_lenet(net, task: int):
    """A Keras model of DEN network `net`'s layers for `task` (its ConvForward): a Conv2D
    (relu, its padding) and the block's MaxPooling2D ("same") per convolutional layer, the
    channel-major flatten (Permute to [C, H, W], Flatten), relu Dense layers and a linear
    Dense head, every kernel of the DEN layer's shape and starting from its values."""
    fwd = net.forward
    L = keras.layers
    model = keras.Sequential([keras.Input(tuple(fwd.image_shape))])
    layers = net.layers_for(task)
    convs = layers[:len(fwd.layers)]
    for layer, spec in zip(convs, fwd.layers):
        k = tuple(layer.kernel.shape)
        model.add(L.Conv2D(k[3], k[:2], strides=spec.stride, padding=spec.padding.lower(),
                           activation="relu"))
        if spec.pool:
            pool = L.MaxPooling2D if spec.pool == "max" else L.AveragePooling2D
            model.add(pool(spec.pool_size, spec.pool_stride,
                           padding=spec.pool_padding.lower()))
    model.add(L.Permute((3, 1, 2)))
    model.add(L.Flatten())
    dense = layers[len(fwd.layers):]
    for i, layer in enumerate(dense):
        model.add(L.Dense(int(layer.kernel.shape[1]),
                          activation="relu" if i < len(dense) - 1 else None))
    weights = []
    for layer in layers:
        weights += [layer.kernel.numpy(), layer.bias.numpy()]
    got = [tuple(w.shape) for w in model.get_weights()]
    want = [tuple(w.shape) for w in weights]
    if got != want:
        raise AssertionError(f"Keras LeNet shapes {got} are not DEN's {want}")
    model.set_weights(weights)
    return model


def _keras_chunk(model, data, batch, steps, xla):
    """A callable running `steps` forward+backward+Adam steps of the Keras `model` (Keras'
    Adam, mean sigmoid CE) on a fixed batch, in a compiled while loop (XLA when `xla`)."""
    shape = [batch] + [int(d) for d in model.inputs[0].shape[1:]]
    x, y = tf.reshape(data.val_x[:batch], shape), data.val_y[:batch]
    return _adam_chunk(lambda: model(x, training=True), model.trainable_variables, y,
                       steps, xla)


def lenet_step_benchmark(data, cfg: DENConfig, chunks: int = LENET_CHUNKS,
                         steps: int = LENET_STEPS, grown: bool = True) -> list:
    """lenet at task 1's shapes (and, `grown`, at task 2's expansion): compile time, DEN
    step, bare Keras step compiled as DEN's (XLA when cfg.xla), the same Keras step as a
    plain graph (without XLA), and the ratios."""
    cfg = cfg.replace(arch="lenet")
    tasks = make_tasks(data, 2, cfg.task_seed)
    t1 = tasks.task_tensors(1)
    hyper = Hyper.from_config(cfg, len(data.train))
    init = RandomInit(np.random.RandomState(0), np.random.RandomState(1))
    batches = RandomBatches(len(data.train), cfg.batch_size, 0, cfg.xla)
    net = archs.build_for(cfg, init, data)
    rows = []

    def record(name, spec, task):
        shapes = [list(l.kernel.shape) for l in net.layers_for(task)]
        fns = [_den_chunk(spec, hyper, t1, batches, cfg.xla, steps),
               _keras_chunk(keras_lenet(net, task), t1, cfg.batch_size, steps, cfg.xla)]
        if cfg.xla:
            fns.append(_keras_chunk(keras_lenet(net, task), t1, cfg.batch_size, steps, False))
        out = _interleaved(fns, chunks)
        (first, den), (_, bare) = out[0], out[1]
        graph = out[2][1] if cfg.xla else bare
        rows.append({"phase": name, "shapes": shapes, "batch": cfg.batch_size,
                     "steps_per_chunk": steps, "chunks": chunks,
                     "compile_s": max(0.0, first - den), "step_ms": 1e3 * den / steps,
                     "bare_ms": 1e3 * bare / steps, "ratio": den / bare,
                     "bare_graph_ms": 1e3 * graph / steps, "ratio_graph": den / graph})

    record("task 1 t1", first_task_spec(net, 1), 1)
    if grown:
        net.stamps[1] = net.stamp(1)
        rows_in = net.hidden[-1].n_out
        net.add_head(2, init.glorot("w", (rows_in, cfg.dims[-1])), init.bias("b", (cfg.dims[-1],)))
        for i, layer in enumerate(net.hidden):
            layer.append_units(init.glorot("bw", layer.unit_block_shape(cfg.ex_k)),
                               init.bias("bb", (cfg.ex_k,)), 2)
            if i:
                layer.append_inputs(init.glorot("tw", layer.input_block_shape(cfg.ex_k)))
        head = net.heads[2]
        head.append_inputs(init.glorot("r", head.input_block_shape(cfg.ex_k)))
        record("expansion t2", expansion_spec(net, 2), 2)
    return rows


def print_lenet(rows, xla: bool) -> None:
    print(f"{'lenet phase':<14} {'shapes':<58} {'compile s':>9} {'step ms':>8} "
          f"{'bare ms':>8} {'ratio':>6}" + (f" {'graph ms':>8} {'ratio':>6}" if xla else ""))
    for r in rows:
        shp = " ".join("x".join(map(str, s)) for s in r["shapes"])
        line = (f"{r['phase']:<14} {shp:<58} {r['compile_s']:9.2f} {r['step_ms']:8.1f} "
                f"{r['bare_ms']:8.1f} {r['ratio']:6.2f}")
        if xla:
            line += f" {r['bare_graph_ms']:8.1f} {r['ratio_graph']:6.2f}"
        print(line)
    r = rows[0]
    print(f"(batch {r['batch']}, {r['chunks']} timed chunks of {r['steps_per_chunk']} steps "
          f"each, medians; bare: a Keras LeNet of the same shapes"
          + (", compiled with XLA as DEN's steps; graph: the same Keras step without XLA)"
             if xla else ", a plain graph as DEN's --no_xla steps)"))


def run_benchmark(data, cfg: DENConfig) -> dict:
    """A full run; wall time and the shares of the steps (the compiled chunks after
    their compilation, with the validation CE and outputs computed in them), compilation,
    validation on the host (the AUROC), evaluation, and the rest (the host's work between
    phases: selection, pruning, splitting, the log)."""
    t0 = time.perf_counter()
    out = api.run(cfg, data)
    wall = time.perf_counter() - t0
    tot = results.phase_totals(out)
    parts = {"steps": tot["train_s"], "compile": tot["compile_s"],
             "validate": tot["validate_s"], "evaluate": tot["eval_s"]}
    parts["other"] = max(0.0, wall - sum(parts.values()))
    return {"max_iter": cfg.max_iter, "tasks": cfg.tasks, "wall_s": wall,
            "final_avg_perf": out["final_avg_perf"],
            **{f"{k}_s": v for k, v in parts.items()},
            **{f"{k}_share": v / wall for k, v in parts.items()},
            "peak_rss_mib": peak_rss_mib()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m den_tf.experiments.bench", description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", default="MNIST_data")
    p.add_argument("--reduced_iter", type=int, default=430)
    p.add_argument("--full", action="store_true", help="also time the default run (4300)")
    p.add_argument("--no_xla", action="store_true")
    p.add_argument("--permute_once", action="store_true",
                   help="DEN's steps (and the runs) as with main.py --permute_once")
    p.add_argument("--skip_runs", action="store_true", help="step timings only")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default="")
    p.add_argument("--archs", default="mlp",
                   help="comma-separated, of " + ", ".join(ARCHS) + " (default: mlp)")
    p.add_argument("--lenet_chunks", type=int, default=LENET_CHUNKS,
                   help="lenet: timed chunks per shape, after the compiling one")
    p.add_argument("--lenet_steps", type=int, default=LENET_STEPS,
                   help="lenet: steps per chunk (at most 100)")
    p.add_argument("--lenet_batch", type=int, default=DENConfig().batch_size,
                   help="lenet: the batch of DEN's and the bare step")
    p.add_argument("--lenet_no_grown", action="store_true",
                   help="lenet: task 1's shapes only (no expansion row)")
    a = p.parse_args(argv)
    chosen = [x for x in a.archs.split(",") if x]
    bad = [x for x in chosen if x not in ARCHS]
    if bad or not chosen:
        p.error(f"--archs={a.archs}: each must be one of {', '.join(ARCHS)}")
    if not 1 <= a.lenet_steps <= VALIDATE_EVERY or a.lenet_chunks < 1:
        p.error(f"--lenet_steps must be in 1..{VALIDATE_EVERY}, --lenet_chunks at least 1")
    data = load_dataset("mnist", a.data_dir)
    base = DENConfig(xla=not a.no_xla, train_seed=a.seed, permute_once=a.permute_once)
    res = {"tensorflow": tf.__version__, "xla": base.xla, "cpus": os.cpu_count()}
    if "mlp" in chosen:
        res["steps"] = step_benchmark(data, base, " t2")
        # the same phases at the sizes a default run reaches by its last task (~380/190)
        late = base.replace(dims=(base.dims[0], base.dims[1] + 68, base.dims[2] + 62) + base.dims[3:])
        res["steps"] += step_benchmark(data, late, " t10")
        print(f"{'phase':<16} {'shapes':<34} {'compile s':>9} {'step ms':>8} {'bare ms':>8} {'ratio':>6}")
        for r in res["steps"]:
            shp = " ".join("x".join(map(str, s)) for s in r["shapes"])
            print(f"{r['phase']:<16} {shp:<34} {r['compile_s']:9.2f} {r['step_ms']:8.3f} "
                  f"{r['bare_ms']:8.3f} {r['ratio']:6.2f}")
    if "lenet" in chosen:
        res["lenet_steps"] = lenet_step_benchmark(
            data, base.replace(batch_size=a.lenet_batch), a.lenet_chunks, a.lenet_steps,
            grown=not a.lenet_no_grown)
        print_lenet(res["lenet_steps"], base.xla)
    runs = [] if a.skip_runs or "mlp" not in chosen else [base.replace(max_iter=a.reduced_iter)]
    if a.full and "mlp" in chosen:
        runs.append(base)
    res["runs"] = []
    for cfg in runs:
        r = run_benchmark(data, cfg)
        res["runs"].append(r)
        print(f"full run, 10 tasks, max_iter {r['max_iter']}: {r['wall_s']:.1f} s "
              f"(steps {100 * r['steps_share']:.1f}%, compile {100 * r['compile_share']:.1f}%, "
              f"validation {100 * r['validate_share']:.1f}%, evaluation "
              f"{100 * r['evaluate_share']:.1f}%, other {100 * r['other_share']:.1f}%), "
              f"final avg_perf {r['final_avg_perf']:.4f}, peak RSS {r['peak_rss_mib']:.0f} MiB")
    res["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
