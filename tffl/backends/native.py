"""TFF's `tff.backends.native` context names, on tffl's local context.

A TFF program starts with `tff.backends.native.set_sync_local_cpp_execution_context()`;
with `import tffl as tff` that line sets tffl's local context, which runs in this
process, lowers what it can to one TensorFlow function, and runs secure sums
with masking. tffl has no separate C++ runtime to start.

>>> import tffl
>>> tffl.backends.native.set_sync_local_cpp_execution_context(default_num_clients=3)
"""

from __future__ import annotations

from tffl.backends import local
from tffl.core import context_stack


def context_for(
    label: str,
    default_num_clients: int,
    max_concurrent_computation_calls: int,
    stream_structs: bool,
    asynchronous: bool,
) -> context_stack.Context:
    if isinstance(default_num_clients, bool) or not isinstance(default_num_clients, int):
        raise TypeError(
            f"{label} default_num_clients: expected an int, got {default_num_clients!r}"
        )
    if default_num_clients < 0:
        raise ValueError(
            f"{label} default_num_clients: expected an int >= 0, got {default_num_clients}"
        )
    if max_concurrent_computation_calls > 0:
        raise ValueError(
            f"{label} max_concurrent_computation_calls: tffl's local context does not limit "
            "concurrent calls; expected a value <= 0 (no limit), got "
            f"{max_concurrent_computation_calls}"
        )
    if not isinstance(stream_structs, bool):
        raise TypeError(f"{label} stream_structs: expected a bool, got {stream_structs!r}")
    # stream_structs decides how TFF sends structs to its C++ worker; a local
    # context passes values in memory, so both settings behave the same.
    return local.create_context(num_clients=default_num_clients or None, asynchronous=asynchronous)


def create_sync_local_cpp_execution_context(
    default_num_clients: int = 0,
    max_concurrent_computation_calls: int = -1,
    stream_structs: bool = False,
) -> context_stack.Context:
    """tffl's local context (`tffl.backends.local.create_context`), under TFF's name.

    Args:
      default_num_clients: clients to use when the arguments do not say; 0 infers
        them from the arguments.
      max_concurrent_computation_calls: must be nonpositive (no limit).
      stream_structs: accepted for TFF's signature; no effect in this process.

    Raises:
      ValueError: for a negative `default_num_clients` or a positive
        `max_concurrent_computation_calls`.
    """
    return context_for(
        "create_sync_local_cpp_execution_context",
        default_num_clients,
        max_concurrent_computation_calls,
        stream_structs,
        asynchronous=False,
    )


def set_sync_local_cpp_execution_context(
    default_num_clients: int = 0,
    max_concurrent_computation_calls: int = -1,
    stream_structs: bool = False,
) -> None:
    """Makes `create_sync_local_cpp_execution_context(...)` the default context."""
    context_stack.set_default_context(
        context_for(
            "set_sync_local_cpp_execution_context",
            default_num_clients,
            max_concurrent_computation_calls,
            stream_structs,
            asynchronous=False,
        )
    )


def create_async_local_cpp_execution_context(
    default_num_clients: int = 0,
    max_concurrent_computation_calls: int = -1,
    stream_structs: bool = False,
) -> context_stack.Context:
    """As `create_sync_local_cpp_execution_context`; calls return coroutines to await."""
    return context_for(
        "create_async_local_cpp_execution_context",
        default_num_clients,
        max_concurrent_computation_calls,
        stream_structs,
        asynchronous=True,
    )


def set_async_local_cpp_execution_context(
    default_num_clients: int = 0,
    max_concurrent_computation_calls: int = -1,
    stream_structs: bool = False,
) -> None:
    """Makes `create_async_local_cpp_execution_context(...)` the default context."""
    context_stack.set_default_context(
        context_for(
            "set_async_local_cpp_execution_context",
            default_num_clients,
            max_concurrent_computation_calls,
            stream_structs,
            asynchronous=True,
        )
    )
