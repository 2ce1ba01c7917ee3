"""The thread-local stack of contexts that decides what calling a computation does.

Tracing installs a tracing context (calls become IR); otherwise the default
context runs the computation. `tffl/__init__.py` installs the local execution
context as the default, so the core layer never imports the backends above it.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from typing import Any
from typing import Iterator
from typing import Optional


class Context(abc.ABC):
    """What a call of a computation means in the current context."""

    @abc.abstractmethod
    def invoke(self, computation: Any, argument: Any) -> Any:
        """Calls `computation` (a tffl computation) on `argument` (None if it takes none)."""


class _Stack(threading.local):
    def __init__(self):
        self.contexts = []


_stack = _Stack()
_default: Optional[Context] = None


def set_default_context(context: Optional[Context]) -> None:
    """Sets the context used when no other is installed (None clears it)."""
    global _default
    if context is not None and not isinstance(context, Context):
        raise TypeError(f"set_default_context: expected a tffl Context, got {context!r}")
    _default = context


def get_default_context() -> Optional[Context]:
    return _default


def current() -> Context:
    """The innermost installed context, or the default one.

    Raises:
      RuntimeError: if there is neither.
    """
    if _stack.contexts:
        return _stack.contexts[-1]
    if _default is None:
        raise RuntimeError(
            "no execution context: import tffl (which installs the local context) or "
            "call tffl.backends.local.set_context()"
        )
    return _default


def is_tracing() -> bool:
    """Whether a tracing context is innermost."""
    return bool(_stack.contexts) and getattr(_stack.contexts[-1], "is_tracing", False)


@contextlib.contextmanager
def install(context: Context) -> Iterator[Context]:
    """Makes `context` the current one inside the `with` block."""
    _stack.contexts.append(context)
    try:
        yield context
    finally:
        _stack.contexts.pop()
