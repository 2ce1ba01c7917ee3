"""The tffl worker: serves a local executor stack to remote drivers over gRPC.

Run it as `tffl-worker --port=8000` (or `python -m tffl.backends.worker`). Each
driver session gets a fresh local stack sized to its shard of clients; the worker
logs one line when a session starts and one when it ends, and stops cleanly on
SIGTERM or SIGINT: in-flight sessions get `--grace_s` seconds to finish, then the
process exits with status 0 (TensorFlow work still running is abandoned).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from absl import app
from absl import flags
from absl import logging
import grpc

from tffl.executors import cpu_affinity
from tffl.executors import executor_service
from tffl.executors import executor_stacks

_HOST = flags.DEFINE_string("host", "0.0.0.0", "The interface to listen on.")
_PORT = flags.DEFINE_integer("port", 8000, "The port to listen on; 0 picks a free one.")
_MAX_CONCURRENCY = flags.DEFINE_integer(
    "max_concurrency",
    None,
    "How many clients' TensorFlow work may run at once (default: the CPUs it may run on).",
)
_TLS_CERT = flags.DEFINE_string("tls_cert", None, "PEM certificate chain; serve TLS with it.")
_TLS_KEY = flags.DEFINE_string("tls_key", None, "PEM private key of --tls_cert.")
_AUTH_TOKEN_FILE = flags.DEFINE_string(
    "auth_token_file", None, "A file holding the token every call must carry."
)
_MAX_MESSAGE_MB = flags.DEFINE_integer(
    "max_message_mb",
    executor_service.DEFAULT_MAX_MESSAGE_MB,
    "The largest message sent or received, in MiB.",
    lower_bound=1,
    upper_bound=executor_service.MAX_MESSAGE_MB_LIMIT,
)
_TENSOR_CACHE_MB = flags.DEFINE_integer(
    "tensor_cache_mb",
    executor_service.DEFAULT_TENSOR_CACHE_MB,
    "How much memory, in MiB, the tensors drivers send once and then name by key may take "
    "(clients' datasets); 0 keeps none.",
    lower_bound=0,
)
_CPUS = flags.DEFINE_string(
    "cpus",
    None,
    "The CPUs to run on, as a Linux CPU list (0-3,8); TensorFlow sizes its thread pools "
    "to them. Default: every CPU the process may use.",
)
_GRACE_S = flags.DEFINE_float(
    "grace_s", 5.0, "On SIGTERM, how long in-flight sessions may take to finish."
)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _credentials():
    if (_TLS_CERT.value is None) != (_TLS_KEY.value is None):
        raise app.UsageError("--tls_cert and --tls_key go together")
    if _TLS_CERT.value is None:
        return None
    return grpc.ssl_server_credentials([(_read(_TLS_KEY.value), _read(_TLS_CERT.value))])


def _auth_token():
    if _AUTH_TOKEN_FILE.value is None:
        return None
    token = _read(_AUTH_TOKEN_FILE.value).decode().strip()
    if not token:
        raise app.UsageError(f"--auth_token_file {_AUTH_TOKEN_FILE.value} is empty")
    return token


async def _serve() -> None:
    factory = executor_stacks.LocalExecutorFactory(_MAX_CONCURRENCY.value)
    service = executor_service.ExecutorService(
        factory,
        auth_token=_auth_token(),
        max_message_bytes=_MAX_MESSAGE_MB.value * executor_service.MIB,
        cache_bytes=_TENSOR_CACHE_MB.value * executor_service.MIB,
    )
    credentials = _credentials()
    server, port = await executor_service.start_server(
        service, f"{_HOST.value}:{_PORT.value}", credentials
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Tests and scripts read this line to learn the port.
    print(f"tffl-worker listening on {_HOST.value}:{port}", flush=True)
    logging.info(
        "serving on %s:%d (%s, auth token %s, max message %d MiB, tensor cache %d MiB, "
        "max concurrency %d, CPUs %s)",
        _HOST.value,
        port,
        "TLS" if credentials else "plaintext",
        "required" if service.requires_token else "not required",
        _MAX_MESSAGE_MB.value,
        _TENSOR_CACHE_MB.value,
        factory.max_concurrency,
        cpu_affinity.format_list(cpu_affinity.usable()),
    )
    await stop.wait()
    logging.info("stopping (grace %.1f s)", _GRACE_S.value)
    service.drain()
    await server.stop(_GRACE_S.value)
    factory.close()
    logging.info("stopped")


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _PORT.value < 0 or _PORT.value > 65535:
        raise app.UsageError(f"--port: expected 0 to 65535, got {_PORT.value}")
    if _CPUS.value is not None:
        # Before TensorFlow's first op, which sizes its thread pools to these CPUs.
        try:
            cpu_affinity.pin(cpu_affinity.parse(_CPUS.value))
        except ValueError as error:
            raise app.UsageError(f"--cpus: {error}") from None
    asyncio.run(_serve())
    sys.stdout.flush()
    sys.stderr.flush()
    # TensorFlow work of a session cut off by the grace period cannot be interrupted;
    # exiting normally would wait for its threads, possibly forever.
    os._exit(0)


def run() -> None:
    """The `tffl-worker` console script."""
    app.run(main)


if __name__ == "__main__":
    run()
