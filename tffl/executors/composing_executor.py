"""The composing executor: the driver's federating layer over several workers.

Design. CLIENTS are sharded across workers in contiguous blocks, in client order,
with shard sizes differing by at most one (a worker left with no clients is not
used); each worker runs a full local stack configured with its shard's size. A
CLIENTS value is one worker value per shard. SERVER and unplaced values live in a
server executor on the driver, as in the federating executor.

Intrinsics on CLIENTS values run as the same intrinsic on every shard at once
(their functions travel as closed computations; SERVER and unplaced arguments are
computed on the driver and sent). Aggregations are hierarchical: each worker
aggregates its shard and the driver combines the partials in worker order — sums
are added, a mean divides the added sums by the number of clients, a weighted mean
divides the added weighted sums by the added weights, `federated_aggregate` merges
the workers' accumulators with `merge` and applies `report` once, and secure sums
add exact partial sums. SERVER-only intrinsics (`federated_apply`, the SERVER zip,
value and eval, the sequence operators) are handed to a federating executor with
no clients that shares the driver's server executor, so they behave exactly as in
a local run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from typing import Awaitable
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs as defs
from tffl.executors import executor_base
from tffl.executors import executor_errors
from tffl.executors import federating_executor
from tffl.executors import hierarchical_aggregation
from tffl.executors import secure_aggregation
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions
from tffl.types import type_errors

_CLIENTS = placements.CLIENTS
_SERVER = placements.SERVER

# A worker executor for a shard of the given number of clients.
WorkerFactory = Callable[[int], executor_base.Executor]


class ComposingValue(executor_base.ExecutorValue):
    """One of: clients (one worker value per shard), server (a server-executor value),
    unplaced (a server-executor value), function (IR), intrinsic (a definition) or
    struct (a list of ComposingValues)."""

    __slots__ = ("kind", "payload", "_type", "_computed")

    def __init__(self, kind: str, payload: Any, type_spec: computation_types.Type):
        self.kind = kind
        self.payload = payload
        self._type = type_spec
        self._computed: Optional[asyncio.Future] = None

    @property
    def type_signature(self):
        return self._type

    async def compute(self) -> Any:
        # A SERVER value sent to every worker is computed once.
        if self._computed is None:
            self._computed = background(self._compute())
        return await asyncio.shield(self._computed)

    async def _compute(self) -> Any:
        if self.kind == "clients":
            if self._type.all_equal:
                return await self.payload[0].compute()
            shards = await gather(*(value.compute() for value in self.payload))
            return [member for shard in shards for member in shard]
        if self.kind in ("server", "unplaced"):
            return await self.payload.compute()
        if self.kind == "struct":
            elements = await gather(*(v.compute() for v in self.payload))
            return type_conversions.to_container(list(elements), self._type)
        raise TypeError(f"a function of type {self._type} has no value to compute")


def background(awaitable: Awaitable) -> asyncio.Future:
    """A task shared by several awaiters (through `asyncio.shield`).

    If every awaiter is cancelled, nobody reads the task's failure; reading it here
    keeps asyncio from logging it as never retrieved.
    """
    task = asyncio.ensure_future(awaitable)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task


gather = executor_base.gather


@dataclasses.dataclass
class _Shard:
    position: int  # among the shards, in worker order
    executor: executor_base.Executor
    clients: range
    intrinsics: Dict[Any, Any] = dataclasses.field(default_factory=dict)


def shard_sizes(num_clients: int, num_workers: int) -> List[int]:
    """Contiguous shard sizes, differing by at most one, larger shards first."""
    base, extra = divmod(num_clients, num_workers)
    return [base + (1 if i < extra else 0) for i in range(num_workers)]


class ComposingExecutor(federating_executor.PlacingExecutor):
    """Runs federated intrinsics over a driver-side server and sharded workers.

    Args:
      server: the driver's executor for SERVER and unplaced values.
      workers: one factory per worker, each making that worker's executor for a
        shard of a given number of clients.
      num_clients: the number of clients, if known; else the first CLIENTS value sets it.
    """

    value_class = ComposingValue

    def __init__(
        self,
        server: executor_base.Executor,
        workers: Sequence[WorkerFactory],
        num_clients: Optional[int] = None,
    ):
        if not workers:
            raise ValueError("a composing executor needs at least one worker")
        self._server = server
        self._workers = list(workers)
        self._num_clients = num_clients
        self._shard_list: Optional[List[_Shard]] = None
        self._federating = federating_executor.FederatingExecutor(
            server=server, client_factory=_no_client, num_clients=0
        )

    @property
    def num_clients(self) -> Optional[int]:
        return self._num_clients

    def _shards(self) -> List[_Shard]:
        if self._shard_list is None:
            if self._num_clients is None:
                raise ValueError(
                    "the number of clients is unknown: pass a CLIENTS value or set num_clients "
                    "on the context (tffl.backends.remote.set_context(..., num_clients=N))"
                )
            self._shard_list, start = [], 0
            for factory, size in zip(
                self._workers, shard_sizes(self._num_clients, len(self._workers))
            ):
                if size:
                    clients = range(start, start + size)
                    position = len(self._shard_list)
                    self._shard_list.append(_Shard(position, factory(size), clients))
                    start += size
        return self._shard_list

    async def each_shard(self, work: Callable[[_Shard], Awaitable[Any]]) -> List[Any]:
        """Runs `work` on every shard concurrently; results in worker order."""
        shards = self._shards()

        async def run(shard: _Shard):
            try:
                return await work(shard)
            except executor_errors.FatalError as error:
                if len(shards) == 1:
                    raise
                # A worker numbers its clients from 0; say which clients of the call those are.
                first, last = shard.clients.start, shard.clients.stop - 1
                raise executor_errors.FatalError(
                    f"{error} (the worker's clients 0 to {last - first} are clients "
                    f"{first} to {last} of the call)",
                    error.code,
                ) from error

        return await gather(*(run(shard) for shard in shards))

    def close(self) -> None:
        for shard in self._shard_list or ():
            shard.executor.close()
        self._server.close()

    # ------------------------------------------------------------------ interface

    async def _create_federated(self, value, type_spec: computation_types.FederatedType):
        if type_spec.placement == _SERVER:
            embedded = await self._server.create_value(value, type_spec.member)
            return ComposingValue("server", embedded, type_spec)
        if type_spec.all_equal:
            members = await self.each_shard(lambda s: s.executor.create_value(value, type_spec))
            return ComposingValue("clients", members, type_spec)
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
        members = await self.each_shard(
            lambda s: s.executor.create_value(
                list(value[s.clients.start : s.clients.stop]), type_spec
            )
        )
        return ComposingValue("clients", members, type_spec)

    async def create_call(self, fn, arg=None):
        if fn.kind == "intrinsic":
            return await HANDLERS[fn.payload](self, arg, fn.type_signature)
        if fn.kind == "function":
            return await self._call_function(fn, arg)
        raise TypeError(f"expected a function, got a value of type {fn.type_signature}")

    # ------------------------------------------------------------------ helpers

    def as_federating(self, value: ComposingValue) -> federating_executor.FederatingValue:
        """The same value for the federating executor of the server side."""
        if value.kind == "clients":
            raise type_errors.TypeMismatchError(
                "a SERVER or unplaced value", value.type_signature, "an intrinsic run at the server"
            )
        if value.kind == "server":
            return federating_executor.FederatingValue(
                "federated", [value.payload], value.type_signature
            )
        if value.kind == "struct":
            payload = [self.as_federating(v) for v in value.payload]
            return federating_executor.FederatingValue("struct", payload, value.type_signature)
        return federating_executor.FederatingValue(value.kind, value.payload, value.type_signature)

    def from_federating(self, value: federating_executor.FederatingValue) -> ComposingValue:
        if value.kind == "federated":
            return ComposingValue("server", value.payload[0], value.type_signature)
        if value.kind == "struct":
            payload = [self.from_federating(v) for v in value.payload]
            return ComposingValue("struct", payload, value.type_signature)
        return ComposingValue(value.kind, value.payload, value.type_signature)

    async def _to_server(self, value: ComposingValue) -> executor_base.ExecutorValue:
        """An unplaced value or function (or a struct of them) as a server-executor value."""
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

    async def to_worker(self, value: ComposingValue, shard: _Shard) -> executor_base.ExecutorValue:
        """A value as that shard's worker holds it: its own part of a CLIENTS value, or a copy."""
        worker = shard.executor
        if value.kind == "clients":
            return value.payload[shard.position]
        if value.kind in ("function", "intrinsic"):
            block = value.payload
            if value.kind == "intrinsic":
                block = bb.Intrinsic(value.payload.uri, value.type_signature)
            return await worker.create_value(block, value.type_signature)
        if value.kind == "struct":
            names = [n for n, _ in value.type_signature.elements]
            elements = await gather(*(self.to_worker(v, shard) for v in value.payload))
            return await worker.create_struct(list(zip(names, elements)))
        return await worker.create_value(await value.compute(), value.type_signature)

    async def on_shards(
        self, definition: defs.IntrinsicDef, fn_type: computation_types.FunctionType, arg
    ) -> List[executor_base.ExecutorValue]:
        """Runs an intrinsic on every shard's part of `arg`; one worker value per shard."""

        async def run(shard: _Shard):
            key = (definition.uri, fn_type)
            if key not in shard.intrinsics:
                shard.intrinsics[key] = background(
                    shard.executor.create_value(bb.Intrinsic(definition.uri, fn_type), fn_type)
                )
            fn, worker_arg = await gather(
                asyncio.shield(shard.intrinsics[key]), self.to_worker(arg, shard)
            )
            return await shard.executor.create_call(fn, worker_arg)

        return await self.each_shard(run)

    async def partials(self, definition, fn_type, arg) -> List[Any]:
        """The computed results of an intrinsic on every shard, in worker order."""
        results = await self.on_shards(definition, fn_type, arg)
        return await gather(*(r.compute() for r in results))

    def arguments(self, arg: ComposingValue) -> List[ComposingValue]:
        if arg.kind != "struct":
            raise type_errors.TypeMismatchError(
                "a struct of arguments", arg.type_signature, "intrinsic"
            )
        return arg.payload


