"""Deprecated alias, kept for one release: `python -m den_tf.compare_logs` runs
`python -m den_tf.reference.compare_logs` (the name the docs use). Run only as a command; nothing imports it.

Imports: den_tf.reference.compare_logs (an alias).
"""

if __name__ == "__main__":
    import sys

    from den_tf.reference.compare_logs import main

    print("den_tf.compare_logs: deprecated name; use python -m den_tf.reference.compare_logs", file=sys.stderr)
    sys.exit(main())
