"""The IR: a dozen small node classes, type-checked on construction.

Every node has a `type_signature`, converts to and from a `Computation` message
(`to_proto` / `from_proto`), and prints compactly (`str()`), e.g.
`(temps -> federated_mean(federated_map(<to_celsius,temps>)))`.
"""

from __future__ import annotations

import abc
import hashlib
from typing import Iterable
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from tffl.proto import computation_pb2
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors
from tffl.types import type_serialization


class BuildingBlock(abc.ABC):
    """The base of all IR nodes."""

    __slots__ = ("_type",)

    def __init__(self, type_signature: Optional[computation_types.Type]):
        self._type = type_signature

    @property
    def type_signature(self) -> Optional[computation_types.Type]:
        return self._type

    @abc.abstractmethod
    def children(self) -> Tuple["BuildingBlock", ...]:
        """The direct sub-nodes, in evaluation order."""

    @abc.abstractmethod
    def _fill_proto(self, proto: computation_pb2.Computation) -> None: ...

    def to_proto(self) -> computation_pb2.Computation:
        proto = computation_pb2.Computation()
        if self._type is not None:
            proto.type.CopyFrom(type_serialization.serialize_type(self._type))
        self._fill_proto(proto)
        return proto

    @abc.abstractmethod
    def compact(self) -> str:
        """The compact string form."""

    def __str__(self) -> str:
        return self.compact()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.compact()!r}: {self._type})"


class Reference(BuildingBlock):
    """A use of a name bound by an enclosing Lambda or Block."""

    __slots__ = ("_name",)

    def __init__(self, name: str, type_signature: computation_types.Type):
        if not isinstance(name, str) or not name:
            raise TypeError(f"Reference name: expected a non-empty str, got {name!r}")
        super().__init__(type_signature)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def children(self):
        return ()

    def _fill_proto(self, proto):
        proto.reference.name = self._name

    def compact(self):
        return self._name


class Selection(BuildingBlock):
    """One element of a struct-typed source, by index (a name resolves to one)."""

    __slots__ = ("_source", "_index")

    def __init__(
        self, source: BuildingBlock, name: Optional[str] = None, index: Optional[int] = None
    ):
        source_type = source.type_signature
        if not isinstance(source_type, computation_types.StructType):
            raise type_errors.TypeMismatchError("a struct", source_type, "selection source")
        if (name is None) == (index is None):
            raise ValueError("Selection: give exactly one of name and index")
        if name is not None:
            try:
                index = source_type.index_of(name)
            except AttributeError:
                raise AttributeError(
                    f"selection: {source_type} has no element named {name!r}"
                ) from None
        if not -len(source_type) <= index < len(source_type):
            raise IndexError(f"selection: index {index} out of range for {source_type}")
        index %= len(source_type)
        super().__init__(source_type[index])
        self._source = source
        self._index = index

    @property
    def source(self) -> BuildingBlock:
        return self._source

    @property
    def index(self) -> int:
        return self._index

    @property
    def name(self) -> Optional[str]:
        return self._source.type_signature.elements[self._index][0]

    def children(self):
        return (self._source,)

    def _fill_proto(self, proto):
        proto.selection.source.CopyFrom(self._source.to_proto())
        proto.selection.index = self._index

    def compact(self):
        name = self.name
        return (
            f"{self._source.compact()}.{name}"
            if name
            else f"{self._source.compact()}[{self._index}]"
        )


