"""Iterative processes: an `initialize` computation and a `next` that advances a state.

A process is a value, not a class to subclass: it holds two computations and
checks, when built, that `next` accepts the state `initialize` produces and
returns a state of the same type, so a loop `state = process.next(state, ...)`
can never drift in type.
"""

from __future__ import annotations

from typing import Any
from typing import Optional

from tffl.core import computation_impl
from tffl.types import computation_types
from tffl.types import type_errors

Computation = computation_impl.ConcreteComputation


def check_computation(fn: Any, name: str) -> computation_types.FunctionType:
    """The type signature of `fn`, which must be a concrete tffl computation.

    Raises:
      TypeError: naming `name`, when `fn` is not a computation with a known signature.
    """
    if not isinstance(fn, Computation):
        raise TypeError(
            f"{name}: expected a tffl computation (tffl.tf_computation or "
            f"tffl.federated_computation with declared parameter types), "
            f"got {type(fn).__name__}"
        )
    return fn.type_signature


def state_parameter_type(
    next_type: computation_types.FunctionType, next_is_multi_arg: bool, name: str = "next_fn"
) -> computation_types.Type:
    """The type of the state parameter of a `next` computation."""
    parameter = next_type.parameter
    if parameter is None:
        raise TypeError(f"{name}: expected a computation taking the state, got {next_type}")
    if next_is_multi_arg:
        if not isinstance(parameter, computation_types.StructType) or not len(parameter):
            raise TypeError(
                f"{name}: expected a computation of several parameters, the state first; "
                f"got {next_type}"
            )
        return parameter[0]
    return parameter


class IterativeProcess:
    """Two computations: `initialize: ( -> S)` and `next: (<S,...> -> S)` or `(<S,...> -> <S,...>)`.

    Args:
      initialize_fn: a computation of no parameter returning the initial state.
      next_fn: a computation whose first parameter is the state (or whose only
        parameter is, when `next_is_multi_arg` is False) and whose result is the
        state or a struct starting with it.
      next_is_multi_arg: whether `next_fn`'s parameter is a struct of several
        arguments, the state first. By default: when its parameter is a struct
        whose first element accepts the initial state and the whole does not.

    Raises:
      TypeError: if the computations do not fit together (the message names the
        expected and the given types).

    >>> import numpy as np, tffl
    >>> init = tffl.tf_computation(lambda: np.int32(0))
    >>> step = tffl.tf_computation(lambda s: s + 1, np.int32)
    >>> process = tffl.templates.IterativeProcess(init, step)
    >>> int(process.next(process.next(process.initialize())))
    2
    """

    def __init__(
        self,
        initialize_fn: Computation,
        next_fn: Computation,
        next_is_multi_arg: Optional[bool] = None,
    ):
        init_type = check_computation(initialize_fn, "initialize_fn")
        next_type = check_computation(next_fn, "next_fn")
        if init_type.parameter is not None:
            raise TypeError(
                f"initialize_fn: expected a computation of no parameter, got {init_type}"
            )
        state_type = init_type.result
        if next_is_multi_arg is None:
            next_is_multi_arg = _is_multi_arg(next_type.parameter, state_type)
        parameter = state_parameter_type(next_type, next_is_multi_arg)
        if not parameter.is_assignable_from(state_type):
            raise type_errors.TypeMismatchError(
                parameter, state_type, "next_fn state parameter (from initialize_fn's result)"
            )
        result_state = self._result_state_type(next_type.result, parameter)
        if not parameter.is_assignable_from(result_state):
            raise type_errors.TypeMismatchError(parameter, result_state, "next_fn result state")
        self._initialize_fn = initialize_fn
        self._next_fn = next_fn
        self._state_type = state_type
        self._next_is_multi_arg = next_is_multi_arg

    @staticmethod
    def _result_state_type(
        result: computation_types.Type, state_type: computation_types.Type
    ) -> computation_types.Type:
        """The state within `next`'s result: the result itself or its first element.

        A struct result whose first element is the state is the common form
        (`<state=S,metrics=M>`); processes with a fixed result form override this.
        """
        if state_type.is_assignable_from(result):
            return result
        if isinstance(result, computation_types.StructType) and len(result):
            return result[0]
        return result

    @property
    def initialize(self) -> Computation:
        return self._initialize_fn

    @property
    def next(self) -> Computation:
        return self._next_fn

    @property
    def state_type(self) -> computation_types.Type:
        return self._state_type

    @property
    def next_is_multi_arg(self) -> bool:
        return self._next_is_multi_arg


def _is_multi_arg(parameter: Optional[computation_types.Type], state_type) -> bool:
    if parameter is None or parameter.is_assignable_from(state_type):
        return False
    return (
        isinstance(parameter, computation_types.StructType)
        and len(parameter) > 0
        and parameter[0].is_assignable_from(state_type)
    )
