"""Federated learning algorithms, each built as a `LearningProcess`."""

from tffl.learning.algorithms.fed_avg import build_unweighted_fed_avg
from tffl.learning.algorithms.fed_avg import build_weighted_fed_avg
from tffl.learning.algorithms.fed_eval import build_fed_eval
from tffl.learning.algorithms.fed_prox import build_fed_prox
from tffl.learning.algorithms.fed_prox import build_unweighted_fed_prox
from tffl.learning.algorithms.fed_prox import build_weighted_fed_prox
from tffl.learning.algorithms.fed_sgd import build_fed_sgd

__all__ = [
    "build_fed_eval",
    "build_fed_prox",
    "build_fed_sgd",
    "build_unweighted_fed_avg",
    "build_unweighted_fed_prox",
    "build_weighted_fed_avg",
    "build_weighted_fed_prox",
]
