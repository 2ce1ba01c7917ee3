"""`SumFactory`: the plain sum of client values at the server."""

from __future__ import annotations

from typing import Any

from tffl.aggregators import factory
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.templates import aggregation_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements


class SumFactory(factory.UnweightedAggregationFactory):
    """Sums the clients' values with `federated_sum`; no state, no measurements.

    The process: `initialize: ( -> <>@SERVER)` and
    `next: (<state=<>@SERVER,value={V}@CLIENTS> ->
    <state=<>@SERVER,result=V@SERVER,measurements=<>@SERVER>)`.

    >>> import numpy as np, tffl
    >>> process = tffl.aggregators.SumFactory().create(np.float32)
    >>> process.next(process.initialize(), [1.0, 2.0, 3.5]).result
    6.5
    """

    def create(self, value_type: Any) -> aggregation_process.AggregationProcess:
        """The summing process for CLIENTS values of `value_type`.

        Raises:
          TypeMismatchError: if `value_type` is not a float or integer tensor or a
            (nested) struct of them.
        """
        value_type = factory.check_value_type(value_type, "SumFactory.create value_type")

        @federated_computation.federated_computation()
        def init_fn():
            return intrinsics.federated_value((), placements.SERVER)

        @federated_computation.federated_computation(
            init_fn.type_signature.result,
            computation_types.FederatedType(value_type, placements.CLIENTS),
        )
        def next_fn(state, value):
            return measured_process.MeasuredProcessOutput(
                state=state,
                result=intrinsics.federated_sum(value),
                measurements=intrinsics.federated_value((), placements.SERVER),
            )

        return aggregation_process.AggregationProcess(init_fn, next_fn)
