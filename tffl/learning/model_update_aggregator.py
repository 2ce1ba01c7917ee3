"""Recommended aggregators of model updates; for now the differentially private one.

`dp_aggregator` is TFF's recipe for DP-FedAvg (McMahan et al., "Learning
Differentially Private Recurrent Language Models", https://arxiv.org/abs/1710.06963):
a Gaussian mechanism whose clipping norm adapts toward the median update norm
(Andrew et al., https://arxiv.org/abs/1905.03871), behind adaptive zeroing of
outlying updates.
"""

from __future__ import annotations

import math

from tffl.aggregators import differential_privacy
from tffl.aggregators import factory
from tffl.aggregators import quantile_estimation
from tffl.aggregators import robust


def _default_zeroing(inner_factory: factory.AggregationFactory) -> factory.AggregationFactory:
    """Zeroes updates whose largest element exceeds twice the 98th percentile plus one.

    The norm starts at 2 * 10 + 1 and moves by factors of up to 10 per round, so
    only rare, very large updates (or non-finite ones) are zeroed.
    """
    zeroing_norm = quantile_estimation.PrivateQuantileEstimationProcess.no_noise(
        initial_estimate=10.0,
        target_quantile=0.98,
        learning_rate=math.log(10.0),
        multiplier=2.0,
        increment=1.0,
    )
    return robust.zeroing_factory(zeroing_norm, inner_factory)


def dp_aggregator(
    noise_multiplier: float, clients_per_round: float, zeroing: bool = True
) -> factory.UnweightedAggregationFactory:
    """An unweighted differentially private aggregator of model updates, as in TFF.

    The updates are clipped to an adaptive L2 norm (starting at 0.1 and moving
    toward the median update norm), summed, noised on the server, and divided by
    `clients_per_round`; see `DifferentiallyPrivateFactory.gaussian_adaptive`.
    With `zeroing`, an update whose largest absolute element exceeds an
    adaptive bound (or that is not finite) is replaced by zeros first, without
    noise on that bound's estimate (as in TFF). Use it with
    `build_unweighted_fed_avg` (DP-FedAvg weights clients uniformly); weighted
    FedAvg accepts it too and ignores the weights.

    State, with `zeroing`: `<zeroing_norm=Z,inner_agg=<Q,<>>,zeroed_count_agg=<>>@SERVER`;
    measurements `<zeroing=<dp_query_metrics=<clip=float32>,dp=<>>,zeroing_norm=float32,
    zeroed_count=int32>@SERVER`. Without zeroing, the `DifferentiallyPrivateFactory`'s.

    Args:
      noise_multiplier: the effective noise multiplier of each round (what
        `tffl.learning.privacy.compute_epsilon` takes); non-negative.
      clients_per_round: the (expected) number of clients per round, at least 1.
      zeroing: whether to zero out large updates first.

    Returns:
      An `UnweightedAggregationFactory`.

    Raises:
      ValueError: if an argument is out of range.

    >>> import tffl
    >>> aggregator = tffl.learning.dp_aggregator(noise_multiplier=0.5, clients_per_round=10)
    >>> isinstance(aggregator, tffl.aggregators.UnweightedAggregationFactory)
    True
    """
    aggregator = differential_privacy.DifferentiallyPrivateFactory.gaussian_adaptive(
        noise_multiplier=noise_multiplier, clients_per_round=clients_per_round
    )
    if zeroing:
        return _default_zeroing(aggregator)
    return aggregator