class Struct(BuildingBlock):
    """A struct of named or unnamed elements."""

    __slots__ = ("_elements",)

    def __init__(
        self,
        elements: Iterable[Union[BuildingBlock, Tuple[Optional[str], BuildingBlock]]],
        container: Optional[type] = None,
    ):
        normalized = []
        for element in elements:
            if isinstance(element, tuple):
                name, value = element
            else:
                name, value = None, element
            if not isinstance(value, BuildingBlock):
                raise TypeError(f"Struct element: expected a building block, got {value!r}")
            normalized.append((name or None, value))
        super().__init__(
            computation_types.StructType(
                [(n, v.type_signature) for n, v in normalized], container=container
            )
        )
        self._elements = tuple(normalized)

    @property
    def elements(self) -> Tuple[Tuple[Optional[str], BuildingBlock], ...]:
        return self._elements

    def children(self):
        return tuple(v for _, v in self._elements)

    def _fill_proto(self, proto):
        proto.struct.SetInParent()
        for name, value in self._elements:
            proto.struct.element.add(name=name or "", value=value.to_proto())

    def compact(self):
        parts = (v.compact() if n is None else f"{n}={v.compact()}" for n, v in self._elements)
        return "<" + ",".join(parts) + ">"


class Call(BuildingBlock):
    """A call of a function-typed node on an argument (or none)."""

    __slots__ = ("_function", "_argument")

    def __init__(self, function: BuildingBlock, argument: Optional[BuildingBlock] = None):
        function_type = function.type_signature
        if not isinstance(function_type, computation_types.FunctionType):
            raise type_errors.TypeMismatchError("a function", function_type, "call")
        argument_type = None if argument is None else argument.type_signature
        if function_type.parameter is None:
            if argument is not None:
                raise TypeError(
                    f"call of {function.compact()}: expected no argument, got {argument_type}"
                )
        elif argument is None:
            raise TypeError(
                f"call of {function.compact()}: expected an argument of type "
                f"{function_type.parameter}, got none"
            )
        else:
            function_type.parameter.check_assignable_from(
                argument_type, f"argument of {function.compact()}"
            )
        super().__init__(function_type.result)
        self._function = function
        self._argument = argument

    @property
    def function(self) -> BuildingBlock:
        return self._function

    @property
    def argument(self) -> Optional[BuildingBlock]:
        return self._argument

    def children(self):
        return (self._function,) if self._argument is None else (self._function, self._argument)

    def _fill_proto(self, proto):
        proto.call.function.CopyFrom(self._function.to_proto())
        if self._argument is not None:
            proto.call.argument.CopyFrom(self._argument.to_proto())

    def compact(self):
        argument = "" if self._argument is None else self._argument.compact()
        return f"{self._function.compact()}({argument})"


class Lambda(BuildingBlock):
    """A function of one parameter (or none) whose body is another node."""

    __slots__ = ("_parameter_name", "_parameter_type", "_result")

    def __init__(
        self,
        parameter_name: Optional[str],
        parameter_type: Optional[computation_types.Type],
        result: BuildingBlock,
    ):
        if (parameter_name is None) != (parameter_type is None):
            raise TypeError("Lambda: give both a parameter name and type, or neither")
        super().__init__(computation_types.FunctionType(parameter_type, result.type_signature))
        self._parameter_name = parameter_name
        self._parameter_type = parameter_type
        self._result = result

    @property
    def parameter_name(self) -> Optional[str]:
        return self._parameter_name

    @property
    def parameter_type(self) -> Optional[computation_types.Type]:
        return self._parameter_type

    @property
    def result(self) -> BuildingBlock:
        return self._result

    def children(self):
        return (self._result,)

    def _fill_proto(self, proto):
        # `lambda` is a Python keyword, so the field is reached with getattr.
        message = getattr(proto, "lambda")
        message.parameter_name = self._parameter_name or ""
        message.result.CopyFrom(self._result.to_proto())

    def compact(self):
        return f"({self._parameter_name or ''} -> {self._result.compact()})"


class Block(BuildingBlock):
    """`let` bindings evaluated in order, then a result that may refer to them."""

    __slots__ = ("_locals", "_result")

    def __init__(self, local_values: Sequence[Tuple[str, BuildingBlock]], result: BuildingBlock):
        for name, value in local_values:
            if not isinstance(name, str) or not isinstance(value, BuildingBlock):
                raise TypeError(
                    f"Block local: expected (str, building block), got {(name, value)!r}"
                )
        super().__init__(result.type_signature)
        self._locals = tuple(local_values)
        self._result = result

    @property
    def locals(self) -> Tuple[Tuple[str, BuildingBlock], ...]:
        return self._locals

    @property
    def result(self) -> BuildingBlock:
        return self._result

    def children(self):
        return tuple(v for _, v in self._locals) + (self._result,)

    def _fill_proto(self, proto):
        proto.block.SetInParent()
        for name, value in self._locals:
            proto.block.local.add(name=name, value=value.to_proto())
        proto.block.result.CopyFrom(self._result.to_proto())

    def compact(self):
        bindings = ",".join(f"{n}={v.compact()}" for n, v in self._locals)
        return f"(let {bindings} in {self._result.compact()})"


