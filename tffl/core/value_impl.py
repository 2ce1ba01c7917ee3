"""Symbolic values of a federated computation being traced, and the tracing context.

Inside `@federated_computation`, parameters are `Value`s wrapping IR references.
Calling an intrinsic or a computation binds the call to a fresh local of the
tracing context and returns a `Value` naming it; the trace ends as a Block of
those locals, whose single-use locals are then inlined.
"""

from __future__ import annotations

from typing import Any
from typing import List
from typing import Optional
from typing import Tuple

import numpy as np
import tensorflow as tf

from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs
from tffl.compiler import tree_transformations
from tffl.core import computation_impl
from tffl.core import context_stack
from tffl.core import parameter_binding
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions
from tffl.types import type_errors


class TracingContext(context_stack.Context):
    """Records calls made while a federated computation is traced."""

    is_tracing = True

    def __init__(self, names: tree_transformations.UniqueNames):
        self.names = names
        self.locals: List[Tuple[str, bb.BuildingBlock]] = []

    def bind(self, block: bb.BuildingBlock, hint: str = "v") -> "Value":
        name = self.names(hint)
        self.locals.append((name, block))
        return Value(bb.Reference(name, block.type_signature))

    def invoke(self, computation, argument):
        parameter_type = computation.type_signature.parameter
        argument_block = None
        if parameter_type is not None:
            argument_block = to_building_block(argument, parameter_type)
        return self.bind(bb.Call(computation.building_block, argument_block))


def tracing_context(operation: str) -> TracingContext:
    """The innermost tracing context, or an error naming `operation`."""
    if not context_stack.is_tracing():
        raise RuntimeError(f"{operation} can only be used inside a @tffl.federated_computation")
    return context_stack.current()


class Value:
    """A symbolic value: an IR node with a type, used while tracing."""

    __slots__ = ("_block",)

    def __init__(self, block: bb.BuildingBlock):
        object.__setattr__(self, "_block", block)

    @property
    def building_block(self) -> bb.BuildingBlock:
        return self._block

    @property
    def type_signature(self) -> computation_types.Type:
        return self._block.type_signature

    def _struct_type(self) -> Optional[computation_types.StructType]:
        type_spec = self.type_signature
        if isinstance(type_spec, computation_types.FederatedType):
            type_spec = type_spec.member
        return type_spec if isinstance(type_spec, computation_types.StructType) else None

    def _select(self, name: Optional[str] = None, index: Optional[int] = None) -> "Value":
        type_spec = self.type_signature
        if isinstance(type_spec, computation_types.StructType):
            return Value(bb.Selection(self._block, name=name, index=index))
        if isinstance(type_spec, computation_types.FederatedType) and isinstance(
            type_spec.member, computation_types.StructType
        ):
            # Selecting from a federated struct maps the selection over its members.
            parameter = bb.Reference(tracing_context("selection").names("member"), type_spec.member)
            selector = bb.Lambda(
                parameter.name, type_spec.member, bb.Selection(parameter, name=name, index=index)
            )
            return federated_map_block(selector, self._block)
        raise type_errors.TypeMismatchError(
            "a struct or a federated struct", type_spec, f"selection of {name or index}"
        )

    def __getattr__(self, name: str) -> "Value":
        if name.startswith("__"):
            raise AttributeError(name)
        struct = self._struct_type()
        if struct is None or name not in struct.names():
            raise AttributeError(f"a value of type {self.type_signature} has no element {name!r}")
        return self._select(name=name)

    def __setattr__(self, name, value):
        raise AttributeError("tffl values are immutable")

    def __getitem__(self, key) -> Any:
        struct = self._struct_type()
        if struct is None:
            raise type_errors.TypeMismatchError("a struct", self.type_signature, f"value[{key!r}]")
        if isinstance(key, str):
            return self._select(name=key)
        if isinstance(key, slice):
            return [self._select(index=i) for i in range(len(struct))[key]]
        return self._select(index=key)

    def __len__(self) -> int:
        struct = self._struct_type()
        if struct is None:
            raise TypeError(f"a value of type {self.type_signature} has no length")
        return len(struct)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __call__(self, *args, **kwargs) -> "Value":
        function_type = self.type_signature
        if not isinstance(function_type, computation_types.FunctionType):
            raise type_errors.TypeMismatchError("a function", function_type, "call")
        argument = parameter_binding.pack_arguments(function_type.parameter, args, kwargs)
        argument_block = None
        if function_type.parameter is not None:
            argument_block = to_building_block(argument, function_type.parameter)
        return tracing_context("calling a function value").bind(
            bb.Call(self._block, argument_block)
        )

    def __bool__(self):
        raise TypeError(
            f"a symbolic value of type {self.type_signature} has no truth value while "
            "tracing; put data-dependent logic in a tf_computation"
        )

    def __repr__(self) -> str:
        return f"Value({self._block.compact()}: {self.type_signature})"

    def __str__(self) -> str:
        return self._block.compact()


