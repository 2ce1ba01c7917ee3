"""`from_keras_model`: a Keras model, a loss and an input spec as a `VariableModel`."""

from __future__ import annotations

import collections
from typing import Any
from typing import List
from typing import Optional
from typing import Sequence

import tensorflow as tf

from tffl.core import autograph_rules
from tffl.learning.models import keras_metrics
from tffl.learning.models import variable_model


def split_batch(batch_input: Any, context: str = "batch") -> tuple:
    """The (features, labels) of a batch given as `{'x': ..., 'y': ...}` or `(x, y)`."""
    if isinstance(batch_input, collections.abc.Mapping):
        if "x" not in batch_input or "y" not in batch_input:
            raise ValueError(
                f"{context}: expected a mapping with keys 'x' and 'y', "
                f"got keys {sorted(batch_input)}"
            )
        return batch_input["x"], batch_input["y"]
    if isinstance(batch_input, (tuple, list)) and len(batch_input) == 2:
        return batch_input[0], batch_input[1]
    raise ValueError(
        f"{context}: expected (x, y) or a mapping with keys 'x' and 'y', "
        f"got {type(batch_input).__name__}"
    )


def batch_size(x: Any) -> tf.Tensor:
    """The number of examples in a batch of features (the first leaf's leading dimension)."""
    return tf.shape(tf.nest.flatten(x)[0])[0]


class _KerasModel(variable_model.VariableModel):
    def __init__(self, keras_model, losses, loss_weights, input_spec, metrics):
        self._keras_model = keras_model
        self._losses = losses
        self._loss_weights = loss_weights
        self._input_spec = input_spec
        self._metrics = keras_metrics.KerasMetrics(metrics)

    @property
    def trainable_variables(self) -> List[tf.Variable]:
        return list(self._keras_model.trainable_variables)

    @property
    def non_trainable_variables(self) -> List[tf.Variable]:
        return list(self._keras_model.non_trainable_variables)

    @property
    def local_variables(self) -> List[tf.Variable]:
        return self._metrics.variables

    @property
    def input_spec(self) -> Any:
        return self._input_spec

    def predict_on_batch(self, x, training=True):
        return self._keras_model(x, training=training)

    def forward_pass(self, batch_input, training=True) -> variable_model.BatchOutput:
        x, y = split_batch(batch_input)
        predictions = self.predict_on_batch(x, training)
        if len(self._losses) == 1:
            loss = self._loss_weights[0] * _converted(self._losses[0])(y, predictions)
        else:
            loss = tf.add_n(
                [
                    weight * _converted(loss_fn)(label, output)
                    for loss_fn, weight, label, output in zip(
                        self._losses, self._loss_weights, y, predictions
                    )
                ]
            )
        if self._keras_model.losses:
            # Regularization terms the layers declared.
            loss = loss + tf.add_n(self._keras_model.losses)
        num_examples = batch_size(x)
        self._metrics.update(y, predictions, loss, num_examples)
        return variable_model.BatchOutput(loss, predictions, num_examples)

    def report_local_unfinalized_metrics(self):
        return self._metrics.report()

    def metric_finalizers(self):
        return self._metrics.finalizers()

    def reset_metrics(self):
        self._metrics.reset()


def _converted(loss_fn):
    """A loss as AutoGraph should call it: a Keras `Loss` converts its `call` itself; a
    plain function is the user's (see `autograph_rules.user_function`)."""
    if isinstance(loss_fn, tf.keras.losses.Loss):
        return loss_fn
    return autograph_rules.user_function(loss_fn)


def from_keras_model(
    keras_model: tf.keras.Model,
    loss: Any,
    input_spec: Any,
    metrics: Optional[Sequence[keras_metrics.MetricSpec]] = None,
    loss_weights: Optional[Sequence[float]] = None,
) -> variable_model.VariableModel:
    """Wraps an uncompiled Keras model for federated training.

    Call it inside the `model_fn` given to the learning algorithms, so each
    computation builds its own model:

    >>> import collections, tensorflow as tf
    >>> def model_fn():
    ...     keras_model = tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,))])
    ...     return from_keras_model(
    ...         keras_model,
    ...         loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...         input_spec=collections.OrderedDict(
    ...             x=tf.TensorSpec([None, 4], tf.float32), y=tf.TensorSpec([None], tf.int32)),
    ...         metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])
    >>> list(model_fn().report_local_unfinalized_metrics())
    ['sparse_categorical_accuracy', 'loss', 'num_examples', 'num_batches']

    Args:
      keras_model: an uncompiled `tf.keras.Model`.
      loss: a Keras loss (a `tf.keras.losses.Loss` or a function `(y_true, y_pred)`),
        or a list of them, one per output of a multi-output model.
      input_spec: the structure of one batch, `(x_spec, y_spec)` or a mapping with
        keys `'x'` and `'y'`, of `tf.TensorSpec`s (leading dimension `None`).
      metrics: Keras metrics, or no-argument functions returning them; `loss`,
        `num_examples` and `num_batches` are always reported as well.
      loss_weights: with a list of losses, their weights (default: all 1.0).

    Raises:
      TypeError / ValueError: naming what was expected and what was given.
    """
    if not isinstance(keras_model, tf.keras.Model):
        raise TypeError(f"keras_model: expected a tf.keras.Model, got {type(keras_model).__name__}")
    if getattr(keras_model, "compiled_loss", None) is not None:
        raise ValueError(
            "keras_model: expected an uncompiled Keras model (give the loss and metrics "
            "to from_keras_model), got a compiled one"
        )
    for leaf in tf.nest.flatten(input_spec):
        if not isinstance(leaf, tf.TensorSpec):
            raise TypeError(f"input_spec: expected tf.TensorSpec leaves, got {type(leaf).__name__}")
    losses = list(loss) if isinstance(loss, (list, tuple)) else [loss]
    for index, loss_fn in enumerate(losses):
        if not callable(loss_fn):
            raise TypeError(
                f"loss[{index}]: expected a Keras loss or a function (y_true, y_pred), "
                f"got {type(loss_fn).__name__}"
            )
    _, label_spec = split_batch(input_spec, "input_spec")
    if len(losses) > 1 and len(losses) != len(tf.nest.flatten(label_spec)):
        raise ValueError(
            f"loss: expected {len(tf.nest.flatten(label_spec))} losses (one per output of "
            f"keras_model), got {len(losses)}"
        )
    if loss_weights is None:
        loss_weights = [1.0] * len(losses)
    elif len(loss_weights) != len(losses):
        raise ValueError(
            f"loss_weights: expected {len(losses)} weights (one per loss), got {len(loss_weights)}"
        )
    return _KerasModel(keras_model, losses, list(loss_weights), input_spec, metrics)
