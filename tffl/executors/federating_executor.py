"""The federating executor: placements, federated values and every intrinsic.

A SERVER value lives in one child executor; a CLIENTS value is a list with one
member per client, each in that client's own child executor, so per-client values
are never mixed. Unplaced values live in the server's child. Functions (lambdas,
TensorFlow blocks) are kept as IR and embedded into whichever child runs them.
Per-client work runs concurrently, at most `max_concurrency` clients at a time.

The number of clients is fixed per executor: given, or taken from the first
CLIENTS value created; a later CLIENTS value of another length is refused.
"""

from __future__ import annotations

import asyncio
from typing import Any
from typing import Awaitable
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional

import numpy as np

from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs as defs
from tffl.core import computation_impl
from tffl.executors import executor_base
from tffl.executors import secure_aggregation
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions
from tffl.types import type_errors

_CLIENTS = placements.CLIENTS
_SERVER = placements.SERVER


class FederatingValue(executor_base.ExecutorValue):
    """One of: federated (members), unplaced (a server-child value), function (IR),
    intrinsic (a definition) or struct (a list of FederatingValues)."""

    __slots__ = ("kind", "payload", "_type")

    def __init__(self, kind: str, payload: Any, type_spec: computation_types.Type):
        self.kind = kind
        self.payload = payload
        self._type = type_spec

    @property
    def type_signature(self):
        return self._type

    async def compute(self) -> Any:
        if self.kind == "federated":
            if self._type.placement == _SERVER or self._type.all_equal:
                return await self.payload[0].compute()
            return list(await executor_base.gather(*(m.compute() for m in self.payload)))
        if self.kind == "unplaced":
            return await self.payload.compute()
        if self.kind == "struct":
            elements = await executor_base.gather(*(v.compute() for v in self.payload))
            return type_conversions.to_container(list(elements), self._type)
        raise TypeError(f"a function of type {self._type} has no value to compute")


class PlacingExecutor(executor_base.Executor):
    """What the federating and composing executors share: how values are placed.

    Intrinsics and functions are kept as they are; federated values (and structs
    holding them) go to `_create_federated`; anything else is unplaced and lives in
    the server executor `_server`. A function called directly runs there too, on
    its argument moved there by `_to_server`. Subclasses set `value_class`
    (`value_class(kind, payload, type)`) and run the intrinsics in `create_call`.
    """

    value_class: Callable[..., Any]
    _server: executor_base.Executor

    async def _create_federated(self, value, type_spec: computation_types.FederatedType):
        raise NotImplementedError

    async def _to_server(self, value) -> executor_base.ExecutorValue:
        raise NotImplementedError

    async def create_value(self, value, type_spec):
        type_spec = computation_types.to_type(type_spec)
        if isinstance(value, computation_impl.ConcreteComputation):
            value = value.building_block
        if isinstance(value, bb.Intrinsic):
            return self.value_class("intrinsic", defs.by_uri(value.uri), value.type_signature)
        if isinstance(value, bb.BuildingBlock) and isinstance(
            value.type_signature, computation_types.FunctionType
        ):
            return self.value_class("function", value, value.type_signature)
        if isinstance(type_spec, computation_types.FederatedType):
            return await self._create_federated(value, type_spec)
        if isinstance(type_spec, computation_types.StructType) and _contains_federated(type_spec):
            elements = type_conversions.elements_of(value, type_spec)
            values = [await self.create_value(v, t) for v, t in zip(elements, type_spec)]
            return self.value_class("struct", values, type_spec)
        embedded = await self._server.create_value(value, type_spec)
        return self.value_class("unplaced", embedded, embedded.type_signature)

    async def create_struct(self, elements):
        struct_type = computation_types.StructType(
            [(name, value.type_signature) for name, value in elements]
        )
        return self.value_class("struct", [v for _, v in elements], struct_type)

    async def create_selection(self, source, index):
        if source.kind == "struct":
            return source.payload[index]
        if source.kind == "unplaced":
            selected = await self._server.create_selection(source.payload, index)
            return self.value_class("unplaced", selected, selected.type_signature)
        raise type_errors.TypeMismatchError("a struct", source.type_signature, "selection")

    async def _call_function(self, fn, arg):
        """Calls a function value (not an intrinsic) in the server executor."""
        server_fn = await self._server.create_value(fn.payload, fn.type_signature)
        server_arg = None if arg is None else await self._to_server(arg)
        result = await self._server.create_call(server_fn, server_arg)
        return self.value_class("unplaced", result, result.type_signature)