def _no_client(index: int) -> executor_base.Executor:
    raise AssertionError("the server side of a composing executor has no clients")


async def _server_result(ex: ComposingExecutor, value, result_type) -> ComposingValue:
    embedded = await ex._server.create_value(value, result_type.member)
    return ComposingValue("server", embedded, result_type)


# ---------------------------------------------------------------------- handlers


async def _at_server(ex: ComposingExecutor, arg, fn_type, definition):
    handler = federating_executor.HANDLERS[definition]
    result = await handler(ex._federating, ex.as_federating(arg), fn_type.result)
    return ex.from_federating(result)


def _server_handler(definition):
    async def handler(ex, arg, fn_type):
        return await _at_server(ex, arg, fn_type, definition)

    return handler


def _shard_handler(definition):
    async def handler(ex, arg, fn_type):
        results = await ex.on_shards(definition, fn_type, arg)
        return ComposingValue("clients", results, fn_type.result)

    return handler


async def _map(ex, arg, fn_type):
    _, value = ex.arguments(arg)
    if value.type_signature.placement == _SERVER:
        return await _at_server(ex, arg, fn_type, defs.FEDERATED_MAP)
    return await _shard_handler(defs.FEDERATED_MAP)(ex, arg, fn_type)


def _require_clients(ex: ComposingExecutor, label: str) -> None:
    if not ex._shards():
        raise ValueError(f"{label} over zero clients")