class Intrinsic(BuildingBlock):
    """A federated operator (see `intrinsic_defs`) at a concrete type signature."""

    __slots__ = ("_uri",)

    def __init__(self, uri: str, type_signature: computation_types.FunctionType):
        if not isinstance(type_signature, computation_types.FunctionType):
            raise type_errors.TypeMismatchError(
                "a function type", type_signature, f"intrinsic {uri}"
            )
        super().__init__(type_signature)
        self._uri = uri

    @property
    def uri(self) -> str:
        return self._uri

    def children(self):
        return ()

    def _fill_proto(self, proto):
        proto.intrinsic.uri = self._uri

    def compact(self):
        return self._uri


class Data(BuildingBlock):
    """A reference to data that the executing context resolves by uri."""

    __slots__ = ("_uri",)

    def __init__(self, uri: str, type_signature: computation_types.Type):
        super().__init__(type_signature)
        self._uri = uri

    @property
    def uri(self) -> str:
        return self._uri

    def children(self):
        return ()

    def _fill_proto(self, proto):
        proto.data.uri = self._uri

    def compact(self):
        return f"data({self._uri})"


class Literal(BuildingBlock):
    """A constant tensor."""

    __slots__ = ("_value",)

    def __init__(self, value, type_signature: Optional[computation_types.TensorType] = None):
        array = np.asarray(value)
        if type_signature is None:
            dtype = tf.string if array.dtype.kind in ("U", "S", "O") else array.dtype
            type_signature = computation_types.TensorType(dtype, array.shape)
        if not isinstance(type_signature, computation_types.TensorType):
            raise type_errors.TypeMismatchError("a tensor type", type_signature, "literal")
        if type_signature.dtype != tf.string:
            array = array.astype(type_signature.dtype.as_numpy_dtype)
        else:
            # Held as TensorFlow holds strings (bytes objects), so a literal prints the
            # same before and after a trip through its proto.
            array = np.array(
                [s.encode() if isinstance(s, str) else s for s in array.reshape(-1)],
                dtype=object,
            ).reshape(array.shape)
        if (
            type_signature.shape is None
            or len(type_signature.shape) != array.ndim
            or any(d is not None and d != a for d, a in zip(type_signature.shape, array.shape))
        ):
            raise type_errors.TypeMismatchError(
                type_signature,
                computation_types.TensorType(type_signature.dtype, array.shape),
                "literal",
            )
        super().__init__(type_signature)
        self._value = array

    @property
    def value(self) -> np.ndarray:
        return self._value

    def children(self):
        return ()

    def _fill_proto(self, proto):
        tensor = tf.make_tensor_proto(self._value, dtype=self._type.dtype)
        proto.literal.tensor = tensor.SerializeToString(deterministic=True)

    def compact(self):
        if self._value.ndim == 0:
            return str(self._value.item() if self._value.dtype.kind != "O" else self._value)
        return np.array2string(self._value, separator=",").replace("\n", "")


class Placement(BuildingBlock):
    """A placement literal (CLIENTS or SERVER) used as a value."""

    __slots__ = ("_literal",)

    def __init__(self, literal: placements.PlacementLiteral):
        if not isinstance(literal, placements.PlacementLiteral):
            raise TypeError(f"Placement: expected tffl.CLIENTS or tffl.SERVER, got {literal!r}")
        super().__init__(computation_types.PlacementType())
        self._literal = literal

    @property
    def literal(self) -> placements.PlacementLiteral:
        return self._literal

    def children(self):
        return ()

    def _fill_proto(self, proto):
        proto.placement.uri = self._literal.uri

    def compact(self):
        return str(self._literal)


