"""Simulation: federated datasets (`ClientData`), loaders, partitioners, client sampling
and metrics managers."""

from tffl.simulation import datasets
from tffl.simulation import partitioners
from tffl.simulation.client_data import ClientData
from tffl.simulation.client_sampling import build_client_datasets_fn
from tffl.simulation.client_sampling import build_uniform_sampling_fn
from tffl.simulation.metrics_managers import CSVMetricsManager
from tffl.simulation.metrics_managers import MetricsManager
from tffl.simulation.metrics_managers import ProgressReporter
from tffl.simulation.metrics_managers import TensorBoardManager

__all__ = [
    "CSVMetricsManager",
    "ClientData",
    "MetricsManager",
    "ProgressReporter",
    "TensorBoardManager",
    "build_client_datasets_fn",
    "build_uniform_sampling_fn",
    "datasets",
    "partitioners",
]
