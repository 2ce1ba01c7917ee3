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


# Keras's result of a reduction metric (`Mean`, `Sum` and their subclasses, such as
# `SparseCategoricalAccuracy`), which those that do not override it share.
_REDUCE_RESULT = tf.keras.metrics.Mean.result


def _finalizer_for(metric: tf.keras.metrics.Metric) -> variable_model.MetricFinalizer:
    """A function from a metric's summed variables to its result.

    A metric whose result is Keras's own reduction of its variables (a total, or a
    total and a count) is finalized by that arithmetic. Any other is rebuilt from
    its class and config (plain Python, so nothing of the graph the model was built
    in is kept), its variables assigned and its `result()` read, inside whatever
    computation calls it; that costs a variable per value in every call.
    """
    # Plain Python only: nothing of the metric (or the graph it was built in) is kept.
    name, dtype = metric.name, tf.as_dtype(metric.dtype)
    reduction = _reduction(metric)
    metric_class, config = type(metric), metric.get_config()

    def check(expected: int, unfinalized: List[tf.Tensor]) -> None:
        if len(unfinalized) != expected:
            raise ValueError(
                f"metric {name!r}: expected {expected} values to finalize, got {len(unfinalized)}"
            )

    def finalize(unfinalized: List[tf.Tensor]) -> tf.Tensor:
        if reduction == "sum":
            check(1, unfinalized)
            return tf.identity(tf.convert_to_tensor(unfinalized[0], dtype))
        if reduction == "mean":
            check(2, unfinalized)
            total, count = (tf.convert_to_tensor(v, dtype) for v in unfinalized)
            return tf.math.divide_no_nan(total, count)
        fresh = metric_class.from_config(config)
        check(len(fresh.variables), unfinalized)
        for variable, value in zip(fresh.variables, unfinalized):
            variable.assign(value)
        return fresh.result()

    return finalize


def _reduction(metric: tf.keras.metrics.Metric) -> Optional[str]:
    """'sum' or 'mean' when the metric's result is Keras's reduction of its total
    (and count) variables, else None."""
    if type(metric).result is not _REDUCE_RESULT:
        return None
    reduction = getattr(getattr(metric, "reduction", None), "value", None)
    if reduction == "sum" and len(metric.variables) == 1:
        return "sum"
    if reduction in ("weighted_mean", "sum_over_batch_size") and len(metric.variables) == 2:
        return "mean"
    return None