def _literal(value: Any, expected: Optional[computation_types.Type]) -> bb.Literal:
    array = np.asarray(value.numpy() if isinstance(value, tf.Tensor) else value)
    if isinstance(expected, computation_types.TensorType) and expected.dtype != tf.string:
        try:
            cast = array.astype(expected.dtype.as_numpy_dtype)
        except (TypeError, ValueError):
            cast = None
        if cast is not None and np.array_equal(cast, array):
            return bb.Literal(cast, computation_types.TensorType(expected.dtype, cast.shape))
    inferred = type_conversions.infer_type(value)
    return bb.Literal(array, inferred)


def to_building_block(
    value: Any, expected: Optional[computation_types.Type] = None
) -> bb.BuildingBlock:
    """Converts a value met while tracing into an IR node.

    Accepts Values, computations (a polymorphic one is traced at `expected`'s
    parameter), Python functions (traced as nested federated computations,
    which may capture Values of the enclosing one), containers of those (zipped
    into a Struct), placements and constants.

    Raises:
      TypeError: if the value cannot be part of a federated computation.
    """
    if isinstance(value, Value):
        return value.building_block
    if isinstance(value, computation_impl.ConcreteComputation):
        return value.building_block
    if isinstance(value, placements.PlacementLiteral):
        return bb.Placement(value)
    function_parameter = (
        expected.parameter if isinstance(expected, computation_types.FunctionType) else None
    )
    if isinstance(value, computation_impl.PolymorphicComputation):
        if not isinstance(expected, computation_types.FunctionType):
            raise TypeError(
                f"{value.name} is polymorphic; its parameter type is unknown here "
                "(give the decorator a type)"
            )
        return value.concrete(function_parameter).building_block
    if callable(value) and not isinstance(value, type):
        if not isinstance(expected, computation_types.FunctionType):
            raise TypeError(
                f"a Python function {getattr(value, '__name__', value)} needs a known "
                "parameter type here; decorate it with a type"
            )
        # Imported here: federated_computation builds on this module.
        from tffl.core import federated_computation

        return federated_computation.trace(
            value, function_parameter, getattr(value, "__name__", "fn")
        )
    if isinstance(value, (np.ndarray, np.generic, int, float, bool, str, bytes, tf.Tensor)):
        return _literal(value, expected)
    if type_conversions.is_container(value):
        items = type_conversions.container_items(value)
        names = [name for name, _ in items]
        values = [element for _, element in items]
        expected_elements = [None] * len(values)
        if isinstance(expected, computation_types.StructType) and len(expected) == len(values):
            expected_elements = list(expected)
        elements = [
            (name, to_building_block(v, e)) for name, v, e in zip(names, values, expected_elements)
        ]
        container = type(value)
        if isinstance(value, list) and isinstance(expected, computation_types.StructType):
            container = expected.container
        return bb.Struct(elements, container=container)
    raise TypeError(
        f"expected a tffl value, computation, function, container or constant, got "
        f"{value!r} of type {type(value).__name__}"
    )


def to_value(value: Any, expected: Optional[computation_types.Type] = None) -> Value:
    """`to_building_block` wrapped as a Value."""
    return Value(to_building_block(value, expected))


def call_intrinsic(
    definition: intrinsic_defs.IntrinsicDef, argument: Optional[bb.BuildingBlock]
) -> Value:
    """Type-checks and records a call of an intrinsic."""
    context = tracing_context(definition.uri)
    argument_type = None if argument is None else argument.type_signature
    result_type = intrinsic_defs.result_type(definition, argument_type)
    intrinsic = bb.Intrinsic(
        definition.uri, computation_types.FunctionType(argument_type, result_type)
    )
    return context.bind(bb.Call(intrinsic, argument), hint=definition.uri.split("_")[-1])


_MAP_BY_PLACEMENT = {
    (placements.CLIENTS, False): intrinsic_defs.FEDERATED_MAP,
    # As in TFF, mapping an all-equal value gives one member per client.
    (placements.CLIENTS, True): intrinsic_defs.FEDERATED_MAP,
    (placements.SERVER, True): intrinsic_defs.FEDERATED_APPLY,
}


def map_definition(value_type: computation_types.Type) -> intrinsic_defs.IntrinsicDef:
    """federated_map at CLIENTS, federated_apply at SERVER."""
    if not isinstance(value_type, computation_types.FederatedType):
        raise type_errors.TypeMismatchError(
            "{T}@CLIENTS or T@SERVER", value_type, "federated_map value"
        )
    return _MAP_BY_PLACEMENT[(value_type.placement, value_type.all_equal)]


def federated_map_block(fn: bb.BuildingBlock, value: bb.BuildingBlock) -> Value:
    definition = map_definition(value.type_signature)
    return call_intrinsic(definition, bb.Struct([fn, value]))
