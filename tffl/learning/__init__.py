"""Federated learning on tffl (layer 8): optimizers for now, as `tff.learning` names them."""

from tffl.learning import optimizers

__all__ = ["optimizers"]
