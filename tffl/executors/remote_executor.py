"""The remote executor: the executor interface over a session with one worker.

Design. A `RemoteExecutor` is one session (`Execute` stream, executor.proto) with a
worker, opened on first use and configured with the shard's number of clients.
Its values are references (`RemoteValue`) to values living in the worker; only
`compute()` brings a value back. Requests go out on the stream as the executor's
coroutines make them and are matched to their answers by id, so many requests are
in flight at once. The stream is driven by gRPC's threaded client and a reader
thread that hands each answer to the event loop that asked, which keeps the
executor independent of any one event loop and lets `close()` stay synchronous.

Tensors wrapped in `value_serialization.Cached` (clients' datasets, the same every
round) go to each worker address with their content once per driver process, and
then as their key alone, which the worker's tensor cache resolves. A worker that no
longer holds a key (it restarted, or dropped it for room) answers NOT_FOUND, and the
value is sent again with every tensor's content.

Failures map to `executor_errors`: a broken stream or an unreachable worker is a
`WorkerLostError` naming its `host:port`; an answer with an error, a refused token
or a message over a size limit is a `FatalError`.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import queue
import threading
from typing import Any
from typing import Dict
from typing import Iterable
from typing import Optional
from typing import Sequence

import grpc

from tffl.executors import executor_base
from tffl.executors import executor_errors
from tffl.executors import executor_service
from tffl.executors import value_serialization
from tffl.proto import executor_pb2
from tffl.types import computation_types
from tffl.types import type_serialization

MIB = executor_service.MIB
_Request = executor_pb2.ExecuteRequest
_END = object()
# Codes a dying worker or a broken connection give; the worker may be gone.
_LOST_CODES = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNKNOWN,
)
# How many keys a driver remembers per worker address; forgetting one costs no more than
# sending its tensor again.
_SENT_KEYS_KEPT = 4096


def channel_options(max_message_bytes: int) -> list:
    """Channel arguments for a driver: message limits and keepalive pings."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        # A worker that stops answering (a hung host, a cut network) is noticed within
        # about 15 s; a killed process closes its sockets and is noticed at once.
        ("grpc.keepalive_time_ms", 10_000),
        ("grpc.keepalive_timeout_ms", 5_000),
        # Channels share connections by default, so a new channel to a worker that came
        # back would inherit the old connection's reconnect backoff; keep each apart.
        ("grpc.use_local_subchannel_pool", 1),
    ]


def create_channel(
    address: str,
    tls_root_cert: Optional[bytes] = None,
    max_message_bytes: int = executor_service.DEFAULT_MAX_MESSAGE_MB * MIB,
) -> grpc.Channel:
    """A channel to a worker at `host:port`, over TLS when `tls_root_cert` (PEM) is given."""
    options = channel_options(max_message_bytes)
    if tls_root_cert is None:
        return grpc.insecure_channel(address, options=options)
    credentials = grpc.ssl_channel_credentials(root_certificates=tls_root_cert)
    return grpc.secure_channel(address, credentials, options=options)


def auth_metadata(auth_token: Optional[str]) -> Sequence[tuple]:
    return () if auth_token is None else (("authorization", f"Bearer {auth_token}"),)


def ping(
    channel: grpc.Channel, auth_token: Optional[str] = None, timeout: float = 2.0
) -> executor_pb2.PingResponse:
    """Asks a worker how it is.

    Raises:
      grpc.RpcError: if the worker does not answer within `timeout` seconds.
    """
    call = channel.unary_unary(
        executor_service.PING_METHOD,
        request_serializer=executor_pb2.PingRequest.SerializeToString,
        response_deserializer=executor_pb2.PingResponse.FromString,
    )
    return call(executor_pb2.PingRequest(), timeout=timeout, metadata=auth_metadata(auth_token))


class _SentKeys:
    """The cache keys of the tensors this process sent to one worker address in full."""

    def __init__(self):
        self._keys: "collections.OrderedDict[bytes, None]" = collections.OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            return key in self._keys

    def add(self, keys: Iterable[bytes]) -> None:
        with self._lock:
            for key in keys:
                self._keys[key] = None
                self._keys.move_to_end(key)
            while len(self._keys) > _SENT_KEYS_KEPT:
                self._keys.popitem(last=False)


