"""TensorFlow ops that tffl computations embed.

Standard TensorFlow ops only, so every graph that uses them serializes and runs on a
remote worker. This package imports only TensorFlow and numpy.
"""

__all__ = []
