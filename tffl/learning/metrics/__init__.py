"""Aggregation of model metrics across clients."""

from tffl.learning.metrics.aggregator import MetricsAggregator
from tffl.learning.metrics.aggregator import sum_then_finalize

__all__ = ["MetricsAggregator", "sum_then_finalize"]