# By worker address, shared by every executor of this process: a worker's tensor cache
# outlives sessions, so what one call sent, the next call's sessions need not send.
_SENT: Dict[str, _SentKeys] = {}
_SENT_LOCK = threading.Lock()


def _sent_keys(address: str) -> _SentKeys:
    with _SENT_LOCK:
        return _SENT.setdefault(address, _SentKeys())


def _not_cached(response: executor_pb2.ExecuteResponse) -> bool:
    return (
        response.WhichOneof("response") == "error"
        and response.error.code == grpc.StatusCode.NOT_FOUND.value[0]
        and response.error.message.startswith("not cached:")
    )


class RemoteValue(executor_base.ExecutorValue):
    """A reference to a value living in a worker's session."""

    __slots__ = ("_executor", "ref", "_type")

    def __init__(self, executor: "RemoteExecutor", ref: int, type_spec: computation_types.Type):
        self._executor = executor
        self.ref = ref
        self._type = type_spec

    @property
    def type_signature(self):
        return self._type

    async def compute(self) -> Any:
        return await self._executor.compute(self)


class _Stream:
    """One `Execute` call: requests in through a queue, answers out through a thread."""

    def __init__(self, channel: grpc.Channel, address: str, metadata, lost):
        self._address = address
        self._lost = lost
        self._requests: "queue.SimpleQueue" = queue.SimpleQueue()
        self._pending: Dict[int, tuple] = {}
        self._lock = threading.Lock()
        self._error: Optional[Exception] = None
        self._closed = False
        execute = channel.stream_stream(
            executor_service.EXECUTE_METHOD,
            request_serializer=None,
            response_deserializer=executor_pb2.ExecuteResponse.FromString,
        )
        self._call = execute(iter(self._requests.get, _END), metadata=metadata)
        self._reader = threading.Thread(
            target=self._read, name=f"tffl-remote-{address}", daemon=True
        )
        self._reader.start()

    @property
    def error(self) -> Optional[Exception]:
        """Why the session ended, once it has (None while it goes on)."""
        with self._lock:
            return self._error

    def send(self, request_id: int, data: bytes) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._error is not None:
                raise self._error
            self._pending[request_id] = (loop, future)
        self._requests.put(data)
        return future

    def _read(self) -> None:
        error: Exception
        try:
            for response in self._call:
                with self._lock:
                    waiting = self._pending.pop(response.id, None)
                if waiting is not None:
                    _settle(*waiting, result=response)
            error = self._lost("the worker ended the session")
        except grpc.RpcError as rpc_error:
            error = self._map(rpc_error)
        with self._lock:
            self._error = error
            pending, self._pending = self._pending, {}
        for loop, future in pending.values():
            _settle(loop, future, error=error)

    def _map(self, rpc_error: grpc.RpcError) -> Exception:
        code, details = rpc_error.code(), rpc_error.details()
        if code == grpc.StatusCode.CANCELLED and self._closed:
            return executor_errors.FatalError("the session was closed", code)
        if code in _LOST_CODES:
            return self._lost(f"{code.name}: {details}")
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return executor_errors.FatalError(
                f"worker {self._address} refused the call: {details}", code
            )
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return executor_errors.FatalError(
                f"a message between the driver and worker {self._address} is over the gRPC "
                f"message limit ({details}); raise --max_message_mb on the worker and "
                "max_message_mb on the driver",
                code,
            )
        return executor_errors.FatalError(
            f"worker {self._address} failed the session: {code.name}: {details}", code
        )

    def close(self) -> None:
        with self._lock:
            busy = bool(self._pending)
        self._closed = True
        if busy:
            # Nobody will wait for these answers: stop the worker's work now.
            self._call.cancel()
        self._requests.put(_END)


def _settle(loop, future, result=None, error=None) -> None:
    def settle():
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
            # A request whose caller went away (a shard call left behind when another
            # failed) is still answered with the session's end: marked as seen here, not
            # reported when the future is collected; whoever awaits it still gets it.
            future.exception()
        else:
            future.set_result(result)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # The loop is closed: nobody waits any more.
        pass