class FederatingExecutor(PlacingExecutor):
    """Runs federated intrinsics over a server child and one child per client."""

    value_class = FederatingValue

    def __init__(
        self,
        server: executor_base.Executor,
        client_factory: Callable[[int], executor_base.Executor],
        num_clients: Optional[int] = None,
        max_concurrency: Optional[int] = None,
        secure_aggregation_config: Optional[secure_aggregation.SecureAggregationConfig] = None,
    ):
        self._server = server
        self._client_factory = client_factory
        self._clients: List[executor_base.Executor] = []
        self._num_clients = num_clients
        self._limit = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self._secure_aggregation = (
            secure_aggregation_config or secure_aggregation.SecureAggregationConfig()
        )

    @property
    def num_clients(self) -> Optional[int]:
        return self._num_clients

    def _client_executors(self) -> List[executor_base.Executor]:
        if self._num_clients is None:
            raise ValueError(
                "the number of clients is unknown: pass a CLIENTS value or set num_clients "
                "on the context (tffl.backends.local.set_context(num_clients=N))"
            )
        while len(self._clients) < self._num_clients:
            self._clients.append(self._client_factory(len(self._clients)))
        return self._clients

    async def _per_client(self, work: Callable[[int, executor_base.Executor], Awaitable[Any]]):
        async def run(index, executor):
            if self._limit is None:
                return await work(index, executor)
            async with self._limit:
                return await work(index, executor)

        return list(
            await executor_base.gather(*(run(i, e) for i, e in enumerate(self._client_executors())))
        )

    # ------------------------------------------------------------------ interface

    async def _create_federated(self, value, type_spec: computation_types.FederatedType):
        member = type_spec.member
        if type_spec.placement == _SERVER:
            return FederatingValue(
                "federated", [await self._server.create_value(value, member)], type_spec
            )
        if type_spec.all_equal:
            members = await self._per_client(lambda i, e: e.create_value(value, member))
            return FederatingValue("federated", members, type_spec)
        if not isinstance(value, (list, tuple)):
            raise type_errors.TypeMismatchError(
                type_spec,
                f"{type(value).__name__} (a CLIENTS value is a list, one per client)",
                "argument",
            )
        if self._num_clients is None:
            self._num_clients = len(value)
        elif len(value) != self._num_clients:
            raise ValueError(
                f"expected {self._num_clients} clients for a value of type {type_spec}, "
                f"got {len(value)}"
            )

        async def create_member(index, executor):
            try:
                return await executor.create_value(value[index], member)
            except type_errors.TypeMismatchError as error:
                # Name the client: with many clients, "got string" alone does not find it.
                raise type_errors.TypeMismatchError(
                    error.expected, error.actual, f"{error.context or 'value'} of client {index}"
                ) from None

        members = await self._per_client(create_member)
        return FederatingValue("federated", members, type_spec)

    async def create_call(self, fn, arg=None):
        if fn.kind == "intrinsic":
            handler = HANDLERS[fn.payload]
            return await handler(self, arg, fn.type_signature.result)
        if fn.kind == "function":
            return await self._call_function(fn, arg)
        raise TypeError(f"expected a function, got a value of type {fn.type_signature}")

    # ------------------------------------------------------------------ helpers

    async def _to_server(self, value: FederatingValue) -> executor_base.ExecutorValue:
        """An unplaced value (or a struct of them) as a value of the server child."""
        if value.kind == "unplaced":
            return value.payload
        if value.kind == "function":
            return await self._server.create_value(value.payload, value.type_signature)
        if value.kind == "struct":
            names = [n for n, _ in value.type_signature.elements]
            elements = [await self._to_server(v) for v in value.payload]
            return await self._server.create_struct(list(zip(names, elements)))
        raise type_errors.TypeMismatchError(
            "an unplaced value", value.type_signature, "argument of an unplaced function"
        )

    async def _embed_in(self, value: FederatingValue, executor) -> executor_base.ExecutorValue:
        """An unplaced value or function, moved into `executor`."""
        if value.kind == "function":
            return await executor.create_value(value.payload, value.type_signature)
        if executor is self._server:
            return await self._to_server(value)
        return await executor.create_value(await value.compute(), value.type_signature)

    def _arguments(self, arg: FederatingValue) -> List[FederatingValue]:
        if arg.kind != "struct":
            raise type_errors.TypeMismatchError(
                "a struct of arguments", arg.type_signature, "intrinsic"
            )
        return arg.payload


