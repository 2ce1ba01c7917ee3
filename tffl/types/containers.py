"""The Python containers a struct's value can come in: tuples and lists, mappings,
namedtuples, and attrs and dataclass classes, whose fields name the elements."""

from __future__ import annotations

import collections.abc
import dataclasses
from typing import Any
from typing import Optional
from typing import Sequence


def is_named_tuple_class(cls: Any) -> bool:
    """Whether `cls` is a namedtuple class."""
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def is_attrs_class(cls: Any) -> bool:
    """Whether `cls` is an attrs class."""
    return isinstance(cls, type) and hasattr(cls, "__attrs_attrs__")


def container_field_names(container: type) -> Optional[Sequence[str]]:
    """Field names of a record container class, or None for tuple/list/dict kinds."""
    if is_named_tuple_class(container):
        return container._fields
    if is_attrs_class(container):
        return [a.name for a in container.__attrs_attrs__]
    if dataclasses.is_dataclass(container):
        return [f.name for f in dataclasses.fields(container)]
    return None


def check_struct_container(container: Any, elements: list) -> None:
    """Raises TypeError unless `container` can hold a struct of `elements` ((name, type) pairs)."""
    if not isinstance(container, type):
        raise TypeError(f"StructType container: expected a class, got {container!r}")
    names = [n for n, _ in elements]
    fields = container_field_names(container)
    if fields is not None:
        if list(fields) != names:
            raise TypeError(
                f"StructType container: {container.__qualname__} has fields {list(fields)}, "
                f"got elements named {names}"
            )
    elif issubclass(container, collections.abc.Mapping):
        if any(n is None for n in names):
            raise TypeError(
                f"StructType container: a {container.__qualname__} needs every element "
                f"named, got names {names}"
            )
    elif not issubclass(container, (list, tuple)):
        raise TypeError(
            "StructType container: expected tuple, list, a mapping, a namedtuple, "
            f"attrs or dataclass class, got {container.__qualname__}"
        )
