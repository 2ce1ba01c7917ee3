"""tffl: a TensorFlow-native federated computation framework.

The public API follows TensorFlow Federated's names, so a TFF program ports by
changing its import (`import tffl as tff`).
"""

import os as _os

# TensorFlow prints CUDA-stub lines at import on machines without a GPU.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tffl import aggregators  # noqa: E402
from tffl import backends  # noqa: E402
from tffl import framework  # noqa: E402
from tffl import learning  # noqa: E402
from tffl import program  # noqa: E402
from tffl import simulation  # noqa: E402
from tffl import templates  # noqa: E402
from tffl import tensorflow  # noqa: E402
from tffl import types  # noqa: E402
import tffl.backends.local  # noqa: E402, F401 (loads the default context)
import tffl.backends.native  # noqa: E402, F401
import tffl.backends.remote  # noqa: E402, F401
import tffl.backends.test  # noqa: E402, F401
from tffl.core.federated_computation import federated_computation  # noqa: E402
from tffl.core.intrinsics import federated_aggregate  # noqa: E402
from tffl.core.intrinsics import federated_broadcast  # noqa: E402
from tffl.core.intrinsics import federated_eval  # noqa: E402
from tffl.core.intrinsics import federated_map  # noqa: E402
from tffl.core.intrinsics import federated_mean  # noqa: E402
from tffl.core.intrinsics import federated_secure_modular_sum  # noqa: E402
from tffl.core.intrinsics import federated_secure_sum  # noqa: E402
from tffl.core.intrinsics import federated_secure_sum_bitwidth  # noqa: E402
from tffl.core.intrinsics import federated_select  # noqa: E402
from tffl.core.intrinsics import federated_sum  # noqa: E402
from tffl.core.intrinsics import federated_value  # noqa: E402
from tffl.core.intrinsics import federated_zip  # noqa: E402
from tffl.core.intrinsics import sequence_map  # noqa: E402
from tffl.core.intrinsics import sequence_reduce  # noqa: E402
from tffl.core.intrinsics import sequence_sum  # noqa: E402
from tffl.core.tensorflow_computation import tf_computation  # noqa: E402
from tffl.types import CLIENTS  # noqa: E402
from tffl.types import SERVER  # noqa: E402
from tffl.types import FederatedType  # noqa: E402
from tffl.types import FunctionType  # noqa: E402
from tffl.types import SequenceType  # noqa: E402
from tffl.types import StructType  # noqa: E402
from tffl.types import TensorType  # noqa: E402
from tffl.types import Type  # noqa: E402
from tffl.types import TypeMismatchError  # noqa: E402
from tffl.types import infer_type  # noqa: E402
from tffl.types import to_type  # noqa: E402

__version__ = "0.1.0"

# Calling a computation runs it in this process unless another context is set.
backends.local.set_context()

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
    "aggregators",
    "backends",
    "federated_aggregate",
    "federated_broadcast",
    "federated_computation",
    "federated_eval",
    "federated_map",
    "federated_mean",
    "federated_secure_modular_sum",
    "federated_secure_sum",
    "federated_secure_sum_bitwidth",
    "federated_select",
    "federated_sum",
    "federated_value",
    "federated_zip",
    "framework",
    "infer_type",
    "learning",
    "program",
    "sequence_map",
    "sequence_reduce",
    "sequence_sum",
    "simulation",
    "templates",
    "tensorflow",
    "tf_computation",
    "to_type",
    "types",
]
