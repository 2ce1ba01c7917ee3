"""The weights, gradients and step loops the optimizer tests share."""

import numpy as np
import tensorflow as tf

WEIGHTS = [
    np.array([[1.0, 2.0], [3.0, 4.0]], np.float32),
    np.array([0.5, -1.5], np.float32),
]
GRADIENTS = [
    [np.array([[0.1, -0.2], [0.3, 0.4]], np.float32), np.array([1.0, -0.5], np.float32)],
    [np.array([[-0.3, 0.5], [0.2, -0.1]], np.float32), np.array([0.25, 0.75], np.float32)],
    [np.array([[0.6, 0.1], [-0.4, 0.2]], np.float32), np.array([-1.0, 0.5], np.float32)],
]
SPECS = [tf.TensorSpec([2, 2], tf.float32), tf.TensorSpec([2], tf.float32)]


def to_dict(pair):
    return {"kernel": pair[0], "bias": pair[1]}


def three_steps(opt, as_dict):
    convert = to_dict if as_dict else list
    state = opt.initialize(convert(SPECS))
    weights = convert(WEIGHTS)
    for gradients in GRADIENTS:
        state, weights = opt.next(state, weights, convert(gradients))
    if as_dict:
        return state, [weights["kernel"], weights["bias"]]
    return state, weights


def as_held(value):
    """A hyperparameter as the float32 state holds it, in float64 for the reference."""
    return np.float64(np.float32(value))


def keras_three_steps(keras_optimizer):
    variables = [tf.Variable(w) for w in WEIGHTS]
    for gradients in GRADIENTS:
        keras_optimizer.apply_gradients(zip([tf.constant(g) for g in gradients], variables))
    return [v.numpy() for v in variables]
