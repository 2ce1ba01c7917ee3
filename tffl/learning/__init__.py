"""Federated learning: models, optimizers, algorithms, templates and metrics.

Names follow TensorFlow Federated's `tff.learning`, so training scripts port by
changing the import.
"""

from tffl.learning import algorithms
from tffl.learning import baselines
from tffl.learning import metrics
from tffl.learning import models
from tffl.learning import optimizers
from tffl.learning import privacy
from tffl.learning import templates
from tffl.learning.client_weighting import ClientWeighting
from tffl.learning.compression import compression_aggregator
from tffl.learning.compression import robust_aggregator
from tffl.learning.model_update_aggregator import dp_aggregator

__all__ = [
    "ClientWeighting",
    "algorithms",
    "baselines",
    "compression_aggregator",
    "dp_aggregator",
    "metrics",
    "models",
    "optimizers",
    "privacy",
    "robust_aggregator",
    "templates",
]
