"""TFF's `tff.backends.native` context names, on tffl's local context.

A TFF program starts with `tff.backends.native.set_sync_local_cpp_execution_context()`;
with `import tffl as tff` that line sets tffl's local context, which runs in this
process, lowers what it can to one TensorFlow function, and runs secure sums
with masking. tffl has no separate C++ runtime to start.

>>> import tffl
>>> tffl.backends.native.set_sync_local_cpp_execution_context(default_num_clients=3)
"""

from __future__ import annotations

from typing import Callable
from typing import Optional

from tffl.backends import local
from tffl.core import context_stack


def context_for(
    label: str,
    default_num_clients: int,
    max_concurrent_computation_calls: int,
    stream_structs: bool,
    asynchronous: bool,
) -> context_stack.Context:
    """The local context TFF's context function `label` stands for.

    Raises:
      TypeError: naming `label`, for a `default_num_clients` that is not an int
        or a `stream_structs` that is not a bool.
      ValueError: naming `label`, for a negative `default_num_clients` or a
        positive `max_concurrent_computation_calls`.
    """
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


def context_function(name: str, asynchronous: bool, sets_default: bool) -> Callable:
    """TFF's context function `name`: it creates the local context, or makes it the default."""

    def context_fn(
        default_num_clients: int = 0,
        max_concurrent_computation_calls: int = -1,
        stream_structs: bool = False,
    ) -> Optional[context_stack.Context]:
        context = context_for(
            name,
            default_num_clients,
            max_concurrent_computation_calls,
            stream_structs,
            asynchronous,
        )
        if not sets_default:
            return context
        context_stack.set_default_context(context)
        return None

    action = "Makes the default context" if sets_default else "Returns"
    kind = "an asynchronous" if asynchronous else "a synchronous"
    context_fn.__name__ = context_fn.__qualname__ = name
    context_fn.__doc__ = f"""{action} {kind} local context (`tffl.backends.local`).

    Args:
      default_num_clients: clients to use when the arguments do not say; 0 infers
        them from the arguments.
      max_concurrent_computation_calls: must be nonpositive (no limit).
      stream_structs: accepted for TFF's signature; no effect in this process.

    Raises:
      TypeError, ValueError: for arguments outside those ranges.
    """
    return context_fn


create_sync_local_cpp_execution_context = context_function(
    "create_sync_local_cpp_execution_context", asynchronous=False, sets_default=False
)
set_sync_local_cpp_execution_context = context_function(
    "set_sync_local_cpp_execution_context", asynchronous=False, sets_default=True
)
create_async_local_cpp_execution_context = context_function(
    "create_async_local_cpp_execution_context", asynchronous=True, sets_default=False
)
set_async_local_cpp_execution_context = context_function(
    "set_async_local_cpp_execution_context", asynchronous=True, sets_default=True
)
