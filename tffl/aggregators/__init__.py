"""Aggregation factories: sum, secure sum, mean, clipping, zeroing, quantile estimation,
differential privacy and encoded (compressed) sums."""

from tffl.aggregators.differential_privacy import DifferentiallyPrivateFactory
from tffl.aggregators.encoded import EncodedSumFactory
from tffl.aggregators.factory import AggregationFactory
from tffl.aggregators.factory import UnweightedAggregationFactory
from tffl.aggregators.factory import WeightedAggregationFactory
from tffl.aggregators.mean import MeanFactory
from tffl.aggregators.mean import UnweightedMeanFactory
from tffl.aggregators.quantile_estimation import PrivateQuantileEstimationProcess
from tffl.aggregators.robust import clipping_factory
from tffl.aggregators.robust import zeroing_factory
from tffl.aggregators.secure import SecureSumFactory
from tffl.aggregators.sum_factory import SumFactory

__all__ = [
    "AggregationFactory",
    "DifferentiallyPrivateFactory",
    "EncodedSumFactory",
    "MeanFactory",
    "PrivateQuantileEstimationProcess",
    "SecureSumFactory",
    "SumFactory",
    "UnweightedAggregationFactory",
    "UnweightedMeanFactory",
    "WeightedAggregationFactory",
    "clipping_factory",
    "zeroing_factory",
]
