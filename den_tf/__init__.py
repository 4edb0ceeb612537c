"""den_tf: Dynamically Expandable Networks (Yoon et al., ICLR 2018) on TensorFlow 2.

A faithful port of the authors' TensorFlow 1 code (see ../shared/DEN_SPEC.md for what it
does, step by step). Entry points: `den_tf.api.run(config, data)` for a whole run,
`den_tf.trainer.DENTrainer` for one task at a time, `python main.py` (`den_tf.cli`) for the command line.
"""

__version__ = "0.1.0"
