"""The units of DEN's hidden layers over the tasks of a run, read from its checkpoint:
the figure of docs/algorithm.md ("One run, unit by unit").

    python main.py --data_dir=PATH/TO/mnist --n_tasks=3 --max_iter=430 --train_seed=1 \\
        --progress=off --log_file=/tmp/alg/run.log --results=/tmp/alg/run.json \\
        --checkpoint_dir=/tmp/alg/ck
    python -m den_tf.experiments.units_figure /tmp/alg/ck --out=docs/algorithm_units.png

CHECKPOINT is a checkpoint folder (`task-NNN`, holding `state.json`) or the
`--checkpoint_dir` of a run (its `LATEST` file names the newest). The task records the
checkpoint keeps say, per task and hidden layer, which units step 2 selected, which
expansion units step 7 pruned, which units step 8 split, and the timestamp. Each panel
is one hidden layer, each row one task, each cell one unit, in the order the layer holds
its units: the units the task found (selected or not), then the ex_k expansion units
(kept or pruned, at the places they had before pruning), then the copies of split units.
The text at the right of a row gives the counts and the task's timestamp (the units task
t runs on ever after).

Reads only the checkpoint's JSON state (no TensorFlow); draws with matplotlib.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional, Sequence

# cell kinds, in the order of the legend
KINDS = ("task1", "selected", "unselected", "new", "pruned", "copy")
LABELS = {"task1": "trained in task 1", "selected": "selected (step 2)",
          "unselected": "not selected", "new": "new, kept (steps 6-7)",
          "pruned": "new, pruned (step 7)", "copy": "copy of a split unit (step 8)"}
COLORS = {"task1": "#9db4d3", "selected": "#3f6fb0", "unselected": "#d4d4d4",
          "new": "#4f9d5d", "pruned": "#c8474c", "copy": "#8a6bbd"}


def state_file(path: str) -> str:
    """state.json of the checkpoint folder `path`, or of the newest checkpoint of the
    checkpoint directory `path` (its LATEST file)."""
    if os.path.isfile(os.path.join(path, "state.json")):
        return os.path.join(path, "state.json")
    latest = os.path.join(path, "LATEST")
    if not os.path.isfile(latest):
        raise ValueError(f"{path}: neither a checkpoint (state.json) nor a checkpoint "
                         f"directory (LATEST)")
    with open(latest) as f:
        return os.path.join(path, f.read().strip(), "state.json")


def unit_rows(state: dict, layer: int) -> List[dict]:
    """Per task, the cells of hidden layer `layer` (1-based) as the task left it.

    Each row: {"task", "cells": [kind per unit position], "split": positions of the
    units step 8 split, "found": units at the task's start, "selected", "kept",
    "pruned", "copies", "stamp": units in the task's timestamp}."""
    records = state["records"]
    ex_k = int(state["config"]["ex_k"])
    rows, found = [], 0
    for rec in records:
        t, i = rec["task"], layer - 1
        stamp = int(rec["stamp"][layer])
        if t == 1:
            rows.append({"task": 1, "cells": ["task1"] * stamp, "split": [], "found": 0,
                         "selected": stamp, "kept": 0, "pruned": 0, "copies": 0,
                         "stamp": stamp})
            found = stamp
            continue
        selection = rec.get("selection") or []
        chosen = set(selection[layer]) if len(selection) > layer else set()
        cells = ["selected" if u in chosen else "unselected" for u in range(found)]
        pruned = [int(p) for p in rec["pruned"][i]]
        if rec["expanded"]:
            slots = ["new"] * ex_k
            for p in pruned:
                if not found <= p < found + ex_k:
                    raise ValueError(f"task {t}, layer {layer}: pruned unit {p} is not "
                                     f"one of the new units {found}..{found + ex_k - 1}")
                slots[p - found] = "pruned"
            cells += slots
        split = sorted(int(u) for u in rec["split_units"][i])
        cells += ["copy"] * len(split)
        kept = int(rec["kept"][i])
        if found + kept + len(split) != stamp:
            raise ValueError(f"task {t}, layer {layer}: {found} units found + {kept} kept "
                             f"+ {len(split)} copies is not the timestamp's {stamp}")
        rows.append({"task": t, "cells": cells, "split": split, "found": found,
                     "selected": len(chosen), "kept": kept, "pruned": len(pruned),
                     "copies": len(split), "stamp": stamp})
        found = stamp
    return rows


def row_text(row: dict) -> str:
    if row["task"] == 1:
        return f"all {row['stamp']} units train; timestamp {row['stamp']}"
    return (f"selected {row['selected']}/{row['found']}, +{row['kept']} kept, "
            f"{row['pruned']} pruned, {row['copies']} split; timestamp {row['stamp']}")


def figure_png(state: dict, layers: Sequence[int]) -> bytes:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from den_tf.io import png_bytes, pyplot
    plt = pyplot()
    panels = {layer: unit_rows(state, layer) for layer in layers}
    n_tasks = len(state["records"])
    fig, axes = plt.subplots(len(layers), 1, figsize=(10, 1.2 + 0.6 * n_tasks * len(layers)),
                             squeeze=False)
    cmap = ListedColormap(["white"] + [COLORS[k] for k in KINDS])
    code = {k: j + 1 for j, k in enumerate(KINDS)}
    for ax, layer in zip(axes[:, 0], layers):
        rows = panels[layer]
        width = max(len(r["cells"]) for r in rows)
        grid = [[code[k] for k in r["cells"]] + [0] * (width - len(r["cells"])) for r in rows]
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=len(KINDS), aspect="auto",
                  interpolation="nearest")
        for y, r in enumerate(rows):
            for x in r["split"]:  # the split originals, outlined
                ax.add_patch(plt.Rectangle((x - 0.5, y - 0.45), 1, 0.9, fill=False,
                                           edgecolor="black", linewidth=0.8))
            end = len(r["cells"]) - 0.5
            ax.plot([end, end], [y - 0.5, y + 0.5], color="black", linewidth=1.2)
            ax.text(1.01, 1 - (y + 0.5) / len(rows), row_text(r), va="center", fontsize=8,
                    transform=ax.transAxes)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"task {r['task']}" for r in rows])
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_xlabel(f"unit of hidden layer {layer} (black bar: end of the task's "
                      f"timestamp)", fontsize=8)
        ax.tick_params(labelsize=8)
    handles = [Patch(facecolor=COLORS[k], label=LABELS[k]) for k in KINDS]
    axes[0, 0].legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.02),
                      ncol=3, fontsize=8, frameon=False, borderaxespad=0.0)
    return png_bytes(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m den_tf.experiments.units_figure",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a checkpoint folder, or a run's --checkpoint_dir")
    p.add_argument("--layers", default=None,
                   help="hidden layers to draw, e.g. 1,2 (default: every hidden layer)")
    p.add_argument("--out", default="units.png", help="the PNG to write")
    args = p.parse_args(argv)
    try:
        with open(state_file(args.checkpoint)) as f:
            state = json.load(f)
        n_hidden = sum(1 for k in state["network"]["layers"] if k.startswith("hidden"))
        layers = ([int(x) for x in args.layers.split(",")] if args.layers
                  else list(range(1, n_hidden + 1)))
        bad = [x for x in layers if not 1 <= x <= n_hidden]
        if bad:
            raise ValueError(f"--layers: the network has hidden layers 1..{n_hidden}")
        if state.get("method", "den") != "den":
            raise ValueError(f"the checkpoint is of --method={state['method']}, not DEN")
        png = figure_png(state, layers)
    except ImportError as e:
        print(f"units_figure: {e} (matplotlib is an optional extra: pip install .[plot])",
              file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as e:
        print(f"units_figure: {e}", file=sys.stderr)
        return 1
    with open(args.out, "wb") as f:
        f.write(png)
    print(f"units_figure: wrote {args.out} ({len(png)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
