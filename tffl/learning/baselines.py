"""Centralized baselines: the same `model_fn` trained and evaluated by a plain TF loop.

Federated results are judged against these: a centralized model trained on all
the data at once is what federated training approaches at best.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Optional

import tensorflow as tf

from tffl.learning import optimizers as optimizers_lib
from tffl.learning.models import model_signature
from tffl.learning.models import model_weights as model_weights_lib
from tffl.learning.templates import model_delta_client_work


def train_centralized(
    model_fn: Any,
    dataset: tf.data.Dataset,
    optimizer_fn: Any,
    epochs: int = 1,
    initial_weights: Optional[model_weights_lib.ModelWeights] = None,
) -> model_weights_lib.ModelWeights:
    """Trains one model on a batched dataset in a single `tf.function`; returns its weights.

    Args:
      model_fn: a no-argument function returning a new `VariableModel`, or a
        `FunctionalModel`.
      dataset: batches shaped like the model's `input_spec`.
      optimizer_fn: a `tffl.learning.optimizers.Optimizer`, or a no-argument
        function returning a `tf.keras.optimizers.Optimizer`.
      epochs: passes over the dataset.
      initial_weights: where to start (default: the model's own initialization).
    """
    model = model_signature.as_model_fn(model_fn)()
    if initial_weights is not None:
        initial_weights.assign_weights_to(model)
    optimizer = model_delta_client_work.client_optimizer(optimizer_fn, "optimizer_fn")
    model_delta_client_work.check_training_options(epochs, None, "epochs")
    if not isinstance(optimizer, optimizers_lib.Optimizer):
        # One Keras optimizer for the whole run, built outside the tf.function, so that
        # tracing does not build it (and its variables) again.
        keras_optimizer = optimizer()
        if not isinstance(keras_optimizer, tf.keras.optimizers.Optimizer):
            raise TypeError(
                "optimizer_fn: expected it to return a tf.keras.optimizers.Optimizer, "
                f"got {type(keras_optimizer).__name__}"
            )
        optimizer = lambda: keras_optimizer  # noqa: E731 - the form train_on_dataset takes.

    @tf.function
    def train(batches):
        return model_delta_client_work.train_on_dataset(model, optimizer, batches)

    train(model_delta_client_work.prepare_dataset(dataset, epochs, None))
    return model_weights_lib.ModelWeights.from_model(model).convert_variables_to_arrays()


def evaluate_centralized(
    model_fn: Any, model_weights: model_weights_lib.ModelWeights, dataset: tf.data.Dataset
) -> "collections.OrderedDict[str, Any]":
    """The model's finalized metrics (loss, accuracy, ...) over a batched dataset.

    >>> import collections, numpy as np, tensorflow as tf, tffl
    >>> spec = (tf.TensorSpec([None, 1]), tf.TensorSpec([None, 1]))
    >>> model = tffl.learning.models.FunctionalModel(
    ...     initial_weights=([np.full([1, 1], 2.0, np.float32)], []),
    ...     predict_on_batch_fn=lambda w, x, training: tf.matmul(x, w.trainable[0]),
    ...     loss_fn=lambda output, label: tf.reduce_mean(tf.square(output - label)),
    ...     input_spec=spec)
    >>> data = tf.data.Dataset.from_tensor_slices(([[1.0], [2.0]], [[1.0], [2.0]])).batch(2)
    >>> metrics = evaluate_centralized(model, model.initial_weights, data)
    >>> float(metrics['loss']), int(metrics['num_examples'])
    (2.5, 2)
    """
    model = model_signature.as_model_fn(model_fn)()
    model_weights.assign_weights_to(model)

    @tf.function
    def evaluate(batches):
        for batch in iter(batches):
            model.forward_pass(batch, training=False)
        return model.report_local_unfinalized_metrics()

    unfinalized = evaluate(dataset)
    return collections.OrderedDict(
        (name, finalize(list(unfinalized[name])).numpy())
        for name, finalize in model.metric_finalizers().items()
    )
