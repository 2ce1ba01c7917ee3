"""FedProx (Li et al., 2020, "Federated Optimization in Heterogeneous Networks").

FedAvg whose clients minimise their loss plus `μ/2 · ||w - w_server||²`, which
keeps local models near the server's on heterogeneous data.
"""

from __future__ import annotations

from typing import Any
from typing import Optional

from tffl.aggregators import factory as factory_lib
from tffl.aggregators import mean as mean_lib
from tffl.learning import client_weighting as client_weighting_lib
from tffl.learning.algorithms import fed_avg
from tffl.learning.metrics import aggregator as metrics_aggregator_lib
from tffl.learning.templates import distributors
from tffl.learning.templates import learning_process


def _checked_strength(proximal_strength: Any) -> float:
    is_number = isinstance(proximal_strength, (int, float)) and not isinstance(
        proximal_strength, bool
    )
    if not is_number or proximal_strength < 0:
        raise ValueError(f"proximal_strength: expected a number >= 0, got {proximal_strength!r}")
    return float(proximal_strength)


def build_weighted_fed_prox(
    model_fn: Any,
    proximal_strength: float,
    client_optimizer_fn: Any,
    server_optimizer_fn: Any = None,
    client_weighting: Optional[client_weighting_lib.ClientWeighting] = None,
    model_distributor: Optional[distributors.DistributionProcess] = None,
    model_aggregator: Optional[factory_lib.AggregationFactory] = None,
    metrics_aggregator: Optional[metrics_aggregator_lib.MetricsAggregator] = None,
    client_epochs: int = 1,
    max_client_steps: Optional[int] = None,
) -> learning_process.LearningProcess:
    """FedProx: `build_weighted_fed_avg` with the proximal term of strength μ.

    Args:
      proximal_strength: μ ≥ 0 (0 gives FedAvg).
      Others: as `build_weighted_fed_avg`.

    Raises:
      ValueError: if `proximal_strength` is negative.
    """
    return fed_avg.build_fed_avg_process(
        model_fn,
        client_optimizer_fn,
        server_optimizer_fn,
        client_weighting or client_weighting_lib.ClientWeighting.NUM_EXAMPLES,
        model_distributor,
        model_aggregator or mean_lib.MeanFactory(),
        metrics_aggregator,
        client_epochs,
        max_client_steps,
        proximal_strength=_checked_strength(proximal_strength),
    )


def build_unweighted_fed_prox(
    model_fn: Any,
    proximal_strength: float,
    client_optimizer_fn: Any,
    server_optimizer_fn: Any = None,
    model_distributor: Optional[distributors.DistributionProcess] = None,
    model_aggregator: Optional[factory_lib.AggregationFactory] = None,
    metrics_aggregator: Optional[metrics_aggregator_lib.MetricsAggregator] = None,
    client_epochs: int = 1,
    max_client_steps: Optional[int] = None,
) -> learning_process.LearningProcess:
    """FedProx: `build_unweighted_fed_avg` with the proximal term of strength μ.

    Args:
      proximal_strength: μ ≥ 0 (0 gives unweighted FedAvg).
      Others: as `build_unweighted_fed_avg`.

    Raises:
      ValueError: if `proximal_strength` is negative.
    """
    return fed_avg.build_fed_avg_process(
        model_fn,
        client_optimizer_fn,
        server_optimizer_fn,
        client_weighting_lib.ClientWeighting.UNIFORM,
        model_distributor,
        model_aggregator or mean_lib.UnweightedMeanFactory(),
        metrics_aggregator,
        client_epochs,
        max_client_steps,
        proximal_strength=_checked_strength(proximal_strength),
    )


# The weighted variant under a shorter name.
build_fed_prox = build_weighted_fed_prox
