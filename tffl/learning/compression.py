"""Recommended model-update aggregators: robust (adaptive zeroing and clipping), and compressed.

As TFF's `tff.learning.robust_aggregator` and `compression_aggregator`: a
(weighted) mean, optionally wrapped in adaptive clipping (the L2 norm tracks the
0.8 quantile of the clients' update norms; Andrew et al., 2021, "Differentially
Private Learning with Adaptive Clipping", https://arxiv.org/abs/1905.03871), in
turn wrapped in adaptive zeroing (updates whose largest element exceeds twice the
0.98 quantile plus one are zeroed, and so are non-finite ones). The compressed
aggregator sums the updates with 8-bit unbiased stochastic quantization
(`tffl.aggregators.EncodedSumFactory.quantize_uniform`).
"""

from __future__ import annotations

import math

import numpy as np

from tffl.aggregators import encoded
from tffl.aggregators import factory
from tffl.aggregators import mean
from tffl.aggregators import quantile_estimation
from tffl.aggregators import robust
from tffl.aggregators import sum_factory


def _default_zeroing(inner: factory.AggregationFactory) -> factory.AggregationFactory:
    zeroing_norm = quantile_estimation.PrivateQuantileEstimationProcess.no_noise(
        initial_estimate=10.0,
        target_quantile=0.98,
        learning_rate=math.log(10.0),
        multiplier=2.0,
        increment=1.0,
    )
    return robust.zeroing_factory(zeroing_norm, inner, norm_order=np.inf)


def _default_clipping(inner: factory.AggregationFactory) -> factory.AggregationFactory:
    clipping_norm = quantile_estimation.PrivateQuantileEstimationProcess.no_noise(
        initial_estimate=1.0, target_quantile=0.8, learning_rate=0.2
    )
    return robust.clipping_factory(clipping_norm, inner)


def _robust_mean(
    value_sum_factory: factory.UnweightedAggregationFactory,
    zeroing: bool,
    clipping: bool,
    weighted: bool,
) -> factory.AggregationFactory:
    if weighted:
        aggregator = mean.MeanFactory(value_sum_factory)
    else:
        aggregator = mean.UnweightedMeanFactory(value_sum_factory, sum_factory.SumFactory())
    if clipping:
        aggregator = _default_clipping(aggregator)
    if zeroing:
        aggregator = _default_zeroing(aggregator)
    return aggregator


def robust_aggregator(
    *, zeroing: bool = True, clipping: bool = True, weighted: bool = True
) -> factory.AggregationFactory:
    """A mean of model updates with adaptive zeroing and clipping, as TFF recommends.

    Args:
      zeroing: whether to zero out updates above an adaptive bound (and non-finite ones).
      clipping: whether to clip updates to an adaptive L2 norm.
      weighted: whether the mean is weighted (a `WeightedAggregationFactory`) or not.

    Returns:
      `zeroing_factory(clipping_factory(MeanFactory()))`, leaving out what is
      turned off; an `UnweightedMeanFactory` when not `weighted`.

    >>> import numpy as np
    >>> process = robust_aggregator().create((np.float32, [2]), np.float32)
    >>> output = process.next(process.initialize(), [[0.3, 0.4], [3.0, 4.0]], [1.0, 1.0])
    >>> output.result.astype(float).round(3).tolist()  # [0.3, 0.4] and [3, 4] clipped to norm 1
    [0.45, 0.6]
    >>> output.measurements["zeroing"]["clipped_count"], output.measurements["zeroing_norm"]
    (1, 21.0)
    """
    return _robust_mean(sum_factory.SumFactory(), bool(zeroing), bool(clipping), bool(weighted))


def compression_aggregator(
    *, zeroing: bool = True, clipping: bool = True, weighted: bool = True, bits: int = 8
) -> factory.AggregationFactory:
    """`robust_aggregator` whose sum of updates is quantized to `bits` bits on the clients.

    Every tensor of an update is quantized (`EncodedSumFactory.quantize_uniform(bits)`);
    the weights (example counts) are summed plainly. The bytes each client sends
    are in the measurements, under `mean_value`: for example
    `measurements['zeroing']['clipping']['mean_value']['encoded_bytes_per_client']`.

    Args:
      zeroing: whether to zero out updates above an adaptive bound (and non-finite ones).
      clipping: whether to clip updates to an adaptive L2 norm.
      weighted: whether the mean is weighted.
      bits: bits per element of the quantized updates, 1 to 16.

    Raises:
      TypeError, ValueError: if `bits` is not an integer in [1, 16].

    >>> import numpy as np
    >>> process = compression_aggregator().create((np.float32, [1000]), np.float32)
    >>> output = process.next(process.initialize(), [np.zeros(1000)] * 2, [1.0, 1.0])
    >>> dict(output.measurements["zeroing"]["clipping"]["mean_value"])
    {'encoded_bytes_per_client': 1008, 'raw_bytes_per_client': 4000}
    """
    value_sum = encoded.EncodedSumFactory.quantize_uniform(bits=bits)
    return _robust_mean(value_sum, bool(zeroing), bool(clipping), bool(weighted))
