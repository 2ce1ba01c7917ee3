"""Conversion between user values and the eager representation executors hold.

In an executor a tensor is an eager `tf.Tensor`, a struct a Python list of its
elements, and a sequence a `tf.data.Dataset`. Out of an executor, tensors become
numpy values, structs the user's containers, and sequences lists of elements.
"""

from __future__ import annotations

from typing import Any
from typing import List
from typing import Optional
from typing import Tuple
import weakref

import numpy as np
import tensorflow as tf

from tffl.core import tensorflow_computation
from tffl.types import computation_types
from tffl.types import type_conversions
from tffl.types import type_errors


def to_tensor(value: Any, type_spec: computation_types.TensorType) -> tf.Tensor:
    """An eager tensor of `type_spec` from a Python, numpy or TensorFlow value.

    Numbers convert to the declared dtype when the kind allows it (ints to floats,
    floats to other float widths); a float never silently becomes an int.

    Raises:
      TypeMismatchError: naming the expected and the given type.
    """
    if (
        (type(value) is np.ndarray or isinstance(value, np.generic))
        and value.dtype == type_spec.dtype.as_numpy_dtype
        and value.dtype.kind in "biuf"
        and _shape_fits(value.shape, type_spec.shape)
    ):
        # What a simulation passes back every round (its state as results came: arrays
        # and numpy scalars): nothing to check or cast, and `tf.constant` costs half of
        # `convert_to_tensor`.
        return tf.constant(value)
    tensor = None
    if isinstance(value, (tf.Tensor, tf.Variable)):
        tensor = tf.convert_to_tensor(value)
        if tensor.dtype != type_spec.dtype:
            tensor = None
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            array = None
        if array is not None:
            if array.size == 0 and isinstance(value, (list, tuple)):
                # An empty list has no dtype of its own (numpy calls it float64).
                array = array.astype(type_spec.dtype.as_numpy_dtype)
            tensor = _convert(array, type_spec.dtype)
    if tensor is None:
        raise type_errors.TypeMismatchError(type_spec, _describe(value), "argument")
    actual = computation_types.TensorType(tensor.dtype, tensor.shape)
    if not type_spec.is_assignable_from(actual):
        raise type_errors.TypeMismatchError(type_spec, actual, "argument")
    return tensor


def _shape_fits(shape: Tuple[int, ...], declared: Optional[Tuple[Optional[int], ...]]) -> bool:
    """Whether an array's shape is one that `declared` (None: any) admits."""
    if declared is None:
        return True
    return len(declared) == len(shape) and all(d is None or d == n for d, n in zip(declared, shape))


_ALLOWED_KINDS = {"bool": "b", "int": "iu", "float": "iuf", "string": "USO"}


def _convert(array: np.ndarray, dtype: tf.DType):
    if dtype == tf.string:
        family = "string"
    elif dtype == tf.bool:
        family = "bool"
    elif dtype.is_integer:
        family = "int"
    elif dtype.is_floating:
        family = "float"
    else:
        return None
    if array.dtype.kind not in _ALLOWED_KINDS[family]:
        return None
    if family == "int" and array.size:
        # A cast would wrap an out-of-range integer silently (2**40 -> int32 0).
        limits = np.iinfo(dtype.as_numpy_dtype)
        if array.min() < limits.min or array.max() > limits.max:
            return None
    if family == "string":
        return tf.constant(array, tf.string)
    return tf.convert_to_tensor(array.astype(dtype.as_numpy_dtype, copy=False))


def _describe(value: Any) -> str:
    try:
        return str(type_conversions.infer_type(value))
    except TypeError:
        return f"{value!r} of type {type(value).__name__}"


# The sequence type each dataset was last found to fit: a simulation passes the same
# client datasets every round, and deriving a type from an element spec is not free.
_CHECKED_DATASETS: "weakref.WeakKeyDictionary[tf.data.Dataset, computation_types.Type]" = (
    weakref.WeakKeyDictionary()
)


