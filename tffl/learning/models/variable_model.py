"""The model interface the learning algorithms train: variables, a forward pass, metrics.

A `VariableModel` is built afresh inside each TensorFlow computation that needs
it (by the user's `model_fn`), so its variables live only for that computation;
weights move in and out of it as `ModelWeights`. Metrics are reported
unfinalized (the variables of each metric, e.g. a total and a count), summed
across clients, and finalized on the server.
"""

from __future__ import annotations

import abc
import collections
from typing import Any
from typing import Callable
from typing import List
from typing import NamedTuple

import tensorflow as tf

MetricFinalizer = Callable[[List[tf.Tensor]], Any]


class BatchOutput(NamedTuple):
    """What a forward pass on one batch returns.

    Attributes:
      loss: the scalar loss of the batch (the mean over its examples).
      predictions: the model's output for the batch.
      num_examples: the number of examples in the batch (int32 scalar).
    """

    loss: Any
    predictions: Any
    num_examples: Any


class VariableModel(abc.ABC):
    """A model whose weights are TensorFlow variables, for federated training.

    Implementations hold trainable and non-trainable weights, and local variables
    (metric state) that are never aggregated as weights.
    """

    @property
    @abc.abstractmethod
    def trainable_variables(self) -> List[tf.Variable]: ...

    @property
    @abc.abstractmethod
    def non_trainable_variables(self) -> List[tf.Variable]: ...

    @property
    @abc.abstractmethod
    def local_variables(self) -> List[tf.Variable]:
        """The metric variables."""

    @property
    @abc.abstractmethod
    def input_spec(self) -> Any:
        """The structure of `tf.TensorSpec`s of one batch of client data."""

    @abc.abstractmethod
    def forward_pass(self, batch_input: Any, training: bool = True) -> BatchOutput:
        """Runs the model on a batch (features and labels), updating the metrics."""

    @abc.abstractmethod
    def predict_on_batch(self, x: Any, training: bool = True) -> Any:
        """The model's output for the features `x` alone."""

    @abc.abstractmethod
    def report_local_unfinalized_metrics(self) -> "collections.OrderedDict[str, List[tf.Tensor]]":
        """Each metric's state (its variables' values), to be summed across clients."""

    @abc.abstractmethod
    def metric_finalizers(self) -> "collections.OrderedDict[str, MetricFinalizer]":
        """For each metric, a function from its summed state to its value.

        The finalizers run inside TensorFlow computations on the server.
        """

    @abc.abstractmethod
    def reset_metrics(self) -> None:
        """Sets every metric back to its initial state."""
