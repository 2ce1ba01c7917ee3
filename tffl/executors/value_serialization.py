"""Conversion of typed values to and from the `Value` message of executor.proto.

Tensors travel as serialized TensorProtos, structs element by element, sequences
as serialized tf.data graphs (`dataset_graphs`; a list of elements becomes a dataset first),
federated values member by member and computations as `Computation` messages. The
receiver checks every value against its declared type before it trusts it, so a
value that does not fit raises `TypeMismatchError` (or `ValueError` for a malformed
message) and never reaches an executor.

A tensor that never changes (a client's dataset, sent again every round) can be
wrapped in `Cached`: it then travels with its SHA-256 digest as `cache_key`, and
once the receiver keeps it (a `TensorCache`), the key alone stands for it. A key
the receiver does not keep raises `CacheMiss`, and the sender sends the content
again.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from typing import Any
from typing import Container
from typing import List
from typing import Optional
from typing import Set
from typing import Tuple

from google.protobuf import message as protobuf_message
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from tffl.compiler import building_blocks as bb
from tffl.core import computation_impl
from tffl.executors import dataset_graphs
from tffl.executors import value_conversions
from tffl.proto import executor_pb2
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions
from tffl.types import type_errors
from tffl.types import type_serialization

# Numeric dtypes whose arrays travel as their raw bytes (`tensor_content`), written and
# read without `tf.make_tensor_proto` and `tf.make_ndarray`, which cost more than the
# copy for the tens of tensors of a model's weights.
_RAW_DTYPES = {
    np.dtype(d): tf.as_dtype(d).as_datatype_enum
    for d in (
        np.float16,
        np.float32,
        np.float64,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.bool_,
        np.complex64,
        np.complex128,
    )
}
_RAW_NUMPY = {enum: dtype for dtype, enum in _RAW_DTYPES.items()}


class Cached:
    """A tensor that never changes, so a receiver may keep it and be sent only its key.

    The caller promises not to change the wrapped array. Its serialized TensorProto
    and SHA-256 digest (`key`) are computed on first use and kept; the array itself
    is let go then.

    >>> cached = Cached(np.arange(3, dtype=np.int32))
    >>> proto = serialize_value(cached, computation_types.TensorType(np.int32, [3]))
    >>> proto.cache_key == cached.key, proto.WhichOneof("kind")
    (True, 'tensor')

    Args:
      value: a numpy array or scalar, or an eager `tf.Tensor`.

    Raises:
      TypeError: if the value is not a tensor.
    """

    __slots__ = ("tensor_type", "_value", "_data", "_key", "_lock")

    def __init__(self, value: Any):
        if not isinstance(value, (np.ndarray, np.generic, tf.Tensor)) or (
            isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind not in "biufcS"
        ):
            raise TypeError(f"Cached: expected a numpy array or a tf.Tensor, got {value!r}")
        dtype = value.dtype if isinstance(value, tf.Tensor) else tf.dtypes.as_dtype(value.dtype)
        self.tensor_type = computation_types.TensorType(dtype, list(value.shape))
        self._value = value
        self._data: Optional[bytes] = None
        self._key: Optional[bytes] = None
        self._lock = threading.Lock()

    @property
    def data(self) -> bytes:
        """The serialized TensorProto."""
        if self._data is None:
            with self._lock:
                if self._data is None:
                    value = self._value
                    array = value.numpy() if isinstance(value, tf.Tensor) else value
                    self._data = tensor_bytes(array)
                    self._value = None
        return self._data

    @property
    def key(self) -> bytes:
        """The SHA-256 digest of `data`."""
        if self._key is None:
            self._key = hashlib.sha256(self.data).digest()
        return self._key

    def __repr__(self) -> str:
        return f"Cached({self.tensor_type})"


class CacheMiss(Exception):
    """A message names tensors by key that the receiver does not keep.

    Attributes:
      keys: the missing keys, in the order the message names them.
    """

    def __init__(self, keys: List[bytes]):
        self.keys = keys
        super().__init__(f"not cached: {', '.join(k.hex() for k in keys)}")


class TensorCache:
    """Received tensors by key, the least recently used dropped past `max_bytes` in all.

    Thread-safe. A numeric tensor of rank 1 or more is kept as an eager `tf.Tensor`,
    converted once: every call that names its key hands TensorFlow that tensor, with
    no copy (converting an array copies it: about 80 us for a worker's 1.5 MB of
    W4 images here). Others are kept as read-only arrays. Every session that names a
    key gets the same value.

    Attributes:
      max_bytes: the most the kept tensors may take together.
      hits: lookups that found their key.
      misses: lookups that did not.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._entries: "collections.OrderedDict[bytes, Tuple[Any, Any, int]]" = (
            collections.OrderedDict()
        )
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            return key in self._entries

    @property
    def num_bytes(self) -> int:
        """What the kept arrays take together."""
        with self._lock:
            return self._bytes

    def get(self, key: bytes) -> Optional[Tuple[Any, computation_types.TensorType]]:
        """The tensor or array kept under `key` and its type, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0], entry[1]

    def put(self, key: bytes, array: np.ndarray, type_spec: computation_types.TensorType) -> Any:
        """Keeps `array` (of `type_spec`) under `key`, as the class says, and returns what
        it keeps; one larger than `max_bytes` is not kept (and comes back as it is)."""
        size = _size(array)
        if size > self.max_bytes:
            return array
        if array.ndim > 0 and array.dtype.kind in "biufc":
            kept = tf.constant(array)
        else:
            array.flags.writeable = False
            kept = array
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            self._entries[key] = (kept, type_spec, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return kept

    def clear(self) -> None:
        """Drops every kept tensor (the counters stay)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def _size(array: np.ndarray) -> int:
    if array.dtype == object:  # Strings: the array holds only references to them.
        return array.nbytes + sum(len(s) for s in array.flat)
    return array.nbytes


