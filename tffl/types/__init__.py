"""The tffl type system (layer 1): types, placements, inference and serialization."""

from tffl.types.computation_types import AbstractType
from tffl.types.computation_types import FederatedType
from tffl.types.computation_types import FunctionType
from tffl.types.computation_types import PlacementType
from tffl.types.computation_types import SequenceType
from tffl.types.computation_types import StructType
from tffl.types.computation_types import TensorType
from tffl.types.computation_types import Type
from tffl.types.computation_types import at_clients
from tffl.types.computation_types import at_server
from tffl.types.computation_types import to_type
from tffl.types.placements import CLIENTS
from tffl.types.placements import SERVER
from tffl.types.placements import PlacementLiteral
from tffl.types.type_conversions import infer_type
from tffl.types.type_errors import TypeMismatchError
from tffl.types.type_serialization import deserialize_type
from tffl.types.type_serialization import serialize_type

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
    "at_clients",
    "at_server",
    "deserialize_type",
    "infer_type",
    "serialize_type",
    "to_type",
]
