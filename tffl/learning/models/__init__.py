"""Models for federated learning: Keras and functional models, weights, metrics."""

from tffl.learning.models.functional import FunctionalModel
from tffl.learning.models.functional import model_from_functional
from tffl.learning.models.keras_model import from_keras_model
from tffl.learning.models.model_weights import ModelWeights
from tffl.learning.models.model_weights import weights_type_from_model
from tffl.learning.models.variable_model import BatchOutput
from tffl.learning.models.variable_model import VariableModel

__all__ = [
    "BatchOutput",
    "FunctionalModel",
    "ModelWeights",
    "VariableModel",
    "from_keras_model",
    "model_from_functional",
    "weights_type_from_model",
]
