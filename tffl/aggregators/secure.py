"""`SecureSumFactory`: the sum of clipped client values, seen by the server only masked.

Each client clips its value to `[lower, upper]` and encodes it as non-negative
integers; one `federated_secure_sum_bitwidth` carries the encoded values, a count
of one per client and the clients' clipped flags, so all of them are summed over
the same clients (those that survive a secure sum with dropouts); the server
decodes the sum.

Encodings (per element, `L` and `U` the bounds in the value's dtype):

- integers: `clip(x, L, U) - L`, with bitwidth `b` the bit length of `U - L`;
  decoded as `sum + count * L`, exact.
- floats: with `s = (2**32 - 1) / (U - L)` (float64),
  `q = round(clip(x, L, U) * s) - round(L * s)`, clipped to `[0, 2**32 - 1]`,
  bitwidth 32; decoded as `(sum + count * round(L * s)) / s`. Each client's
  contribution is off by at most `(U - L) / (2 * (2**32 - 1))` (plus float64
  rounding), so the result is within `count * (U - L) / (2**33 - 2)` of the sum
  of the clipped values, before the final cast to the value's dtype. A sum of
  zeros is exactly zero.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Optional
from typing import Union

import numpy as np
import tensorflow as tf

from tffl.aggregators import factory
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.templates import aggregation_process
from tffl.templates import estimation_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions
from tffl.types import type_errors
from tffl_ops import structure

Threshold = Union[int, float, np.integer, np.floating, estimation_process.EstimationProcess]

FLOAT_BITWIDTH = 32
_LEVELS = 2**FLOAT_BITWIDTH - 1
_NORM_TYPE = computation_types.TensorType(np.float32)
_COUNT_TYPE = computation_types.TensorType(np.int32)
_CONTEXT = "SecureSumFactory"


def _kind(threshold: Any) -> Optional[str]:
    if isinstance(threshold, (bool, np.bool_)):
        return None
    if isinstance(threshold, (int, np.integer)):
        return "int"
    if isinstance(threshold, (float, np.floating)):
        return "float"
    if isinstance(threshold, estimation_process.EstimationProcess):
        return "process"
    return None


def _check_bound_process(process: estimation_process.EstimationProcess, name: str) -> None:
    """`next: (<S@SERVER,{float32}@CLIENTS> -> S@SERVER)`, `report: (S -> float32@SERVER)`."""
    at_clients = computation_types.FederatedType(_NORM_TYPE, placements.CLIENTS)
    at_server = computation_types.FederatedType(_NORM_TYPE, placements.SERVER)
    next_type = process.next.type_signature
    parameter = next_type.parameter
    if (
        not isinstance(parameter, computation_types.StructType)
        or len(parameter) != 2
        or not parameter[1].is_assignable_from(at_clients)
        or not process.state_type.is_assignable_from(next_type.result)
    ):
        raise TypeError(
            f"{_CONTEXT} {name}: expected an EstimationProcess whose next is "
            f"(<S,{at_clients}> -> S), got next {next_type}"
        )
    report_type = process.report.type_signature
    if not at_server.is_assignable_from(report_type.result):
        raise TypeError(
            f"{_CONTEXT} {name}: expected an EstimationProcess whose report returns "
            f"{at_server}, got report {report_type}"
        )


def _dtypes(type_spec: computation_types.Type) -> list:
    if isinstance(type_spec, computation_types.StructType):
        return [dtype for element in type_spec for dtype in _dtypes(element)]
    return [type_spec.dtype]


def _leaf_count(type_spec: computation_types.Type) -> int:
    return len(_dtypes(type_spec))


class SecureSumFactory(factory.UnweightedAggregationFactory):
    """Sums client values with `federated_secure_sum_bitwidth`, after clipping to bounds.

    With int thresholds the values must be integers: they are clipped and summed
    exactly. With float thresholds (or estimation processes) they must be floats:
    clipped, quantized to 32 bits and summed, within `count * (U - L) / (2**33 - 2)`
    of the sum of the clipped values (see the module docstring). Without a
    lower threshold, the lower bound is `-upper_bound_threshold`.

    State: `<>@SERVER` for constant thresholds; the estimation process's state
    (or `<upper state,lower state>` for two) when adaptive: the processes see
    each client's largest and smallest element before clipping (one process sees
    the largest absolute value), as in TFF. Measurements, as in TFF:
    `<secure_upper_clipped_count=int32,secure_lower_clipped_count=int32,
    secure_upper_threshold=D,secure_lower_threshold=D>@SERVER`, where `D` is the
    values' dtype and a count is the number of clients with an element above
    (below) the bound.

    Args:
      upper_bound_threshold: an int, a float, or an `EstimationProcess` with
        `next: (<S@SERVER,{float32}@CLIENTS> -> S@SERVER)` and
        `report: (S@SERVER -> float32@SERVER)`.
      lower_bound_threshold: of the same kind as `upper_bound_threshold`, or None.

    Raises:
      TypeError: if a threshold is of another kind, or the two differ in kind.
      ValueError: if the upper threshold is not above the lower one (or not
        positive, when it is the only one).

    >>> import numpy as np, tffl
    >>> process = tffl.aggregators.SecureSumFactory(10).create(np.int32)
    >>> output = process.next(process.initialize(), [3, -4, 12])
    >>> int(output.result), output.measurements["secure_upper_clipped_count"]
    (9, 1)
    """

    def __init__(
        self,
        upper_bound_threshold: Threshold,
        lower_bound_threshold: Optional[Threshold] = None,
    ):
        kind = _kind(upper_bound_threshold)
        if kind is None:
            raise TypeError(
                f"{_CONTEXT} upper_bound_threshold: expected an int, a float or an "
                f"EstimationProcess, got {type(upper_bound_threshold).__name__}"
            )
        if lower_bound_threshold is not None and _kind(lower_bound_threshold) != kind:
            raise TypeError(
                f"{_CONTEXT} lower_bound_threshold: expected the kind of "
                f"upper_bound_threshold ({type(upper_bound_threshold).__name__}), "
                f"got {type(lower_bound_threshold).__name__}"
            )
        if kind == "process":
            _check_bound_process(upper_bound_threshold, "upper_bound_threshold")
            if lower_bound_threshold is not None:
                _check_bound_process(lower_bound_threshold, "lower_bound_threshold")
        elif lower_bound_threshold is None:
            if not upper_bound_threshold > 0:
                raise ValueError(
                    f"{_CONTEXT} upper_bound_threshold: expected a positive bound when "
                    "there is no lower_bound_threshold (its negative is the lower bound), "
                    f"got {upper_bound_threshold}"
                )
            lower_bound_threshold = -upper_bound_threshold
        elif not upper_bound_threshold > lower_bound_threshold:
            raise ValueError(
                f"{_CONTEXT}: expected upper_bound_threshold > lower_bound_threshold, "
                f"got {upper_bound_threshold} and {lower_bound_threshold}"
            )
        self._kind = kind
        self._upper = upper_bound_threshold
        self._lower = lower_bound_threshold

    def create(self, value_type: Any) -> aggregation_process.AggregationProcess:
        """The secure summing process for CLIENTS values of `value_type`.

        Raises:
          TypeMismatchError: if `value_type` is not a tensor or (nested) struct of
            tensors of one dtype, integer for int thresholds, else floating point.
          ValueError: if int thresholds do not fit the values' dtype.
        """
        context = f"{_CONTEXT}.create value_type"
        value_type = factory.check_value_type(value_type, context)
        dtypes = set(_dtypes(value_type))
        if len(dtypes) != 1:
            raise type_errors.TypeMismatchError("tensors of a single dtype", value_type, context)
        dtype = dtypes.pop()
        if self._kind == "int" and not dtype.is_integer:
            raise type_errors.TypeMismatchError(
                "integer tensors (the thresholds are ints)", value_type, context
            )
        if self._kind != "int" and not dtype.is_floating:
            raise type_errors.TypeMismatchError(
                "floating-point tensors (the thresholds are floats)", value_type, context
            )
        if self._kind == "int":
            info = np.iinfo(dtype.as_numpy_dtype)
            if self._lower < info.min or self._upper > info.max:
                raise ValueError(
                    f"{_CONTEXT}.create: the thresholds [{self._lower}, {self._upper}] do not "
                    f"fit {dtype.name}"
                )
        bound_type = computation_types.TensorType(dtype)
        bounds_type = computation_types.StructType([bound_type, bound_type], container=tuple)
        encode = _encode_fn(value_type, bounds_type, self._kind == "int")
        to_sum_type = encode.type_signature.result[0]
        decode = _decode_fn(to_sum_type, bounds_type, value_type, self._kind == "int")
        value_bitwidth = (
            (int(self._upper) - int(self._lower)).bit_length()
            if self._kind == "int"
            else FLOAT_BITWIDTH
        )
        bitwidths = tuple([np.int32(value_bitwidth)] * _leaf_count(value_type) + [np.int32(1)] * 3)
        thresholds = _Thresholds(self._kind, self._upper, self._lower, dtype)

        @federated_computation.federated_computation()
        def init_fn():
            return thresholds.initialize()

        @federated_computation.federated_computation(
            init_fn.type_signature.result,
            computation_types.FederatedType(value_type, placements.CLIENTS),
        )
        def next_fn(state, value):
            bounds = thresholds.bounds(state)
            to_sum, value_min, value_max = intrinsics.federated_map(
                encode, (value, intrinsics.federated_broadcast(bounds))
            )
            summed = intrinsics.federated_secure_sum_bitwidth(to_sum, bitwidths)
            result, upper_clipped, lower_clipped = intrinsics.federated_map(
                decode, (summed, bounds)
            )
            upper, lower = bounds
            return measured_process.MeasuredProcessOutput(
                state=thresholds.update(state, value_min, value_max),
                result=result,
                measurements=intrinsics.federated_zip(
                    collections.OrderedDict(
                        secure_upper_clipped_count=upper_clipped,
                        secure_lower_clipped_count=lower_clipped,
                        secure_upper_threshold=upper,
                        secure_lower_threshold=lower,
                    )
                ),
            )

        return aggregation_process.AggregationProcess(init_fn, next_fn)


class _Thresholds:
    """The bounds of one round, from constants or estimation processes, and their update."""

    def __init__(self, kind: str, upper: Any, lower: Any, dtype: tf.DType):
        self._kind, self._upper, self._lower, self._dtype = kind, upper, lower, dtype

    def _is_adaptive(self) -> bool:
        return self._kind == "process"

    def initialize(self):
        if not self._is_adaptive():
            return intrinsics.federated_value((), placements.SERVER)
        if self._lower is None:
            return self._upper.initialize()
        return intrinsics.federated_zip((self._upper.initialize(), self._lower.initialize()))

    def bounds(self, state):
        """`<upper,lower>@SERVER` in the values' dtype."""
        dtype = self._dtype
        if not self._is_adaptive():
            numpy_dtype = dtype.as_numpy_dtype
            constants = (numpy_dtype(self._upper), numpy_dtype(self._lower))
            return intrinsics.federated_value(constants, placements.SERVER)
        if self._lower is None:
            symmetric = tensorflow_computation.tf_computation(
                lambda e: (tf.cast(e, dtype), tf.cast(-e, dtype)), _NORM_TYPE
            )
            return intrinsics.federated_map(symmetric, self._upper.report(state))
        cast = tensorflow_computation.tf_computation(
            lambda u, lo: (tf.cast(u, dtype), tf.cast(lo, dtype)), _NORM_TYPE, _NORM_TYPE
        )
        estimates = intrinsics.federated_zip(
            (self._upper.report(state[0]), self._lower.report(state[1]))
        )
        return intrinsics.federated_map(cast, estimates)

    def update(self, state, value_min, value_max):
        if not self._is_adaptive():
            return state
        if self._lower is None:
            largest = tensorflow_computation.tf_computation(
                lambda lo, hi: tf.maximum(tf.abs(lo), tf.abs(hi)), _NORM_TYPE, _NORM_TYPE
            )
            magnitude = intrinsics.federated_map(largest, (value_min, value_max))
            return self._upper.next(state, magnitude)
        return intrinsics.federated_zip(
            (self._upper.next(state[0], value_max), self._lower.next(state[1], value_min))
        )


