"""Federated SGD (McMahan et al., 2017; the FedSGD baseline of FedAvg's paper).

Each client computes the gradient of its loss over all its data at the server's
weights (the mean over its examples), without changing the model; the server
averages the gradients by example count and takes one optimizer step (SGD with
learning rate 0.1 by default).
"""

from __future__ import annotations

from typing import Any
from typing import Optional

import tensorflow as tf

from tffl.aggregators import factory as factory_lib
from tffl.aggregators import mean as mean_lib
from tffl.core import tensorflow_computation
from tffl.learning import optimizers as optimizers_lib
from tffl.learning.algorithms import composition
from tffl.learning.metrics import aggregator as metrics_aggregator_lib
from tffl.learning.models import model_signature
from tffl.learning.models import model_weights as model_weights_lib
from tffl.learning.templates import client_works
from tffl.learning.templates import distributors
from tffl.learning.templates import learning_process
from tffl.learning.templates import model_delta_client_work
from tffl.types import computation_types


def build_fed_sgd(
    model_fn: Any,
    server_optimizer_fn: Any = None,
    model_distributor: Optional[distributors.DistributionProcess] = None,
    model_aggregator: Optional[factory_lib.AggregationFactory] = None,
    metrics_aggregator: Optional[metrics_aggregator_lib.MetricsAggregator] = None,
) -> learning_process.LearningProcess:
    """FedSGD: one server step per round on the clients' averaged gradients.

    Args:
      model_fn: a no-argument function returning a new `VariableModel`, or a
        `FunctionalModel`.
      server_optimizer_fn: a `tffl.learning.optimizers.Optimizer` or a no-argument
        function returning a Keras optimizer; default `build_sgdm(learning_rate=0.1)`.
      model_distributor: default: broadcast.
      model_aggregator: default `MeanFactory()` (weighted by example count).
      metrics_aggregator: default `sum_then_finalize`.
    """
    model_fn = model_signature.as_model_fn(model_fn)
    signature = model_signature.inspect_model(model_fn)
    data_type = computation_types.SequenceType(signature.batch_type)

    @tensorflow_computation.tf_computation(signature.weights_type, data_type)
    def client_update(initial_weights, dataset):
        model = model_fn()
        model_weights_lib.ModelWeights(
            list(initial_weights.trainable), list(initial_weights.non_trainable)
        ).assign_weights_to(model)
        trainable = model.trainable_variables
        # A tuple, not a list: tf.data's loop would stack a list into one tensor.
        gradient_sum = tuple(tf.zeros(v.shape, v.dtype) for v in trainable)
        num_examples = tf.constant(0, tf.int64)
        for batch in iter(model_delta_client_work.lean_pipeline(dataset)):
            with tf.GradientTape() as tape:
                output = model.forward_pass(batch, training=True)
            gradients = tape.gradient(output.loss, trainable)
            batch_examples = tf.cast(output.num_examples, tf.float32)
            # The batch loss is a mean: weight it by the batch's examples.
            gradient_sum = tuple(s + g * batch_examples for s, g in zip(gradient_sum, gradients))
            num_examples += tf.cast(output.num_examples, tf.int64)
        total = tf.maximum(tf.cast(num_examples, tf.float32), 1.0)
        gradient = [s / total for s in gradient_sum]
        update, weight = model_delta_client_work.zero_if_not_finite(
            gradient, tf.cast(num_examples, tf.float32)
        )
        return (
            client_works.ClientResult(update, weight),
            model.report_local_unfinalized_metrics(),
        )

    client_work = model_delta_client_work.build_client_work_process(
        client_update, signature, metrics_aggregator, measurement_name="train"
    )
    return composition.compose(
        model_fn,
        client_work,
        server_optimizer_fn or optimizers_lib.build_sgdm(learning_rate=0.1),
        model_distributor,
        model_aggregator or mean_lib.MeanFactory(),
    )
