"""Three reference programs, with the exact TFF signatures they must trace to.

Each `build_*` function traces its program afresh and returns the computation, so
a suite can run the same programs under every context and compare the results:

* `build_mean_program`: the mean of client temperatures, converted to Celsius,
  `({float32}@CLIENTS -> float32@SERVER)`.
* `build_threshold_program`: the fraction of clients whose reading is above a
  SERVER threshold, via broadcast and an implicit zip,
  `(<readings={float32}@CLIENTS,threshold=float32@SERVER> -> float32@SERVER)`.
* `build_fedavg_round`: one round of federated averaging (McMahan et al., 2017,
  "Communication-Efficient Learning of Deep Networks from Decentralized Data") of a
  linear model on MNIST-shaped batches,
  `(<model=<w=float32[784,10],b=float32[10]>@SERVER,data={<x=float32[?,784],y=int32[?]>*}@CLIENTS>
  -> <w=float32[784,10],b=float32[10]>@SERVER)`.
"""

from __future__ import annotations

import collections

import numpy as np
import tensorflow as tf

from tffl.core import computation_impl
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.types import computation_types
from tffl.types import placements

MODEL_TYPE = computation_types.to_type(
    collections.OrderedDict(w=(np.float32, [784, 10]), b=(np.float32, [10]))
)
BATCH_TYPE = computation_types.to_type(
    collections.OrderedDict(x=(np.float32, [None, 784]), y=(np.int32, [None]))
)
LEARNING_RATE = 0.1


def build_mean_program() -> computation_impl.ConcreteComputation:
    """The mean of client temperatures in Celsius: `({float32}@CLIENTS -> float32@SERVER)`."""

    @tensorflow_computation.tf_computation(np.float32)
    def to_celsius(f):
        return (f - 32.0) * 5.0 / 9.0

    @federated_computation.federated_computation(
        computation_types.FederatedType(np.float32, placements.CLIENTS)
    )
    def mean_celsius(temps):
        return intrinsics.federated_mean(intrinsics.federated_map(to_celsius, temps))

    return mean_celsius


def build_threshold_program() -> computation_impl.ConcreteComputation:
    """The fraction of clients above a SERVER threshold.

    `(<readings={float32}@CLIENTS,threshold=float32@SERVER> -> float32@SERVER)`.
    """

    @tensorflow_computation.tf_computation(np.float32, np.float32)
    def above(reading, threshold):
        return tf.cast(reading > threshold, tf.float32)

    @federated_computation.federated_computation(
        computation_types.FederatedType(np.float32, placements.CLIENTS),
        computation_types.FederatedType(np.float32, placements.SERVER),
    )
    def fraction_above(readings, threshold):
        return intrinsics.federated_mean(
            intrinsics.federated_map(above, [readings, intrinsics.federated_broadcast(threshold)])
        )

    return fraction_above


def build_fedavg_round() -> computation_impl.ConcreteComputation:
    """One round of federated averaging of a linear model.

    The SERVER model is broadcast; each client trains it with one SGD step per batch
    (`sequence_reduce`); the SERVER takes the mean of the client models weighted by
    their example counts and moves to it.
    """

    @tensorflow_computation.tf_computation(MODEL_TYPE, BATCH_TYPE)
    def batch_train(model, batch):
        w = tf.Variable(model["w"])
        b = tf.Variable(model["b"])
        with tf.GradientTape() as tape:
            logits = tf.matmul(batch["x"], w) + b
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch["y"], logits=logits)
            )
        grad_w, grad_b = tape.gradient(loss, [w, b])
        return collections.OrderedDict(w=w - LEARNING_RATE * grad_w, b=b - LEARNING_RATE * grad_b)

    @tensorflow_computation.tf_computation(computation_types.SequenceType(BATCH_TYPE))
    def example_count(dataset):
        return tf.cast(
            dataset.reduce(np.int64(0), lambda n, batch: n + tf.size(batch["y"], tf.int64)),
            tf.float32,
        )

    @tensorflow_computation.tf_computation(MODEL_TYPE, MODEL_TYPE)
    def server_update(model, mean):
        del model  # Plain FedAvg: the new model is the weighted mean of the client models.
        return mean

    @federated_computation.federated_computation(
        computation_types.FederatedType(MODEL_TYPE, placements.SERVER),
        computation_types.FederatedType(
            computation_types.SequenceType(BATCH_TYPE), placements.CLIENTS
        ),
    )
    def fedavg_round(model, data):
        client_model = intrinsics.federated_broadcast(model)
        trained = intrinsics.federated_map(
            lambda arg: intrinsics.sequence_reduce(arg[1], arg[0], batch_train),
            [client_model, data],
        )
        weights = intrinsics.federated_map(example_count, data)
        mean = intrinsics.federated_mean(trained, weight=weights)
        return intrinsics.federated_map(server_update, [model, mean])

    return fedavg_round
