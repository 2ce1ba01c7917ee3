"""The parts every training algorithm shares: initial weights, distributor, finalizer."""

from __future__ import annotations

from typing import Any
from typing import Optional

from tffl.aggregators import factory as factory_lib
from tffl.core import tensorflow_computation
from tffl.learning.models import model_signature
from tffl.learning.models import model_weights as model_weights_lib
from tffl.learning.templates import client_works
from tffl.learning.templates import composers
from tffl.learning.templates import distributors
from tffl.learning.templates import finalizers
from tffl.learning.templates import learning_process
from tffl.types import computation_types


def build_initial_weights_fn(model_fn: Any):
    """A `tf_computation` of no parameter returning the weights of a freshly built model."""
    model_fn = model_signature.as_model_fn(model_fn)

    @tensorflow_computation.tf_computation()
    def initial_model_weights():
        weights = model_weights_lib.ModelWeights.from_model(model_fn())
        return model_weights_lib.ModelWeights(
            model_weights_lib.read_values(weights.trainable),
            model_weights_lib.read_values(weights.non_trainable),
        )

    return initial_model_weights


def create_aggregator(model_aggregator: Any, update_type: computation_types.Type, weighted: bool):
    """The aggregation process the factory makes for the clients' updates."""
    if weighted:
        if not isinstance(model_aggregator, factory_lib.WeightedAggregationFactory):
            raise TypeError(
                "model_aggregator: expected a weighted aggregation factory (e.g. "
                f"tffl.aggregators.MeanFactory()), got {type(model_aggregator).__name__}"
            )
        return model_aggregator.create(update_type, computation_types.TensorType("float32"))
    if not isinstance(model_aggregator, factory_lib.UnweightedAggregationFactory):
        raise TypeError(
            "model_aggregator: expected an unweighted aggregation factory (e.g. "
            f"tffl.aggregators.UnweightedMeanFactory()), got {type(model_aggregator).__name__}"
        )
    return model_aggregator.create(update_type)


def compose(
    model_fn: Any,
    client_work: client_works.ClientWorkProcess,
    server_optimizer_fn: Any,
    model_distributor: Optional[distributors.DistributionProcess],
    model_aggregator: Any,
) -> learning_process.LearningProcess:
    """The learning process of `client_work` with the usual server side around it."""
    initial_weights_fn = build_initial_weights_fn(model_fn)
    weights_type = initial_weights_fn.type_signature.result
    update_type = client_work.next.type_signature.result[1].member[0]
    weighted = isinstance(model_aggregator, factory_lib.WeightedAggregationFactory)
    return composers.compose_learning_process(
        initial_weights_fn,
        model_distributor or distributors.build_broadcast_process(weights_type),
        client_work,
        create_aggregator(model_aggregator, update_type, weighted),
        finalizers.build_apply_optimizer_finalizer(server_optimizer_fn, weights_type),
    )
