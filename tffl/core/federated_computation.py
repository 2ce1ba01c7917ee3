"""`federated_computation`: traces a Python function of symbolic values into the IR.

The function runs once per parameter type with `Value`s standing for its
parameters; intrinsic and computation calls are recorded as Block locals, and
the result is a Lambda. Nested federated computations and Python functions
passed to intrinsics are traced the same way inside the enclosing trace, so
they may capture its Values (`lambda b: batch_loss(model, b)`).
"""

from __future__ import annotations

from typing import Callable
from typing import Optional

from tffl.compiler import building_blocks as bb
from tffl.compiler import tree_transformations
from tffl.core import computation_impl
from tffl.core import context_stack
from tffl.core import parameter_binding
from tffl.core import value_impl
from tffl.types import computation_types


def _parameter_name(fn: Callable) -> str:
    names, _ = parameter_binding.positional_parameter_names(fn)
    return names[0] if len(names) == 1 else "arg"


def trace(fn: Callable, parameter_type: Optional[computation_types.Type], name: str) -> bb.Lambda:
    """Traces `fn` at `parameter_type` into a Lambda."""
    nested = context_stack.is_tracing()
    names = context_stack.current().names if nested else tree_transformations.UniqueNames()
    parameter_name = None
    if parameter_type is not None:
        parameter_name = _parameter_name(fn)
        if nested:
            # Unique, so the nested Lambda never shadows a Value it captures.
            parameter_name = names(parameter_name)
    context = value_impl.TracingContext(names)
    with context_stack.install(context):
        parameter = None
        if parameter_type is not None:
            parameter = value_impl.Value(bb.Reference(parameter_name, parameter_type))
        result = parameter_binding.call_with_parameter(
            fn, parameter_type, parameter, lambda value, index: value[index]
        )
        if result is None:
            raise TypeError(f"federated computation {name}: the function returned None")
        result_block = value_impl.to_building_block(result)
    body = bb.Block(context.locals, result_block) if context.locals else result_block
    lambda_block, _ = tree_transformations.inline_single_use_locals(
        bb.Lambda(parameter_name, parameter_type, body)
    )
    return lambda_block


def federated_computation(*args):
    """Decorates a Python function of federated values as a tffl computation.

    Forms: `@federated_computation(type, ...)`, bare `@federated_computation`
    (polymorphic) and the call `federated_computation(fn, type, ...)`.

    >>> import tffl
    >>> @federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
    ... def mean(temps):
    ...     return tffl.federated_mean(temps)
    >>> str(mean.type_signature)
    '({float32}@CLIENTS -> float32@SERVER)'
    """
    return computation_impl.decorator(args, trace)
