"""How a Python function's parameters map to one tffl parameter type, and back.

One parameter takes the parameter type as it is; several become a named struct
(`def f(x, y)` with types int32, float32 -> `<x=int32,y=float32>`), and a call
with several arguments packs them into that struct.
"""

from __future__ import annotations

import collections
import inspect
from typing import Any
from typing import Callable
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

from tffl.types import computation_types
from tffl.types import type_conversions


def positional_parameter_names(fn: Callable) -> Tuple[List[str], bool]:
    """The names of `fn`'s positional parameters, and whether it takes `*args`."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return [], True
    names, varargs = [], False
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            if parameter.default is parameter.empty:
                names.append(parameter.name)
        elif parameter.kind == parameter.VAR_POSITIONAL:
            varargs = True
    return names, varargs


def parameter_type_for(fn: Callable, types: Sequence[Any]) -> Optional[computation_types.Type]:
    """The parameter type of `fn` given the types listed in its decorator.

    Raises:
      TypeError: if the number of types does not fit the function.
    """
    names, varargs = positional_parameter_names(fn)
    if not types:
        return None
    if len(types) == 1:
        return computation_types.to_type(types[0])
    if len(names) != len(types) and not varargs:
        raise TypeError(
            f"{getattr(fn, '__name__', fn)}: expected {len(names)} parameter types for "
            f"parameters {names}, got {len(types)}"
        )
    labels = names if len(names) == len(types) else [None] * len(types)
    return computation_types.StructType(
        [(label, computation_types.to_type(t)) for label, t in zip(labels, types)]
    )


def call_with_parameter(
    fn: Callable, parameter_type: Optional[computation_types.Type], value: Any, select
) -> Any:
    """Calls `fn` with `value` spread over its parameters.

    Args:
      fn: the user's Python function.
      parameter_type: the tffl parameter type (None for no parameter).
      value: the parameter value (a Python container, tensor or symbolic Value).
      select: `select(value, index)` returns one element of a struct value.
    """
    names, varargs = positional_parameter_names(fn)
    if parameter_type is None:
        return fn()
    if len(names) == 1 and not varargs:
        return fn(value)
    if isinstance(parameter_type, computation_types.StructType) and (
        len(names) == len(parameter_type) or (varargs and not names)
    ):
        return fn(*[select(value, i) for i in range(len(parameter_type))])
    if not names and not varargs:
        raise TypeError(
            f"{getattr(fn, '__name__', fn)} takes no parameters, but its type declares "
            f"{parameter_type}"
        )
    return fn(value)


def pack_arguments(
    parameter_type: Optional[computation_types.Type], args: Sequence[Any], kwargs: dict
) -> Any:
    """Packs call arguments into one parameter value for `parameter_type`.

    Raises:
      TypeError: if the arguments do not fit (wrong arity, unknown names).
    """
    if parameter_type is None:
        if args or kwargs:
            raise TypeError(
                f"expected no arguments, got {len(args)} positional and {sorted(kwargs)} keyword"
            )
        return None
    if len(args) == 1 and not kwargs:
        return args[0]
    if not args and not kwargs:
        raise TypeError(f"expected an argument of type {parameter_type}, got none")
    if not isinstance(parameter_type, computation_types.StructType):
        raise TypeError(
            f"expected one argument of type {parameter_type}, got {len(args) + len(kwargs)}"
        )
    if len(args) + len(kwargs) != len(parameter_type):
        raise TypeError(
            f"expected {len(parameter_type)} arguments for {parameter_type}, "
            f"got {len(args) + len(kwargs)}"
        )
    names = parameter_type.names()
    elements = list(args)
    for name in names[len(args) :]:
        if name is None or name not in kwargs:
            raise TypeError(f"expected arguments for {parameter_type}, missing {name!r}")
        elements.append(kwargs.pop(name))
    if kwargs:
        raise TypeError(f"unexpected keyword arguments {sorted(kwargs)} for {parameter_type}")
    if parameter_type.container is not None:
        return type_conversions.to_container(elements, parameter_type)
    if all(n is not None for n in names):
        return collections.OrderedDict(zip(names, elements))
    return tuple(elements)


def infer_argument_type(fn: Callable, args: Sequence[Any], kwargs: dict):
    """The parameter type a polymorphic computation takes from these call arguments."""
    names, _ = positional_parameter_names(fn)
    if kwargs or len(args) > 1:
        values = list(args) + list(kwargs.values())
        labels = (names + [None] * len(values))[: len(args)] + list(kwargs)
        if len(labels) != len(set(labels)) and any(labels):
            labels = [None] * len(values)
        return computation_types.StructType(
            [(label, type_conversions.infer_type(v)) for label, v in zip(labels, values)]
        )
    if not args:
        return None
    return type_conversions.infer_type(args[0])
