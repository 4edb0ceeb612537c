"""den_tf's command-line flags: defined in `den_tf/flags.py` (this module re-exports it,
for scripts that `import flags` from a checkout)."""

from den_tf.flags import FLAGS, config_from_flags, define_flags  # noqa: F401
