"""The executor service: serves any executor over gRPC, one session per stream.

Design. The service is a thin adapter from the `ExecutorGroup` protocol
(executor.proto) onto the executor interface. Each `Execute` stream is a session
with a fresh executor from a factory (`create(num_clients) -> Executor`), sized by
the session's `Configure` request; the values the session creates live in a table
keyed by the references handed out, and are dropped with the executor when the
stream ends or breaks (a driver that dies cannot leave anything behind). Requests
of a session run as concurrent tasks and are answered as they finish, so the
driver's `asyncio.gather` over clients and workers keeps every core busy.

Handlers take raw bytes and parse requests themselves: a message that does not
parse aborts the stream with INVALID_ARGUMENT (gRPC's own deserializer would say
INTERNAL), a request that parses but is ill-typed (an unknown reference, a call of
a non-function, a value that does not fit its type) is answered with an `Error`
and the session goes on. Tensors sent with a `cache_key` are kept in one
`TensorCache` shared by every session, so a driver sends each tensor that does not
change (a client's dataset) once and then only its key; a key the cache no longer
holds is answered with NOT_FOUND (`not cached: ...`) and the driver sends it again.
With a token, every call must carry
`authorization: Bearer <token>` or is refused with UNAUTHENTICATED.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import importlib.metadata
import itertools
import logging
import time
from typing import Any
from typing import Callable
from typing import Dict
from typing import Optional
from typing import Protocol
from typing import Tuple

from google.protobuf import message as protobuf_message
import grpc
import numpy as np
import tensorflow as tf

from tffl.compiler import building_blocks as bb
from tffl.executors import executor_base
from tffl.executors import tensorflow_executor
from tffl.executors import value_conversions
from tffl.executors import value_serialization
from tffl.proto import executor_pb2
from tffl.types import computation_types
from tffl.types import type_serialization

SERVICE_NAME = "tffl.ExecutorGroup"
EXECUTE_METHOD = f"/{SERVICE_NAME}/Execute"
PING_METHOD = f"/{SERVICE_NAME}/Ping"
MIB = 1 << 20
DEFAULT_MAX_MESSAGE_MB = 512
DEFAULT_TENSOR_CACHE_MB = 256
# gRPC keeps message sizes in a signed 32-bit int.
MAX_MESSAGE_MB_LIMIT = 2047

_log = logging.getLogger(__name__)
_Response = executor_pb2.ExecuteResponse
# Errors a request's own content causes; anything else is the worker's fault (INTERNAL).
_INVALID_ARGUMENT_ERRORS = (TypeError, ValueError, KeyError, NameError, IndexError)


class ExecutorFactory(Protocol):
    def create(self, num_clients: Optional[int]) -> executor_base.Executor: ...


def server_options(max_message_bytes: int) -> list:
    """Channel arguments for a server: message limits and client keepalive pings."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        # Drivers ping every 10 s to notice a lost worker; accept that (the default
        # minimum is 5 minutes, and pinging faster gets a connection dropped).
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_ping_strikes", 0),
    ]


def format_size(num_bytes: int) -> str:
    """`512 MiB`, `1.5 MiB` or `1000 bytes`: sizes in messages about limits."""
    if num_bytes < MIB:
        return f"{num_bytes} bytes"
    mib = num_bytes / MIB
    return f"{mib:.0f} MiB" if mib == int(mib) else f"{mib:.1f} MiB"


def _version() -> str:
    try:
        return importlib.metadata.version("tffl")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# Values up to this size are read and written on the event loop: a thread hop costs
# more than the work (a model's weights take about 0.1 ms), and much more while the
# cores are busy. Larger ones go to a thread, so other sessions' requests are not held up.
_INLINE_BYTES = MIB

# A compiled `Evaluate` (a shard loop) whose last run, reading and writing included,
# took less than this runs on the event loop too when its argument is small and of the
# same sizes as then (`_sizes`): the hop to a thread and back costs 0.3-0.6 ms on a
# small VM, about 5% of a remote round of a linear model. Other sessions' requests wait
# at most about this long. A function's first run, a run after a longer one, and a run
# on values of other sizes (a shard of more clients, longer datasets sent by cache key)
# go to a thread.
_INLINE_SECONDS = 0.02


