"""The executor interface every executor speaks, local or remote.

An executor turns values and computations into executor values, calls, structs
and selections of them, all asynchronously; only the context layer turns this
into synchronous calls. Executor values are disposable: an executor holds no
reference to a value after handing it out, so dropping values frees them.
"""

from __future__ import annotations

import abc
import asyncio
from typing import Any
from typing import Awaitable
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

from tffl.types import computation_types


class ExecutorValue(abc.ABC):
    """A value that lives in an executor."""

    @property
    @abc.abstractmethod
    def type_signature(self) -> Optional[computation_types.Type]: ...

    @abc.abstractmethod
    async def compute(self) -> Any:
        """Materializes the value as numpy values in the user's Python containers."""


class Executor(abc.ABC):
    """Creates values and calls on them."""

    @abc.abstractmethod
    async def create_value(self, value: Any, type_spec: computation_types.Type) -> ExecutorValue:
        """Embeds a Python value or a computation of the given type."""

    @abc.abstractmethod
    async def create_call(
        self, fn: ExecutorValue, arg: Optional[ExecutorValue] = None
    ) -> ExecutorValue:
        """Calls a function value on an argument value (or none)."""

    @abc.abstractmethod
    async def create_struct(
        self, elements: Sequence[Tuple[Optional[str], ExecutorValue]]
    ) -> ExecutorValue:
        """A struct of values (names may be None)."""

    @abc.abstractmethod
    async def create_selection(self, source: ExecutorValue, index: int) -> ExecutorValue:
        """The element at `index` of a struct value."""

    def close(self) -> None:
        """Releases what the executor holds; it may be used again afterwards."""


class ExecutionError(RuntimeError):
    """A computation failed while it ran."""


async def gather(*awaitables: Awaitable) -> List[Any]:
    """`asyncio.gather` that, when one fails, cancels the others and waits for them.

    A failure then leaves no task running behind the call that raised it (to be
    destroyed pending, or to fail on a closed event loop, later).
    """
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
