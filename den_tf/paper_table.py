"""Deprecated alias, kept for one release: `python -m den_tf.paper_table` runs
`python -m den_tf.experiments.paper_table` (the name the docs use). Run only as a command; nothing imports it.

Imports: den_tf.experiments.paper_table (an alias).
"""

if __name__ == "__main__":
    import sys

    from den_tf.experiments.paper_table import main

    print("den_tf.paper_table: deprecated name; use python -m den_tf.experiments.paper_table", file=sys.stderr)
    sys.exit(main())
