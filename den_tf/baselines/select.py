"""Deprecated alias, kept for one release: `python -m den_tf.baselines.select` runs
`python -m den_tf.experiments.select_baselines` (the name the docs use). Run only as a command; nothing imports it.

Imports: den_tf.experiments.select_baselines (an alias).
"""

if __name__ == "__main__":
    import sys

    from den_tf.experiments.select_baselines import main

    print("den_tf.baselines.select: deprecated name; use python -m den_tf.experiments.select_baselines", file=sys.stderr)
    sys.exit(main())
