"""Every log line the original prints, in its exact format, in one place
(algorithm.md#log-lines), plus our own prefixed lines.

Lines the original does not print start with PREFIX, so that the original-format lines
stay comparable line by line.
"""

from __future__ import annotations

from typing import Callable, List, Sequence

PREFIX = " [den_tf] "


def task_header(t: int) -> str:
    # print("\n\n\tTASK %d TRAINING\n") prints two blank lines, the title and one more.
    return "\n\n\tTASK %d TRAINING\n" % t


def iteration(it, val_loss: float, val_perf: float) -> str:
    return " [*] iter: %d, val loss: %.4f, val perf: %.4f" % (it, val_loss, val_perf)


SELECTIVE = " [*] Selective retraining"
EXPANSION = " [*] Network expansion (training)"
SPLIT = " [*] Split & Duplication"
OVERALL = "\n OVERALL EVALUATION"


def expanding(layer: int, added: int, repeated) -> str:
    return "   [*] Expanding %dth hidden unit, %d unit added, (valid, repeated: %d)" % (
        layer, added, repeated)


def split_count(layer: int, chosen: int, candidates: int) -> str:
    return "   [*] split N in layer%d: %d / %d" % (layer, chosen, candidates)


def split_done(loss: float, perf: float, repeated) -> str:
    return "   [*] split, loss: %.4f, nn_perf: %.4f(valid) repeated: %d" % (loss, perf, repeated)


def total_expansions(per_layer: Sequence[int]) -> str:
    return "   [*] Total expansions: %s" % [int(n) for n in per_layer]


def shape(layer: int, dims: Sequence[int]) -> str:
    # The original prints the LAYER index after "task" (algorithm.md#timestamps).
    return " [*] task %d, shape : %s" % (layer, [int(d) for d in dims])


def task_result(t: int, loss: float, perf: float, sparsity: float) -> str:
    return " [*] Task: %d, nn_test_loss: %.4f, test_perf: %.4f, sparsity(avg): %.4f" % (
        t, loss, perf, sparsity)


def evaluation(t: int, perf: float) -> str:
    return " [*] Evaluation, Task:%s, test_acc: %.4f" % (str(t), perf)


def avg_perf(perf: float) -> str:
    return "   [*] avg_perf: %.4f" % perf


def shape_lines(stamp: Sequence[int]) -> List[str]:
    """One shape line per hidden layer of a timestamp [in, h1, ..., hL, out]."""
    return [shape(i + 1, [stamp[i], stamp[i + 1]]) for i in range(len(stamp) - 2)]


def kernel_shape_lines(shapes: Sequence[Sequence[int]]) -> List[str]:
    """One shape line per hidden layer of a convolutional network, each the layer's real
    kernel shape ([5, 5, 1, 20] for a 5x5 convolution of 1 channel into 20 filters); the
    MLP keeps the original's `shape_lines`."""
    return [shape(i + 1, s) for i, s in enumerate(shapes)]


def iteration_logger(log: Callable[[str], None]) -> Callable:
    """`on_iteration(iteration, val_loss, val_perf)` for the phase runner: writes the
    original's iteration line to `log`."""
    return lambda it, loss, perf: log(iteration(it, loss, perf))


def ours(text: str) -> str:
    """A line of our own (not in the original's log)."""
    return PREFIX + text


def summary_lines(results: dict) -> List[str]:
    """A readable table of the run, as prefixed log lines."""
    lines = ["summary: AUROC of task j (columns) after learning task i (rows)"]
    n = len(results["auroc_matrix"])
    lines.append("  after | " + " ".join(f"{'T%d' % (j + 1):>6}" for j in range(n))
                 + " |    avg   acc  units           capacity")
    for i, row in enumerate(results["auroc_matrix"]):
        cells = " ".join(f"{x:6.4f}" if x is not None else "      " for x in row)
        rec = results["tasks"][i]
        if results["avg_perf"][i] is None:  # a row without figures (MTL)
            lines.append(f"  T{i + 1:<4} | {cells} |      -      -  -")
            continue
        lines.append(f"  T{i + 1:<4} | {cells} | {results['avg_perf'][i]:.4f} "
                     f"{results['avg_accuracy'][i]:.4f}  {str(rec['sizes']):<15} "
                     f"{rec['capacity']:.3f}x")
    if results.get("bwt_auroc") is not None:
        lines.append(f"  backward transfer: AUROC {results['bwt_auroc']:+.4f}, "
                     f"accuracy {results['bwt_accuracy']:+.4f}")
    m = results.get("metrics", {})
    fa, fc = (m.get(k, {}).get("forgetting", {}) for k in ("auroc", "accuracy"))
    if fa.get("mean_max") is not None and fc.get("mean_max") is not None:
        lines.append(f"  forgetting (mean over tasks 1..T-1, largest drop from the best / "
                     f"drop since learned): AUROC {fa['mean_max']:.4f} / "
                     f"{fa['mean_end']:+.4f}, accuracy {fc['mean_max']:.4f} / "
                     f"{fc['mean_end']:+.4f}")
    if m.get("accuracy", {}).get("just_learned") and None not in m["accuracy"]["just_learned"]:
        lines.append("  accuracy right after learning each task: "
                     + " ".join(f"{x:.4f}" for x in m["accuracy"]["just_learned"]))
    return [ours(l) for l in lines]
