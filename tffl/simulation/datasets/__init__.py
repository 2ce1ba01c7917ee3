"""Federated datasets for simulation, and partitioners that make them from central data.

Every loader returns `ClientData` (or a `(train, test)` pair of them) whose
datasets yield one example per element; batch them with `ClientData.preprocess`.
"""

from tffl.simulation.client_data import ClientData
from tffl.simulation.client_data import TestClientData
from tffl.simulation.datasets import digits
from tffl.simulation.datasets import emnist
from tffl.simulation.datasets import synthetic
from tffl.simulation.datasets import tfds_loader
from tffl.simulation.partitioners import partition_by_feature
from tffl.simulation.partitioners import partition_dirichlet
from tffl.simulation.partitioners import partition_iid

__all__ = [
    "ClientData",
    "TestClientData",
    "digits",
    "emnist",
    "partition_by_feature",
    "partition_dirichlet",
    "partition_iid",
    "synthetic",
    "tfds_loader",
]