def _contains_federated(type_spec) -> bool:
    if isinstance(type_spec, computation_types.FederatedType):
        return True
    if isinstance(type_spec, computation_types.StructType):
        return any(_contains_federated(t) for t in type_spec)
    return False


def _federated(members, type_spec) -> FederatingValue:
    return FederatingValue("federated", members, type_spec)


# ---------------------------------------------------------------------- handlers


async def _map(ex: FederatingExecutor, arg, result_type):
    fn, value = ex._arguments(arg)
    if value.type_signature.placement == _SERVER:
        server_fn = await ex._embed_in(fn, ex._server)
        return _federated([await ex._server.create_call(server_fn, value.payload[0])], result_type)

    async def work(index, executor):
        client_fn = await ex._embed_in(fn, executor)
        return await executor.create_call(client_fn, value.payload[index])

    return _federated(await ex._per_client(work), result_type)


async def _broadcast(ex: FederatingExecutor, arg, result_type):
    computed = await arg.payload[0].compute()
    members = await ex._per_client(lambda i, e: e.create_value(computed, result_type.member))
    return _federated(members, result_type)


async def _client_values(arg: FederatingValue) -> List[Any]:
    if arg.kind != "federated" or arg.type_signature.placement != _CLIENTS:
        raise type_errors.TypeMismatchError("{T}@CLIENTS", arg.type_signature, "aggregation")
    return list(await executor_base.gather(*(m.compute() for m in arg.payload)))


def _tree(fn, type_spec, *values):
    """Applies `fn` leaf-wise across values of one struct type."""
    if isinstance(type_spec, computation_types.StructType):
        columns = [type_conversions.elements_of(v, type_spec) for v in values]
        return type_conversions.to_container(
            [_tree(fn, t, *(c[i] for c in columns)) for i, t in enumerate(type_spec)], type_spec
        )
    return fn(type_spec, *values)


def _sum_leaves(type_spec, *values):
    total = np.zeros(np.shape(values[0]), type_spec.dtype.as_numpy_dtype) if values else None
    for value in values:
        total = total + value
    return np.asarray(total, type_spec.dtype.as_numpy_dtype)


async def _server_result(ex: FederatingExecutor, value, result_type):
    embedded = await ex._server.create_value(value, result_type.member)
    return _federated([embedded], result_type)


async def _sum(ex, arg, result_type):
    values = await _client_values(arg)
    if not values:
        raise ValueError("federated_sum over zero clients")
    return await _server_result(ex, _tree(_sum_leaves, result_type.member, *values), result_type)


async def _mean(ex, arg, result_type):
    values = await _client_values(arg)
    if not values:
        raise ValueError("federated_mean over zero clients")

    def mean(type_spec, *leaves):
        total = _sum_leaves(type_spec, *leaves)
        return np.asarray(total / len(leaves), type_spec.dtype.as_numpy_dtype)

    return await _server_result(ex, _tree(mean, result_type.member, *values), result_type)