class RemoteExecutor(executor_base.Executor):
    """Runs a session with the worker at `address` (see the module docstring).

    Args:
      channel: a channel to the worker (`create_channel`); shared, not closed here.
      address: the worker's `host:port`, for error messages.
      num_clients: the number of clients of the worker's shard, if known.
      auth_token: sent as `authorization: Bearer <token>` on the session.
      max_message_bytes: the driver's message limit (as set on the channel).
    """

    def __init__(
        self,
        channel: grpc.Channel,
        address: str,
        num_clients: Optional[int] = None,
        auth_token: Optional[str] = None,
        max_message_bytes: int = executor_service.DEFAULT_MAX_MESSAGE_MB * MIB,
    ):
        self._channel = channel
        self.address = address
        self._num_clients = num_clients
        self._metadata = auth_metadata(auth_token)
        self._max_message_bytes = max_message_bytes
        self._limit = max_message_bytes
        self._limit_owner = "max_message_mb on the driver"
        self._ids = itertools.count(1)
        # Whether the worker keeps tensors sent with a key (its session says so).
        self._worker_caches = True
        self._stream: Optional[_Stream] = None
        self._opening: Optional[concurrent.futures.Future] = None
        self._open_lock = threading.Lock()

    def _lost(self, detail: str) -> executor_errors.WorkerLostError:
        return executor_errors.WorkerLostError(self.address, detail)

    @property
    def broken(self) -> bool:
        """Whether the session failed to open or has ended; its requests would fail."""
        with self._open_lock:
            opening = self._opening
        if opening is None:
            return False
        if opening.done() and (opening.cancelled() or opening.exception() is not None):
            return True
        stream = self._stream
        return stream is not None and stream.error is not None

    async def _session(self) -> _Stream:
        # A thread-safe future, so that calls on other event loops (other threads, or a
        # later call's loop) share one session.
        with self._open_lock:
            opening, owner = self._opening, self._opening is None
            if owner:
                opening = self._opening = concurrent.futures.Future()
        if owner:
            try:
                stream = await self._open()
            except BaseException as error:
                opening.set_exception(error)
                raise
            opening.set_result(stream)
            return stream
        if not opening.done():
            # Shielded: a waiter that is cancelled must not cancel the opening.
            await asyncio.shield(asyncio.wrap_future(opening))
        return opening.result()

    async def _open(self) -> _Stream:
        stream = self._stream = _Stream(self._channel, self.address, self._metadata, self._lost)
        request = _Request(id=next(self._ids))
        if self._num_clients is not None:
            request.configure.num_clients = self._num_clients
        request.configure.max_message_bytes = self._max_message_bytes
        try:
            response = await self._exchange(stream, request)
        except executor_errors.WorkerLostError as error:
            # The session never started: the worker did none of the call.
            detail = str(error).partition(": ")[2]
            raise executor_errors.WorkerUnreachableError(self.address, detail) from None
        self._worker_caches = response.configured.tensor_cache_bytes > 0
        worker_limit = response.configured.max_message_bytes
        if 0 < worker_limit < self._limit:
            self._limit = worker_limit
            self._limit_owner = "--max_message_mb on the worker"
        return stream

    async def _exchange(self, stream: _Stream, request: _Request):
        return self._check(await self._send(stream, request))

    async def _send(self, stream: _Stream, request: _Request) -> executor_pb2.ExecuteResponse:
        data = request.SerializeToString()
        if len(data) > self._limit:
            raise executor_errors.FatalError(
                f"a request to worker {self.address} is "
                f"{executor_service.format_size(len(data))}, over the message limit of "
                f"{executor_service.format_size(self._limit)} (raise {self._limit_owner})",
                grpc.StatusCode.RESOURCE_EXHAUSTED,
            )
        return await stream.send(request.id, data)

    def _check(self, response: executor_pb2.ExecuteResponse) -> executor_pb2.ExecuteResponse:
        if response.WhichOneof("response") == "error":
            code = executor_errors.status_code(response.error.code)
            raise executor_errors.FatalError(
                f"worker {self.address}: {response.error.message}", code
            )
        return response

    async def _request(self, fill) -> executor_pb2.ExecuteResponse:
        stream = await self._session()
        request = _Request(id=next(self._ids))
        fill(request)
        return await self._exchange(stream, request)

    async def _reference(self, fill) -> RemoteValue:
        return self._value_ref(await self._request(fill))

    def _value_ref(self, response: executor_pb2.ExecuteResponse) -> RemoteValue:
        value_ref = response.value_ref
        return RemoteValue(self, value_ref.ref, type_serialization.deserialize_type(value_ref.type))

    def _check_own(self, value: executor_base.ExecutorValue) -> int:
        if not isinstance(value, RemoteValue) or value._executor is not self:
            raise TypeError(
                f"expected a value of the executor for worker {self.address}, got {value!r}"
            )
        return value.ref

    async def _send_value(self, fill, value, type_spec) -> executor_pb2.ExecuteResponse:
        """Sends the request `fill(request)` makes with `value` written into the
        `Value` it returns: tensors the worker was sent before as their keys, all of
        them in full if the worker no longer holds one (or keeps none at all)."""
        stream = await self._session()
        if not self._worker_caches:
            request = _Request(id=next(self._ids))
            value_serialization.write_value(fill(request), value, type_spec)
            return self._check(await self._send(stream, request))
        sent = _sent_keys(self.address)
        request = _Request(id=next(self._ids))
        keys = value_serialization.write_value(fill(request), value, type_spec, sent)
        response = await self._send(stream, request)
        if _not_cached(response):
            request = _Request(id=next(self._ids))
            value_serialization.write_value(fill(request), value, type_spec)
            response = await self._send(stream, request)
        response = self._check(response)
        sent.add(keys)
        return response

    async def create_value(self, value, type_spec):
        fill = lambda request: request.create_value.value  # noqa: E731
        return self._value_ref(await self._send_value(fill, value, type_spec))

    async def evaluate(self, fn: RemoteValue, value: Any = None) -> Any:
        """Calls `fn` on `value` (sent along, of `fn`'s parameter type) in one round trip.

        Nothing is kept in the session: the computed result comes back at once.
        """
        function = self._check_own(fn)
        parameter = fn.type_signature.parameter

        def fill(request):
            request.evaluate.function = function
            return request.evaluate.argument

        if parameter is None:
            response = await self._request(lambda r: setattr(r.evaluate, "function", function))
        else:
            response = await self._send_value(fill, value, parameter)
        return self._materialize(response)

    async def create_call(self, fn, arg=None):
        function = self._check_own(fn)
        argument = 0 if arg is None else self._check_own(arg)

        def fill(request):
            request.create_call.function = function
            request.create_call.argument = argument

        return await self._reference(fill)

    async def create_struct(self, elements):
        refs = [(name, self._check_own(value)) for name, value in elements]

        def fill(request):
            struct = request.create_struct
            struct.SetInParent()
            for name, ref in refs:
                struct.element.add(name=name or "", value=ref)

        return await self._reference(fill)

    async def create_selection(self, source, index):
        ref = self._check_own(source)

        def fill(request):
            request.create_selection.source = ref
            request.create_selection.index = index

        return await self._reference(fill)

    async def compute(self, value: RemoteValue) -> Any:
        ref = self._check_own(value)
        response = await self._request(lambda r: setattr(r.compute, "value", ref))
        return self._materialize(response)

    @staticmethod
    def _materialize(response: executor_pb2.ExecuteResponse) -> Any:
        computed, type_spec = value_serialization.deserialize_value(response.computed)
        return value_serialization.materialize(computed, type_spec)

    async def dispose(self, values: Sequence[RemoteValue]) -> None:
        """Lets the worker drop values before the session ends (one request for all)."""
        refs = [self._check_own(v) for v in values]
        if refs:
            await self._request(lambda r: r.dispose.value.extend(refs))

    def close(self) -> None:
        """Ends the session; the worker drops everything it held for it."""
        with self._open_lock:
            stream, self._stream, self._opening = self._stream, None, None
        if stream is not None:
            stream.close()
