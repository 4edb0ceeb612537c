"""The results figure: `python -m den_tf.io.figures RESULTS.json [--out FIGURE.png]`.

One PNG: the AUROC and the accuracy matrices (task j evaluated after learning task i) as
heat maps, and the units of every hidden layer over tasks. Needs matplotlib (`pip install .[plot]`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys

import numpy as np


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed); ImportError without
    matplotlib (an optional extra: `pip install .[plot]`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def png_bytes(fig) -> bytes:
    """A finished figure as PNG bytes (110 dpi, tight layout); the figure is closed."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _heat_map(fig, ax, matrix, what: str) -> None:
    """The matrix of `what` (task j evaluated after learning task i) on `ax`."""
    r = np.array([[np.nan if x is None else x for x in row] for row in matrix], float)
    n = len(r)
    lo = np.nanmin(r) if np.isfinite(r).any() else 0.0
    im = ax.imshow(r, cmap="viridis", vmin=lo, vmax=1.0)
    ax.set_title(f"{what} of task j (column) after learning task i (row)", fontsize=9)
    ax.set_xlabel("evaluated task j")
    ax.set_ylabel("after learning task i")
    ax.set_xticks(range(n), [str(i + 1) for i in range(n)])
    ax.set_yticks(range(n), [str(i + 1) for i in range(n)])
    if n <= 12:
        for i in range(n):
            for j in [j for j in range(i + 1) if np.isfinite(r[i, j])]:
                ax.text(j, i, f"{r[i, j]:.4f}"[1:], ha="center", va="center", fontsize=6,
                        color="white" if r[i, j] < (lo + 1) / 2 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)


def figure_png(results: dict) -> bytes:
    """The figure as PNG bytes."""
    plt = pyplot()

    # Rows without figures (MTL before its joint training) are None: drawn as gaps.
    n_layers = max(len(u) for u in results["units_per_layer"] if u is not None)
    units = np.array([[np.nan] * n_layers if u is None else u
                      for u in results["units_per_layer"]], float)
    fig, (a, c, b) = plt.subplots(1, 3, figsize=(16, 4.6))
    _heat_map(fig, a, results["auroc_matrix"], "AUROC")
    _heat_map(fig, c, results.get("accuracy_matrix") or results["auroc_matrix"], "accuracy")
    tasks = np.arange(1, len(units) + 1)
    for layer in range(units.shape[1]):
        b.plot(tasks, units[:, layer], marker="o", label=f"hidden layer {layer + 1}")
    b.set_title(f"units per layer (capacity {results['capacity'][-1]:.2f}x after task "
                f"{len(units)})")
    b.set_xlabel("after learning task")
    b.set_ylabel("units")
    b.set_xticks(tasks)
    b.grid(alpha=0.3)
    b.legend()
    avg = results.get("final_avg_perf")
    name = results.get("config", {}).get("method", "den")
    title = "DEN (den_tf)" if name == "den" else f"{name} (den_tf baseline)"
    fig.suptitle(f"{title}: final avg_perf {avg:.4f}" if avg is not None else title)
    return png_bytes(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m den_tf.io.figures", description=__doc__.split("\n")[0])
    p.add_argument("results")
    p.add_argument("--out", default="", help="PNG path (default: RESULTS with .png)")
    a = p.parse_args(argv)
    out = a.out or os.path.splitext(a.results)[0] + ".png"
    try:
        with open(a.results) as f:
            results = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot: error: {a.results}: {e}", file=sys.stderr)
        return 2
    try:
        png = figure_png(results)
    except ImportError:
        print("plot: error: matplotlib is not installed (pip install .[plot])", file=sys.stderr)
        return 2
    with open(out, "wb") as f:
        f.write(png)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
