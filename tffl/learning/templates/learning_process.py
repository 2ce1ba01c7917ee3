"""Learning processes: iterative processes that train a model and report metrics."""

from __future__ import annotations

from typing import Any
from typing import NamedTuple

from tffl.templates import iterative_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors


class LearningProcessOutput(NamedTuple):
    """What `LearningProcess.next` returns: the new state and this round's metrics."""

    state: Any
    metrics: Any


class LearningProcess(iterative_process.IterativeProcess):
    """An iterative process `(<S@SERVER,{D}@CLIENTS> -> <state=S@SERVER,metrics=M@SERVER>)`.

    Args:
      initialize_fn: `( -> S@SERVER)`.
      next_fn: `(<S@SERVER,{D}@CLIENTS> -> <state=S@SERVER,metrics=M@SERVER>)`.
      get_model_weights: `(S -> W)`, the model weights held in a state.
      set_model_weights: `(<S,W> -> S)`, a state with other model weights.

    Raises:
      TypeError: naming the expected and the given type where the parts disagree.
    """

    def __init__(
        self,
        initialize_fn: iterative_process.Computation,
        next_fn: iterative_process.Computation,
        get_model_weights: iterative_process.Computation,
        set_model_weights: iterative_process.Computation,
    ):
        result = iterative_process.check_computation(next_fn, "next_fn").result
        if not isinstance(result, computation_types.StructType) or len(result) != 2:
            raise type_errors.TypeMismatchError(
                "<state=S@SERVER,metrics=M@SERVER>", result, "next_fn result"
            )
        super().__init__(initialize_fn, next_fn, next_is_multi_arg=True)
        state_type = self.state_type
        if not (
            isinstance(state_type, computation_types.FederatedType)
            and state_type.placement == placements.SERVER
        ):
            raise type_errors.TypeMismatchError("S@SERVER", state_type, "initialize_fn result")
        next_type = next_fn.type_signature
        data_type = next_type.parameter[1] if len(next_type.parameter) > 1 else None
        if not (
            isinstance(data_type, computation_types.FederatedType)
            and data_type.placement == placements.CLIENTS
        ):
            raise type_errors.TypeMismatchError("{D}@CLIENTS", data_type, "next_fn client data")
        get_type = iterative_process.check_computation(get_model_weights, "get_model_weights")
        if get_type.parameter is None or not get_type.parameter.is_assignable_from(
            state_type.member
        ):
            raise type_errors.TypeMismatchError(
                state_type.member,
                "no parameter" if get_type.parameter is None else get_type.parameter,
                "get_model_weights parameter (the state)",
            )
        set_type = iterative_process.check_computation(set_model_weights, "set_model_weights")
        if not set_type.result.is_assignable_from(state_type.member):
            raise type_errors.TypeMismatchError(
                set_type.result, state_type.member, "set_model_weights result"
            )
        self._get_model_weights = get_model_weights
        self._set_model_weights = set_model_weights

    @staticmethod
    def _result_state_type(result, state_type):
        del state_type
        return result[0]

    @property
    def get_model_weights(self) -> iterative_process.Computation:
        return self._get_model_weights

    @property
    def set_model_weights(self) -> iterative_process.Computation:
        return self._set_model_weights