def serialize_value(
    value: Any, type_spec: computation_types.Type, known_keys: Container[bytes] = frozenset()
) -> executor_pb2.Value:
    """The `Value` message for a Python value (or computation) of `type_spec`.

    Args:
      value: the value; `Cached` tensors may stand anywhere a tensor does.
      type_spec: its type.
      known_keys: the keys of tensors the receiver keeps: `Cached` tensors with one
        of them go as the key alone.

    Raises:
      TypeMismatchError: if the value does not fit the type.
    """
    proto = executor_pb2.Value()
    write_value(proto, value, type_spec, known_keys)
    return proto


def write_value(
    proto: executor_pb2.Value,
    value: Any,
    type_spec: computation_types.Type,
    known_keys: Container[bytes] = frozenset(),
) -> Set[bytes]:
    """Fills an empty `Value` message in place (a large value is then copied once less).

    Args: as for `serialize_value`.

    Returns:
      The keys of the `Cached` tensors written.

    Raises:
      TypeMismatchError: if the value does not fit the type.
    """
    type_spec = computation_types.to_type(type_spec)
    proto.type.CopyFrom(type_serialization.serialize_type(type_spec))
    keys: Set[bytes] = set()
    _fill(proto, value, type_spec, known_keys, keys)
    return keys


def _fill(
    proto: executor_pb2.Value,
    value: Any,
    type_spec: computation_types.Type,
    known_keys: Container[bytes],
    keys: Set[bytes],
) -> None:
    if isinstance(type_spec, computation_types.FunctionType):
        proto.computation.CopyFrom(_computation_block(value, type_spec).to_proto())
    elif isinstance(type_spec, computation_types.TensorType) and isinstance(value, Cached):
        if not type_spec.is_assignable_from(value.tensor_type):
            raise type_errors.TypeMismatchError(type_spec, value.tensor_type, "value")
        key = value.key
        proto.cache_key = key
        if key not in known_keys:
            proto.tensor = value.data
        keys.add(key)
    elif isinstance(type_spec, computation_types.TensorType):
        proto.tensor = tensor_bytes(_array(value, type_spec))
    elif isinstance(type_spec, computation_types.StructType):
        try:
            elements = type_conversions.elements_of(value, type_spec)
        except TypeError:
            raise type_errors.TypeMismatchError(type_spec, _describe(value), "value") from None
        struct = proto.struct
        struct.SetInParent()
        for (name, element_type), element in zip(type_spec.elements, elements):
            _fill(
                struct.element.add(name=name or "").value,
                element,
                element_type,
                known_keys,
                keys,
            )
    elif isinstance(type_spec, computation_types.SequenceType):
        proto.sequence.graph = dataset_graphs.dataset_to_graph(
            dataset_graphs.to_dataset(value, type_spec)
        )
    elif isinstance(type_spec, computation_types.FederatedType):
        federated = proto.federated
        federated.SetInParent()
        for member in _members(value, type_spec):
            _fill(federated.member.add(), member, type_spec.member, known_keys, keys)
    else:
        raise type_errors.TypeMismatchError(
            "a tensor, struct, sequence, federated or function type", type_spec, "value"
        )


