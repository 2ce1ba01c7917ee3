"""Serialization of computations, and the IR and intrinsic table for framework authors."""

from tffl.compiler import building_blocks
from tffl.compiler import intrinsic_defs
from tffl.core import computation_impl
from tffl.core.computation_impl import ConcreteComputation
from tffl.proto import computation_pb2


def serialize_computation(computation: computation_impl.ConcreteComputation) -> bytes:
    """The `Computation` message of a computation, as bytes.

    The bytes are deterministic: serializing the same computation (or a trace of the
    same source) gives the same bytes.
    """
    if not isinstance(computation, computation_impl.ConcreteComputation):
        raise TypeError(
            f"serialize_computation: expected a typed tffl computation, got {computation!r} "
            "(a polymorphic computation has no single type; trace it first)"
        )
    return computation.to_proto().SerializeToString(deterministic=True)


def deserialize_computation(data: bytes) -> computation_impl.ConcreteComputation:
    """A callable computation from `serialize_computation` bytes.

    Raises:
      ValueError: if the bytes are not a well-formed computation message.
      TypeError: if the computation they describe is ill-typed.
    """
    proto = computation_pb2.Computation()
    try:
        proto.ParseFromString(data)
    except Exception as e:  # The protobuf runtime raises its own DecodeError.
        raise ValueError(f"deserialize_computation: not a computation message ({e})") from e
    return computation_impl.ConcreteComputation(building_blocks.from_proto(proto))


__all__ = [
    "ConcreteComputation",
    "building_blocks",
    "deserialize_computation",
    "intrinsic_defs",
    "serialize_computation",
]
