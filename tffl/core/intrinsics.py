"""The intrinsic functions users call inside federated computations.

Each builds a call of one definition of `intrinsic_defs` and checks its type at
trace time. `FUNCTIONS` maps every definition to the function that produces it.
"""

from __future__ import annotations

from typing import Any
from typing import Optional

import numpy as np

from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs as defs
from tffl.core import value_impl
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors

_Fn = computation_types.FunctionType


def _function_of(parameter) -> computation_types.FunctionType:
    """The expected type of a function argument whose result is not yet known."""
    return _Fn(parameter, computation_types.AbstractType("U"))


def _federated_value(value: Any, operation: str) -> value_impl.Value:
    """A Value; a container of federated values is zipped first, as in TFF."""
    if not isinstance(value, value_impl.Value) and isinstance(value, (list, tuple, dict)):
        return federated_zip(value)
    result = value_impl.to_value(value)
    if not isinstance(result.type_signature, computation_types.FederatedType):
        raise type_errors.TypeMismatchError("a federated value", result.type_signature, operation)
    return result


def federated_broadcast(value: Any) -> value_impl.Value:
    """Broadcasts a SERVER value to all clients: `(T@SERVER -> T@CLIENTS)`."""
    block = value_impl.to_building_block(value)
    return value_impl.call_intrinsic(defs.FEDERATED_BROADCAST, block)


def federated_map(fn: Any, arg: Any) -> value_impl.Value:
    """Applies `fn` to each member of a federated value, keeping its placement.

    `(<(T -> U),{T}@CLIENTS> -> {U}@CLIENTS)` (an all-equal value too, as in TFF),
    and `federated_apply` for a SERVER value.
    A Python container of federated values is zipped first.
    """
    value = _federated_value(arg, "federated_map value")
    definition = value_impl.map_definition(value.type_signature)
    member = value.type_signature.member
    fn_block = value_impl.to_building_block(fn, _function_of(member))
    return value_impl.call_intrinsic(definition, bb.Struct([fn_block, value.building_block]))


def federated_sum(value: Any) -> value_impl.Value:
    """Sums client values at the SERVER: `({T}@CLIENTS -> T@SERVER)`."""
    return value_impl.call_intrinsic(defs.FEDERATED_SUM, value_impl.to_building_block(value))


def federated_mean(value: Any, weight: Any = None) -> value_impl.Value:
    """The (optionally weighted) mean of client values at the SERVER.

    `({T}@CLIENTS -> T@SERVER)`; with `weight`, `(<{T}@CLIENTS,{U}@CLIENTS> -> T@SERVER)`.
    """
    block = value_impl.to_building_block(value)
    if weight is None:
        return value_impl.call_intrinsic(defs.FEDERATED_MEAN, block)
    weight_block = value_impl.to_building_block(weight)
    return value_impl.call_intrinsic(defs.FEDERATED_WEIGHTED_MEAN, bb.Struct([block, weight_block]))


def federated_aggregate(
    value: Any, zero: Any, accumulate: Any, merge: Any, report: Any
) -> value_impl.Value:
    """Aggregates client values with a custom accumulator, reported at the SERVER.

    `(<{T}@CLIENTS,U,(<U,T> -> U),(<U,U> -> U),(U -> R)> -> R@SERVER)`.
    """
    value_block = value_impl.to_building_block(value)
    value_type = value_block.type_signature
    if not isinstance(value_type, computation_types.FederatedType):
        raise type_errors.TypeMismatchError(
            "{T}@CLIENTS", value_type, "federated_aggregate argument value"
        )
    zero_block = value_impl.to_building_block(zero)
    accumulator = zero_block.type_signature
    accumulate_block = value_impl.to_building_block(
        accumulate, _function_of(computation_types.StructType([accumulator, value_type.member]))
    )
    merge_block = value_impl.to_building_block(
        merge, _function_of(computation_types.StructType([accumulator, accumulator]))
    )
    report_block = value_impl.to_building_block(report, _function_of(accumulator))
    return value_impl.call_intrinsic(
        defs.FEDERATED_AGGREGATE,
        bb.Struct([value_block, zero_block, accumulate_block, merge_block, report_block]),
    )


