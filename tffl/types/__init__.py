"""The tffl type system (layer 1): types, placements, inference and serialization."""

from tffl.types.computation_types import (
    AbstractType,
    FederatedType,
    FunctionType,
    PlacementType,
    SequenceType,
    StructType,
    TensorType,
    Type,
    to_type,
)
from tffl.types.placements import CLIENTS, SERVER, PlacementLiteral
from tffl.types.type_conversions import infer_type
from tffl.types.type_errors import TypeMismatchError
from tffl.types.type_serialization import deserialize_type, serialize_type

__all__ = [
    "AbstractType",
    "CLIENTS",
    "FederatedType",
    "FunctionType",
    "PlacementLiteral",
    "PlacementType",
    "SERVER",
    "SequenceType",
    "StructType",
    "TensorType",
    "Type",
    "TypeMismatchError",
    "deserialize_type",
    "infer_type",
    "serialize_type",
    "to_type",
]
