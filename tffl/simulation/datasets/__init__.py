"""Federated datasets for simulation, and partitioners that make them from central data.

Every loader returns `ClientData` (or a `(train, test)` pair of them) whose
datasets yield one example per element; batch them with `ClientData.preprocess`.
"""

from tffl.simulation.client_data import ClientData

__all__ = [
    "ClientData",
]