def _extreme(leaves, reduce, empty: float) -> tf.Tensor:
    values = [reduce(tf.cast(leaf, tf.float32)) for leaf in leaves if leaf.shape.num_elements()]
    return reduce(tf.stack(values)) if values else tf.constant(empty, tf.float32)


def _encode_fn(value_type, bounds_type, integer: bool):
    """`(<value=V,bounds=<D,D>> -> <<int64 leaves,int32,int32,int32>,float32,float32>)`.

    The first element goes to the secure sum: the encoded leaves, a count of 1,
    and whether any element is above the upper (below the lower) bound. Then the
    value's smallest and largest element, before clipping, for adaptive bounds.
    """

    def encode(value, bounds):
        upper, lower = bounds
        leaves = structure.flatten(value)
        encoded = []
        for leaf in leaves:
            if integer:
                lower64, upper64 = tf.cast(lower, tf.int64), tf.cast(upper, tf.int64)
                clipped = tf.clip_by_value(tf.cast(leaf, tf.int64), lower64, upper64)
                encoded.append(clipped - lower64)
            else:
                encoded.append(_quantize(leaf, upper, lower))
        above = [tf.reduce_any(leaf > upper) for leaf in leaves]
        below = [tf.reduce_any(leaf < lower) for leaf in leaves]
        to_sum = tuple(encoded) + (
            tf.constant(1, tf.int32),
            tf.cast(tf.reduce_any(tf.stack(above)), tf.int32),
            tf.cast(tf.reduce_any(tf.stack(below)), tf.int32),
        )
        value_min = _extreme(leaves, tf.reduce_min, np.inf)
        value_max = _extreme(leaves, tf.reduce_max, -np.inf)
        return to_sum, value_min, value_max

    return tensorflow_computation.tf_computation(encode, value_type, bounds_type)


