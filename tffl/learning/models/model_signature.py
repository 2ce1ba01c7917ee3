"""What the algorithms need to know of a model before tracing: its weights, data, metrics."""

from __future__ import annotations

from typing import Any
from typing import Callable
from typing import Mapping
from typing import NamedTuple

import tensorflow as tf

from tffl.learning.models import functional
from tffl.learning.models import model_weights
from tffl.learning.models import variable_model
from tffl.types import computation_types

ModelFn = Callable[[], variable_model.VariableModel]


class ModelSignature(NamedTuple):
    """The types of a model's weights, of one batch of its data, and of its metrics.

    Attributes:
      weights_type: `<trainable=<...>,non_trainable=<...>>` (container `ModelWeights`).
      batch_type: the type of one batch (from the model's `input_spec`).
      unfinalized_metrics_type: the type of `report_local_unfinalized_metrics()`.
      metric_finalizers: the model's finalizers, by metric name.
    """

    weights_type: computation_types.StructType
    batch_type: computation_types.Type
    unfinalized_metrics_type: computation_types.StructType
    metric_finalizers: Mapping[str, variable_model.MetricFinalizer]


def as_model_fn(model: Any) -> ModelFn:
    """A no-argument function building a fresh `VariableModel` each call.

    Accepts such a function, or a `FunctionalModel` (wrapped with
    `model_from_functional`).

    Raises:
      TypeError: naming what was expected and what was given.
    """
    if isinstance(model, functional.FunctionalModel):
        return lambda: functional.model_from_functional(model)
    if isinstance(model, variable_model.VariableModel) or not callable(model):
        raise TypeError(
            "model_fn: expected a no-argument function returning a "
            "tffl.learning.models.VariableModel (it must build a new model on each call), "
            f"or a FunctionalModel; got {type(model).__name__}"
        )

    def model_fn() -> variable_model.VariableModel:
        built = model()
        if not isinstance(built, variable_model.VariableModel):
            raise TypeError(
                "model_fn: expected it to return a tffl.learning.models.VariableModel "
                f"(wrap Keras models with from_keras_model), got {type(built).__name__}"
            )
        return built

    return model_fn


def inspect_model(model_fn: ModelFn) -> ModelSignature:
    """Builds the model once in a throwaway graph and reads its types."""
    with tf.Graph().as_default():
        model = model_fn()
        weights_type = model_weights.weights_type_from_model(lambda: model)
        batch_type = computation_types.to_type(model.input_spec)
        unfinalized = model.report_local_unfinalized_metrics()
        unfinalized_type = computation_types.to_type(
            type(unfinalized)(
                (name, [computation_types.TensorType(t.dtype, t.shape) for t in values])
                for name, values in unfinalized.items()
            )
        )
        finalizers = model.metric_finalizers()
    return ModelSignature(weights_type, batch_type, unfinalized_type, finalizers)
