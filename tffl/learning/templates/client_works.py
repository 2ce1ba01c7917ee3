"""Client work processes: what each client does with the weights it receives."""

from __future__ import annotations

from typing import Any
from typing import NamedTuple

from tffl.templates import iterative_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors


class ClientResult(NamedTuple):
    """What one client sends back: its update and the weight of that update.

    Attributes:
      update: the model update (for FedAvg, initial minus final trainable weights).
      update_weight: a float32 scalar (the example count, or 1.0 for uniform weighting).
    """

    update: Any
    update_weight: Any


class ClientWorkProcess(measured_process.MeasuredProcess):
    """A measured process
    `(<S@SERVER,{W}@CLIENTS,{D}@CLIENTS> -> <S@SERVER,{ClientResult}@CLIENTS,M@SERVER>)`.

    Raises:
      TypeError: naming the expected and given type, if the weights or data are not
        at CLIENTS, or the result is not a CLIENTS struct of update and weight.
    """

    def __init__(
        self, initialize_fn: iterative_process.Computation, next_fn: iterative_process.Computation
    ):
        super().__init__(initialize_fn, next_fn, next_is_multi_arg=True)
        next_type = next_fn.type_signature
        parameter = next_type.parameter
        if len(parameter) != 3:
            raise TypeError(
                "next_fn: expected parameters <state@SERVER,weights@CLIENTS,data@CLIENTS>, "
                f"got {parameter}"
            )
        for index, name in ((1, "weights"), (2, "data")):
            if not _at_clients(parameter[index]):
                raise type_errors.TypeMismatchError(
                    "{T}@CLIENTS", parameter[index], f"next_fn {name} parameter"
                )
        result = next_type.result[1]
        if not (
            _at_clients(result)
            and isinstance(result.member, computation_types.StructType)
            and len(result.member) == 2
        ):
            raise type_errors.TypeMismatchError(
                "{<update=U,update_weight=float32>}@CLIENTS", result, "next_fn result"
            )


def _at_clients(type_spec) -> bool:
    return (
        isinstance(type_spec, computation_types.FederatedType)
        and type_spec.placement == placements.CLIENTS
    )
