"""Deprecated alias, kept for one release: `python -m den_tf.bench` runs
`python -m den_tf.experiments.bench` (the name the docs use). Run only as a command; nothing imports it.

Imports: den_tf.experiments.bench (an alias).
"""

if __name__ == "__main__":
    import sys

    from den_tf.experiments.bench import main

    print("den_tf.bench: deprecated name; use python -m den_tf.experiments.bench", file=sys.stderr)
    sys.exit(main())
