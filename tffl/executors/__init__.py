"""Executors (layer 4): one small async interface and the stack that runs computations."""