async def _weighted_mean(ex, arg, result_type):
    value, weight = ex._arguments(arg)
    values = await _client_values(value)
    weights = await _client_values(weight)

    def weighted(type_spec, *leaves):
        dtype = type_spec.dtype.as_numpy_dtype
        total = np.zeros(np.shape(leaves[0]), dtype)
        for leaf, w in zip(leaves, weights):
            total = total + np.asarray(w, dtype) * leaf
        weight_sum = np.asarray(sum(np.asarray(w, dtype) for w in weights), dtype)
        if weight_sum == 0:
            raise ValueError(f"federated_mean: the client weights sum to zero ({list(weights)})")
        return np.asarray(total / weight_sum, dtype)

    return await _server_result(ex, _tree(weighted, result_type.member, *values), result_type)


async def _aggregate(ex, arg, result_type):
    value, zero, accumulate, merge, report = ex._arguments(arg)
    del merge  # One process accumulates all clients in order; merging is for shards.
    server = ex._server
    accumulate_fn = await ex._embed_in(accumulate, server)
    report_fn = await ex._embed_in(report, server)
    accumulator = await ex._embed_in(zero, server)
    member_type = value.type_signature.member
    for member in value.payload:
        moved = await server.create_value(await member.compute(), member_type)
        pair = await server.create_struct([(None, accumulator), (None, moved)])
        accumulator = await server.create_call(accumulate_fn, pair)
    return _federated([await server.create_call(report_fn, accumulator)], result_type)


async def _zip_at_clients(ex, arg, result_type):
    elements = ex._arguments(arg)
    names = [n for n, _ in arg.type_signature.elements]

    async def work(index, executor):
        members = [(n, e.payload[index]) for n, e in zip(names, elements)]
        return await executor.create_struct(members)

    return _federated(await ex._per_client(work), result_type)


async def _zip_at_server(ex, arg, result_type):
    elements = ex._arguments(arg)
    names = [n for n, _ in arg.type_signature.elements]
    members = [(n, e.payload[0]) for n, e in zip(names, elements)]
    return _federated([await ex._server.create_struct(members)], result_type)


async def _value_at_clients(ex, arg, result_type):
    computed = await arg.compute()
    members = await ex._per_client(lambda i, e: e.create_value(computed, result_type.member))
    return _federated(members, result_type)


async def _value_at_server(ex, arg, result_type):
    return _federated([await ex._to_server(arg)], result_type)


async def _eval_at_clients(ex, arg, result_type):
    async def work(index, executor):
        fn = await ex._embed_in(arg, executor)
        return await executor.create_call(fn)

    return _federated(await ex._per_client(work), result_type)


async def _eval_at_server(ex, arg, result_type):
    fn = await ex._embed_in(arg, ex._server)
    return _federated([await ex._server.create_call(fn)], result_type)


async def _select(ex, arg, result_type):
    keys, max_key, server_val, select_fn = ex._arguments(arg)
    max_key_value = int(await max_key.payload[0].compute())
    server = ex._server
    fn = await ex._embed_in(select_fn, server)
    key_type = computation_types.TensorType(np.int32)
    selected: Dict[int, Any] = {}

    async def select(key: int):
        if key not in selected:
            key_value = await server.create_value(np.int32(key), key_type)
            pair = await server.create_struct([(None, server_val.payload[0]), (None, key_value)])
            selected[key] = await (await server.create_call(fn, pair)).compute()
        return selected[key]

    async def work(index, executor):
        client_keys = np.asarray(await keys.payload[index].compute()).reshape(-1)
        for key in client_keys:
            if not 0 <= key < max_key_value:
                raise ValueError(
                    f"federated_select: client {index} asked for key {int(key)}, "
                    f"outside [0, {max_key_value})"
                )
        values = [await select(int(k)) for k in client_keys]
        return await executor.create_value(values, result_type.member)

    return _federated(await ex._per_client(work), result_type)