def _scale(upper, lower) -> tf.Tensor:
    """`(2**32 - 1) / (U - L)` in float64, or 0 when the bounds are equal or crossed."""
    upper, lower = tf.cast(upper, tf.float64), tf.cast(lower, tf.float64)
    return tf.where(upper > lower, _LEVELS / tf.maximum(upper - lower, 1e-300), 0.0)


def _quantize(leaf, upper, lower) -> tf.Tensor:
    scale = _scale(upper, lower)
    clipped = tf.cast(tf.clip_by_value(leaf, lower, upper), tf.float64)
    # Shifting by round(L * s) in integers makes a zero encode and decode exactly.
    shift = tf.round(tf.cast(lower, tf.float64) * scale)
    quantized = tf.round(clipped * scale) - shift
    return tf.cast(tf.clip_by_value(quantized, 0.0, float(_LEVELS)), tf.int64)


def _decode_fn(to_sum_type, bounds_type, value_type, integer: bool):
    """`(<summed,bounds=<D,D>> -> <V,int32,int32>)`: the sum and the clipped counts."""

    def decode(summed, bounds):
        upper, lower = bounds
        summed = list(summed)
        sums, count, upper_clipped, lower_clipped = summed[:-3], *summed[-3:]
        if integer:
            offset = tf.cast(count, tf.int64) * tf.cast(lower, tf.int64)
            leaves = [tf.cast(s + offset, lower.dtype) for s in sums]
        else:
            scale = _scale(upper, lower)
            count64 = tf.cast(count, tf.float64)
            shift = tf.round(tf.cast(lower, tf.float64) * scale) * count64
            # Equal or crossed bounds clip every element to the upper bound.
            clipped_sum = count64 * tf.cast(upper, tf.float64)
            leaves = [
                tf.cast(
                    tf.where(
                        scale > 0,
                        (tf.cast(s, tf.float64) + shift) / tf.where(scale > 0, scale, 1.0),
                        tf.fill(tf.shape(s), clipped_sum),
                    ),
                    lower.dtype,
                )
                for s in sums
            ]
        return _pack(value_type, iter(leaves)), upper_clipped, lower_clipped

    return tensorflow_computation.tf_computation(decode, to_sum_type, bounds_type)


def _pack(type_spec, leaves):
    if isinstance(type_spec, computation_types.StructType):
        return type_conversions.to_container([_pack(t, leaves) for t in type_spec], type_spec)
    return next(leaves)
