"""`python -m den_tf.sweep`: see den_tf.sweep.command."""

import sys

from den_tf.sweep.command import main

sys.exit(main())
