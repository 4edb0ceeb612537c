"""Forward transfer of a run against a reference run of the same tasks that learns each
task alone (`--method=stl`), from their two results JSON files:

    python main.py --data_dir=PATH/TO/mnist --n_tasks=3 --results=den.json
    python main.py --data_dir=PATH/TO/mnist --n_tasks=3 --method=stl --results=stl.json
    python -m den_tf.experiments.transfer den.json stl.json

prints, for accuracy and AUROC, FWT = mean over tasks t = 2..T of (R[t][t] -
R_ref[t][t]), the figure on task t right after learning it minus the reference's, and
the difference of every task (den_tf.evaluation.forward_transfer; the definition, and
why GEM's form against a random initialisation does not apply to DEN, on
docs/metrics.md). Two files of other tasks (another stream, another number of tasks)
are refused in one line (exit status 2); so is a file that is not a results JSON.

Imports: den_tf (public API).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional


def _signed(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:+.4f}"


def report(out: dict, run: str, reference: str) -> List[str]:
    """The lines printed for `forward_transfer`'s answer `out`."""
    t = out["tasks"]
    lines = [f"forward transfer of {run} against {reference} (--method="
             f"{out['reference_method']}), tasks 2..{t}:"]
    for kind, name in (("accuracy", "accuracy"), ("auroc", "AUROC")):
        lines.append(f"  {name:<8} {_signed(out[kind])}   per task 1..{t}: "
                     + " ".join(_signed(x) for x in out["per_task"][kind]))
    if out["accuracy"] is None:
        lines.append("  (none: fewer than two tasks, or a task without a figure right "
                     "after it was learned)")
    return lines


def _read(path: str) -> dict:
    from den_tf.errors import ConfigError
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror or e})") from None
    except ValueError as e:
        raise ConfigError(f"{path}: not a JSON file ({str(e).splitlines()[0]})") from None


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m den_tf.experiments.transfer",
        description="Forward transfer of RUN against REFERENCE, a run of the same tasks "
                    "that learns each task alone (--method=stl): accuracy and AUROC right "
                    "after learning task t minus the reference's, averaged over tasks "
                    "2..T (docs/metrics.md).")
    p.add_argument("run", help="the results JSON of the run (--results=)")
    p.add_argument("reference", help="the results JSON of the reference run")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = p.parse_args(argv)
    from den_tf.errors import DENError
    from den_tf.evaluation import forward_transfer
    try:
        out = forward_transfer(_read(a.run), _read(a.reference), names=(a.run, a.reference))
    except DENError as e:
        print(f"den_tf: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    print(json.dumps(out, indent=1) if a.json else "\n".join(report(out, a.run, a.reference)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
