"""TensorFlow computations under TFF's newer name: `tffl.tensorflow.computation`."""

from tffl.core.tensorflow_computation import tf_computation as computation

__all__ = ["computation"]
