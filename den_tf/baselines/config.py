"""The baselines' settings: DEN's (`DENConfig`) plus their own, with the values chosen on
the validation split (no TensorFlow here: the command line checks settings before
importing it)."""

from __future__ import annotations

import dataclasses
import math

from den_tf.config import DENConfig, check_nonnegative_float, check_positive_int
from den_tf.errors import ConfigError

BASELINES = ("dnn", "l2", "ewc", "progressive", "stl", "mtl")

# Chosen on the validation split by `python -m den_tf.baselines.select` (README,
# logs/baselines_selection/).
L2_PULL = 0.001
EWC_LAMBDA = 3.0
COLUMN_SCALE = 0.5
EWC_SAMPLES = 1000


@dataclasses.dataclass(frozen=True)
class BaselineConfig(DENConfig):
    """DEN's settings plus the baselines' own. DEN's own flags (l1_lambda, gl_lambda,
    regular_lambda, ex_k, loss_thr, spl_thr, prox_order) have no effect here."""

    method: str = "dnn"
    l2_pull: float = L2_PULL  # l2: strength of the pull toward the previous task's weights
    ewc_lambda: float = EWC_LAMBDA  # ewc: lambda of lambda/2 * sum F (theta - theta*)^2
    ewc_samples: int = EWC_SAMPLES  # ewc: training examples the Fisher averages over
    column_scale: float = COLUMN_SCALE  # progressive: column size / base network's

    def validate(self, input_size=None, n_classes_data=None, train_size=None,
                 image_shape=None):
        super().validate(input_size, n_classes_data, train_size, image_shape)
        if self.arch != "mlp":
            raise ConfigError(f"--arch={self.arch}: the baselines are built on the MLP of "
                              f"--dims only (--method={self.method}); use --arch=mlp")
        if self.method not in BASELINES:
            raise ConfigError(f"--method={self.method}: must be one of den, "
                              f"{', '.join(BASELINES)}")
        for name in ("l2_pull", "ewc_lambda"):
            check_nonnegative_float(name, getattr(self, name))
        check_positive_int("ewc_samples", self.ewc_samples)
        s = self.column_scale
        if not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
            raise ConfigError(f"--column_scale={s}: must be a finite number > 0")
        return self


