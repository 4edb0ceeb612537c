"""Deprecated alias, kept for one release: `python -m den_tf.plot` runs
`python -m den_tf.io.figures` (the name the docs use). Run only as a command; nothing imports it.

Imports: den_tf.io.figures (an alias).
"""

if __name__ == "__main__":
    import sys

    from den_tf.io.figures import main

    print("den_tf.plot: deprecated name; use python -m den_tf.io.figures", file=sys.stderr)
    sys.exit(main())