def _leaves(value) -> List[Any]:
    if not type_conversions.is_container(value):
        return [value]
    return [leaf for _, item in type_conversions.container_items(value) for leaf in _leaves(item)]


async def _secure_sum(ex, arg, result_type, label, kind: str):
    """Masks on each client, unmasks the survivors' sum on the server (`secure_aggregation`)."""
    value, parameter = ex._arguments(arg)
    if value.kind != "federated" or value.type_signature.placement != _CLIENTS:
        raise type_errors.TypeMismatchError("{T}@CLIENTS", value.type_signature, label)
    parameters = [int(p) for p in _leaves(await parameter.compute())]
    leaf_count = len(secure_aggregation.tensor_types(result_type.member))
    if len(parameters) == 1:
        parameters = parameters * leaf_count
    if len(parameters) != leaf_count:
        raise ValueError(
            f"{label}: expected 1 or {leaf_count} parameters for a value of type "
            f"{result_type.member}, got {len(parameters)}"
        )
    result = await secure_aggregation.secure_sum(
        ex._secure_aggregation,
        label,
        value.payload,
        result_type.member,
        parameters,
        kind,
        ex._per_client,
        ex._server,
    )
    return _federated([result], result_type)


def _secure_sum_handler(definition):
    kind = secure_aggregation.KIND_OF_INTRINSIC[definition.uri]

    async def handler(ex, arg, result_type):
        return await _secure_sum(ex, arg, result_type, definition.uri, kind)

    return handler


async def _sequence(ex, arg, result_type, definition):
    intrinsic = bb.Intrinsic(
        definition.uri, computation_types.FunctionType(arg.type_signature, result_type)
    )
    fn = await ex._server.create_value(intrinsic, intrinsic.type_signature)
    result = await ex._server.create_call(fn, await ex._to_server(arg))
    return FederatingValue("unplaced", result, result_type)


def _sequence_handler(definition):
    async def handler(ex, arg, result_type):
        return await _sequence(ex, arg, result_type, definition)

    return handler


# Every intrinsic and how this executor runs it.
HANDLERS = {
    defs.FEDERATED_BROADCAST: _broadcast,
    defs.FEDERATED_MAP: _map,
    defs.FEDERATED_APPLY: _map,
    defs.FEDERATED_SUM: _sum,
    defs.FEDERATED_MEAN: _mean,
    defs.FEDERATED_WEIGHTED_MEAN: _weighted_mean,
    defs.FEDERATED_AGGREGATE: _aggregate,
    defs.FEDERATED_ZIP_AT_CLIENTS: _zip_at_clients,
    defs.FEDERATED_ZIP_AT_SERVER: _zip_at_server,
    defs.FEDERATED_VALUE_AT_CLIENTS: _value_at_clients,
    defs.FEDERATED_VALUE_AT_SERVER: _value_at_server,
    defs.FEDERATED_EVAL_AT_CLIENTS: _eval_at_clients,
    defs.FEDERATED_EVAL_AT_SERVER: _eval_at_server,
    defs.FEDERATED_SELECT: _select,
    defs.FEDERATED_SECURE_SUM: _secure_sum_handler(defs.FEDERATED_SECURE_SUM),
    defs.FEDERATED_SECURE_SUM_BITWIDTH: _secure_sum_handler(defs.FEDERATED_SECURE_SUM_BITWIDTH),
    defs.FEDERATED_SECURE_MODULAR_SUM: _secure_sum_handler(defs.FEDERATED_SECURE_MODULAR_SUM),
    defs.SEQUENCE_MAP: _sequence_handler(defs.SEQUENCE_MAP),
    defs.SEQUENCE_REDUCE: _sequence_handler(defs.SEQUENCE_REDUCE),
    defs.SEQUENCE_SUM: _sequence_handler(defs.SEQUENCE_SUM),
}
