"""Federated datasets for simulation, and partitioners that make them from central data.

Every loader returns `ClientData` (or a `(train, test)` pair of them) whose
datasets yield one example per element; batch them with `ClientData.preprocess`.
"""

from tffl.simulation.client_data import ClientData
from tffl.simulation.partitioners import partition_by_feature
from tffl.simulation.partitioners import partition_dirichlet
from tffl.simulation.partitioners import partition_iid

__all__ = [
    "ClientData",
    "partition_by_feature",
    "partition_dirichlet",
    "partition_iid",
]
