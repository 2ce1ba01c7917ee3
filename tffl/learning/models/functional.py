"""The functional model form: weights as values and pure functions over them.

A `FunctionalModel` holds initial weights and two functions,
`predict_on_batch_fn(weights, x, training)` and `loss_fn(output, label)`, with no
variables of its own. `model_from_functional` turns one into a `VariableModel`
(variables made from the initial weights), which is how the algorithms train it.
"""

from __future__ import annotations

from typing import Any
from typing import Callable
from typing import List
from typing import Optional
from typing import Sequence

import numpy as np
import tensorflow as tf

from tffl.core import autograph_rules
from tffl.learning.models import keras_metrics
from tffl.learning.models import keras_model
from tffl.learning.models import model_weights
from tffl.learning.models import variable_model


class FunctionalModel:
    """A model given as initial weights and pure functions.

    Args:
      initial_weights: `(trainable, non_trainable)`, each a sequence of arrays.
      predict_on_batch_fn: `(weights, x, training) -> predictions`, where `weights`
        is a `ModelWeights` of tensors (variables, during training).
      loss_fn: `(output, label) -> scalar loss` for a batch.
      input_spec: the structure of one batch, `(x_spec, y_spec)` or `{'x':..., 'y':...}`.

    >>> import numpy as np, tensorflow as tf
    >>> model = FunctionalModel(
    ...     initial_weights=([np.zeros([2, 1], np.float32)], []),
    ...     predict_on_batch_fn=lambda w, x, training: tf.matmul(x, w.trainable[0]),
    ...     loss_fn=lambda output, label: tf.reduce_mean((output - label) ** 2),
    ...     input_spec=(tf.TensorSpec([None, 2]), tf.TensorSpec([None, 1])))
    >>> [w.shape for w in model.initial_weights.trainable]
    [(2, 1)]
    """

    def __init__(
        self,
        *,
        initial_weights: Any,
        predict_on_batch_fn: Callable[..., Any],
        loss_fn: Callable[[Any, Any], Any],
        input_spec: Any,
    ):
        if not isinstance(initial_weights, (tuple, list)) or len(initial_weights) != 2:
            raise TypeError(
                "initial_weights: expected (trainable, non_trainable), "
                f"got {type(initial_weights).__name__}"
            )
        for name, fn in (("predict_on_batch_fn", predict_on_batch_fn), ("loss_fn", loss_fn)):
            if not callable(fn):
                raise TypeError(f"{name}: expected a function, got {type(fn).__name__}")
        keras_model.split_batch(input_spec, "input_spec")
        self.initial_weights = model_weights.ModelWeights(
            [np.asarray(w) for w in initial_weights[0]],
            [np.asarray(w) for w in initial_weights[1]],
        )
        self.predict_on_batch = predict_on_batch_fn
        self.loss = loss_fn
        self.input_spec = input_spec


class _VariableModelOfFunctional(variable_model.VariableModel):
    def __init__(self, functional: FunctionalModel, metric_constructors):
        self._functional = functional
        initial = functional.initial_weights
        self._trainable = [tf.Variable(w, trainable=True) for w in initial.trainable]
        self._non_trainable = [tf.Variable(w, trainable=False) for w in initial.non_trainable]
        self._metrics = keras_metrics.KerasMetrics(metric_constructors)

    @property
    def trainable_variables(self) -> List[tf.Variable]:
        return list(self._trainable)

    @property
    def non_trainable_variables(self) -> List[tf.Variable]:
        return list(self._non_trainable)

    @property
    def local_variables(self) -> List[tf.Variable]:
        return self._metrics.variables

    @property
    def input_spec(self):
        return self._functional.input_spec

    def predict_on_batch(self, x, training=True):
        weights = model_weights.ModelWeights(self._trainable, self._non_trainable)
        predict = autograph_rules.user_function(self._functional.predict_on_batch)
        return predict(weights, x, training)

    def forward_pass(self, batch_input, training=True):
        x, y = keras_model.split_batch(batch_input)
        predictions = self.predict_on_batch(x, training)
        loss = autograph_rules.user_function(self._functional.loss)(predictions, y)
        num_examples = keras_model.batch_size(x)
        self._metrics.update(y, predictions, loss, num_examples)
        return variable_model.BatchOutput(loss, predictions, num_examples)

    def report_local_unfinalized_metrics(self):
        return self._metrics.report()

    def metric_finalizers(self):
        return self._metrics.finalizers()

    def reset_metrics(self):
        self._metrics.reset()


def model_from_functional(
    functional_model: FunctionalModel,
    metric_constructors: Optional[Sequence[Callable[[], tf.keras.metrics.Metric]]] = None,
) -> variable_model.VariableModel:
    """A `VariableModel` whose variables start at the functional model's initial weights.

    Args:
      functional_model: the model.
      metric_constructors: no-argument functions returning Keras metrics; `loss`,
        `num_examples` and `num_batches` are always reported as well.
    """
    if not isinstance(functional_model, FunctionalModel):
        raise TypeError(
            "functional_model: expected a tffl.learning.models.FunctionalModel, "
            f"got {type(functional_model).__name__}"
        )
    return _VariableModelOfFunctional(functional_model, metric_constructors)
