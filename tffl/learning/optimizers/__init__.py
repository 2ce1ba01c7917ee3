"""Optimizers as pure `initialize` / `next` functions, as `tff.learning.optimizers` has them."""

from tffl.learning.optimizers.adagrad import build_adagrad
from tffl.learning.optimizers.adam import build_adam
from tffl.learning.optimizers.adam import build_adamw
from tffl.learning.optimizers.keras_optimizer import KerasOptimizer
from tffl.learning.optimizers.keras_optimizer import build_optimizer
from tffl.learning.optimizers.optimizer import Optimizer
from tffl.learning.optimizers.rmsprop import build_rmsprop
from tffl.learning.optimizers.sgdm import build_sgdm
from tffl.learning.optimizers.yogi import build_yogi

__all__ = [
    "KerasOptimizer",
    "Optimizer",
    "build_adagrad",
    "build_adam",
    "build_adamw",
    "build_optimizer",
    "build_rmsprop",
    "build_sgdm",
    "build_yogi",
]