def _zip_elements(value: Any) -> bb.BuildingBlock:
    """A struct of federated values, with nested plain structs zipped first."""
    block = value_impl.to_building_block(value)
    block_type = block.type_signature
    if not isinstance(block_type, computation_types.StructType):
        return block
    elements = []
    for index, (name, element_type) in enumerate(block_type.elements):
        element = (
            block.elements[index][1]
            if isinstance(block, bb.Struct)
            else bb.Selection(block, index=index)
        )
        if isinstance(element_type, computation_types.StructType):
            element = federated_zip(value_impl.Value(element)).building_block
        elements.append((name, element))
    return bb.Struct(elements, container=block_type.container)


def federated_zip(value: Any) -> value_impl.Value:
    """Zips a (nested, named) struct of federated values into one federated struct.

    `(<{T}@CLIENTS,{U}@CLIENTS,...> -> {<T,U,...>}@CLIENTS)`, and likewise at SERVER.
    """
    block = _zip_elements(value)
    block_type = block.type_signature
    if not isinstance(block_type, computation_types.StructType) or not len(block_type):
        raise type_errors.TypeMismatchError(
            "a non-empty struct of federated values", block_type, "federated_zip"
        )
    first = block_type[0]
    placement = getattr(first, "placement", placements.CLIENTS)
    definition = (
        defs.FEDERATED_ZIP_AT_SERVER
        if placement == placements.SERVER
        else defs.FEDERATED_ZIP_AT_CLIENTS
    )
    return value_impl.call_intrinsic(definition, block)


def _at_placement(placement, at_server, at_clients, operation: str):
    """The SERVER or CLIENTS definition of an operation, checking the placement."""
    if not isinstance(placement, placements.PlacementLiteral):
        raise TypeError(
            f"{operation} placement: expected tffl.CLIENTS or tffl.SERVER, got {placement!r}"
        )
    return at_server if placement == placements.SERVER else at_clients


def federated_value(value: Any, placement: placements.PlacementLiteral) -> value_impl.Value:
    """Places a non-federated value at CLIENTS (all-equal) or SERVER."""
    definition = _at_placement(
        placement,
        defs.FEDERATED_VALUE_AT_SERVER,
        defs.FEDERATED_VALUE_AT_CLIENTS,
        "federated_value",
    )
    return value_impl.call_intrinsic(definition, value_impl.to_building_block(value))


def federated_eval(fn: Any, placement: placements.PlacementLiteral) -> value_impl.Value:
    """Evaluates a no-argument computation at each participant of `placement`."""
    definition = _at_placement(
        placement,
        defs.FEDERATED_EVAL_AT_SERVER,
        defs.FEDERATED_EVAL_AT_CLIENTS,
        "federated_eval",
    )
    block = value_impl.to_building_block(fn, _function_of(None))
    return value_impl.call_intrinsic(definition, block)


def federated_select(
    client_keys: Any, max_key: Any, server_val: Any, select_fn: Any
) -> value_impl.Value:
    """Sends each client the server values its keys select.

    `(<{int32[n]}@CLIENTS,int32@SERVER,T@SERVER,(<T,int32> -> U)> -> {U*}@CLIENTS)`:
    client c receives the sequence `select_fn(server_val, k)` for its keys k, each
    in `[0, max_key)`.
    """
    keys_block = value_impl.to_building_block(client_keys)
    max_key_block = value_impl.to_building_block(max_key)
    server_block = value_impl.to_building_block(server_val)
    server_type = server_block.type_signature
    member = getattr(server_type, "member", server_type)
    select_block = value_impl.to_building_block(
        select_fn,
        _function_of(
            computation_types.StructType([member, computation_types.TensorType(np.int32)])
        ),
    )
    return value_impl.call_intrinsic(
        defs.FEDERATED_SELECT, bb.Struct([keys_block, max_key_block, server_block, select_block])
    )


def _secure_sum(definition, value: Any, parameter: Any) -> value_impl.Value:
    value_block = value_impl.to_building_block(value)
    parameter_block = value_impl.to_building_block(
        parameter, computation_types.TensorType(np.int32)
    )
    return value_impl.call_intrinsic(definition, bb.Struct([value_block, parameter_block]))


def federated_secure_sum(value: Any, max_input: Any) -> value_impl.Value:
    """The sum of integer client values in `[0, max_input]`, seen by the server only summed.

    `max_input` is one integer for every leaf of the value, or one per leaf.
    """
    return _secure_sum(defs.FEDERATED_SECURE_SUM, value, max_input)