async def _sum(ex, arg, fn_type):
    _require_clients(ex, "federated_sum")
    partials = await ex.partials(defs.FEDERATED_SUM, fn_type, arg)
    total = hierarchical_aggregation.add(partials, fn_type.result.member)
    return await _server_result(ex, total, fn_type.result)


async def _mean(ex, arg, fn_type):
    _require_clients(ex, "federated_mean")
    # Partial sums on the workers; the driver divides by the number of clients.
    partials = await ex.partials(defs.FEDERATED_SUM, fn_type, arg)
    mean = hierarchical_aggregation.mean(partials, fn_type.result.member, ex.num_clients)
    return await _server_result(ex, mean, fn_type.result)


async def _weighted_mean(ex, arg, fn_type):
    value, weight = ex.arguments(arg)
    _require_clients(ex, "federated_mean")
    computation = hierarchical_aggregation.weighted_partial_sums(
        value.type_signature, weight.type_signature
    )

    async def run(shard):
        worker = shard.executor
        fn, worker_arg = await gather(
            worker.create_value(computation, computation.type_signature),
            ex.to_worker(arg, shard),
        )
        return await (await worker.create_call(fn, worker_arg)).compute()

    partials = await ex.each_shard(run)
    mean = hierarchical_aggregation.weighted_mean(partials, fn_type.result.member)
    return await _server_result(ex, mean, fn_type.result)