class TensorFlow(BuildingBlock):
    """A serialized TensorFlow graph with its parameter and result bindings.

    A block traced in this process may also keep its `source`: a callable that
    traces the same Python function again into the graph being built, on an
    argument given as the user's structures. The lowering uses it to hand a client's
    function in-memory sequences in place of datasets. It is never serialized.
    """

    __slots__ = ("_proto", "_hash", "_source")

    def __init__(
        self,
        proto: computation_pb2.TensorFlow,
        type_signature: computation_types.FunctionType,
        source=None,
    ):
        if not isinstance(type_signature, computation_types.FunctionType):
            raise type_errors.TypeMismatchError(
                "a function type", type_signature, "TensorFlow block"
            )
        super().__init__(type_signature)
        self._proto = proto
        self._hash = None
        self._source = source

    @property
    def proto(self) -> computation_pb2.TensorFlow:
        return self._proto

    @property
    def source(self):
        """`argument -> flat result tensors` in the current graph, or None (see the class)."""
        return self._source

    @property
    def name(self) -> str:
        return self._proto.name

    def content_hash(self) -> str:
        """A digest of the graph, bindings and type: equal for equal computations."""
        if self._hash is None:
            digest = hashlib.sha256(self._proto.SerializeToString(deterministic=True))
            digest.update(str(self._type).encode())
            self._hash = digest.hexdigest()
        return self._hash

    def children(self):
        return ()

    def _fill_proto(self, proto):
        proto.tensorflow.CopyFrom(self._proto)

    def compact(self):
        return self._proto.name or f"comp#{self.content_hash()[:8]}"


def from_proto(proto: computation_pb2.Computation) -> BuildingBlock:
    """Rebuilds the IR from a `Computation` message, re-checking every type.

    Raises:
      ValueError: if the message is malformed.
      TypeError: if it is ill-typed.
    """
    type_signature = type_serialization.deserialize_type(proto.type)
    kind = proto.WhichOneof("kind")
    if kind == "reference":
        return Reference(proto.reference.name, type_signature)
    if kind == "selection":
        return Selection(from_proto(proto.selection.source), index=proto.selection.index)
    if kind == "struct":
        container = getattr(type_signature, "container", None)
        return Struct(
            [(e.name or None, from_proto(e.value)) for e in proto.struct.element], container
        )
    if kind == "call":
        argument = from_proto(proto.call.argument) if proto.call.HasField("argument") else None
        return Call(from_proto(proto.call.function), argument)
    if kind == "lambda":
        if not isinstance(type_signature, computation_types.FunctionType):
            raise ValueError(f"lambda: expected a function type, got {type_signature}")
        message = getattr(proto, "lambda")
        name = message.parameter_name or None
        return Lambda(name, type_signature.parameter, from_proto(message.result))
    if kind == "block":
        return Block(
            [(local.name, from_proto(local.value)) for local in proto.block.local],
            from_proto(proto.block.result),
        )
    if kind == "intrinsic":
        return Intrinsic(proto.intrinsic.uri, type_signature)
    if kind == "data":
        return Data(proto.data.uri, type_signature)
    if kind == "literal":
        tensor = tf.make_ndarray(_parse_tensor(proto.literal.tensor))
        return Literal(tensor, type_signature)
    if kind == "placement":
        return Placement(placements.uri_to_placement(proto.placement.uri))
    if kind == "tensorflow":
        return TensorFlow(proto.tensorflow, type_signature)
    raise ValueError(f"from_proto: the computation message has no kind set ({kind!r})")


def _parse_tensor(data: bytes) -> tensor_pb2.TensorProto:
    tensor = tensor_pb2.TensorProto()
    tensor.ParseFromString(data)
    return tensor


def walk(root: BuildingBlock) -> List[BuildingBlock]:
    """All nodes under `root`, parents before children."""
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(reversed(node.children()))
    return found