def to_dataset(value: Any, type_spec: computation_types.SequenceType) -> tf.data.Dataset:
    """A dataset of `type_spec` from a dataset or a list of elements."""
    if isinstance(value, tf.data.Dataset):
        if _CHECKED_DATASETS.get(value) is type_spec:
            return value
        actual = computation_types.SequenceType(computation_types.to_type(value.element_spec))
        if not type_spec.is_assignable_from(actual):
            raise type_errors.TypeMismatchError(type_spec, actual, "argument")
        _CHECKED_DATASETS[value] = type_spec
        return value
    if not isinstance(value, (list, tuple)):
        raise type_errors.TypeMismatchError(type_spec, _describe(value), "argument")
    element_type = type_spec.element
    elements = [to_eager(v, element_type) for v in value]
    if not elements:
        empty = _empty_like(element_type)
        return tf.data.Dataset.from_tensor_slices(empty)
    stacked = _stack(elements, element_type)
    return tf.data.Dataset.from_tensor_slices(stacked)


def _empty_like(type_spec):
    if isinstance(type_spec, computation_types.TensorType):
        if type_spec.shape is None or any(d is None for d in type_spec.shape):
            raise ValueError(f"an empty sequence of {type_spec} needs a fully known shape")
        return tf.zeros([0, *type_spec.shape], type_spec.dtype)
    return type_conversions.to_container([_empty_like(t) for t in type_spec], type_spec)


def _stack(elements: List[Any], type_spec):
    if isinstance(type_spec, computation_types.TensorType):
        return tf.stack(elements)
    return type_conversions.to_container(
        [_stack([e[i] for e in elements], t) for i, t in enumerate(type_spec)], type_spec
    )


def to_eager(value: Any, type_spec: computation_types.Type) -> Any:
    """The executor representation of a user value of `type_spec`.

    Raises:
      TypeMismatchError: if the value does not fit the type.
    """
    if isinstance(type_spec, computation_types.TensorType):
        return to_tensor(value, type_spec)
    if isinstance(type_spec, computation_types.SequenceType):
        return to_dataset(value, type_spec)
    if isinstance(type_spec, computation_types.StructType):
        try:
            elements = type_conversions.elements_of(value, type_spec)
        except TypeError:
            raise type_errors.TypeMismatchError(type_spec, _describe(value), "argument") from None
        return [to_eager(v, t) for v, t in zip(elements, type_spec)]
    raise type_errors.TypeMismatchError(
        "a tensor, struct or sequence type", type_spec, "value of an unplaced executor"
    )


def to_python(value: Any, type_spec: computation_types.Type) -> Any:
    """The user-facing form of an executor representation."""
    if isinstance(type_spec, computation_types.TensorType):
        array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        return array
    if isinstance(type_spec, computation_types.SequenceType):
        return [dataset_element_to_python(e, type_spec.element) for e in value]
    if isinstance(type_spec, computation_types.StructType):
        return type_conversions.to_container(
            [to_python(v, t) for v, t in zip(value, type_spec)], type_spec
        )
    raise TypeError(f"cannot materialize a value of type {type_spec}")


def dataset_element_to_python(element: Any, type_spec: computation_types.Type) -> Any:
    """A dataset element (nested per its element_spec) in the user's containers."""
    return to_python(from_structure(element, type_spec), type_spec)


def from_structure(value: Any, type_spec: computation_types.Type) -> Any:
    """A nested TensorFlow structure (dicts, tuples, ...) as the executor's lists."""
    if isinstance(type_spec, computation_types.StructType):
        elements = type_conversions.elements_of(value, type_spec)
        return [from_structure(v, t) for v, t in zip(elements, type_spec)]
    return value


def to_structure(value: Any, type_spec: computation_types.Type) -> Any:
    """The executor's lists as the nested structure TensorFlow code expects."""
    if isinstance(type_spec, computation_types.StructType):
        return type_conversions.to_container(
            [to_structure(v, t) for v, t in zip(value, type_spec)], type_spec
        )
    return value


def flatten(value: Any, type_spec: computation_types.Type) -> List[Any]:
    """Leaves of an executor representation in type order."""
    if isinstance(type_spec, computation_types.StructType):
        return [leaf for v, t in zip(value, type_spec) for leaf in flatten(v, t)]
    return [value]


def unflatten(leaves, type_spec: computation_types.Type) -> Any:
    """Inverse of `flatten`, consuming an iterator of leaves."""
    if isinstance(type_spec, computation_types.StructType):
        return [unflatten(leaves, t) for t in type_spec]
    return next(leaves)


def dataset_spec(type_spec: computation_types.SequenceType):
    return tensorflow_computation.type_to_spec(type_spec.element)
