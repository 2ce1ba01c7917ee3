"""The parts of a learning process and how they compose."""

from tffl.learning.templates.client_works import ClientResult
from tffl.learning.templates.client_works import ClientWorkProcess
from tffl.learning.templates.composers import LearningAlgorithmState
from tffl.learning.templates.composers import compose_learning_process
from tffl.learning.templates.distributors import DistributionProcess
from tffl.learning.templates.distributors import build_broadcast_process
from tffl.learning.templates.finalizers import FinalizerProcess
from tffl.learning.templates.finalizers import build_apply_optimizer_finalizer
from tffl.learning.templates.learning_process import LearningProcess
from tffl.learning.templates.learning_process import LearningProcessOutput
from tffl.learning.templates.model_delta_client_work import build_model_delta_client_work

__all__ = [
    "ClientResult",
    "ClientWorkProcess",
    "DistributionProcess",
    "FinalizerProcess",
    "LearningAlgorithmState",
    "LearningProcess",
    "LearningProcessOutput",
    "build_apply_optimizer_finalizer",
    "build_broadcast_process",
    "build_model_delta_client_work",
    "compose_learning_process",
]
