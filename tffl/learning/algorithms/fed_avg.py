"""Federated Averaging (McMahan et al., 2017, "Communication-Efficient Learning of
Deep Networks from Decentralized Data").

Each round the server broadcasts its weights, each client trains locally and
returns `initial - final` weights, the server averages these updates (by example
count, or uniformly) and applies the average with its optimizer (SGD with
learning rate 1.0 by default, which makes the new weights the clients' average).
"""

from __future__ import annotations

from typing import Any
from typing import Optional

from tffl.aggregators import factory as factory_lib
from tffl.aggregators import mean as mean_lib
from tffl.learning import client_weighting as client_weighting_lib
from tffl.learning import optimizers as optimizers_lib
from tffl.learning.algorithms import composition
from tffl.learning.metrics import aggregator as metrics_aggregator_lib
from tffl.learning.templates import distributors
from tffl.learning.templates import learning_process
from tffl.learning.templates import model_delta_client_work


def build_weighted_fed_avg(
    model_fn: Any,
    client_optimizer_fn: Any,
    server_optimizer_fn: Any = None,
    client_weighting: Optional[client_weighting_lib.ClientWeighting] = None,
    model_distributor: Optional[distributors.DistributionProcess] = None,
    model_aggregator: Optional[factory_lib.AggregationFactory] = None,
    metrics_aggregator: Optional[metrics_aggregator_lib.MetricsAggregator] = None,
    client_epochs: int = 1,
    max_client_steps: Optional[int] = None,
) -> learning_process.LearningProcess:
    """FedAvg with clients weighted by their example count (or as `client_weighting` says).

    Args:
      model_fn: a no-argument function returning a new `VariableModel` (build the
        Keras model inside it), or a `FunctionalModel`.
      client_optimizer_fn: a `tffl.learning.optimizers.Optimizer`, or a no-argument
        function returning a `tf.keras.optimizers.Optimizer`.
      server_optimizer_fn: the same kinds; default `build_sgdm(learning_rate=1.0)`.
      client_weighting: `ClientWeighting.NUM_EXAMPLES` (default) or `UNIFORM`.
      model_distributor: default: broadcast.
      model_aggregator: an aggregation factory; default `MeanFactory()`. An
        unweighted one (e.g. `tffl.learning.dp_aggregator`) ignores the weights,
        so every client counts equally (as in TFF).
      metrics_aggregator: default `sum_then_finalize`.
      client_epochs: passes over each client's data per round.
      max_client_steps: at most this many batches per client per round.

    Returns:
      A `LearningProcess` whose `next(state, client_data)` runs one round; its
      metrics are `metrics['client_work']['train'][name]`, `metrics['aggregator']`,
      `metrics['finalizer']`, `metrics['distributor']`.
    """
    if client_weighting is None:
        client_weighting = client_weighting_lib.ClientWeighting.NUM_EXAMPLES
    return build_fed_avg_process(
        model_fn,
        client_optimizer_fn,
        server_optimizer_fn,
        client_weighting,
        model_distributor,
        model_aggregator or mean_lib.MeanFactory(),
        metrics_aggregator,
        client_epochs,
        max_client_steps,
        proximal_strength=0.0,
    )


def build_unweighted_fed_avg(
    model_fn: Any,
    client_optimizer_fn: Any,
    server_optimizer_fn: Any = None,
    model_distributor: Optional[distributors.DistributionProcess] = None,
    model_aggregator: Optional[factory_lib.AggregationFactory] = None,
    metrics_aggregator: Optional[metrics_aggregator_lib.MetricsAggregator] = None,
    client_epochs: int = 1,
    max_client_steps: Optional[int] = None,
) -> learning_process.LearningProcess:
    """FedAvg with every client's update counted equally.

    Args as `build_weighted_fed_avg`; `model_aggregator` defaults to
    `UnweightedMeanFactory()`, and a weighted one gets a weight of 1 per client.
    DP-FedAvg is this with `model_aggregator=tffl.learning.dp_aggregator(...)`.
    """
    return build_fed_avg_process(
        model_fn,
        client_optimizer_fn,
        server_optimizer_fn,
        client_weighting_lib.ClientWeighting.UNIFORM,
        model_distributor,
        model_aggregator or mean_lib.UnweightedMeanFactory(),
        metrics_aggregator,
        client_epochs,
        max_client_steps,
        proximal_strength=0.0,
    )


def build_fed_avg_process(
    model_fn,
    client_optimizer_fn,
    server_optimizer_fn,
    client_weighting,
    model_distributor,
    model_aggregator,
    metrics_aggregator,
    client_epochs,
    max_client_steps,
    proximal_strength,
) -> learning_process.LearningProcess:
    """The FedAvg-shaped process both FedAvg variants and FedProx build."""
    client_work = model_delta_client_work.build_model_delta_client_work(
        model_fn,
        client_optimizer_fn,
        client_weighting,
        metrics_aggregator,
        proximal_strength=proximal_strength,
        client_epochs=client_epochs,
        max_client_steps=max_client_steps,
    )
    return composition.compose(
        model_fn,
        client_work,
        server_optimizer_fn or optimizers_lib.build_sgdm(learning_rate=1.0),
        model_distributor,
        model_aggregator,
    )
