"""The metrics a model keeps: the user's Keras metrics plus loss, num_examples, num_batches.

Every metric is reported unfinalized, as the values of its variables (a Keras
`Mean` reports its total and its count), so that summing across clients and then
finalizing on the server gives the same number as one metric over all the data.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Callable
from typing import List
from typing import Optional
from typing import Sequence
from typing import Union

import tensorflow as tf

from tffl.learning.models import variable_model

MetricSpec = Union[tf.keras.metrics.Metric, Callable[[], tf.keras.metrics.Metric]]


def _as_metric(spec: Any, index: int) -> tf.keras.metrics.Metric:
    if isinstance(spec, tf.keras.metrics.Metric):
        return spec
    if callable(spec):
        metric = spec()
        if isinstance(metric, tf.keras.metrics.Metric):
            return metric
        spec = metric
    raise TypeError(
        f"metrics[{index}]: expected a tf.keras.metrics.Metric or a no-argument function "
        f"returning one, got {type(spec).__name__}"
    )


class KerasMetrics:
    """A model's metrics, in report order: the user's, then loss, num_examples, num_batches.

    Raises:
      ValueError: if two metrics share a name.
    """

    def __init__(self, metrics: Optional[Sequence[MetricSpec]]):
        user = [_as_metric(spec, i) for i, spec in enumerate(metrics or ())]
        self._loss = tf.keras.metrics.Mean(name="loss")
        self._num_examples = tf.keras.metrics.Sum(name="num_examples", dtype=tf.int64)
        self._num_batches = tf.keras.metrics.Sum(name="num_batches", dtype=tf.int64)
        self._user = user
        self._all: List[tf.keras.metrics.Metric] = user + [
            self._loss,
            self._num_examples,
            self._num_batches,
        ]
        names = [m.name for m in self._all]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"metrics: expected distinct names, got {duplicates} more than once "
                "(loss, num_examples and num_batches are always reported)"
            )

    @property
    def variables(self) -> List[tf.Variable]:
        return [v for m in self._all for v in m.variables]

    def update(self, labels: Any, predictions: Any, loss: tf.Tensor, num_examples) -> None:
        for metric in self._user:
            metric.update_state(labels, predictions)
        weight = tf.cast(num_examples, tf.float32)
        loss = tf.cast(loss, tf.float32)
        if loss.shape.rank == 0:
            # What `Mean.update_state(loss, weight)` adds for a scalar loss, without the
            # broadcasting and reductions it builds for every batch.
            self._loss.total.assign_add(loss * weight)
            self._loss.count.assign_add(weight)
        else:
            self._loss.update_state(loss, sample_weight=weight)
        self._num_examples.total.assign_add(tf.cast(num_examples, tf.int64))
        self._num_batches.total.assign_add(tf.constant(1, tf.int64))

    def report(self) -> "collections.OrderedDict[str, List[tf.Tensor]]":
        return collections.OrderedDict(
            (m.name, [tf.identity(v) for v in m.variables]) for m in self._all
        )

    def finalizers(self) -> "collections.OrderedDict[str, variable_model.MetricFinalizer]":
        return collections.OrderedDict((m.name, _finalizer_for(m)) for m in self._all)

    def reset(self) -> None:
        for metric in self._all:
            metric.reset_state()


def _finalizer_for(metric: tf.keras.metrics.Metric) -> variable_model.MetricFinalizer:
    """A function from a metric's summed variables to its result.

    It rebuilds the metric from its class and config (plain Python, so nothing of
    the graph the model was built in is kept) inside whatever computation calls it.
    """
    metric_class, config = type(metric), metric.get_config()

    def finalize(unfinalized: List[tf.Tensor]) -> tf.Tensor:
        fresh = metric_class.from_config(config)
        if len(fresh.variables) != len(unfinalized):
            raise ValueError(
                f"metric {config.get('name')!r}: expected {len(fresh.variables)} values "
                f"to finalize, got {len(unfinalized)}"
            )
        for variable, value in zip(fresh.variables, unfinalized):
            variable.assign(value)
        return fresh.result()

    return finalize
