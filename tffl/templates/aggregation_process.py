"""Aggregation processes: stateful aggregation of CLIENTS values into a SERVER value.

`next` has the type
`(<state=S@SERVER,value={V}@CLIENTS[,weight={W}@CLIENTS]> ->
<state=S@SERVER,result=A@SERVER,measurements=M@SERVER>)`; the optional weight
makes the process weighted. Aggregation factories (`tffl.aggregators`) build
these, and the learning algorithms take them as their model aggregator.
"""

from __future__ import annotations

from typing import Optional

from tffl.templates import iterative_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors


def _check_placed(type_spec, placement, context: str) -> None:
    if (
        not isinstance(type_spec, computation_types.FederatedType)
        or type_spec.placement != placement
    ):
        member = (
            type_spec.member
            if isinstance(type_spec, computation_types.FederatedType)
            else type_spec
        )
        expected = computation_types.FederatedType(member, placement)
        raise type_errors.TypeMismatchError(expected, type_spec, context)


class AggregationProcess(measured_process.MeasuredProcess):
    """A measured process that aggregates CLIENTS values (optionally weighted) at SERVER.

    Raises:
      TypeError: naming the expected and given types, if the state is not at
        SERVER, the value or weight not at CLIENTS, or a result part not at SERVER.
    """

    def __init__(
        self,
        initialize_fn: iterative_process.Computation,
        next_fn: iterative_process.Computation,
    ):
        init_type = iterative_process.check_computation(initialize_fn, "initialize_fn")
        next_type = iterative_process.check_computation(next_fn, "next_fn")
        _check_placed(init_type.result, placements.SERVER, "initialize_fn result")
        parameter = next_type.parameter
        if not isinstance(parameter, computation_types.StructType) or len(parameter) not in (2, 3):
            raise TypeError(
                "next_fn: expected parameters <state@SERVER,value@CLIENTS[,weight@CLIENTS]>, "
                f"got {parameter}"
            )
        super().__init__(initialize_fn, next_fn, next_is_multi_arg=True)
        _check_placed(parameter[1], placements.CLIENTS, "next_fn value parameter")
        if len(parameter) == 3:
            _check_placed(parameter[2], placements.CLIENTS, "next_fn weight parameter")
        for index, part in enumerate(("state", "result", "measurements")):
            _check_placed(next_type.result[index], placements.SERVER, f"next_fn result {part}")
        self._value_type = parameter[1].member
        self._weight_type: Optional[computation_types.Type] = (
            parameter[2].member if len(parameter) == 3 else None
        )

    @property
    def is_weighted(self) -> bool:
        return self._weight_type is not None

    @property
    def value_type(self) -> computation_types.Type:
        """The member type of the CLIENTS values aggregated."""
        return self._value_type

    @property
    def weight_type(self) -> Optional[computation_types.Type]:
        return self._weight_type

    @property
    def result_type(self) -> computation_types.Type:
        """The member type of the SERVER result."""
        return self.next.type_signature.result[1].member
