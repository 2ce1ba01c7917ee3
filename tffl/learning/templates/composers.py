"""Composing a learning process from its four parts.

A round is: the distributor sends the server's weights to the clients, the client
work trains on each client's data, the aggregator combines the clients' updates,
and the finalizer applies the aggregate to the server's weights. Each part is a
measured process with its own state; the composed state holds them all beside
the model weights, and the round's metrics hold each part's measurements.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import NamedTuple

from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.learning.templates import client_works
from tffl.learning.templates import distributors
from tffl.learning.templates import finalizers
from tffl.learning.templates import learning_process
from tffl.templates import aggregation_process
from tffl.templates import iterative_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors


class LearningAlgorithmState(NamedTuple):
    """The state of a composed learning process (a struct at SERVER)."""

    global_model_weights: Any
    distributor: Any
    client_work: Any
    aggregator: Any
    finalizer: Any


def _check_part(value, expected_class, name: str) -> None:
    if not isinstance(value, expected_class):
        raise TypeError(f"{name}: expected {expected_class.__name__}, got {type(value).__name__}")


def _check_accepts(parameter, given, context: str) -> None:
    if not parameter.is_assignable_from(given):
        raise type_errors.TypeMismatchError(parameter, given, context)


def compose_learning_process(
    initial_model_weights_fn: iterative_process.Computation,
    model_weights_distributor: distributors.DistributionProcess,
    client_work: client_works.ClientWorkProcess,
    model_update_aggregator: aggregation_process.AggregationProcess,
    model_finalizer: finalizers.FinalizerProcess,
) -> learning_process.LearningProcess:
    """A `LearningProcess` running the four parts in order each round.

    The round's metrics are
    `OrderedDict(distributor=..., client_work=..., aggregator=..., finalizer=...)`,
    each part's measurements.

    Args:
      initial_model_weights_fn: a `tf_computation` of no parameter returning the
        initial `ModelWeights`.
      model_weights_distributor: sends the weights to the clients.
      client_work: trains on each client's data, returning updates.
      model_update_aggregator: aggregates the clients' updates at SERVER.
      model_finalizer: applies the aggregate to the weights.

    Raises:
      TypeError: naming the expected and the given type where two parts disagree.
    """
    iterative_process.check_computation(initial_model_weights_fn, "initial_model_weights_fn")
    _check_part(model_weights_distributor, distributors.DistributionProcess, "distributor")
    _check_part(client_work, client_works.ClientWorkProcess, "client_work")
    _check_part(model_update_aggregator, aggregation_process.AggregationProcess, "aggregator")
    _check_part(model_finalizer, finalizers.FinalizerProcess, "finalizer")
    weights_type = initial_model_weights_fn.type_signature.result
    distributor_type = model_weights_distributor.next.type_signature
    client_work_type = client_work.next.type_signature
    finalizer_type = model_finalizer.next.type_signature
    data_type = client_work_type.parameter[2]
    update_type = client_work_type.result[1].member[0]
    # Each part must accept what the previous one gives; checked here, so the error
    # names the part rather than surfacing while the round is traced.
    _check_accepts(
        distributor_type.parameter[1].member, weights_type, "distributor value (model weights)"
    )
    _check_accepts(
        client_work_type.parameter[1].member,
        distributor_type.result[1].member,
        "client_work weights (from the distributor)",
    )
    _check_accepts(
        model_update_aggregator.value_type, update_type, "aggregator value (client update)"
    )
    _check_accepts(
        finalizer_type.parameter[1].member, weights_type, "finalizer weights (model weights)"
    )
    _check_accepts(
        finalizer_type.parameter[2].member,
        model_update_aggregator.result_type,
        "finalizer update (from the aggregator)",
    )

    @federated_computation.federated_computation()
    def initialize():
        return intrinsics.federated_zip(
            LearningAlgorithmState(
                global_model_weights=intrinsics.federated_eval(
                    initial_model_weights_fn, placements.SERVER
                ),
                distributor=model_weights_distributor.initialize(),
                client_work=client_work.initialize(),
                aggregator=model_update_aggregator.initialize(),
                finalizer=model_finalizer.initialize(),
            )
        )

    state_type = initialize.type_signature.result

    @federated_computation.federated_computation(state_type, data_type)
    def next_fn(state, client_data):
        weights = state.global_model_weights
        distributed = model_weights_distributor.next(state.distributor, weights)
        trained = client_work.next(state.client_work, distributed.result, client_data)
        if model_update_aggregator.is_weighted:
            aggregated = model_update_aggregator.next(
                state.aggregator, trained.result.update, trained.result.update_weight
            )
        else:
            aggregated = model_update_aggregator.next(state.aggregator, trained.result.update)
        finalized = model_finalizer.next(state.finalizer, weights, aggregated.result)
        new_state = intrinsics.federated_zip(
            LearningAlgorithmState(
                global_model_weights=finalized.result,
                distributor=distributed.state,
                client_work=trained.state,
                aggregator=aggregated.state,
                finalizer=finalized.state,
            )
        )
        metrics = intrinsics.federated_zip(
            collections.OrderedDict(
                distributor=distributed.measurements,
                client_work=trained.measurements,
                aggregator=aggregated.measurements,
                finalizer=finalized.measurements,
            )
        )
        return learning_process.LearningProcessOutput(new_state, metrics)

    get_model_weights, set_model_weights = build_weights_accessors(state_type.member, weights_type)
    return learning_process.LearningProcess(
        initialize, next_fn, get_model_weights, set_model_weights
    )


def build_weights_accessors(state_member_type: computation_types.Type, weights_type):
    """`get_model_weights: (S -> W)` and `set_model_weights: (<S,W> -> S)` for a state
    struct whose first element is the model weights."""

    @tensorflow_computation.tf_computation(state_member_type)
    def get_model_weights(state):
        return state[0]

    @tensorflow_computation.tf_computation(state_member_type, weights_type)
    def set_model_weights(state, model_weights):
        return type(state)(model_weights, *state[1:])

    return get_model_weights, set_model_weights
