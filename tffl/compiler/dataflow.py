"""The dataflow graph a federated computation lowers to (`tffl.compiler.lowering`).

Server nodes hold one value (unplaced, at SERVER, or all-equal at CLIENTS);
client nodes a value per client. Aggregates are the only edges from clients back
to the server. The module also holds the small structure helpers the lowering
shares: values are nested lists of tensors, flattened and rebuilt by their type.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import List
from typing import Optional
from typing import Tuple

import tensorflow as tf

from tffl.compiler import building_blocks as bb
from tffl.compiler import tensor_sequence
from tffl.types import computation_types
from tffl.types import type_conversions

# How clients' sequences enter the lowered function.
PADDED = "padded"  # materialized elements: tensor_sequence.PaddedSequences
VARIANTS = "variants"  # the datasets themselves, one scalar variant per client


class NotLowerable(Exception):
    """The computation (or this call of it) cannot run as one TensorFlow function."""


class NeedsDatasets(NotLowerable):
    """A function needs real datasets where the padded mode gave in-memory sequences."""


# ---------------------------------------------------------------------------- nodes


class Node:
    """A value of the dataflow graph: `type_spec` is its IR type."""

    def __init__(self, type_spec: computation_types.Type):
        self.type_spec = type_spec


class ServerNode(Node):
    """One value: unplaced, at SERVER, or all-equal at CLIENTS."""


class ClientNode(Node):
    """A value per client."""


class Input(ServerNode):
    def __init__(self, type_spec, slots: List[int]):
        super().__init__(type_spec)
        self.slots = slots


class ClientInput(ClientNode):
    def __init__(self, type_spec, positions: List[int]):
        super().__init__(type_spec)
        self.positions = positions


class Constant(ServerNode):
    def __init__(self, literal: bb.Literal):
        super().__init__(literal.type_signature)
        self.literal = literal


class View(ServerNode):
    """The same value under another type (a broadcast, a federated_value)."""

    def __init__(self, type_spec, source: ServerNode):
        super().__init__(type_spec)
        self.source = source


class Struct(ServerNode):
    def __init__(self, type_spec, elements: List[ServerNode]):
        super().__init__(type_spec)
        self.elements = elements


class Select(ServerNode):
    def __init__(self, type_spec, source: ServerNode, index: int):
        super().__init__(type_spec)
        self.source = source
        self.index = index


class Call(ServerNode):
    def __init__(self, type_spec, fn: Any, argument: Optional[ServerNode]):
        super().__init__(type_spec)
        self.fn = fn
        self.argument = argument


class Aggregate(ServerNode):
    """An aggregation of a client value: `kind` is sum, mean, weighted_mean, aggregate or
    collect (the client value stacked, for results and for values several loops use)."""

    def __init__(self, type_spec, kind: str, value: ClientNode, **extra):
        super().__init__(type_spec)
        self.kind = kind
        self.value = value
        self.extra = extra
        self.level = -1


class Broadcast(ClientNode):
    """A server value seen by every client."""

    def __init__(self, type_spec, source: ServerNode):
        super().__init__(type_spec)
        self.source = source


class Map(ClientNode):
    def __init__(self, type_spec, fn: Any, argument: Optional[ClientNode]):
        super().__init__(type_spec)
        self.fn = fn
        self.argument = argument


class Zip(ClientNode):
    def __init__(self, type_spec, elements: List[ClientNode]):
        super().__init__(type_spec)
        self.elements = elements


class ClientSelect(ClientNode):
    def __init__(self, type_spec, source: ClientNode, index: int):
        super().__init__(type_spec)
        self.source = source
        self.index = index


@dataclasses.dataclass
class Closure:
    """A Lambda of unplaced values, called per value."""

    fn: bb.Lambda


class PyStruct:
    """A struct of federated (or mixed) values, before it reaches an intrinsic."""

    def __init__(self, type_spec, elements: List[Any]):
        self.type_spec = type_spec
        self.elements = elements


@dataclasses.dataclass
class InputLeaf:
    """How one leaf of the computation's argument enters the lowered function.

    Attributes:
      outer: indices from the argument down to the federated (or unplaced) value
        holding the leaf.
      inner: indices from that value's member (one client's value) to the leaf.
      placement: "server" (one value) or "clients" (a list, one per client).
      type_spec: the leaf's type (a TensorType or a SequenceType).
    """

    outer: Tuple[int, ...]
    inner: Tuple[int, ...]
    placement: str
    type_spec: computation_types.Type


def leaf_specs(leaf: InputLeaf, mode: str) -> List[tf.TensorSpec]:
    type_spec = leaf.type_spec
    if isinstance(type_spec, computation_types.TensorType):
        shape = list(type_spec.shape)
        if leaf.placement == "clients":
            shape = [None] + shape
        return [tf.TensorSpec(shape, type_spec.dtype)]
    if leaf.placement != "clients":
        raise NotLowerable(f"an unplaced or SERVER sequence ({type_spec})")
    if mode == VARIANTS:
        return [tf.TensorSpec([None], tf.variant)]
    elements, sizes, counts = tensor_sequence.input_specs(type_spec)
    return list(elements) + [s for s in sizes if s is not None] + [counts]


def server_children(node: ServerNode) -> List[ServerNode]:
    if isinstance(node, (View, Select)):
        return [node.source]
    if isinstance(node, Struct):
        return list(node.elements)
    if isinstance(node, Call):
        return [] if node.argument is None else [node.argument]
    return []


def client_children(node: ClientNode) -> List[ClientNode]:
    if isinstance(node, (Map,)):
        return [] if node.argument is None else [node.argument]
    if isinstance(node, Zip):
        return list(node.elements)
    if isinstance(node, ClientSelect):
        return [node.source]
    return []


# ----------------------------------------------------------------------- structures


def member_type(type_spec):
    if isinstance(type_spec, computation_types.FederatedType):
        return type_spec.member
    return type_spec


def flatten_types(type_spec) -> List[computation_types.Type]:
    if isinstance(type_spec, computation_types.StructType):
        return [leaf for t in type_spec for leaf in flatten_types(t)]
    return [type_spec]


def flatten(value, type_spec) -> List[Any]:
    """Leaves of a concrete value (nested lists) in type order."""
    type_spec = member_type(type_spec)
    if isinstance(type_spec, computation_types.StructType):
        return [leaf for v, t in zip(value, type_spec) for leaf in flatten(v, t)]
    return [value]


def unflatten(leaves: List[Any], type_spec) -> Any:
    iterator = iter(leaves)

    def build(t):
        if isinstance(t, computation_types.StructType):
            return [build(e) for e in t]
        return next(iterator)

    return build(member_type(type_spec))


def to_structure(value, type_spec) -> Any:
    """Nested lists as the containers a user's function expects."""
    if isinstance(type_spec, computation_types.StructType):
        return type_conversions.to_container(
            [to_structure(v, t) for v, t in zip(value, type_spec)], type_spec
        )
    if isinstance(type_spec, computation_types.SequenceType) and not isinstance(
        value, tensor_sequence.TensorSequence
    ):
        return tf.data.experimental.from_variant(
            value, structure=tensor_sequence.element_spec(type_spec.element)
        )
    return value


def known_shape(type_spec: computation_types.TensorType) -> List[Optional[int]]:
    if not isinstance(type_spec, computation_types.TensorType) or type_spec.shape is None:
        raise NotLowerable(f"a client value of type {type_spec} (its shape is not known)")
    shape = list(type_spec.shape)
    if any(d is None for d in shape):
        raise NotLowerable(f"a client value of type {type_spec} (its shape is not known)")
    return shape


def from_structure(value, type_spec) -> Any:
    """A nested TensorFlow structure (dicts, tuples, ...) as nested lists."""
    if isinstance(type_spec, computation_types.StructType):
        elements = type_conversions.elements_of(value, type_spec)
        return [from_structure(v, t) for v, t in zip(elements, type_spec)]
    return value
