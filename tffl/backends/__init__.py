"""Backends (layer 5): execution contexts that run computations on executor stacks."""
