"""tffl: a TensorFlow-native federated computation framework.

The public API follows TensorFlow Federated's names, so a TFF program ports by
changing its import (`import tffl as tff`).
"""

import os as _os

# TensorFlow prints CUDA-stub lines at import on machines without a GPU.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tffl.types import (
    CLIENTS,  # noqa: E402
    SERVER,  # noqa: E402
    FederatedType,  # noqa: E402
    FunctionType,  # noqa: E402
    SequenceType,  # noqa: E402
    StructType,  # noqa: E402
    TensorType,  # noqa: E402
    Type,  # noqa: E402
    TypeMismatchError,  # noqa: E402
    infer_type,  # noqa: E402
    to_type,  # noqa: E402
)

__version__ = "0.1.0"

__all__ = [
    "CLIENTS",
    "FederatedType",
    "FunctionType",
    "SERVER",
    "SequenceType",
    "StructType",
    "TensorType",
    "Type",
    "TypeMismatchError",
    "infer_type",
    "to_type",
]
