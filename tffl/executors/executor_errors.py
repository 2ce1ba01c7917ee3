"""The errors of remote execution: retryable, worker lost, fatal.

A context decides what to do by class alone: a `WorkerLostError` (a
`RetryableError`) may be retried on the remaining workers, a `FatalError` would
fail again however often it is retried.
"""

from __future__ import annotations

from typing import Optional

import grpc

from tffl.executors import executor_base


class RetryableError(executor_base.ExecutionError):
    """A failure that running the invocation again may not meet."""


class WorkerLostError(RetryableError):
    """A worker stopped answering (it died, or its connection broke) during a call.

    Attributes:
      address: the worker's `host:port`.
    """

    def __init__(self, address: str, detail: str = ""):
        self.address = address
        message = f"worker {address} was lost during the call"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message)


class WorkerUnreachableError(WorkerLostError):
    """A worker that could not be reached when a call began; it did none of the call."""

    def __init__(self, address: str, detail: str = ""):
        self.address = address
        message = f"worker {address} is unreachable"
        if detail:
            message = f"{message}: {detail}"
        executor_base.ExecutionError.__init__(self, message)


class FatalError(executor_base.ExecutionError):
    """A request that failed in a way retrying cannot fix (an ill-typed value, a bug).

    Attributes:
      code: the gRPC status code the worker answered with, if one did.
    """

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None):
        self.code = code
        super().__init__(message)


class NoWorkersError(executor_base.ExecutionError):
    """No worker of a remote context answered."""


def status_code(value: int) -> grpc.StatusCode:
    """The `grpc.StatusCode` with the given numeric value (UNKNOWN if none has it)."""
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN
