"""Aggregation factories: sum, mean, clipping, zeroing and quantile estimation."""

from tffl.aggregators.factory import AggregationFactory
from tffl.aggregators.factory import UnweightedAggregationFactory
from tffl.aggregators.factory import WeightedAggregationFactory
from tffl.aggregators.mean import MeanFactory
from tffl.aggregators.mean import UnweightedMeanFactory
from tffl.aggregators.sum_factory import SumFactory

__all__ = [
    "AggregationFactory",
    "MeanFactory",
    "SumFactory",
    "UnweightedAggregationFactory",
    "UnweightedMeanFactory",
    "WeightedAggregationFactory",
]
