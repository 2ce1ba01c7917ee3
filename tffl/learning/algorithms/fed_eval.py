"""Federated evaluation: the server's model evaluated on each client's data.

A learning process whose weights never change (set them with
`set_model_weights`); each round reports the model's metrics over this round's
clients, `metrics['client_work']['eval']['current_round_metrics']`, and over all
rounds so far, `...['total_rounds_metrics']` (the state keeps the summed
unfinalized metrics).
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Optional

import tensorflow as tf

from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.learning.algorithms import composition
from tffl.learning.metrics import aggregator as metrics_aggregator_lib
from tffl.learning.models import model_signature
from tffl.learning.models import model_weights as model_weights_lib
from tffl.learning.templates import client_works
from tffl.learning.templates import composers
from tffl.learning.templates import distributors
from tffl.learning.templates import finalizers
from tffl.learning.templates import learning_process
from tffl.learning.templates import model_delta_client_work
from tffl.templates import aggregation_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements

_EMPTY = computation_types.StructType([])


def _zeros(type_spec):
    if isinstance(type_spec, computation_types.StructType):
        values = [_zeros(t) for t in type_spec]
        names = type_spec.names()
        if all(n is not None for n in names):
            return collections.OrderedDict(zip(names, values))
        return values
    return tf.zeros(type_spec.shape, type_spec.dtype)


def _build_eval_client_work(model_fn, signature, metrics_aggregator):
    data_type = computation_types.SequenceType(signature.batch_type)
    unfinalized_type = signature.unfinalized_metrics_type

    @tensorflow_computation.tf_computation(signature.weights_type, data_type)
    def client_eval(weights, dataset):
        model = model_fn()
        model_weights_lib.ModelWeights(
            list(weights.trainable), list(weights.non_trainable)
        ).assign_weights_to(model)
        for batch in iter(model_delta_client_work.lean_pipeline(dataset)):
            model.forward_pass(batch, training=False)
        return (
            client_works.ClientResult((), tf.constant(0.0)),
            model.report_local_unfinalized_metrics(),
        )

    @tensorflow_computation.tf_computation()
    def zero_metrics():
        return _zeros(unfinalized_type)

    @tensorflow_computation.tf_computation(unfinalized_type, unfinalized_type)
    def add(total, summed):
        return tf.nest.map_structure(tf.add, total, summed)

    finalize = metrics_aggregator_lib.build_finalizer(signature.metric_finalizers, unfinalized_type)
    current_metrics = (
        metrics_aggregator(signature.metric_finalizers, unfinalized_type)
        if metrics_aggregator is not None
        else None
    )

    @federated_computation.federated_computation()
    def initialize():
        return intrinsics.federated_eval(zero_metrics, placements.SERVER)

    @federated_computation.federated_computation(
        initialize.type_signature.result,
        computation_types.FederatedType(signature.weights_type, placements.CLIENTS),
        computation_types.FederatedType(data_type, placements.CLIENTS),
    )
    def next_fn(state, weights, client_data):
        outputs = intrinsics.federated_map(
            client_eval, intrinsics.federated_zip((weights, client_data))
        )
        summed = intrinsics.federated_sum(outputs[1])
        total = intrinsics.federated_map(add, intrinsics.federated_zip((state, summed)))
        if current_metrics is None:
            current = intrinsics.federated_map(finalize, summed)
        else:
            current = current_metrics(outputs[1])
        evaluation = intrinsics.federated_zip(
            collections.OrderedDict(
                current_round_metrics=current,
                total_rounds_metrics=intrinsics.federated_map(finalize, total),
            )
        )
        return measured_process.MeasuredProcessOutput(
            total,
            outputs[0],
            intrinsics.federated_zip(collections.OrderedDict(eval=evaluation)),
        )

    return client_works.ClientWorkProcess(initialize, next_fn)


def _build_no_op_aggregator(value_type) -> aggregation_process.AggregationProcess:
    @federated_computation.federated_computation()
    def initialize():
        return intrinsics.federated_value((), placements.SERVER)

    @federated_computation.federated_computation(
        initialize.type_signature.result,
        computation_types.FederatedType(value_type, placements.CLIENTS),
    )
    def next_fn(state, value):
        del value  # Evaluation sends no update.
        empty = intrinsics.federated_value((), placements.SERVER)
        return measured_process.MeasuredProcessOutput(state, empty, empty)

    return aggregation_process.AggregationProcess(initialize, next_fn)


def _build_identity_finalizer(weights_type) -> finalizers.FinalizerProcess:
    @federated_computation.federated_computation()
    def initialize():
        return intrinsics.federated_value((), placements.SERVER)

    @federated_computation.federated_computation(
        initialize.type_signature.result,
        computation_types.FederatedType(weights_type, placements.SERVER),
        computation_types.FederatedType(_EMPTY, placements.SERVER),
    )
    def next_fn(state, weights, update):
        del update
        return measured_process.MeasuredProcessOutput(
            state, weights, intrinsics.federated_value((), placements.SERVER)
        )

    return finalizers.FinalizerProcess(initialize, next_fn)


def build_fed_eval(
    model_fn: Any,
    model_distributor: Optional[distributors.DistributionProcess] = None,
    metrics_aggregator: Optional[metrics_aggregator_lib.MetricsAggregator] = None,
) -> learning_process.LearningProcess:
    """A learning process that evaluates the model in its state on the clients' data.

    Args:
      model_fn: a no-argument function returning a new `VariableModel`, or a
        `FunctionalModel`.
      model_distributor: default: broadcast.
      metrics_aggregator: aggregates this round's metrics (default
        `sum_then_finalize`); the total over rounds always sums then finalizes.
    """
    model_fn = model_signature.as_model_fn(model_fn)
    signature = model_signature.inspect_model(model_fn)
    initial_weights_fn = composition.build_initial_weights_fn(model_fn)
    weights_type = initial_weights_fn.type_signature.result
    return composers.compose_learning_process(
        initial_weights_fn,
        model_distributor or distributors.build_broadcast_process(weights_type),
        _build_eval_client_work(model_fn, signature, metrics_aggregator),
        _build_no_op_aggregator(_EMPTY),
        _build_identity_finalizer(weights_type),
    )