def _sizes(value: Any) -> Optional[Tuple[Any, ...]]:
    """What sizes a compiled function's work on `value`: the shape of each tensor and the
    value of each integer scalar (a count, such as a shard's clients); None when a leaf's
    size cannot be told (a dataset)."""
    sizes = []
    for leaf in tf.nest.flatten(value):
        if isinstance(leaf, (int, np.integer)):
            sizes.append(int(leaf))
        elif isinstance(leaf, (np.ndarray, tf.Tensor)):
            sizes.append(tuple(leaf.shape))
        elif leaf is None or isinstance(leaf, (float, bytes, str, np.generic)):
            sizes.append(())
        else:
            return None
    return tuple(sizes)


def _nbytes(value: Any) -> float:
    """The bytes of the arrays in a computed value (infinite for anything else)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (bytes, int, float, bool)):
        return len(value) if isinstance(value, bytes) else 8
    return float("inf")


class _RequestError(Exception):
    """A request that cannot be served, answered with `code` and the message."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT):
        super().__init__(message)
        self.code = code


class _Session:
    """One stream's executor and the values it created."""

    def __init__(
        self,
        factory: ExecutorFactory,
        max_message_bytes: int,
        cache: Optional[value_serialization.TensorCache],
    ):
        self._factory = factory
        self._cache = cache
        self._executor: Optional[executor_base.Executor] = None
        self._values: Dict[int, executor_base.ExecutorValue] = {}
        # The values created from TensorFlow blocks, compiled: `Evaluate` calls them directly.
        self._compiled: Dict[int, tensorflow_executor.CompiledFunction] = {}
        # Each compiled function's last `Evaluate`, by reference: how long it took, and
        # the sizes of its argument (`_sizes`).
        self._last_runs: Dict[int, Tuple[float, Optional[Tuple[Any, ...]]]] = {}
        self._refs = itertools.count(1)
        self.num_clients: Optional[int] = None
        self.max_answer_bytes = max_message_bytes
        self._max_message_bytes = max_message_bytes

    @property
    def executor(self) -> executor_base.Executor:
        if self._executor is None:
            self._executor = self._factory.create(self.num_clients)
        return self._executor

    def close(self) -> None:
        self._values.clear()
        self._compiled.clear()
        self._last_runs.clear()
        if self._executor is not None:
            self._executor.close()
            self._executor = None

    def configure(self, request: executor_pb2.ExecuteRequest.Configure) -> _Response:
        if self._executor is not None:
            raise _RequestError("configure: the session is already in use; configure it first")
        if request.HasField("num_clients"):
            if request.num_clients < 0:
                raise _RequestError(
                    f"configure: expected a non-negative num_clients, got {request.num_clients}"
                )
            self.num_clients = request.num_clients
        if request.max_message_bytes > 0:
            self.max_answer_bytes = min(self._max_message_bytes, request.max_message_bytes)
        response = _Response()
        response.configured.max_message_bytes = self._max_message_bytes
        response.configured.tensor_cache_bytes = _cache_bytes(self._cache)
        return response

    def dispose(self, request: executor_pb2.ExecuteRequest.Dispose) -> _Response:
        for ref in request.value:
            self._values.pop(ref, None)
            self._compiled.pop(ref, None)
            self._last_runs.pop(ref, None)
        response = _Response()
        response.ack.SetInParent()
        return response

    def _value(self, ref: int, role: str) -> executor_base.ExecutorValue:
        try:
            return self._values[ref]
        except KeyError:
            raise _RequestError(f"{role}: no value with reference {ref} in this session") from None

    def _reference(self, value: executor_base.ExecutorValue) -> _Response:
        ref = next(self._refs)
        self._values[ref] = value
        response = _Response()
        response.value_ref.ref = ref
        response.value_ref.type.CopyFrom(type_serialization.serialize_type(value.type_signature))
        return response

    async def answer(self, request: executor_pb2.ExecuteRequest) -> _Response:
        kind = request.WhichOneof("request")
        if kind == "create_value":
            value, created = await self._create_value(request.create_value.value)
            response = self._reference(created)
            if isinstance(value, bb.TensorFlow):
                # The executor compiled it already: this finds it in the cache.
                self._compiled[response.value_ref.ref] = tensorflow_executor.FUNCTION_CACHE.get(
                    value
                )
            return response
        if kind == "create_call":
            call = request.create_call
            fn = self._value(call.function, "create_call function")
            self._function_type(fn, call.function, "create_call")
            arg = self._value(call.argument, "create_call argument") if call.argument else None
            return self._reference(await self._call(fn, call.function, arg, "create_call"))
        if kind == "evaluate":
            return await self._evaluate(request.evaluate)
        if kind == "create_struct":
            elements = [
                (e.name or None, self._value(e.value, "create_struct"))
                for e in request.create_struct.element
            ]
            return self._reference(await self.executor.create_struct(elements))
        if kind == "create_selection":
            return self._reference(await self._select(request.create_selection))
        if kind == "compute":
            value = self._value(request.compute.value, "compute")
            return await self._computed(await value.compute(), value.type_signature)
        raise _RequestError(f"request {request.id} names no operation")

    async def _create_value(self, value_proto) -> Tuple[Any, executor_base.ExecutorValue]:
        """The value the message carries, and as created in the executor."""
        value, type_spec = await self._read(value_proto)
        return value, await self.executor.create_value(value, type_spec)

    async def _read(self, value_proto) -> Tuple[Any, computation_types.Type]:
        def read():
            return value_serialization.deserialize_value(value_proto, self.num_clients, self._cache)

        try:
            if value_proto.ByteSize() <= _INLINE_BYTES:
                return read()
            return await asyncio.to_thread(read)
        except value_serialization.CacheMiss as error:
            raise _RequestError(str(error), grpc.StatusCode.NOT_FOUND) from None

    async def _computed(self, computed: Any, type_spec: computation_types.Type) -> _Response:
        response = _Response()
        write = functools.partial(
            value_serialization.write_value, response.computed, computed, type_spec
        )
        if _nbytes(computed) <= _INLINE_BYTES:
            write()
        else:
            await asyncio.to_thread(write)
        return response

    async def _evaluate(self, request) -> _Response:
        fn = self._value(request.function, "evaluate function")
        # The function is checked before its argument is read.
        fn_type = self._function_type(fn, request.function, "evaluate")
        compiled = self._compiled.get(request.function)
        if compiled is not None:
            return await self._evaluate_compiled(compiled, fn_type, request)
        arg = None
        if request.HasField("argument"):
            _, arg = await self._create_value(request.argument)
        result = await self._call(fn, request.function, arg, "evaluate")
        return await self._computed(await result.compute(), result.type_signature)

    async def _evaluate_compiled(self, compiled, fn_type, request) -> _Response:
        """`Evaluate` of a TensorFlow block: reading, the call and writing in one step,
        without the executor stack (which would give the same result). On the event loop
        when the function's last run was short (`_INLINE_SECONDS`) and on an argument of
        the same sizes, else in a thread."""
        response = _Response()
        ref = request.function

        def read():
            argument, arg_type = None, None
            if request.HasField("argument"):
                argument, arg_type = value_serialization.deserialize_value(
                    request.argument, self.num_clients, self._cache
                )
            self._check_argument(fn_type, arg_type, "evaluate")
            return argument

        def call(argument, sizes, started):
            result = value_conversions.to_python(compiled(argument), fn_type.result)
            value_serialization.write_value(response.computed, result, fn_type.result)
            if ref in self._compiled:  # Not disposed meanwhile.
                self._last_runs[ref] = (time.perf_counter() - started, sizes)

        def evaluate():
            started = time.perf_counter()
            argument = read()
            call(argument, _sizes(argument), started)

        last = self._last_runs.get(ref)  # None before the function's first run.
        try:
            if (
                last is None
                or last[0] >= _INLINE_SECONDS
                or request.argument.ByteSize() > _INLINE_BYTES
            ):
                await asyncio.to_thread(evaluate)
                return response
            started = time.perf_counter()
            argument = read()
        except value_serialization.CacheMiss as error:
            raise _RequestError(str(error), grpc.StatusCode.NOT_FOUND) from None
        sizes = _sizes(argument)
        if sizes is not None and sizes == last[1]:
            call(argument, sizes, started)
        else:
            await asyncio.to_thread(call, argument, sizes, started)
        return response

    @staticmethod
    def _function_type(fn, ref: int, role: str) -> computation_types.FunctionType:
        fn_type = fn.type_signature
        if not isinstance(fn_type, computation_types.FunctionType):
            raise _RequestError(
                f"{role}: expected a function, got a value of type {fn_type} (reference {ref})"
            )
        return fn_type

    async def _call(self, fn, ref: int, arg, role: str) -> executor_base.ExecutorValue:
        fn_type = self._function_type(fn, ref, role)
        self._check_argument(fn_type, None if arg is None else arg.type_signature, role)
        return await self.executor.create_call(fn, arg)

    @staticmethod
    def _check_argument(fn_type, arg_type, role: str) -> None:
        if fn_type.parameter is None and arg_type is not None:
            raise _RequestError(f"{role}: the function {fn_type} takes no argument, got {arg_type}")
        if fn_type.parameter is not None and (
            arg_type is None or not fn_type.parameter.is_assignable_from(arg_type)
        ):
            actual = "no argument" if arg_type is None else arg_type
            raise _RequestError(f"{role} argument: expected {fn_type.parameter}, got {actual}")

    async def _select(self, request) -> executor_base.ExecutorValue:
        source = self._value(request.source, "create_selection")
        source_type = source.type_signature
        if not isinstance(source_type, computation_types.StructType):
            raise _RequestError(f"create_selection: expected a struct, got {source_type}")
        if not 0 <= request.index < len(source_type):
            raise _RequestError(
                f"create_selection: index {request.index} is out of range for {source_type}"
            )
        return await self.executor.create_selection(source, request.index)


