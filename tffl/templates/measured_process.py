"""Measured processes: iterative processes whose `next` reports a result and measurements."""

from __future__ import annotations

from typing import Any
from typing import NamedTuple
from typing import Optional

from tffl.templates import iterative_process
from tffl.types import computation_types


class MeasuredProcessOutput(NamedTuple):
    """What `MeasuredProcess.next` returns.

    Attributes:
      state: the process's next state.
      result: what this step computed (an aggregate, updated weights, ...).
      measurements: what this step reports about itself (norms, counts, ...).
    """

    state: Any
    result: Any
    measurements: Any


class MeasuredProcess(iterative_process.IterativeProcess):
    """An iterative process whose `next` returns `<state=S,result=R,measurements=M>`.

    Raises:
      TypeError: if `next_fn`'s result is not a struct of three elements
        (state, result, measurements), or the computations do not fit together.
    """

    def __init__(
        self,
        initialize_fn: iterative_process.Computation,
        next_fn: iterative_process.Computation,
        next_is_multi_arg: Optional[bool] = None,
    ):
        result = iterative_process.check_computation(next_fn, "next_fn").result
        if not isinstance(result, computation_types.StructType) or len(result) != 3:
            raise TypeError(
                "next_fn: expected a result <state=S,result=R,measurements=M> "
                f"(a MeasuredProcessOutput), got {result}"
            )
        super().__init__(initialize_fn, next_fn, next_is_multi_arg)

    @staticmethod
    def _result_state_type(result, state_type):
        del state_type  # The form is fixed: the state is always the first element.
        return result[0]
