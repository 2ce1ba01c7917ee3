"""Execution contexts: what calling a computation does outside tracing.

A context builds an executor stack for the call (sized to the number of clients
in the arguments), embeds the computation and its argument, calls, and computes
the result back into the user's Python containers. The synchronous context runs
the executors' coroutines on an event loop of its own; the asynchronous one
returns a coroutine to `await`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from typing import Optional
from typing import Protocol
import weakref

from tffl.core import context_stack
from tffl.executors import executor_base
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions


class ExecutorFactory(Protocol):
    def create(self, num_clients: Optional[int]) -> executor_base.Executor: ...


def infer_num_clients(value: Any, type_spec: Optional[computation_types.Type]) -> Optional[int]:
    """The number of clients an argument implies (a non-all-equal CLIENTS list), if any.

    Raises:
      ValueError: if two CLIENTS values disagree on their length.
    """
    found = set()

    def visit(v, t):
        if isinstance(t, computation_types.FederatedType):
            if (
                t.placement == placements.CLIENTS
                and not t.all_equal
                and isinstance(v, (list, tuple))
            ):
                found.add(len(v))
        elif isinstance(t, computation_types.StructType) and v is not None:
            try:
                elements = type_conversions.elements_of(v, t)
            except TypeError:
                return
            for element, element_type in zip(elements, t):
                visit(element, element_type)

    visit(value, type_spec)
    if len(found) > 1:
        raise ValueError(
            f"CLIENTS values in the arguments disagree on the number of clients: {sorted(found)}"
        )
    return found.pop() if found else None


async def invoke_async(
    factory: ExecutorFactory, default_num_clients, computation, argument, lowered=None
):
    """Runs one call: lowered to one TensorFlow function if `lowered` can, else on executors."""
    if lowered is not None:
        # The lowered run counts the clients as it packs their values.
        done, result = await lowered.run_async(computation, argument, default_num_clients)
        if done:
            return result  # Unpacked into the declared containers already.
    parameter_type = computation.type_signature.parameter
    num_clients = infer_num_clients(argument, parameter_type) or default_num_clients
    executor = factory.create(num_clients)
    try:
        fn = await executor.create_value(computation, computation.type_signature)
        arg = None
        if parameter_type is not None:
            arg = await executor.create_value(argument, parameter_type)
        result = await executor.create_call(fn, arg)
        return _in_declared_containers(await result.compute(), computation.type_signature.result)
    finally:
        executor.close()


def _in_declared_containers(value: Any, type_spec: Optional[computation_types.Type]) -> Any:
    """A computed result repacked in the containers the computation's result type declares.

    Executors build some structs afresh (a zip's members, say), without the user's
    container; the declared type still has it, so a namedtuple comes back a namedtuple.
    """
    if isinstance(type_spec, computation_types.FederatedType):
        if type_spec.placement == placements.CLIENTS and not type_spec.all_equal:
            return [_in_declared_containers(v, type_spec.member) for v in value]
        return _in_declared_containers(value, type_spec.member)
    if isinstance(type_spec, computation_types.SequenceType):
        return [_in_declared_containers(v, type_spec.element) for v in value]
    if isinstance(type_spec, computation_types.StructType):
        elements = type_conversions.elements_of(value, type_spec)
        return type_conversions.to_container(
            [_in_declared_containers(v, t) for v, t in zip(elements, type_spec)], type_spec
        )
    return value


class ExecutionContext(context_stack.Context):
    """Runs computations synchronously on fresh executor stacks.

    With `lowered` (a `lowered_execution.LoweredRunner`), a computation that lowers
    to one TensorFlow function runs as that instead.
    """

    def __init__(self, factory: ExecutorFactory, num_clients: Optional[int] = None, lowered=None):
        self.factory = factory
        self.num_clients = num_clients
        self.lowered = lowered
        self._local = threading.local()
        # Each thread's loop, closed when the context goes: an unclosed loop leaks its
        # sockets and warns (ResourceWarning) when collected.
        self._loops: list = []
        weakref.finalize(self, _close_loops, self._loops)

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            self._local.loop = loop
            self._loops.append(loop)
        return loop

    def invocation(self, computation, argument):
        """The coroutine that runs one call (subclasses add retries and the like)."""
        return invoke_async(self.factory, self.num_clients, computation, argument, self.lowered)

    def invoke(self, computation, argument):
        coroutine = self.invocation(computation, argument)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._loop().run_until_complete(coroutine)
        coroutine.close()
        raise RuntimeError(
            "a tffl computation was called synchronously inside a running event loop; "
            "use tffl.backends.local.set_context(asynchronous=True) and await the call"
        )


def _close_loops(loops) -> None:
    for loop in loops:
        if not loop.is_running() and not loop.is_closed():
            loop.close()


class AsyncExecutionContext(context_stack.Context):
    """Returns a coroutine per call, for use with `await` (lowered calls as in the sync one)."""

    def __init__(self, factory: ExecutorFactory, num_clients: Optional[int] = None, lowered=None):
        self.factory = factory
        self.num_clients = num_clients
        self.lowered = lowered

    def invocation(self, computation, argument):
        """The coroutine that runs one call (subclasses add retries and the like)."""
        return invoke_async(self.factory, self.num_clients, computation, argument, self.lowered)

    def invoke(self, computation, argument):
        return self.invocation(computation, argument)
