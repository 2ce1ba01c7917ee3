"""Aggregation factories: objects whose `create` builds an `AggregationProcess` for a type.

A factory holds configuration (inner factories, norms, flags); `create` receives
the type of the values to aggregate, and of their weights for a weighted
factory, and returns the process. Factories compose: a robust or mean factory
creates its inner factories' processes for the types it passes them.
"""

from __future__ import annotations

import abc
from typing import Any
from typing import Union

from tffl.templates import aggregation_process
from tffl.types import computation_types
from tffl.types import type_errors

ValueType = Union[computation_types.TensorType, computation_types.StructType]

_NUMERIC_VALUES = "a float or integer tensor, or a (nested) struct of them"
_FLOAT_VALUES = "a float tensor, or a (nested) struct of them"
_NUMERIC_SCALAR = "a float or integer scalar tensor"


class UnweightedAggregationFactory(abc.ABC):
    """Builds processes `(<state=S@SERVER,value={V}@CLIENTS> -> <state,result,measurements>)`."""

    @abc.abstractmethod
    def create(self, value_type: Any) -> aggregation_process.AggregationProcess:
        """The aggregation process for CLIENTS values of `value_type`.

        Args:
          value_type: anything `tffl.to_type` accepts that names a tensor or a
            (nested) struct of tensors.
        """


class WeightedAggregationFactory(abc.ABC):
    """Builds processes whose `next` also takes a weight `{W}@CLIENTS` per client."""

    @abc.abstractmethod
    def create(self, value_type: Any, weight_type: Any) -> aggregation_process.AggregationProcess:
        """The aggregation process for CLIENTS values of `value_type` weighted by `weight_type`.

        Args:
          value_type: anything `tffl.to_type` accepts that names a tensor or a
            (nested) struct of tensors.
          weight_type: the type of each client's weight, a scalar tensor type.
        """


AggregationFactory = Union[UnweightedAggregationFactory, WeightedAggregationFactory]


def _all_tensors(type_spec: computation_types.Type, predicate) -> bool:
    if isinstance(type_spec, computation_types.TensorType):
        return predicate(type_spec.dtype)
    if isinstance(type_spec, computation_types.StructType):
        return all(_all_tensors(element, predicate) for element in type_spec)
    return False


def _to_type(type_spec: Any, expected: str, context: str) -> computation_types.Type:
    try:
        return computation_types.to_type(type_spec)
    except TypeError:
        raise type_errors.TypeMismatchError(expected, repr(type_spec), context) from None


def check_value_type(
    value_type: Any, context: str, floats_only: bool = False
) -> computation_types.Type:
    """`value_type` as a `Type`, checked to be a tensor or a (nested) struct of tensors.

    Args:
      value_type: anything `tffl.to_type` accepts.
      context: what is checked, the start of the error message
        (`'MeanFactory.create value_type'`).
      floats_only: whether every tensor must be floating point (else integers too).

    Raises:
      TypeMismatchError: naming the expected and the given type.

    >>> str(check_value_type([np.float32, (np.int32, [2])], "SumFactory.create value_type"))
    '<float32,int32[2]>'
    """
    expected = _FLOAT_VALUES if floats_only else _NUMERIC_VALUES
    type_spec = _to_type(value_type, expected, context)

    def accepted(dtype):
        return dtype.is_floating or (not floats_only and dtype.is_integer)

    if type_spec is None or not _all_tensors(type_spec, accepted):
        raise type_errors.TypeMismatchError(expected, type_spec, context)
    return type_spec


def check_weight_type(weight_type: Any, context: str) -> computation_types.TensorType:
    """`weight_type` as a `TensorType`, checked to be a float or integer scalar.

    Raises:
      TypeMismatchError: naming the expected and the given type.
    """
    type_spec = _to_type(weight_type, _NUMERIC_SCALAR, context)
    if not (
        isinstance(type_spec, computation_types.TensorType)
        and type_spec.shape == ()
        and (type_spec.dtype.is_floating or type_spec.dtype.is_integer)
    ):
        raise type_errors.TypeMismatchError(_NUMERIC_SCALAR, type_spec, context)
    return type_spec


def check_unweighted_factory(factory: Any, context: str) -> UnweightedAggregationFactory:
    """`factory`, checked to be an `UnweightedAggregationFactory`.

    Raises:
      TypeError: naming `context` and what was given instead.
    """
    if not isinstance(factory, UnweightedAggregationFactory):
        raise TypeError(
            f"{context}: expected an UnweightedAggregationFactory, got {type(factory).__name__}"
        )
    return factory
