"""Estimation processes: an iterative process with a `report` of its current estimate.

Adaptive clipping uses one: its state tracks a quantile of the clients' norms,
`next` updates it from this round's values, and `report` reads the estimate
(the clipping norm for the next round) out of the state.
"""

from __future__ import annotations

from typing import Optional

from tffl.core import federated_computation
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
        if report_type.parameter is None:
            raise TypeError(
                f"report_fn: expected a computation taking the state {self.state_type}, "
                f"got {report_type}"
            )
        if not report_type.parameter.is_assignable_from(self.state_type):
            raise type_errors.TypeMismatchError(
                report_type.parameter, self.state_type, "report_fn parameter (the state)"
            )
        self._report_fn = report_fn

    @property
    def report(self) -> iterative_process.Computation:
        return self._report_fn

    def map(self, map_fn: iterative_process.Computation) -> "EstimationProcess":
        """The same process with `report` replaced by `map_fn(report(state))`.

        Raises:
          TypeError: if `map_fn` is not a computation accepting what `report` returns.

        >>> import numpy as np, tffl
        >>> init = tffl.tf_computation(lambda: np.float32(2.0))
        >>> step = tffl.tf_computation(lambda s: s * 2.0, np.float32)
        >>> report = tffl.tf_computation(lambda s: s, np.float32)
        >>> process = tffl.templates.EstimationProcess(init, step, report)
        >>> float(process.map(tffl.tf_computation(lambda e: e + 1.0, np.float32)).report(3.0))
        4.0
        """
        map_type = iterative_process.check_computation(map_fn, "map_fn")
        estimate_type = self._report_fn.type_signature.result
        if map_type.parameter is None:
            raise TypeError(
                f"map_fn: expected a computation taking the estimate {estimate_type}, "
                f"got {map_type}"
            )
        if not map_type.parameter.is_assignable_from(estimate_type):
            raise type_errors.TypeMismatchError(
                map_type.parameter, estimate_type, "map_fn parameter (the estimate)"
            )
        report_fn = self._report_fn

        def mapped_report(state):
            return map_fn(report_fn(state))

        return EstimationProcess(
            self.initialize,
            self.next,
            federated_computation.federated_computation(mapped_report, self.state_type),
            self.next_is_multi_arg,
        )