def tensor_bytes(array: Any) -> bytes:
    """A serialized TensorProto of a numpy value (numeric arrays as their raw bytes)."""
    dtype = _RAW_DTYPES.get(array.dtype) if isinstance(array, (np.ndarray, np.generic)) else None
    if dtype is None:
        return tf.make_tensor_proto(array).SerializeToString()
    proto = tensor_pb2.TensorProto(
        dtype=dtype, tensor_content=np.ascontiguousarray(array).tobytes()
    )
    dims = proto.tensor_shape.dim
    for size in array.shape:
        dims.add(size=size)
    return proto.SerializeToString()


def _array(value: Any, type_spec: computation_types.TensorType) -> np.ndarray:
    """The value as a numpy array of the type's dtype, checked against the type."""
    if (
        isinstance(value, (np.ndarray, np.generic))
        and value.dtype.kind not in "OUS"
        and tf.dtypes.as_dtype(value.dtype) == type_spec.dtype
        and type_spec.is_assignable_from(computation_types.TensorType(value.dtype, value.shape))
    ):
        return np.asarray(value)  # Already right: no conversion, no copy.
    return value_conversions.to_tensor(value, type_spec).numpy()


def _computation_block(value: Any, type_spec: computation_types.FunctionType) -> bb.BuildingBlock:
    if isinstance(value, computation_impl.ConcreteComputation):
        value = value.building_block
    if not isinstance(value, bb.BuildingBlock):
        raise type_errors.TypeMismatchError(type_spec, _describe(value), "value")
    if not type_spec.is_assignable_from(value.type_signature):
        raise type_errors.TypeMismatchError(type_spec, value.type_signature, "computation")
    return value


def _members(value: Any, type_spec: computation_types.FederatedType) -> List[Any]:
    if type_spec.placement == placements.SERVER or type_spec.all_equal:
        return [value]
    if not isinstance(value, (list, tuple)):
        raise type_errors.TypeMismatchError(
            type_spec, f"{_describe(value)} (a CLIENTS value is a list, one per client)", "value"
        )
    return list(value)


def _describe(value: Any) -> str:
    try:
        return str(type_conversions.infer_type(value))
    except TypeError:
        return f"a {type(value).__name__}"


def deserialize_value(
    proto: executor_pb2.Value,
    num_clients: Optional[int] = None,
    cache: Optional[TensorCache] = None,
) -> Tuple[Any, computation_types.Type]:
    """The value and type a `Value` message carries.

    Tensors come back as numpy values (0-d as numpy scalars, strings as bytes),
    structs in the containers their type remembers, sequences as datasets, federated
    values as lists of members (one value for SERVER and all-equal CLIENTS values),
    computations as building blocks.

    Args:
      proto: the message.
      num_clients: when given, the number of members a CLIENTS value must have.
      cache: keeps the tensors that come with a `cache_key`, and gives those named
        by their key alone.

    Raises:
      ValueError: if the message is malformed (no type, a broken tensor or graph, a
        `cache_key` that is not the tensor's digest).
      TypeMismatchError: if the value does not fit its declared type.
      CacheMiss: naming every key the message names alone that `cache` does not keep.
    """
    type_spec = type_serialization.deserialize_type(proto.type)
    if type_spec is None:
        raise ValueError("the value has no type")
    reader = _Reader(num_clients, cache)
    value = reader.read(proto, type_spec)
    if reader.missing:
        raise CacheMiss(reader.missing)
    return value, type_spec


_KIND_OF = {
    computation_types.TensorType: "tensor",
    computation_types.StructType: "struct",
    computation_types.SequenceType: "sequence",
    computation_types.FederatedType: "federated",
    computation_types.FunctionType: "computation",
}