def federated_secure_sum_bitwidth(value: Any, bitwidth: Any) -> value_impl.Value:
    """The sum of integer client values in `[0, 2**bitwidth)`, seen by the server only summed."""
    return _secure_sum(defs.FEDERATED_SECURE_SUM_BITWIDTH, value, bitwidth)


def federated_secure_modular_sum(value: Any, modulus: Any) -> value_impl.Value:
    """The sum modulo `modulus` of integer client values, seen by the server only summed."""
    return _secure_sum(defs.FEDERATED_SECURE_MODULAR_SUM, value, modulus)


def _map_if_federated(value_block: bb.BuildingBlock, build) -> Optional[value_impl.Value]:
    """Applies a sequence operation under federated_map when the sequence is federated."""
    value_type = value_block.type_signature
    if not isinstance(value_type, computation_types.FederatedType):
        return None
    return federated_map(build, value_impl.Value(value_block))


def sequence_map(fn: Any, arg: Any) -> value_impl.Value:
    """Maps `fn` over a sequence: `(<(T -> U),T*> -> U*)`; federated sequences too."""
    block = value_impl.to_building_block(arg)
    mapped = _map_if_federated(block, lambda sequence: sequence_map(fn, sequence))
    if mapped is not None:
        return mapped
    element = getattr(block.type_signature, "element", None)
    fn_block = value_impl.to_building_block(fn, _function_of(element))
    return value_impl.call_intrinsic(defs.SEQUENCE_MAP, bb.Struct([fn_block, block]))


def sequence_reduce(value: Any, zero: Any, op: Any) -> value_impl.Value:
    """Folds a sequence: `(<T*,U,(<U,T> -> U)> -> U)`; federated sequences too."""
    block = value_impl.to_building_block(value)
    mapped = _map_if_federated(block, lambda sequence: sequence_reduce(sequence, zero, op))
    if mapped is not None:
        return mapped
    zero_block = value_impl.to_building_block(zero)
    element = getattr(block.type_signature, "element", None)
    op_block = value_impl.to_building_block(
        op, _function_of(computation_types.StructType([zero_block.type_signature, element]))
    )
    return value_impl.call_intrinsic(defs.SEQUENCE_REDUCE, bb.Struct([block, zero_block, op_block]))


def sequence_sum(value: Any) -> value_impl.Value:
    """Sums a sequence: `(T* -> T)`; federated sequences too."""
    block = value_impl.to_building_block(value)
    mapped = _map_if_federated(block, sequence_sum)
    if mapped is not None:
        return mapped
    return value_impl.call_intrinsic(defs.SEQUENCE_SUM, block)


# Every intrinsic definition and the user function that produces it.
FUNCTIONS = {
    defs.FEDERATED_BROADCAST: federated_broadcast,
    defs.FEDERATED_MAP: federated_map,
    defs.FEDERATED_APPLY: federated_map,
    defs.FEDERATED_SUM: federated_sum,
    defs.FEDERATED_MEAN: federated_mean,
    defs.FEDERATED_WEIGHTED_MEAN: federated_mean,
    defs.FEDERATED_AGGREGATE: federated_aggregate,
    defs.FEDERATED_ZIP_AT_CLIENTS: federated_zip,
    defs.FEDERATED_ZIP_AT_SERVER: federated_zip,
    defs.FEDERATED_VALUE_AT_CLIENTS: federated_value,
    defs.FEDERATED_VALUE_AT_SERVER: federated_value,
    defs.FEDERATED_EVAL_AT_CLIENTS: federated_eval,
    defs.FEDERATED_EVAL_AT_SERVER: federated_eval,
    defs.FEDERATED_SELECT: federated_select,
    defs.FEDERATED_SECURE_SUM: federated_secure_sum,
    defs.FEDERATED_SECURE_SUM_BITWIDTH: federated_secure_sum_bitwidth,
    defs.FEDERATED_SECURE_MODULAR_SUM: federated_secure_modular_sum,
    defs.SEQUENCE_MAP: sequence_map,
    defs.SEQUENCE_REDUCE: sequence_reduce,
    defs.SEQUENCE_SUM: sequence_sum,
}
