"""The remote backend: runs computations on tffl workers over gRPC.

Design. A call that lowers (`tffl.compiler.lowering`) runs its server side on
the driver and each client loop as one `Evaluate` request per worker, in a
session the pool keeps open with each worker across calls (`sharded_lowering`).
Any other call runs on a fresh driver stack (a composing executor) over the
workers currently believed alive, each in a session of its own; CLIENTS are
sharded across them and every worker aggregates its shard. A worker lost during a
call (`WorkerLostError`) is marked dead and the whole call runs again on the
remaining workers, clients re-sharded, up to `retries` times; after that the call
fails naming the lost worker. Re-running a whole call is correct because
computations are functional (state in, state out): a lost call changes nothing,
so no training state is lost. A worker that cannot be reached when a call begins
did none of it: the call goes on without it and no retry is spent. A worker marked
dead is probed with `Ping` at the start of the next call and used again once it
answers, in a new session (a kept session whose worker restarted is replaced the
same way).

>>> import tffl
>>> context = tffl.backends.remote.create_context(["127.0.0.1:8000", "127.0.0.1:8001"])
>>> context.pool.addresses
('127.0.0.1:8000', '127.0.0.1:8001')
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union
import weakref

import grpc

from tffl.backends import execution_context
from tffl.backends import sharded_lowering
from tffl.core import context_stack
from tffl.executors import executor_base
from tffl.executors import executor_errors
from tffl.executors import executor_service
from tffl.executors import executor_stacks
from tffl.executors import remote_executor

_log = logging.getLogger(__name__)
# A dead worker's probe: on a working network a live worker answers in milliseconds.
PROBE_TIMEOUT_S = 2.0


class WorkerPool:
    """The workers of a remote context, their channels, and which of them are lost.

    Args:
      addresses: the workers' `host:port`s, in the order clients are assigned.
      tls_root_cert: PEM bytes of the certificate that signed the workers' ones;
        None for plaintext.
      auth_token: the workers' shared token, if they require one.
      max_message_bytes: the largest message sent or received.
    """

    def __init__(
        self,
        addresses: Sequence[str],
        tls_root_cert: Optional[bytes] = None,
        auth_token: Optional[str] = None,
        max_message_bytes: int = executor_service.DEFAULT_MAX_MESSAGE_MB * executor_service.MIB,
    ):
        self.addresses: Tuple[str, ...] = tuple(addresses)
        self._tls_root_cert = tls_root_cert
        self._auth_token = auth_token
        self._max_message_bytes = max_message_bytes
        self._channels = {a: self._channel(a) for a in self.addresses}
        self._sessions: Dict[str, sharded_lowering.WorkerSession] = {}
        self._lost: set = set()
        self._lock = threading.Lock()
        # The workers that served the last successful call, in worker order.
        self.last_served: Tuple[str, ...] = ()
        # A pool dropped without `close()` still ends its sessions and channels.
        weakref.finalize(self, _close_all, self._sessions, self._channels, self._lock)

    def _channel(self, address: str) -> grpc.Channel:
        return remote_executor.create_channel(address, self._tls_root_cert, self._max_message_bytes)

    @property
    def lost(self) -> Tuple[str, ...]:
        """The workers marked dead, in worker order."""
        with self._lock:
            return tuple(a for a in self.addresses if a in self._lost)

    def mark_lost(self, address: str) -> None:
        with self._lock:
            self._lost.add(address)
            session = self._sessions.pop(address, None)
        if session is not None:
            session.close()

    def any_lost(self) -> bool:
        with self._lock:
            return bool(self._lost)

    def live(self) -> List[str]:
        """The workers to use now: those not lost, and lost ones that answer a probe."""
        for address in self.lost:
            # A fresh channel: the old one may still be backing off from the failure.
            channel = self._channel(address)
            try:
                remote_executor.ping(channel, self._auth_token, timeout=PROBE_TIMEOUT_S)
            except grpc.RpcError:
                channel.close()
                continue
            with self._lock:
                old, self._channels[address] = self._channels[address], channel
                self._lost.discard(address)
            old.close()
            _log.info("worker %s answers again", address)
        with self._lock:
            return [a for a in self.addresses if a not in self._lost]

    def session(self, address: str) -> sharded_lowering.WorkerSession:
        """The session kept with the worker at `address` for lowered calls.

        A new one when there is none yet or the last one ended (the worker restarted).
        """
        with self._lock:
            session = self._sessions.get(address)
            if session is not None and not session.broken:
                return session
            executor = remote_executor.RemoteExecutor(
                self._channels[address],
                address,
                auth_token=self._auth_token,
                max_message_bytes=self._max_message_bytes,
            )
            self._sessions[address] = sharded_lowering.WorkerSession(executor)
            new = self._sessions[address]
        if session is not None:
            session.close()
        return new

    def worker_factory(
        self, address: str, served: List[str]
    ) -> Callable[[int], executor_base.Executor]:
        """Makes the executor of a shard of the worker at `address` (noting it in `served`)."""
        with self._lock:
            channel = self._channels[address]

        def create(num_clients: int) -> executor_base.Executor:
            served.append(address)
            return remote_executor.RemoteExecutor(
                channel,
                address,
                num_clients,
                auth_token=self._auth_token,
                max_message_bytes=self._max_message_bytes,
            )

        return create

    def close(self) -> None:
        """Ends the kept sessions and closes the channels."""
        _close_all(self._sessions, self._channels, self._lock)


def _close_all(sessions: dict, channels: dict, lock: threading.Lock) -> None:
    with lock:
        ended, open_channels = list(sessions.values()), list(channels.values())
        sessions.clear()
    for session in ended:
        session.close()
    for channel in open_channels:
        channel.close()


class RemoteExecutorFactory:
    """Driver stacks over a worker pool; the driver's SERVER values live in-process.

    Args:
      pool: the workers.
      max_concurrency: threads for the driver's own TensorFlow work.
    """

    def __init__(self, pool: WorkerPool, max_concurrency: Optional[int] = None):
        self.pool = pool
        self.local = executor_stacks.LocalExecutorFactory(max_concurrency)

    def create(
        self,
        num_clients: Optional[int],
        workers: Optional[Sequence[str]] = None,
        served: Optional[List[str]] = None,
    ) -> executor_base.Executor:
        """A driver stack over `workers` (default: all of the pool's)."""
        served = [] if served is None else served
        addresses = self.pool.addresses if workers is None else workers
        factories = [self.pool.worker_factory(a, served) for a in addresses]
        return executor_stacks.create_composing_executor(self.local, factories, num_clients)


class _Attempt:
    """One try of a call: the stacks it builds use the given workers."""

    def __init__(self, factory: RemoteExecutorFactory, workers: Sequence[str]):
        self._factory = factory
        self._workers = workers
        self.served: List[str] = []

    def create(self, num_clients):
        return self._factory.create(num_clients, self._workers, self.served)

    def sessions(self) -> List[sharded_lowering.WorkerSession]:
        return [self._factory.pool.session(a) for a in self._workers]


async def invoke_with_retries(
    factory: RemoteExecutorFactory,
    num_clients,
    retries: int,
    computation,
    argument,
    sharded: Optional[sharded_lowering.ShardedLoweredRunner] = None,
):
    """Runs a call on the live workers, again on the others when one is lost.

    Raises:
      WorkerLostError: naming the worker, when a worker was lost more than `retries` times.
      NoWorkersError: when no worker answers.
    """
    pool = factory.pool
    attempt = 0
    while True:
        # Probing a lost worker blocks, so it runs on a thread; with none lost, no hop.
        live = await asyncio.to_thread(pool.live) if pool.any_lost() else pool.live()
        if not live:
            raise executor_errors.NoWorkersError(
                f"no tffl worker answered; tried {', '.join(pool.addresses)}"
            )
        try_ = _Attempt(factory, live)
        lowered = None if sharded is None else sharded.for_workers(try_.sessions(), try_.served)
        try:
            result = await execution_context.invoke_async(
                try_, num_clients, computation, argument, lowered
            )
        except executor_errors.WorkerUnreachableError as error:
            # It did none of the call, so going on without it costs no retry.
            pool.mark_lost(error.address)
            _log.warning("%s; running the call without it", error)
            continue
        except executor_errors.WorkerLostError as error:
            pool.mark_lost(error.address)
            if attempt >= retries:
                raise
            attempt += 1
            _log.warning("%s; running the call again without it (retry %d)", error, attempt)
            continue
        pool.last_served = tuple(try_.served)
        return result


class _RetriedInvocation:
    """What the sync and async remote contexts share: retries and sharded lowering."""

    def __init__(
        self,
        factory: RemoteExecutorFactory,
        num_clients: Optional[int] = None,
        retries: int = 1,
        lowering: bool = True,
    ):
        super().__init__(factory, num_clients)  # The sync or async context's own.
        self.pool = factory.pool
        self.retries = retries
        self.sharded = sharded_lowering.ShardedLoweredRunner() if lowering else None

    def invocation(self, computation, argument):
        return invoke_with_retries(
            self.factory, self.num_clients, self.retries, computation, argument, self.sharded
        )


class RemoteExecutionContext(_RetriedInvocation, execution_context.ExecutionContext):
    """Runs computations synchronously on remote workers, with retries."""


class AsyncRemoteExecutionContext(_RetriedInvocation, execution_context.AsyncExecutionContext):
    """Returns a coroutine per call, run on remote workers with retries."""


def _addresses(workers: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(workers, str):
        workers = [w for w in workers.split(",") if w.strip()]
    addresses = [w.strip() for w in workers]
    bad = [a for a in addresses if not isinstance(a, str) or a.rpartition(":")[0] == ""]
    if not addresses or bad:
        raise ValueError(f"workers: expected 'host:port' addresses, got {list(workers)!r}")
    for address in addresses:
        port = address.rpartition(":")[2]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"workers: expected 'host:port' addresses, got {address!r}")
    return addresses


def _read_cert(tls_root_cert: Union[None, bytes, str]) -> Optional[bytes]:
    if tls_root_cert is None or isinstance(tls_root_cert, bytes):
        return tls_root_cert
    with open(tls_root_cert, "rb") as pem:
        return pem.read()


def create_context(
    workers: Union[str, Sequence[str]],
    tls_root_cert: Union[None, bytes, str] = None,
    auth_token: Optional[str] = None,
    retries: int = 1,
    max_message_mb: int = executor_service.DEFAULT_MAX_MESSAGE_MB,
    num_clients: Optional[int] = None,
    max_concurrency: Optional[int] = None,
    asynchronous: bool = False,
    lowering: bool = True,
) -> context_stack.Context:
    """A context that runs computations on remote workers (`tffl-worker`).

    Args:
      workers: the workers' `host:port` addresses (a list, or one comma-separated string).
      tls_root_cert: the PEM certificate (bytes, or a file's path) that the workers'
        certificates chain to; None for plaintext.
      auth_token: the workers' shared token (their `--auth_token_file`), if any.
      retries: how many times a call lost to a dying worker runs again on the others.
      max_message_mb: the largest message sent or received, in MiB (at most 2047).
      num_clients: clients to use when the arguments do not say.
      max_concurrency: threads for the driver's own TensorFlow work (SERVER values).
      asynchronous: return coroutines to `await` instead of results.
      lowering: run a computation that lowers (`tffl.compiler.lowering`) with the
        server side on the driver and each client loop as one call per worker
        (`sharded_lowering`); False always uses the composing executor stack.

    Raises:
      ValueError: for a malformed address, a negative `retries` or a bad `max_message_mb`.
    """
    addresses = _addresses(workers)
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries: expected a non-negative int, got {retries!r}")
    if not 1 <= max_message_mb <= executor_service.MAX_MESSAGE_MB_LIMIT:
        raise ValueError(
            f"max_message_mb: expected 1 to {executor_service.MAX_MESSAGE_MB_LIMIT}, "
            f"got {max_message_mb}"
        )
    pool = WorkerPool(
        addresses,
        tls_root_cert=_read_cert(tls_root_cert),
        auth_token=auth_token,
        max_message_bytes=max_message_mb * executor_service.MIB,
    )
    factory = RemoteExecutorFactory(pool, max_concurrency)
    if asynchronous:
        return AsyncRemoteExecutionContext(factory, num_clients, retries, lowering)
    return RemoteExecutionContext(factory, num_clients, retries, lowering)


def set_context(
    workers: Union[str, Sequence[str]],
    tls_root_cert: Union[None, bytes, str] = None,
    auth_token: Optional[str] = None,
    retries: int = 1,
    max_message_mb: int = executor_service.DEFAULT_MAX_MESSAGE_MB,
    num_clients: Optional[int] = None,
    max_concurrency: Optional[int] = None,
    asynchronous: bool = False,
    lowering: bool = True,
) -> None:
    """Makes a remote context (see `create_context`) the default one."""
    context_stack.set_default_context(
        create_context(
            workers,
            tls_root_cert=tls_root_cert,
            auth_token=auth_token,
            retries=retries,
            max_message_mb=max_message_mb,
            num_clients=num_clients,
            max_concurrency=max_concurrency,
            asynchronous=asynchronous,
            lowering=lowering,
        )
    )
