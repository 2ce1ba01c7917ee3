"""Model weights as values that flow through computations: trainable and non-trainable."""

from __future__ import annotations

from typing import Any
from typing import Callable
from typing import List
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tffl.learning.models import variable_model
from tffl.types import computation_types


class ModelWeights(NamedTuple):
    """A model's weights: lists of trainable and of non-trainable tensors, in model order.

    >>> import tensorflow as tf
    >>> keras_model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    >>> weights = ModelWeights.from_model(keras_model)
    >>> [w.shape for w in weights.trainable], weights.non_trainable
    ([TensorShape([3, 2]), TensorShape([2])], [])
    """

    trainable: Any
    non_trainable: Any

    @classmethod
    def from_model(cls, model: Any) -> "ModelWeights":
        """The variables of a `VariableModel` or Keras model, as `ModelWeights`."""
        if isinstance(model, (variable_model.VariableModel, tf.keras.Model)):
            return cls(list(model.trainable_variables), list(model.non_trainable_variables))
        raise TypeError(
            f"expected a tffl.learning.models.VariableModel or a tf.keras.Model, "
            f"got {type(model).__name__}"
        )

    def assign_weights_to(self, model: Any) -> None:
        """Assigns these weights to a `VariableModel`'s or Keras model's variables.

        Raises:
          ValueError: if the number of weights does not match the model's.
        """
        variables = ModelWeights.from_model(model)
        for part in ("trainable", "non_trainable"):
            targets, values = getattr(variables, part), list(getattr(self, part))
            if len(targets) != len(values):
                raise ValueError(
                    f"{part} weights: expected {len(targets)} tensors for the model, "
                    f"got {len(values)}"
                )
            for target, value in zip(targets, values):
                target.assign(value)

    def convert_variables_to_arrays(self) -> "ModelWeights":
        """The same weights as numpy arrays (reads variables once)."""
        return ModelWeights(
            [np.asarray(tf.convert_to_tensor(w)) for w in self.trainable],
            [np.asarray(tf.convert_to_tensor(w)) for w in self.non_trainable],
        )


def weights_type_from_model(model_fn: Callable[[], Any]) -> computation_types.StructType:
    """The tffl type of the weights of the model `model_fn` builds.

    `model_fn` runs once in a throwaway graph, so nothing is created eagerly.

    Returns:
      `<trainable=<...>,non_trainable=<...>>` with the container `ModelWeights`.
    """
    with tf.Graph().as_default():
        weights = ModelWeights.from_model(model_fn())
        trainable = [_tensor_type(v) for v in weights.trainable]
        non_trainable = [_tensor_type(v) for v in weights.non_trainable]
    return computation_types.StructType(
        [
            ("trainable", computation_types.StructType(trainable, list)),
            ("non_trainable", computation_types.StructType(non_trainable, list)),
        ],
        ModelWeights,
    )


def _tensor_type(variable) -> computation_types.TensorType:
    return computation_types.TensorType(variable.dtype.base_dtype, variable.shape)


def read_values(variables: List[tf.Variable]) -> List[tf.Tensor]:
    """The current values of variables, as tensors (for returning from a computation)."""
    return [tf.identity(v) for v in variables]
