"""TFF's `tff.backends.test` context names, on tffl's local context.

TFF's test contexts run secure sums as plain sums so that tests can use them;
tffl's local context runs them with masking already, so these are the contexts
of `tffl.backends.native` under TFF's test names (keyword arguments only, as in
TFF).
"""

from __future__ import annotations

from tffl.backends import native
from tffl.core import context_stack


def create_sync_test_cpp_execution_context(
    *,
    default_num_clients: int = 0,
    max_concurrent_computation_calls: int = -1,
    stream_structs: bool = False,
) -> context_stack.Context:
    """tffl's local context; arguments as `native.create_sync_local_cpp_execution_context`."""
    return native.context_for(
        "create_sync_test_cpp_execution_context",
        default_num_clients,
        max_concurrent_computation_calls,
        stream_structs,
        asynchronous=False,
    )


def set_sync_test_cpp_execution_context(
    *,
    default_num_clients: int = 0,
    max_concurrent_computation_calls: int = -1,
    stream_structs: bool = False,
) -> None:
    """Makes `create_sync_test_cpp_execution_context(...)` the default context."""
    context_stack.set_default_context(
        native.context_for(
            "set_sync_test_cpp_execution_context",
            default_num_clients,
            max_concurrent_computation_calls,
            stream_structs,
            asynchronous=False,
        )
    )


def create_async_test_cpp_execution_context(
    *,
    default_num_clients: int = 0,
    max_concurrent_computation_calls: int = -1,
    stream_structs: bool = False,
) -> context_stack.Context:
    """As `create_sync_test_cpp_execution_context`; calls return coroutines to await."""
    return native.context_for(
        "create_async_test_cpp_execution_context",
        default_num_clients,
        max_concurrent_computation_calls,
        stream_structs,
        asynchronous=True,
    )


def set_async_test_cpp_execution_context(
    *,
    default_num_clients: int = 0,
    max_concurrent_computation_calls: int = -1,
    stream_structs: bool = False,
) -> None:
    """Makes `create_async_test_cpp_execution_context(...)` the default context."""
    context_stack.set_default_context(
        native.context_for(
            "set_async_test_cpp_execution_context",
            default_num_clients,
            max_concurrent_computation_calls,
            stream_structs,
            asynchronous=True,
        )
    )
