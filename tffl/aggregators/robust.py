"""Robust aggregation: clip or zero out large client values before an inner aggregation.

`clipping_factory` scales each client's value to a global L2 norm of at most the
clipping norm; `zeroing_factory` replaces a client's value by zeros when its norm
exceeds the zeroing norm or it holds a NaN or an infinity. The norm is a constant
or the `report` of an `EstimationProcess` (adaptive: a
`PrivateQuantileEstimationProcess` tracks a quantile of the clients' norms),
whose `next` sees this round's client norms to produce next round's norm.
The factory made is weighted exactly when the inner factory is; weights are
passed to the inner aggregation unchanged, even for a zeroed value, so a zeroed
client still counts in a weighted mean's denominator (as in TFF).
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Callable
from typing import Optional
from typing import Union

import numpy as np
import tensorflow as tf

from tffl.aggregators import factory
from tffl.aggregators import sum_factory
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.templates import aggregation_process
from tffl.templates import estimation_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl_ops import clipping

_NORM_TYPE = computation_types.TensorType(np.float32)
_COUNT_TYPE = computation_types.TensorType(np.int32)

Norm = Union[float, estimation_process.EstimationProcess]


def _constant_process(norm: float) -> estimation_process.EstimationProcess:
    """An estimation process of state `<>@SERVER` whose `report` is always `norm`."""

    @federated_computation.federated_computation()
    def init_fn():
        return intrinsics.federated_value((), placements.SERVER)

    @federated_computation.federated_computation(
        init_fn.type_signature.result,
        computation_types.FederatedType(_NORM_TYPE, placements.CLIENTS),
    )
    def next_fn(state, value):
        del value  # A constant ignores the clients' norms.
        return state

    @federated_computation.federated_computation(init_fn.type_signature.result)
    def report_fn(state):
        del state
        return intrinsics.federated_value(np.float32(norm), placements.SERVER)

    return estimation_process.EstimationProcess(init_fn, next_fn, report_fn)


def _norm_process(norm: Any, context: str) -> estimation_process.EstimationProcess:
    """The estimation process giving the norm: `norm` itself, or a constant one."""
    if isinstance(norm, estimation_process.EstimationProcess):
        _check_norm_process(norm, context)
        return norm
    expected = "a positive float or an EstimationProcess"
    if isinstance(norm, bool) or not isinstance(norm, (int, float, np.floating, np.integer)):
        raise TypeError(f"{context}: expected {expected}, got {type(norm).__name__}")
    if not norm > 0:
        raise ValueError(f"{context}: expected {expected}, got {norm}")
    return _constant_process(float(norm))


def _check_norm_process(process: estimation_process.EstimationProcess, context: str) -> None:
    """Checks the types of a norm process: `next` takes `{float32}@CLIENTS` norms.

    `next: (<S@SERVER,{float32}@CLIENTS> -> S@SERVER)`, `report: (S -> float32@SERVER)`.

    Raises:
      TypeError: naming the computation that does not fit and its type.
    """
    norms_at_clients = computation_types.FederatedType(_NORM_TYPE, placements.CLIENTS)
    norm_at_server = computation_types.FederatedType(_NORM_TYPE, placements.SERVER)
    next_type = process.next.type_signature
    parameter = next_type.parameter
    if (
        not isinstance(parameter, computation_types.StructType)
        or len(parameter) != 2
        or not parameter[1].is_assignable_from(norms_at_clients)
        or not process.state_type.is_assignable_from(next_type.result)
    ):
        raise TypeError(
            f"{context}: expected an EstimationProcess whose next is "
            f"(<S,{norms_at_clients}> -> S), got next {next_type}"
        )
    report_type = process.report.type_signature
    if not norm_at_server.is_assignable_from(report_type.result):
        raise TypeError(
            f"{context}: expected an EstimationProcess whose report returns "
            f"{norm_at_server}, got report {report_type}"
        )


def _check_inner_factory(inner: Any, context: str) -> factory.AggregationFactory:
    if not isinstance(
        inner, (factory.UnweightedAggregationFactory, factory.WeightedAggregationFactory)
    ):
        raise TypeError(
            f"{context}: expected an UnweightedAggregationFactory or a "
            f"WeightedAggregationFactory, got {type(inner).__name__}"
        )
    return inner


# Builds, for a value type, the client computation
# (<value=V,norm=float32> -> <V,float32,int32>): the value after clipping or zeroing,
# its norm, and 1 if it was clipped or zeroed (else 0).
MakeClientFn = Callable[[computation_types.Type], Any]


class _RobustFactory:
    """What the clipping and zeroing factories share; `create` comes from the subclasses."""

    def __init__(
        self,
        norm_process: estimation_process.EstimationProcess,
        inner_factory: factory.AggregationFactory,
        count_factory: factory.UnweightedAggregationFactory,
        make_client_fn: MakeClientFn,
        name: str,
    ):
        self._norm_process = norm_process
        self._inner_factory = inner_factory
        self._count_factory = count_factory
        self._make_client_fn = make_client_fn
        # State and measurement names, as in TFF: clipping_norm, clipped_count, ...
        self._norm_name = f"{name}ing_norm"
        self._count_name = f"{name}ed_count"
        self._inner_name = f"{name}ing"
        self._context = "clipping_factory" if name == "clipp" else "zeroing_factory"

    def _create(
        self, value_type: Any, weight_type: Optional[Any]
    ) -> aggregation_process.AggregationProcess:
        value_type = factory.check_value_type(
            value_type, f"{self._context} create value_type", floats_only=True
        )
        if weight_type is None:
            inner_process = self._inner_factory.create(value_type)
        else:
            inner_process = self._inner_factory.create(value_type, weight_type)
            weight_type = inner_process.weight_type
        count_process = self._count_factory.create(_COUNT_TYPE)
        norm_process = self._norm_process
        client_fn = self._make_client_fn(value_type)
        norm_name, count_name, inner_name = self._norm_name, self._count_name, self._inner_name

        @federated_computation.federated_computation()
        def init_fn():
            return intrinsics.federated_zip(
                collections.OrderedDict(
                    [
                        (norm_name, norm_process.initialize()),
                        ("inner_agg", inner_process.initialize()),
                        (f"{count_name}_agg", count_process.initialize()),
                    ]
                )
            )

        def next_impl(state, value, weight):
            norm = norm_process.report(state[0])
            processed_value, client_norm, was_processed = intrinsics.federated_map(
                client_fn, (value, intrinsics.federated_broadcast(norm))
            )
            new_norm_state = norm_process.next(state[0], client_norm)
            if weight is None:
                inner_output = inner_process.next(state[1], processed_value)
            else:
                inner_output = inner_process.next(state[1], processed_value, weight)
            count_output = count_process.next(state[2], was_processed)
            return measured_process.MeasuredProcessOutput(
                state=intrinsics.federated_zip(
                    collections.OrderedDict(
                        [
                            (norm_name, new_norm_state),
                            ("inner_agg", inner_output.state),
                            (f"{count_name}_agg", count_output.state),
                        ]
                    )
                ),
                result=inner_output.result,
                measurements=intrinsics.federated_zip(
                    collections.OrderedDict(
                        [
                            (inner_name, inner_output.measurements),
                            (norm_name, norm),
                            (count_name, count_output.result),
                        ]
                    )
                ),
            )

        state_type = init_fn.type_signature.result
        values = computation_types.FederatedType(value_type, placements.CLIENTS)
        if weight_type is None:

            @federated_computation.federated_computation(state_type, values)
            def next_fn(state, value):
                return next_impl(state, value, None)

        else:
            weights = computation_types.FederatedType(weight_type, placements.CLIENTS)

            @federated_computation.federated_computation(state_type, values, weights)
            def next_fn(state, value, weight):
                return next_impl(state, value, weight)

        return aggregation_process.AggregationProcess(init_fn, next_fn)


class _UnweightedRobustFactory(_RobustFactory, factory.UnweightedAggregationFactory):
    def create(self, value_type: Any) -> aggregation_process.AggregationProcess:
        return self._create(value_type, None)


class _WeightedRobustFactory(_RobustFactory, factory.WeightedAggregationFactory):
    def create(self, value_type: Any, weight_type: Any) -> aggregation_process.AggregationProcess:
        return self._create(value_type, weight_type)


def _robust_factory(
    norm: Norm,
    inner_agg_factory: factory.AggregationFactory,
    count_sum_factory: Optional[factory.UnweightedAggregationFactory],
    make_client_fn: MakeClientFn,
    name: str,
) -> factory.AggregationFactory:
    context = "clipping_factory" if name == "clipp" else "zeroing_factory"
    norm_process = _norm_process(norm, f"{context} {name}ing_norm")
    _check_inner_factory(inner_agg_factory, f"{context} inner_agg_factory")
    if count_sum_factory is None:
        count_sum_factory = sum_factory.SumFactory()
    factory.check_unweighted_factory(count_sum_factory, f"{context} {name}ed_count_sum_factory")
    kind = (
        _WeightedRobustFactory
        if isinstance(inner_agg_factory, factory.WeightedAggregationFactory)
        else _UnweightedRobustFactory
    )
    return kind(norm_process, inner_agg_factory, count_sum_factory, make_client_fn, name)


def clipping_factory(
    clipping_norm: Norm,
    inner_agg_factory: factory.AggregationFactory,
    clipped_count_sum_factory: Optional[factory.UnweightedAggregationFactory] = None,
) -> factory.AggregationFactory:
    """A factory that clips each client's value to a global L2 norm, then aggregates.

    Each value is multiplied by `min(1, clipping_norm / norm)`, where `norm` is its
    global L2 norm. State `<clipping_norm=N,inner_agg=I,clipped_count_agg=C>@SERVER`
    (`N` is `<>` for a constant norm, else the estimator's state); measurements
    `<clipping=<inner measurements>,clipping_norm=float32,clipped_count=int32>@SERVER`.
    A value holding a NaN has a NaN norm and passes unclipped and uncounted, as in
    TFF; wrap the factory in `zeroing_factory` to drop such values.

    Args:
      clipping_norm: a positive float, or an `EstimationProcess` with
        `next: (<S@SERVER,{float32}@CLIENTS> -> S@SERVER)` and
        `report: (S@SERVER -> float32@SERVER)`.
      inner_agg_factory: aggregates the clipped values; weighted or not.
      clipped_count_sum_factory: sums the clipped counts; `SumFactory()` by default.

    Returns:
      A factory, weighted exactly when `inner_agg_factory` is, whose `create`
      takes float value types.

    Raises:
      TypeError: if an argument is of the wrong kind.
      ValueError: if `clipping_norm` is not positive.

    >>> import numpy as np, tffl
    >>> aggregator = clipping_factory(2.0, tffl.aggregators.SumFactory())
    >>> process = aggregator.create((np.float32, [2]))
    >>> output = process.next(process.initialize(), [[3.0, 4.0], [0.0, 1.0]])
    >>> output.result.tolist(), output.measurements["clipped_count"]
    ([1.2000000476837158, 2.5999999046325684], 1)
    """

    def make_clip_fn(value_type):
        def clip(value, norm):
            clipped, value_norm = clipping.clip_by_global_l2_norm(value, norm)
            return clipped, value_norm, tf.cast(value_norm > norm, tf.int32)

        return tensorflow_computation.tf_computation(clip, value_type, _NORM_TYPE)

    return _robust_factory(
        clipping_norm, inner_agg_factory, clipped_count_sum_factory, make_clip_fn, "clipp"
    )


def zeroing_factory(
    zeroing_norm: Norm,
    inner_agg_factory: factory.AggregationFactory,
    norm_order: float = np.inf,
    zeroed_count_sum_factory: Optional[factory.UnweightedAggregationFactory] = None,
) -> factory.AggregationFactory:
    """A factory that zeroes out large or non-finite client values, then aggregates.

    A client's value becomes all zeros when its global norm (of order
    `norm_order`) exceeds the zeroing norm, or when any element is NaN or
    infinite. With a weighted inner factory the weight is passed on unchanged, so
    a zeroed value still counts in a weighted mean's total weight (as in TFF).
    State `<zeroing_norm=N,inner_agg=I,zeroed_count_agg=C>@SERVER`; measurements
    `<zeroing=<inner measurements>,zeroing_norm=float32,zeroed_count=int32>@SERVER`.
    The estimator's `next`, when adaptive, sees the norms before zeroing.

    Args:
      zeroing_norm: a positive float, or an `EstimationProcess` as for
        `clipping_factory`.
      inner_agg_factory: aggregates the values after zeroing; weighted or not.
      norm_order: 1.0, 2.0 or infinity (the default, as in TFF: the largest
        absolute element).
      zeroed_count_sum_factory: sums the zeroed counts; `SumFactory()` by default.

    Returns:
      A factory, weighted exactly when `inner_agg_factory` is.

    Raises:
      TypeError: if an argument is of the wrong kind.
      ValueError: if `zeroing_norm` is not positive or `norm_order` not supported.

    >>> import numpy as np, tffl
    >>> aggregator = zeroing_factory(10.0, tffl.aggregators.SumFactory())
    >>> process = aggregator.create(np.float32)
    >>> output = process.next(process.initialize(), [1.0, float("nan"), 20.0, 2.0])
    >>> float(output.result), output.measurements["zeroed_count"]
    (3.0, 2)
    """
    if isinstance(norm_order, bool) or norm_order not in (1.0, 2.0, np.inf):
        raise ValueError(
            f"zeroing_factory norm_order: expected 1.0, 2.0 or inf, got {norm_order!r}"
        )
    norm_order = float(norm_order)

    def make_zero_fn(value_type):
        def zero(value, norm):
            value_norm = clipping.global_norm(value, norm_order)
            should_zero = tf.logical_or(value_norm > norm, clipping.any_non_finite(value))
            return clipping.zero_if(should_zero, value), value_norm, tf.cast(should_zero, tf.int32)

        return tensorflow_computation.tf_computation(zero, value_type, _NORM_TYPE)

    return _robust_factory(
        zeroing_norm, inner_agg_factory, zeroed_count_sum_factory, make_zero_fn, "zero"
    )
