"""Distribution processes: how the server's model weights reach the clients."""

from __future__ import annotations

from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.templates import iterative_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors


class DistributionProcess(measured_process.MeasuredProcess):
    """A measured process `(<S@SERVER,V@SERVER> -> <S@SERVER,{V}@CLIENTS,M@SERVER>)`.

    Raises:
      TypeError: naming the expected and the given type, if the value is not
        taken at SERVER or not delivered at CLIENTS.
    """

    def __init__(
        self, initialize_fn: iterative_process.Computation, next_fn: iterative_process.Computation
    ):
        super().__init__(initialize_fn, next_fn, next_is_multi_arg=True)
        next_type = next_fn.type_signature
        value_type = next_type.parameter[1]
        if not _placed_at(value_type, placements.SERVER):
            raise type_errors.TypeMismatchError("V@SERVER", value_type, "next_fn value parameter")
        result = next_type.result[1]
        if not _placed_at(result, placements.CLIENTS):
            raise type_errors.TypeMismatchError("{V}@CLIENTS", result, "next_fn result")


def _placed_at(type_spec, placement) -> bool:
    return (
        isinstance(type_spec, computation_types.FederatedType) and type_spec.placement == placement
    )


def build_broadcast_process(value_type) -> DistributionProcess:
    """A stateless distributor that broadcasts the value to every client.

    >>> import numpy as np
    >>> process = build_broadcast_process(np.float32)
    >>> print(process.next.type_signature.result)
    <state=<>@SERVER,result=float32@CLIENTS,measurements=<>@SERVER>
    """
    value_type = computation_types.to_type(value_type)
    if isinstance(value_type, computation_types.FederatedType):
        raise type_errors.TypeMismatchError(
            "an unplaced type", value_type, "build_broadcast_process value_type"
        )

    @federated_computation.federated_computation()
    def initialize():
        return intrinsics.federated_value((), placements.SERVER)

    @federated_computation.federated_computation(
        initialize.type_signature.result,
        computation_types.FederatedType(value_type, placements.SERVER),
    )
    def next_fn(state, value):
        return measured_process.MeasuredProcessOutput(
            state,
            intrinsics.federated_broadcast(value),
            intrinsics.federated_value((), placements.SERVER),
        )

    return DistributionProcess(initialize, next_fn)