class _Reader:
    """Reads one message, noting the keys it names alone that the cache does not keep."""

    def __init__(self, num_clients: Optional[int], cache: Optional[TensorCache]):
        self._num_clients = num_clients
        self._cache = cache
        self.missing: List[bytes] = []

    def read(self, proto: executor_pb2.Value, type_spec) -> Any:
        kind = proto.WhichOneof("kind")
        if proto.cache_key and kind is None and isinstance(type_spec, computation_types.TensorType):
            return self._cached(proto.cache_key, type_spec)
        if _KIND_OF.get(type(type_spec)) != kind:
            raise type_errors.TypeMismatchError(type_spec, f"a {kind or 'empty'} value", "value")
        if kind == "tensor":
            return self._tensor(proto, type_spec)
        if proto.cache_key:
            raise ValueError(f"a {kind} value with a cache_key (only tensors have one)")
        if kind == "struct":
            return self._struct(proto.struct.element, type_spec)
        if kind == "sequence":
            return dataset_graphs.graph_to_dataset(proto.sequence.graph, type_spec)
        if kind == "federated":
            return self._federated(proto.federated.member, type_spec)
        block = bb.from_proto(proto.computation)
        if not type_spec.is_assignable_from(block.type_signature):
            raise type_errors.TypeMismatchError(type_spec, block.type_signature, "computation")
        return block

    def _tensor(self, proto: executor_pb2.Value, type_spec: computation_types.TensorType) -> Any:
        # The key is checked only where the tensor is kept under it.
        keep = bool(proto.cache_key) and self._cache is not None
        if keep and hashlib.sha256(proto.tensor).digest() != proto.cache_key:
            raise ValueError(f"cache_key does not match the tensor ({proto.cache_key.hex()})")
        array, actual = _parse_tensor(proto.tensor, type_spec)
        if keep:
            array = self._cache.put(proto.cache_key, array, actual)
        return _unwrapped(array)

    def _cached(self, key: bytes, type_spec: computation_types.TensorType) -> Any:
        found = None if self._cache is None else self._cache.get(key)
        if found is None:
            self.missing.append(key)
            return None
        kept, actual = found
        if not type_spec.is_assignable_from(actual):
            raise type_errors.TypeMismatchError(type_spec, actual, "value")
        return _unwrapped(kept)

    def _struct(self, elements, type_spec: computation_types.StructType) -> Any:
        if len(elements) != len(type_spec):
            raise type_errors.TypeMismatchError(
                type_spec, f"a struct of {len(elements)} elements", "value"
            )
        values = []
        for (name, element_type), element in zip(type_spec.elements, elements):
            if (element.name or None) != name:
                raise type_errors.TypeMismatchError(
                    type_spec, f"an element named {element.name!r} where {name!r} is", "value"
                )
            values.append(self.read(element.value, element_type))
        return type_conversions.to_container(values, type_spec)

    def _federated(self, members, type_spec: computation_types.FederatedType) -> Any:
        if type_spec.placement == placements.SERVER or type_spec.all_equal:
            if len(members) != 1:
                raise type_errors.TypeMismatchError(
                    type_spec, f"{len(members)} members (expected exactly one)", "value"
                )
            return self.read(members[0], type_spec.member)
        if self._num_clients is not None and len(members) != self._num_clients:
            raise ValueError(
                f"expected {self._num_clients} clients for a value of type {type_spec}, "
                f"got {len(members)}"
            )
        return [self.read(m, type_spec.member) for m in members]


def _unwrapped(value: Any) -> Any:
    # A 0-d array comes back as a scalar, as `Tensor.numpy()` gives it.
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _parse_tensor(
    data: bytes, type_spec: computation_types.TensorType
) -> Tuple[np.ndarray, computation_types.TensorType]:
    """The array serialized TensorProto bytes hold, and its type, checked against `type_spec`."""
    tensor = tensor_pb2.TensorProto()
    try:
        tensor.ParseFromString(data)
        dtype = tf.dtypes.as_dtype(tensor.dtype)
    except (protobuf_message.DecodeError, TypeError):
        raise ValueError("the tensor bytes are not a TensorProto") from None
    shape = tf.TensorShape(tensor.tensor_shape)
    actual = computation_types.TensorType(dtype, None if shape.rank is None else shape.as_list())
    if not type_spec.is_assignable_from(actual):
        raise type_errors.TypeMismatchError(type_spec, actual, "value")
    raw = _RAW_NUMPY.get(tensor.dtype)
    if raw is not None and tensor.tensor_content and shape.is_fully_defined():
        content = tensor.tensor_content
        if len(content) != raw.itemsize * shape.num_elements():
            raise ValueError(f"a malformed {actual} tensor: {len(content)} bytes of content")
        # A copy: the array outlives the message and may be written to.
        return np.frombuffer(content, raw).reshape(shape.as_list()).copy(), actual
    try:
        array = tf.make_ndarray(tensor)
    except (TypeError, ValueError) as error:
        raise ValueError(f"a malformed {actual} tensor: {error}") from None
    return array, actual


def materialize(value: Any, type_spec: Optional[computation_types.Type]) -> Any:
    """A deserialized value as `compute()` gives it: datasets become element lists."""
    if isinstance(type_spec, computation_types.SequenceType):
        if isinstance(value, tf.data.Dataset):
            return value_conversions.to_python(value, type_spec)
        return value
    if isinstance(type_spec, computation_types.FederatedType):
        if type_spec.placement == placements.CLIENTS and not type_spec.all_equal:
            return [materialize(v, type_spec.member) for v in value]
        return materialize(value, type_spec.member)
    if isinstance(type_spec, computation_types.StructType):
        elements = type_conversions.elements_of(value, type_spec)
        return type_conversions.to_container(
            [materialize(v, t) for v, t in zip(elements, type_spec)], type_spec
        )
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    return value
