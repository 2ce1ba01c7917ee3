"""Inference of types from Python, numpy and TensorFlow values, and container round trips."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any
from typing import Callable
from typing import List
from typing import Optional

import numpy as np
import tensorflow as tf

from tffl.types import computation_types
from tffl.types import containers


def infer_type(value: Any) -> Optional[computation_types.Type]:
    """Infers the tffl type of a value.

    Python scalars map to 32-bit dtypes (`int` -> int32, `float` -> float32), numpy
    values and tensors keep their dtype and shape, `tf.data.Dataset`s become
    sequences, and containers become structs that remember their container. A list
    of values is a struct, as in TFF (`[1, 2]` -> `<int32,int32>`).

    >>> str(infer_type(collections.OrderedDict(a=1, b=np.zeros([2], np.float32))))
    '<a=int32,b=float32[2]>'

    Raises:
      TypeError: if the value has no tffl type (an object, a ragged tensor, ...).
    """
    if value is None:
        return None
    type_signature = getattr(value, "type_signature", None)
    if isinstance(type_signature, computation_types.Type):
        return type_signature
    if isinstance(value, bool):
        return computation_types.TensorType(tf.bool)
    if isinstance(value, int):
        if not -(2**31) <= value < 2**31:
            return computation_types.TensorType(tf.int64)
        return computation_types.TensorType(tf.int32)
    if type(value) in computation_types.PYTHON_DTYPES:
        return computation_types.TensorType(computation_types.PYTHON_DTYPES[type(value)])
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype == object or value.dtype.kind in ("U", "S"):
            return computation_types.TensorType(tf.string, np.shape(value))
        return computation_types.TensorType(value.dtype, value.shape)
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return computation_types.TensorType(value.dtype, value.shape)
    if isinstance(value, tf.data.Dataset):
        return computation_types.SequenceType(computation_types.to_type(value.element_spec))
    if isinstance(value, (tf.RaggedTensor, tf.SparseTensor)):
        raise TypeError(
            f"infer_type: expected a dense tensor, got a {type(value).__name__} "
            "(ragged and sparse tensors are not supported)"
        )
    if containers.is_named_tuple_class(type(value)):
        return computation_types.StructType(
            [(n, infer_type(v)) for n, v in zip(value._fields, value)], container=type(value)
        )
    if isinstance(value, collections.abc.Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"infer_type: expected str keys in a mapping, got {key!r}")
        return computation_types.StructType(
            [(k, infer_type(v)) for k, v in value.items()], container=type(value)
        )
    names = _record_field_names(value)
    if names is not None:
        return computation_types.StructType(
            [(n, infer_type(getattr(value, n))) for n in names], container=type(value)
        )
    if isinstance(value, (list, tuple)):
        return computation_types.StructType([infer_type(v) for v in value], container=type(value))
    raise TypeError(
        f"infer_type: expected a tensor, dataset or container of them, "
        f"got {value!r} of type {type(value).__name__}"
    )


def _record_field_names(value: Any) -> Optional[List[str]]:
    if isinstance(value, type):
        return None
    if containers.is_attrs_class(type(value)) or dataclasses.is_dataclass(value):
        return list(containers.container_field_names(type(value)))
    return None


def elements_of(value: Any, struct_type: computation_types.StructType) -> List[Any]:
    """The element values of a Python container, in the order of `struct_type`.

    Accepts mappings (by name), namedtuples, attrs and dataclass instances (by
    field name), and lists/tuples (by position).

    Raises:
      TypeError: if the value's elements do not line up with the struct.
    """
    names = struct_type.names()
    if isinstance(value, collections.abc.Mapping):
        missing = [n for n in names if n not in value]
        if missing or any(n is None for n in names) or len(value) != len(names):
            raise TypeError(
                f"expected a value of type {struct_type}, got a mapping with keys {list(value)}"
            )
        return [value[n] for n in names]
    record_names = _record_field_names(value)
    if record_names is not None:
        if len(record_names) != len(names) or (
            any(n is not None for n in names) and list(record_names) != list(names)
        ):
            raise TypeError(
                f"expected a value of type {struct_type}, got {type(value).__name__} "
                f"with fields {list(record_names)}"
            )
        return [getattr(value, n) for n in record_names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise TypeError(
                f"expected a value of type {struct_type} ({len(names)} elements), "
                f"got {len(value)} elements"
            )
        if containers.is_named_tuple_class(type(value)) and any(
            n is not None and n != f for n, f in zip(names, value._fields)
        ):
            raise TypeError(
                f"expected a value of type {struct_type}, got {type(value).__name__} "
                f"with fields {list(value._fields)}"
            )
        return list(value)
    raise TypeError(
        f"expected a value of type {struct_type}, got {value!r} of type {type(value).__name__}"
    )


def to_container(elements: List[Any], struct_type: computation_types.StructType) -> Any:
    """Packs element values into the Python container `struct_type` remembers.

    A struct with no container comes back as an `OrderedDict` when every element is
    named, and as a tuple otherwise (a partly named struct has no faithful Python
    form, so its names are dropped).
    """
    names = struct_type.names()
    if len(elements) != len(names):
        raise TypeError(
            f"to_container: expected {len(names)} elements for {struct_type}, got {len(elements)}"
        )
    return container_maker(struct_type)(elements)


def container_maker(struct_type: computation_types.StructType) -> Callable[[List[Any]], Any]:
    """`to_container` for one struct type, its kind of container worked out once: the
    returned function packs a list of as many elements as `struct_type` has (unchecked)."""
    container = struct_type.container
    names = struct_type.names()
    if container is None:
        if names and all(n is not None for n in names):
            return lambda elements: collections.OrderedDict(zip(names, elements))
        return tuple
    if containers.is_named_tuple_class(container):
        return lambda elements: container(*elements)
    if issubclass(container, collections.abc.Mapping):
        return lambda elements: container(zip(names, elements))
    if containers.container_field_names(container) is not None:
        return lambda elements: container(**dict(zip(names, elements)))
    return container


def is_container(value: Any) -> bool:
    """Whether `value` is a list, tuple, mapping, namedtuple, attrs or dataclass instance."""
    return isinstance(value, (list, tuple, collections.abc.Mapping)) or (
        _record_field_names(value) is not None
    )


def container_items(value: Any) -> List[tuple]:
    """The (name or None, element) pairs of a Python container, in order.

    Raises:
      TypeError: if `value` is not a container.
    """
    if containers.is_named_tuple_class(type(value)):
        return list(zip(value._fields, value))
    if isinstance(value, collections.abc.Mapping):
        return list(value.items())
    names = _record_field_names(value)
    if names is not None:
        return [(n, getattr(value, n)) for n in names]
    if isinstance(value, (list, tuple)):
        return [(None, v) for v in value]
    raise TypeError(f"expected a container, got {value!r} of type {type(value).__name__}")
