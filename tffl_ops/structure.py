"""Nested structures of tensors: flatten, pack and map, in container order.

The containers are those a tffl struct comes back as: lists, tuples, mappings,
namedtuples, attrs and dataclass instances. Unlike `tf.nest`, mappings keep their
insertion order (a struct's order), and dataclasses are containers, not leaves.
"""

from __future__ import annotations

import collections.abc
from typing import Any
from typing import Callable
from typing import Iterator
from typing import List
from typing import Optional
from typing import Sequence

import tensorflow as tf


def _record_names(value: Any) -> Optional[List[str]]:
    """Field names of an attrs or dataclass instance; None for anything else."""
    cls = type(value)
    if hasattr(cls, "__attrs_attrs__"):
        return [attribute.name for attribute in cls.__attrs_attrs__]
    if hasattr(cls, "__dataclass_fields__"):
        return list(cls.__dataclass_fields__)
    return None


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _children(value: Any) -> Optional[List[Any]]:
    """The elements of a container in order, or None for a leaf."""
    if isinstance(value, collections.abc.Mapping):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    names = _record_names(value)
    if names is not None:
        return [getattr(value, name) for name in names]
    return None


def _rebuild(template: Any, elements: List[Any]) -> Any:
    """A container of `template`'s kind holding `elements`."""
    if isinstance(template, collections.abc.Mapping):
        return type(template)(zip(template.keys(), elements))
    if _is_namedtuple(template):
        return type(template)(*elements)
    if isinstance(template, (list, tuple)):
        return type(template)(elements)
    names = _record_names(template)
    return type(template)(**dict(zip(names, elements)))


def flatten(structure: Any) -> List[Any]:
    """The leaves of a nested structure, depth first, in container order.

    >>> flatten({"b": 1.0, "a": (2.0, [3.0])})
    [1.0, 2.0, 3.0]
    """
    elements = _children(structure)
    if elements is None:
        return [structure]
    return [leaf for element in elements for leaf in flatten(element)]


def _pack(template: Any, leaves: Iterator[Any]) -> Any:
    elements = _children(template)
    if elements is None:
        return next(leaves)
    return _rebuild(template, [_pack(element, leaves) for element in elements])


def pack_as(structure: Any, flat: Sequence[Any]) -> Any:
    """`flat`'s leaves in the containers of `structure` (the inverse of `flatten`).

    Raises:
      ValueError: if `flat` does not have one leaf per leaf of `structure`.

    >>> pack_as({"b": 0, "a": (0, [0])}, [1, 2, 3])
    {'b': 1, 'a': (2, [3])}
    """
    expected = len(flatten(structure))
    if len(flat) != expected:
        raise ValueError(f"pack_as: expected {expected} leaves, got {len(flat)}")
    return _pack(structure, iter(flat))


def map_structure(fn: Callable[..., Any], structure: Any, *others: Any) -> Any:
    """`fn` applied leafwise to one or more structures of the same shape.

    >>> map_structure(lambda x, y: x + y, [1, (2, 3)], [10, (20, 30)])
    [11, (22, 33)]
    """
    flats = [flatten(structure)] + [flatten(other) for other in others]
    lengths = {len(flat) for flat in flats}
    if len(lengths) != 1:
        raise ValueError(f"map_structure: the structures have {sorted(lengths)} leaves")
    return pack_as(structure, [fn(*leaves) for leaves in zip(*flats)])


def zeros_like(structure: Any) -> Any:
    """A structure of zero tensors with the shapes and dtypes of `structure`'s leaves."""
    return map_structure(tf.zeros_like, structure)