async def _aggregate(ex, arg, fn_type):
    value, zero, accumulate, merge, report = ex.arguments(arg)
    accumulator_type = zero.type_signature
    # Each worker accumulates its shard and reports the accumulator as it is; the
    # driver merges the workers' accumulators, which is what `merge` exists for.
    reference = bb.Reference("accumulator", accumulator_type)
    identity = bb.Lambda("accumulator", accumulator_type, reference)
    elements = [value, zero, accumulate, merge]
    elements.append(ComposingValue("function", identity, identity.type_signature))
    worker_arg = ComposingValue(
        "struct",
        elements,
        computation_types.StructType([(None, v.type_signature) for v in elements]),
    )
    worker_fn_type = computation_types.FunctionType(
        worker_arg.type_signature, computation_types.FederatedType(accumulator_type, _SERVER)
    )
    partials = await ex.partials(defs.FEDERATED_AGGREGATE, worker_fn_type, worker_arg)
    server = ex._server
    merge_fn = await ex._to_server(merge)
    report_fn = await ex._to_server(report)
    accumulator = None
    for partial in partials:
        moved = await server.create_value(partial, accumulator_type)
        if accumulator is None:
            accumulator = moved
            continue
        pair = await server.create_struct([(None, accumulator), (None, moved)])
        accumulator = await server.create_call(merge_fn, pair)
    if accumulator is None:
        accumulator = await ex._to_server(zero)
    result = await server.create_call(report_fn, accumulator)
    return ComposingValue("server", result, fn_type.result)


def _secure_sum_handler(definition):
    kind = secure_aggregation.KIND_OF_INTRINSIC[definition.uri]
    modular = kind == secure_aggregation.MODULUS

    async def handler(ex, arg, fn_type):
        return await _secure_sum(ex, arg, fn_type, definition, modular)

    return handler


async def _secure_sum(ex, arg, fn_type, definition, modular: bool):
    _require_clients(ex, definition.uri)
    _, parameter = ex.arguments(arg)
    # Each worker checks its clients' ranges and sums exactly; partials add exactly.
    partials = await ex.partials(definition, fn_type, arg)
    total = hierarchical_aggregation.secure_sum(
        partials, fn_type.result.member, await parameter.compute(), modular
    )
    return await _server_result(ex, total, fn_type.result)


# Every intrinsic and how the driver runs it: on the shards, hierarchically, or at
# the server. Handlers take the intrinsic's whole type (workers are sent the same).
HANDLERS = {
    defs.FEDERATED_BROADCAST: _shard_handler(defs.FEDERATED_BROADCAST),
    defs.FEDERATED_MAP: _map,
    defs.FEDERATED_APPLY: _server_handler(defs.FEDERATED_APPLY),
    defs.FEDERATED_SUM: _sum,
    defs.FEDERATED_MEAN: _mean,
    defs.FEDERATED_WEIGHTED_MEAN: _weighted_mean,
    defs.FEDERATED_AGGREGATE: _aggregate,
    defs.FEDERATED_ZIP_AT_CLIENTS: _shard_handler(defs.FEDERATED_ZIP_AT_CLIENTS),
    defs.FEDERATED_ZIP_AT_SERVER: _server_handler(defs.FEDERATED_ZIP_AT_SERVER),
    defs.FEDERATED_VALUE_AT_CLIENTS: _shard_handler(defs.FEDERATED_VALUE_AT_CLIENTS),
    defs.FEDERATED_VALUE_AT_SERVER: _server_handler(defs.FEDERATED_VALUE_AT_SERVER),
    defs.FEDERATED_EVAL_AT_CLIENTS: _shard_handler(defs.FEDERATED_EVAL_AT_CLIENTS),
    defs.FEDERATED_EVAL_AT_SERVER: _server_handler(defs.FEDERATED_EVAL_AT_SERVER),
    defs.FEDERATED_SELECT: _shard_handler(defs.FEDERATED_SELECT),
    defs.FEDERATED_SECURE_SUM: _secure_sum_handler(defs.FEDERATED_SECURE_SUM),
    defs.FEDERATED_SECURE_SUM_BITWIDTH: _secure_sum_handler(defs.FEDERATED_SECURE_SUM_BITWIDTH),
    defs.FEDERATED_SECURE_MODULAR_SUM: _secure_sum_handler(defs.FEDERATED_SECURE_MODULAR_SUM),
    defs.SEQUENCE_MAP: _server_handler(defs.SEQUENCE_MAP),
    defs.SEQUENCE_REDUCE: _server_handler(defs.SEQUENCE_REDUCE),
    defs.SEQUENCE_SUM: _server_handler(defs.SEQUENCE_SUM),
}