def _cache_bytes(cache: Optional[value_serialization.TensorCache]) -> int:
    return 0 if cache is None else cache.max_bytes


def _error_response(request_id: int, code: grpc.StatusCode, message: str) -> _Response:
    response = _Response(id=request_id)
    response.error.code = code.value[0]
    response.error.message = message
    return response


class ExecutorService:
    """Serves sessions of executors from `factory` (see the module docstring).

    Args:
      factory: makes each session's executor, `create(num_clients) -> Executor`.
      auth_token: when given, every call must carry it as `authorization: Bearer ...`.
      max_message_bytes: the largest message sent or received (set the server's
        channel options to the same, see `server_options`).
      cache_bytes: the most the tensors kept for drivers (`tensor_cache`) may take;
        0 keeps none.

    Attributes:
      tensor_cache: the tensors sent with a `cache_key`, shared by every session
        (None when `cache_bytes` is 0).
    """

    def __init__(
        self,
        factory: ExecutorFactory,
        auth_token: Optional[str] = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_MB * MIB,
        cache_bytes: int = DEFAULT_TENSOR_CACHE_MB * MIB,
    ):
        self._factory = factory
        self._token = auth_token
        self.max_message_bytes = max_message_bytes
        self.tensor_cache = (
            value_serialization.TensorCache(cache_bytes) if cache_bytes > 0 else None
        )
        self._session_ids = itertools.count(1)
        self.open_sessions = 0
        # Each open session's queue of requests read and not yet taken.
        self._queues: set = set()
        self._draining = False

    @property
    def requires_token(self) -> bool:
        return self._token is not None

    def drain(self) -> None:
        """Stops taking requests, before the server stops: every session ends once the
        requests it has read are answered, an idle one (a driver keeps a session open
        between calls) at once."""
        self._draining = True
        for incoming in list(self._queues):
            incoming.put_nowait(_DRAIN)

    def handler(self) -> grpc.GenericRpcHandler:
        """The method handlers, taking and giving raw bytes (see the module docstring)."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Execute": grpc.stream_stream_rpc_method_handler(self.execute),
                "Ping": grpc.unary_unary_rpc_method_handler(self.ping),
            },
        )

    async def _authorize(self, context) -> None:
        if self._token is None:
            return
        metadata = dict(context.invocation_metadata() or ())
        given = metadata.get("authorization", "")
        expected = f"Bearer {self._token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            reason = "no auth token" if not given else "a wrong auth token"
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"the worker requires an auth token; the call carried {reason}",
            )

    async def ping(self, request: bytes, context) -> bytes:
        await self._authorize(context)
        try:
            executor_pb2.PingRequest.FromString(request)
        except protobuf_message.DecodeError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a PingRequest message")
        return executor_pb2.PingResponse(
            version=_version(),
            sessions=self.open_sessions,
            max_message_bytes=self.max_message_bytes,
            tensor_cache_bytes=_cache_bytes(self.tensor_cache),
        ).SerializeToString()

    async def execute(self, requests, context) -> None:
        await self._authorize(context)
        session_id = next(self._session_ids)
        session = _Session(self._factory, self.max_message_bytes, self.tensor_cache)
        write_lock = asyncio.Lock()
        tasks = set()
        count = 0
        outcome = "ok"
        started = time.monotonic()
        peer = context.peer()
        announced = False
        self.open_sessions += 1

        def announce() -> None:
            # Once the first request is in, a configured session knows its shard size.
            nonlocal announced
            if not announced:
                announced = True
                _log.info(
                    "session %d from %s started: num_clients=%s",
                    session_id,
                    peer,
                    session.num_clients,
                )

        async def write(response: _Response) -> None:
            async with write_lock:
                await context.write(response.SerializeToString())

        # Requests are read by a task of their own into a queue, which `drain()` can
        # end without interrupting a read of gRPC's (an interrupted read can keep the
        # call from ending).
        incoming: asyncio.Queue = asyncio.Queue()
        reader = asyncio.ensure_future(_read_into(requests, incoming))
        reader.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._queues.add(incoming)
        data = None
        try:
            if self._draining:
                outcome = "the worker is stopping"
                return
            while True:
                data = await incoming.get()
                if data is None or data is _DRAIN:
                    break
                count += 1
                request = _parse_request(data)
                if request is None:
                    announce()
                    outcome = "aborted (a malformed request)"
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"request {count} of the session is not an ExecuteRequest message",
                    )
                kind = request.WhichOneof("request")
                if kind in ("configure", "dispose"):
                    # In order, before any later request of the session starts.
                    await write(self._answer_now(session, request))
                    announce()
                    continue
                announce()
                task = asyncio.ensure_future(self._answer(session, request, write))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
            if data is _DRAIN:
                outcome = "the worker is stopping"
        except asyncio.CancelledError:
            reader.cancel()
            if not self._draining:
                outcome = "cancelled by the driver"
                raise
            # Cut off when the server's grace ran out: the worker is stopping anyway,
            # and the stream ends without an error.
            outcome = "cut off: the worker stopped"
        finally:
            self._queues.discard(incoming)
            for task in tasks:
                task.cancel()
            session.close()
            self.open_sessions -= 1
            announce()
            _log.info(
                "session %d ended (%s): %d requests, %.2f s",
                session_id,
                outcome,
                count,
                time.monotonic() - started,
            )

    def _answer_now(self, session: _Session, request: executor_pb2.ExecuteRequest) -> _Response:
        try:
            if request.WhichOneof("request") == "configure":
                response = session.configure(request.configure)
            else:
                response = session.dispose(request.dispose)
        except _RequestError as error:
            return _error_response(request.id, error.code, str(error))
        response.id = request.id
        return response

    async def _answer(
        self,
        session: _Session,
        request: executor_pb2.ExecuteRequest,
        write: Callable[[_Response], Any],
    ) -> None:
        try:
            response = await session.answer(request)
            response.id = request.id
        except asyncio.CancelledError:
            raise
        except _RequestError as error:
            response = _error_response(request.id, error.code, str(error))
        except (*_INVALID_ARGUMENT_ERRORS, tf.errors.InvalidArgumentError) as error:
            response = _error_response(request.id, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except Exception as error:  # noqa: BLE001 - any failure is answered; the worker goes on.
            _log.exception("request %d failed", request.id)
            response = _error_response(
                request.id, grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}"
            )
        size = response.ByteSize()
        if size > session.max_answer_bytes:
            response = _error_response(
                request.id,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the answer to request {request.id} is {format_size(size)}, over the message "
                f"limit of {format_size(session.max_answer_bytes)} (raise --max_message_mb on "
                "the worker and max_message_mb on the driver)",
            )
        await write(response)


_DRAIN = object()


async def _read_into(requests, incoming: asyncio.Queue) -> None:
    """Puts a session's requests into `incoming`, then None when the stream ends."""
    try:
        async for data in requests:
            incoming.put_nowait(data)
    finally:
        incoming.put_nowait(None)


def _parse_request(data: bytes) -> Optional[executor_pb2.ExecuteRequest]:
    try:
        return executor_pb2.ExecuteRequest.FromString(data)
    except protobuf_message.DecodeError:
        return None


async def start_server(
    service: ExecutorService,
    address: str,
    credentials: Optional[grpc.ServerCredentials] = None,
) -> Tuple[grpc.aio.Server, int]:
    """Starts an asyncio gRPC server for `service` on `address` (`host:port`, port 0 picks one).

    Returns:
      The started server and the port it listens on.
    """
    server = grpc.aio.server(options=server_options(service.max_message_bytes))
    server.add_generic_rpc_handlers((service.handler(),))
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    await server.start()
    return server, port
