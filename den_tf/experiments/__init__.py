"""Experiments above the library, each a `python -m` tool: the paper's table
(`paper_table`), choosing the baselines' settings on the validation split
(`select_baselines`), the benchmark (`bench`), and forward transfer from two results
files (`transfer`). They use den_tf's public API (the
names its packages export) or its command line, and the library never imports them.

Imports: den_tf (public API), den_tf.sweep.
"""
