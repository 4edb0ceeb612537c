"""den_tf command line: `python main.py --max_iter=... --l1_lambda=...`.

A thin entry point: the command line lives in `den_tf/cli.py` (flags in
`den_tf/flags.py`), which the installed `den-tf` command runs too.
"""

from den_tf.cli import cli

if __name__ == "__main__":
    cli()
