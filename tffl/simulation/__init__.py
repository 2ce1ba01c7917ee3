"""Simulation: federated datasets (`ClientData`), loaders, partitioners and the training loop.

`run_training` runs a process round after round on clients chosen by a
`client_selection_fn` (see `build_client_datasets_fn`), saving its state to
resume from and releasing each round's metrics to metrics managers.
"""

from tffl.simulation import datasets
from tffl.simulation import partitioners
from tffl.simulation.client_data import ClientData
from tffl.simulation.client_sampling import build_client_datasets_fn
from tffl.simulation.client_sampling import build_uniform_sampling_fn
from tffl.simulation.metrics_managers import CSVMetricsManager
from tffl.simulation.metrics_managers import MetricsManager
from tffl.simulation.metrics_managers import ProgressReporter
from tffl.simulation.metrics_managers import TensorBoardManager
from tffl.simulation.training_loop import TrainingResult
from tffl.simulation.training_loop import run_training

__all__ = [
    "CSVMetricsManager",
    "ClientData",
    "MetricsManager",
    "ProgressReporter",
    "TensorBoardManager",
    "TrainingResult",
    "build_client_datasets_fn",
    "build_uniform_sampling_fn",
    "datasets",
    "partitioners",
    "run_training",
]
