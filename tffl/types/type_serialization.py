"""Conversion of tffl types to and from the `Type` message of computation.proto.

Python containers travel as a kind plus, for record classes, `module:QualName`. On
the way back a record class is imported by that name; a namedtuple whose module
cannot be imported is rebuilt with the same fields, and any other record class
that cannot be found comes back as an `OrderedDict`, so a value never fails to
arrive for want of the user's class.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import importlib
import threading
from typing import Optional

import tensorflow as tf

from tffl.proto import computation_pb2
from tffl.types import computation_types
from tffl.types import containers
from tffl.types import placements

_Kind = computation_pb2.Container.Kind


def serialize_type(type_spec: Optional[computation_types.Type]) -> computation_pb2.Type:
    """Returns the `Type` message for `type_spec` (an empty message for None)."""
    proto = computation_pb2.Type()
    if type_spec is None:
        return proto
    if isinstance(type_spec, computation_types.TensorType):
        proto.tensor.dtype = type_spec.dtype.as_datatype_enum
        if type_spec.shape is None:
            proto.tensor.unknown_rank = True
        else:
            proto.tensor.dims.extend(-1 if d is None else d for d in type_spec.shape)
    elif isinstance(type_spec, computation_types.StructType):
        struct = proto.struct
        for name, element in type_spec.elements:
            struct.element.add(name=name or "", value=serialize_type(element))
        struct.container.CopyFrom(_serialize_container(type_spec.container))
    elif isinstance(type_spec, computation_types.SequenceType):
        proto.sequence.element.CopyFrom(serialize_type(type_spec.element))
    elif isinstance(type_spec, computation_types.FunctionType):
        if type_spec.parameter is not None:
            proto.function.parameter.CopyFrom(serialize_type(type_spec.parameter))
        proto.function.result.CopyFrom(serialize_type(type_spec.result))
    elif isinstance(type_spec, computation_types.FederatedType):
        proto.federated.placement.uri = type_spec.placement.uri
        proto.federated.all_equal = type_spec.all_equal
        proto.federated.member.CopyFrom(serialize_type(type_spec.member))
    elif isinstance(type_spec, computation_types.PlacementType):
        proto.placement.SetInParent()
    elif isinstance(type_spec, computation_types.AbstractType):
        proto.abstract.label = type_spec.label
    else:
        raise TypeError(f"serialize_type: expected a tffl type, got {type_spec!r}")
    return proto


# Types read recently, by their messages' bytes: a worker reads the same argument
# type in every call of a simulation's rounds, and building a struct type of a dozen
# tensors costs about 40 µs against 1 µs for the lookup. Types are immutable, so one
# object serves every caller; record classes are looked up (imported) once per entry.
_READ: "collections.OrderedDict[bytes, Optional[computation_types.Type]]" = (
    collections.OrderedDict()
)
_READ_KEPT = 256
_READ_LOCK = threading.Lock()


def deserialize_type(proto: computation_pb2.Type) -> Optional[computation_types.Type]:
    """Returns the type a `Type` message describes (None for an empty message).

    Raises:
      ValueError: if the message is malformed (an unknown dtype or placement).
    """
    key = proto.SerializeToString()
    with _READ_LOCK:
        if key in _READ:
            _READ.move_to_end(key)
            return _READ[key]
    type_spec = _deserialize_type(proto)
    with _READ_LOCK:
        _READ[key] = type_spec
        while len(_READ) > _READ_KEPT:
            _READ.popitem(last=False)
    return type_spec


def _deserialize_type(proto: computation_pb2.Type) -> Optional[computation_types.Type]:
    kind = proto.WhichOneof("kind")
    if kind is None:
        return None
    if kind == "tensor":
        try:
            dtype = tf.dtypes.as_dtype(proto.tensor.dtype)
        except TypeError:
            raise ValueError(f"deserialize_type: unknown dtype enum {proto.tensor.dtype}") from None
        if proto.tensor.unknown_rank:
            return computation_types.TensorType(dtype, None)
        return computation_types.TensorType(
            dtype, [None if d < 0 else d for d in proto.tensor.dims]
        )
    if kind == "struct":
        elements = [(e.name or None, _deserialize_type(e.value)) for e in proto.struct.element]
        container = _deserialize_container(proto.struct.container, elements)
        return computation_types.StructType(elements, container=container)
    if kind == "sequence":
        return computation_types.SequenceType(_deserialize_type(proto.sequence.element))
    if kind == "function":
        parameter = None
        if proto.function.HasField("parameter"):
            parameter = _deserialize_type(proto.function.parameter)
        return computation_types.FunctionType(parameter, _deserialize_type(proto.function.result))
    if kind == "federated":
        return computation_types.FederatedType(
            _deserialize_type(proto.federated.member),
            placements.uri_to_placement(proto.federated.placement.uri),
            proto.federated.all_equal,
        )
    if kind == "placement":
        return computation_types.PlacementType()
    return computation_types.AbstractType(proto.abstract.label)


def _serialize_container(container: Optional[type]) -> computation_pb2.Container:
    proto = computation_pb2.Container()
    if container is None:
        proto.kind = _Kind.NONE
    elif containers.is_named_tuple_class(container):
        proto.kind = _Kind.NAMED_TUPLE
    elif containers.is_attrs_class(container):
        proto.kind = _Kind.ATTRS
    elif dataclasses.is_dataclass(container):
        proto.kind = _Kind.DATACLASS
    elif issubclass(container, collections.OrderedDict):
        proto.kind = _Kind.ORDERED_DICT
    elif issubclass(container, collections.abc.Mapping):
        proto.kind = _Kind.DICT
    elif issubclass(container, list):
        proto.kind = _Kind.LIST
    else:
        proto.kind = _Kind.TUPLE
    if proto.kind in (_Kind.NAMED_TUPLE, _Kind.ATTRS, _Kind.DATACLASS):
        proto.qualified_name = f"{container.__module__}:{container.__qualname__}"
    return proto


_SIMPLE_CONTAINERS = {
    _Kind.NONE: None,
    _Kind.TUPLE: tuple,
    _Kind.LIST: list,
    _Kind.DICT: dict,
    _Kind.ORDERED_DICT: collections.OrderedDict,
}


def _deserialize_container(proto: computation_pb2.Container, elements) -> Optional[type]:
    if proto.kind in _SIMPLE_CONTAINERS:
        return _SIMPLE_CONTAINERS[proto.kind]
    names = tuple(n for n, _ in elements)
    found = _import_class(proto.qualified_name)
    if found is not None and containers.container_field_names(found) is not None:
        if tuple(containers.container_field_names(found)) == names:
            return found
    if proto.kind == _Kind.NAMED_TUPLE and all(names):
        class_name = proto.qualified_name.rpartition(".")[2].rpartition(":")[2] or "Struct"
        return _rebuilt_named_tuple(class_name, names)
    return collections.OrderedDict if all(names) else tuple


@functools.lru_cache(maxsize=None)
def _rebuilt_named_tuple(class_name: str, names: tuple) -> type:
    # Cached so that repeated deserialization yields equal types.
    return collections.namedtuple(class_name, names)


def _import_class(qualified_name: str) -> Optional[type]:
    module_name, _, path = qualified_name.partition(":")
    if not module_name or not path or "<locals>" in path:
        return None
    try:
        found = importlib.import_module(module_name)
        for part in path.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) else None
