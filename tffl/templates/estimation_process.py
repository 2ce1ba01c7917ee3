"""Estimation processes: an iterative process with a `report` of its current estimate.

Adaptive clipping uses one: its state tracks a quantile of the clients' norms,
`next` updates it from this round's values, and `report` reads the estimate
(the clipping norm for the next round) out of the state.
"""

from __future__ import annotations

from typing import Optional

from tffl.templates import iterative_process
from tffl.types import type_errors


class EstimationProcess(iterative_process.IterativeProcess):
    """An iterative process plus `report: (S -> E)`.

    Raises:
      TypeError: if `report_fn` does not accept the state `initialize_fn` returns.
    """

    def __init__(
        self,
        initialize_fn: iterative_process.Computation,
        next_fn: iterative_process.Computation,
        report_fn: iterative_process.Computation,
        next_is_multi_arg: Optional[bool] = None,
    ):
        super().__init__(initialize_fn, next_fn, next_is_multi_arg)
        report_type = iterative_process.check_computation(report_fn, "report_fn")
        if report_type.parameter is None or not report_type.parameter.is_assignable_from(
            self.state_type
        ):
            raise type_errors.TypeMismatchError(
                report_type.parameter, self.state_type, "report_fn parameter (the state)"
            )
        self._report_fn = report_fn

    @property
    def report(self) -> iterative_process.Computation:
        return self._report_fn
