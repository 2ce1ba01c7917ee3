"""Finalizer processes: how the server turns the aggregated update into new weights."""

from __future__ import annotations

import collections
from typing import Any

import tensorflow as tf

from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.learning import optimizers as optimizers_lib
from tffl.learning.models import model_weights as model_weights_lib
from tffl.templates import iterative_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors


class FinalizerProcess(measured_process.MeasuredProcess):
    """A measured process `(<S@SERVER,W@SERVER,U@SERVER> -> <S@SERVER,W@SERVER,M@SERVER>)`.

    Raises:
      TypeError: naming the expected and the given type, if the weights or the
        update are not at SERVER, or the new weights differ in type from the old.
    """

    def __init__(
        self, initialize_fn: iterative_process.Computation, next_fn: iterative_process.Computation
    ):
        super().__init__(initialize_fn, next_fn, next_is_multi_arg=True)
        next_type = next_fn.type_signature
        parameter = next_type.parameter
        if len(parameter) != 3:
            raise TypeError(
                "next_fn: expected parameters <state@SERVER,weights@SERVER,update@SERVER>, "
                f"got {parameter}"
            )
        for index, name in ((1, "weights"), (2, "update")):
            if not (
                isinstance(parameter[index], computation_types.FederatedType)
                and parameter[index].placement == placements.SERVER
            ):
                raise type_errors.TypeMismatchError(
                    "T@SERVER", parameter[index], f"next_fn {name} parameter"
                )
        if not parameter[1].is_assignable_from(next_type.result[1]):
            raise type_errors.TypeMismatchError(
                parameter[1], next_type.result[1], "next_fn result weights"
            )


def _specs(type_spec: computation_types.StructType):
    return [tf.TensorSpec(t.shape, t.dtype) for t in type_spec]


def build_apply_optimizer_finalizer(
    optimizer_fn: Any, model_weights_type: computation_types.StructType
) -> FinalizerProcess:
    """A finalizer that applies the server optimizer to the trainable weights.

    The aggregated update is used as a gradient (`weights - learning_rate * update`
    for SGD). An update with a non-finite value is not applied: the weights stay as
    they were and the measurement `update_non_finite` is 1 for that round.

    Args:
      optimizer_fn: a `tffl.learning.optimizers.Optimizer`, or a no-argument function
        returning a `tf.keras.optimizers.Optimizer`.
      model_weights_type: the type of the `ModelWeights` (see `weights_type_from_model`).

    >>> import numpy as np, tffl
    >>> weights_type = tffl.to_type(tffl.learning.models.ModelWeights([np.float32], []))
    >>> finalizer = build_apply_optimizer_finalizer(
    ...     tffl.learning.optimizers.build_sgdm(learning_rate=0.5), weights_type)
    >>> weights = tffl.learning.models.ModelWeights([np.float32(1.0)], [])
    >>> output = finalizer.next(finalizer.initialize(), weights, [np.float32(4.0)])
    >>> float(output.result.trainable[0]), output.measurements['update_non_finite']
    (-1.0, 0)
    """
    optimizer = optimizers_lib.build_optimizer(optimizer_fn)
    model_weights_type = computation_types.to_type(model_weights_type)
    trainable_type = model_weights_type.trainable

    @tensorflow_computation.tf_computation()
    def initial_state():
        return optimizer.initialize(_specs(trainable_type))

    state_type = initial_state.type_signature.result

    @tensorflow_computation.tf_computation(state_type, model_weights_type, trainable_type)
    def apply(state, weights, update):
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(u)) for u in update])
        new_state, new_trainable = optimizer.next(state, list(weights.trainable), list(update))
        kept_state = tf.nest.map_structure(
            lambda new, old: tf.where(finite, new, old), new_state, state
        )
        kept = [tf.where(finite, new, old) for new, old in zip(new_trainable, weights.trainable)]
        return (
            kept_state,
            model_weights_lib.ModelWeights(kept, list(weights.non_trainable)),
            collections.OrderedDict(update_non_finite=tf.cast(tf.logical_not(finite), tf.int32)),
        )

    @federated_computation.federated_computation()
    def initialize():
        return intrinsics.federated_eval(initial_state, placements.SERVER)

    @federated_computation.federated_computation(
        initialize.type_signature.result,
        computation_types.FederatedType(model_weights_type, placements.SERVER),
        computation_types.FederatedType(trainable_type, placements.SERVER),
    )
    def next_fn(state, weights, update):
        applied = intrinsics.federated_map(
            apply, intrinsics.federated_zip((state, weights, update))
        )
        return measured_process.MeasuredProcessOutput(applied[0], applied[1], applied[2])

    return FinalizerProcess(initialize, next_fn)
