"""Tests for tffl/learning/optimizers/rmsprop.py: RMSprop."""

import numpy as np
import pytest
import tensorflow as tf

from tffl.learning.optimizers import rmsprop

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


def _as_dict(pair):
    return {"kernel": pair[0], "bias": pair[1]}


def _three_steps(opt, as_dict):
    convert = _as_dict if as_dict else list
    state = opt.initialize(convert(SPECS))
    weights = convert(WEIGHTS)
    for gradients in GRADIENTS:
        state, weights = opt.next(state, weights, convert(gradients))
    if as_dict:
        return state, [weights["kernel"], weights["bias"]]
    return state, weights


def _as_held(value):
    """A hyperparameter as the float32 state holds it, in float64 for the reference."""
    return np.float64(np.float32(value))


def _keras_three_steps(keras_optimizer):
    variables = [tf.Variable(w) for w in WEIGHTS]
    for gradients in GRADIENTS:
        keras_optimizer.apply_gradients(zip([tf.constant(g) for g in gradients], variables))
    return [v.numpy() for v in variables]


def _reference(learning_rate, decay, epsilon):
    """Three steps of the formula in float64."""
    learning_rate, decay, epsilon = map(_as_held, (learning_rate, decay, epsilon))
    weights = [w.astype(np.float64) for w in WEIGHTS]
    preconditioner = [np.zeros_like(w) for w in weights]
    for gradients in GRADIENTS:
        for i, g in enumerate(gradients):
            preconditioner[i] = decay * preconditioner[i] + (1 - decay) * g**2
            weights[i] = weights[i] - learning_rate * g / np.sqrt(preconditioner[i] + epsilon)
    return weights, preconditioner


class TestBuildRmsprop:
    @pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
    @pytest.mark.parametrize(
        "hparams", [(0.01, 0.9, 1e-7), (0.5, 0.5, 0.01)], ids=["defaults", "custom"]
    )
    def test_follows_the_formula_when_stepped_three_times(self, hparams, as_dict):
        state, weights = _three_steps(rmsprop.build_rmsprop(*hparams), as_dict)
        expected, preconditioner = _reference(*hparams)
        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
        held = state["preconditioner"]
        if as_dict:
            held = [held["kernel"], held["bias"]]
        for actual, wanted in zip(held, preconditioner):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    @pytest.mark.parametrize(
        "learning_rate, decay, epsilon",
        [(0.01, 0.9, 1e-7), (0.1, 0.5, 0.01)],
        ids=["defaults", "custom"],
    )
    def test_matches_keras_rmsprop_when_stepped_three_times(self, learning_rate, decay, epsilon):
        opt = rmsprop.build_rmsprop(learning_rate, decay=decay, epsilon=epsilon)
        keras_optimizer = tf.keras.optimizers.RMSprop(learning_rate, rho=decay, epsilon=epsilon)
        _, weights = _three_steps(opt, as_dict=False)
        for actual, wanted in zip(weights, _keras_three_steps(keras_optimizer)):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_holds_hparams_and_zero_preconditioner_when_initialized(self):
        opt = rmsprop.build_rmsprop(0.25, decay=0.5, epsilon=0.125)
        state = opt.initialize(_as_dict(SPECS))
        assert list(state) == ["learning_rate", "decay", "epsilon", "preconditioner"]
        assert [float(v) for v in opt.get_hparams(state).values()] == [0.25, 0.5, 0.125]
        assert state["preconditioner"]["kernel"].shape == (2, 2)
        np.testing.assert_array_equal(state["preconditioner"]["bias"], np.zeros([2]))

    def test_uses_the_defaults_when_no_hparams_are_given(self):
        opt = rmsprop.build_rmsprop()
        hparams = opt.get_hparams(opt.initialize(SPECS))
        assert [float(v) for v in hparams.values()] == [
            np.float32(0.01),
            np.float32(0.9),
            np.float32(1e-7),
        ]

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"learning_rate": -1.0}, "build_rmsprop: learning_rate must be >= 0, got -1.0"),
            ({"decay": 1.0}, "build_rmsprop: decay must be in [0, 1), got 1.0"),
            ({"epsilon": -1.0}, "build_rmsprop: epsilon must be >= 0, got -1.0"),
        ],
        ids=["negative_learning_rate", "decay_of_one", "negative_epsilon"],
    )
    def test_raises_when_a_hyperparameter_is_out_of_range(self, kwargs, message):
        with pytest.raises(ValueError) as raised:
            rmsprop.build_rmsprop(**kwargs)
        assert str(raised.value) == message
