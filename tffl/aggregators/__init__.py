"""Aggregation factories: sum, mean, clipping, zeroing, quantile estimation and DP."""

from tffl.aggregators.differential_privacy import DifferentiallyPrivateFactory
from tffl.aggregators.factory import AggregationFactory
from tffl.aggregators.factory import UnweightedAggregationFactory
from tffl.aggregators.factory import WeightedAggregationFactory
from tffl.aggregators.mean import MeanFactory
from tffl.aggregators.mean import UnweightedMeanFactory
from tffl.aggregators.quantile_estimation import PrivateQuantileEstimationProcess
from tffl.aggregators.robust import clipping_factory
from tffl.aggregators.robust import zeroing_factory
from tffl.aggregators.sum_factory import SumFactory

__all__ = [
    "AggregationFactory",
    "DifferentiallyPrivateFactory",
    "MeanFactory",
    "PrivateQuantileEstimationProcess",
    "SumFactory",
    "UnweightedAggregationFactory",
    "UnweightedMeanFactory",
    "WeightedAggregationFactory",
    "clipping_factory",
    "zeroing_factory",
]
