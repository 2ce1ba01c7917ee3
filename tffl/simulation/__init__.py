"""Simulation: federated datasets (`ClientData`), loaders and partitioners."""

from tffl.simulation import datasets
from tffl.simulation import partitioners
from tffl.simulation.client_data import ClientData

__all__ = [
    "ClientData",
    "datasets",
    "partitioners",
]
