"""Mean factories: the weighted and the unweighted mean of client values, via inner sums.

Each client's value (times its weight) and the weight (or a count of one) are
summed by inner unweighted factories, `SumFactory` unless given others (a secure
or a noised sum, say), and the server divides the first sum by the second.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Optional

import numpy as np
import tensorflow as tf

from tffl.aggregators import factory
from tffl.aggregators import sum_factory
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.templates import aggregation_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl_ops import structure


def _inner_factory(inner: Optional[Any], context: str) -> factory.UnweightedAggregationFactory:
    if inner is None:
        return sum_factory.SumFactory()
    return factory.check_unweighted_factory(inner, context)


def _multiply_fn(value_type, weight_type):
    def multiply(value, weight):
        return structure.map_structure(lambda x: x * tf.cast(weight, x.dtype), value)

    return tensorflow_computation.tf_computation(multiply, value_type, weight_type)


def _divide_fn(total_type, weight_type, no_nan_division: bool):
    divide = tf.math.divide_no_nan if no_nan_division else tf.math.divide

    def divide_total(total, weight):
        return structure.map_structure(lambda x: divide(x, tf.cast(weight, x.dtype)), total)

    return tensorflow_computation.tf_computation(divide_total, total_type, weight_type)


def _at_clients(type_spec) -> computation_types.FederatedType:
    return computation_types.FederatedType(type_spec, placements.CLIENTS)


class MeanFactory(factory.WeightedAggregationFactory):
    """The weighted mean `sum(weight * value) / sum(weight)` of client values.

    State `<value_sum_process=...,weight_sum_process=...>@SERVER` (the inner
    processes' states); measurements
    `<mean_value=...,mean_weight=...>@SERVER` (the inner processes' measurements).
    The weight is a float or integer scalar, cast to each value's dtype.

    Args:
      value_sum_factory: sums the weighted values; `SumFactory()` by default.
      weight_sum_factory: sums the weights; `SumFactory()` by default.
      no_nan_division: whether a total weight of zero gives zeros (otherwise the
        division follows TensorFlow: NaN or infinities).

    Raises:
      TypeError: if an inner factory is not an `UnweightedAggregationFactory`.

    >>> import numpy as np, tffl
    >>> process = tffl.aggregators.MeanFactory().create(np.float32, np.float32)
    >>> process.next(process.initialize(), [1.0, 4.0], [3.0, 1.0]).result
    1.75
    """

    def __init__(
        self,
        value_sum_factory: Optional[factory.UnweightedAggregationFactory] = None,
        weight_sum_factory: Optional[factory.UnweightedAggregationFactory] = None,
        no_nan_division: bool = False,
    ):
        self._value_sum_factory = _inner_factory(value_sum_factory, "MeanFactory value_sum_factory")
        self._weight_sum_factory = _inner_factory(
            weight_sum_factory, "MeanFactory weight_sum_factory"
        )
        self._no_nan_division = bool(no_nan_division)

    def create(self, value_type: Any, weight_type: Any) -> aggregation_process.AggregationProcess:
        """The weighted-mean process for float values of `value_type` and scalar weights.

        Raises:
          TypeMismatchError: if `value_type` is not a float tensor or a (nested)
            struct of them, or `weight_type` not a float or integer scalar.
        """
        value_type = factory.check_value_type(
            value_type, "MeanFactory.create value_type", floats_only=True
        )
        weight_type = factory.check_weight_type(weight_type, "MeanFactory.create weight_type")
        value_sum_process = self._value_sum_factory.create(value_type)
        weight_sum_process = self._weight_sum_factory.create(weight_type)
        multiply = _multiply_fn(value_type, weight_type)
        divide = _divide_fn(
            value_sum_process.result_type, weight_sum_process.result_type, self._no_nan_division
        )

        @federated_computation.federated_computation()
        def init_fn():
            return intrinsics.federated_zip(
                collections.OrderedDict(
                    value_sum_process=value_sum_process.initialize(),
                    weight_sum_process=weight_sum_process.initialize(),
                )
            )

        @federated_computation.federated_computation(
            init_fn.type_signature.result, _at_clients(value_type), _at_clients(weight_type)
        )
        def next_fn(state, value, weight):
            weighted_value = intrinsics.federated_map(multiply, (value, weight))
            value_output = value_sum_process.next(state.value_sum_process, weighted_value)
            weight_output = weight_sum_process.next(state.weight_sum_process, weight)
            mean = intrinsics.federated_map(divide, (value_output.result, weight_output.result))
            return measured_process.MeasuredProcessOutput(
                state=intrinsics.federated_zip(
                    collections.OrderedDict(
                        value_sum_process=value_output.state,
                        weight_sum_process=weight_output.state,
                    )
                ),
                result=mean,
                measurements=intrinsics.federated_zip(
                    collections.OrderedDict(
                        mean_value=value_output.measurements,
                        mean_weight=weight_output.measurements,
                    )
                ),
            )

        return aggregation_process.AggregationProcess(init_fn, next_fn)


class UnweightedMeanFactory(factory.UnweightedAggregationFactory):
    """The mean `sum(value) / number of clients` of client values.

    State `<value_sum_process=...,count_sum_process=...>@SERVER`; measurements
    `<mean_value=...,mean_count=...>@SERVER` (the inner processes' measurements).
    Each client contributes a count of one (int32) to the count sum.

    Args:
      value_sum_factory: sums the values; `SumFactory()` by default.
      count_sum_factory: sums the counts; `SumFactory()` by default.
      no_nan_division: whether a count of zero gives zeros.

    Raises:
      TypeError: if an inner factory is not an `UnweightedAggregationFactory`.

    >>> import numpy as np, tffl
    >>> process = tffl.aggregators.UnweightedMeanFactory().create(np.float32)
    >>> process.next(process.initialize(), [1.0, 4.0]).result
    2.5
    """

    def __init__(
        self,
        value_sum_factory: Optional[factory.UnweightedAggregationFactory] = None,
        count_sum_factory: Optional[factory.UnweightedAggregationFactory] = None,
        no_nan_division: bool = False,
    ):
        self._value_sum_factory = _inner_factory(
            value_sum_factory, "UnweightedMeanFactory value_sum_factory"
        )
        self._count_sum_factory = _inner_factory(
            count_sum_factory, "UnweightedMeanFactory count_sum_factory"
        )
        self._no_nan_division = bool(no_nan_division)

    def create(self, value_type: Any) -> aggregation_process.AggregationProcess:
        """The mean process for float values of `value_type`.

        Raises:
          TypeMismatchError: if `value_type` is not a float tensor or a (nested)
            struct of them.
        """
        value_type = factory.check_value_type(
            value_type, "UnweightedMeanFactory.create value_type", floats_only=True
        )
        count_type = computation_types.TensorType(np.int32)
        value_sum_process = self._value_sum_factory.create(value_type)
        count_sum_process = self._count_sum_factory.create(count_type)
        divide = _divide_fn(
            value_sum_process.result_type, count_sum_process.result_type, self._no_nan_division
        )

        @federated_computation.federated_computation()
        def init_fn():
            return intrinsics.federated_zip(
                collections.OrderedDict(
                    value_sum_process=value_sum_process.initialize(),
                    count_sum_process=count_sum_process.initialize(),
                )
            )

        @federated_computation.federated_computation(
            init_fn.type_signature.result, _at_clients(value_type)
        )
        def next_fn(state, value):
            value_output = value_sum_process.next(state.value_sum_process, value)
            count_output = count_sum_process.next(
                state.count_sum_process, intrinsics.federated_value(np.int32(1), placements.CLIENTS)
            )
            mean = intrinsics.federated_map(divide, (value_output.result, count_output.result))
            return measured_process.MeasuredProcessOutput(
                state=intrinsics.federated_zip(
                    collections.OrderedDict(
                        value_sum_process=value_output.state,
                        count_sum_process=count_output.state,
                    )
                ),
                result=mean,
                measurements=intrinsics.federated_zip(
                    collections.OrderedDict(
                        mean_value=value_output.measurements,
                        mean_count=count_output.measurements,
                    )
                ),
            )

        return aggregation_process.AggregationProcess(init_fn, next_fn)
