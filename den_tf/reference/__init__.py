"""The original code as the reference: comparing a log with the original's logs
(`compare_logs`) and replaying its step-level recordings (`replay`).

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets,
den_tf.evaluation, den_tf.engine, den_tf.io.
"""
