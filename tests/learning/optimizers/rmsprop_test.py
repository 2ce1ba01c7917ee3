"""Tests for tffl/learning/optimizers/rmsprop.py: RMSprop."""

import numpy as np
import pytest
import tensorflow as tf

from tests.learning.optimizers import steps
from tffl.learning.optimizers import rmsprop


def _reference(learning_rate, decay, epsilon):
    """Three steps of the formula in float64."""
    learning_rate, decay, epsilon = map(steps.as_held, (learning_rate, decay, epsilon))
    weights = [w.astype(np.float64) for w in steps.WEIGHTS]
    preconditioner = [np.zeros_like(w) for w in weights]
    for gradients in steps.GRADIENTS:
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
        state, weights = steps.three_steps(rmsprop.build_rmsprop(*hparams), as_dict)
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
        _, weights = steps.three_steps(opt, as_dict=False)
        for actual, wanted in zip(weights, steps.keras_three_steps(keras_optimizer)):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_holds_hparams_and_zero_preconditioner_when_initialized(self):
        opt = rmsprop.build_rmsprop(0.25, decay=0.5, epsilon=0.125)
        state = opt.initialize(steps.to_dict(steps.SPECS))
        assert list(state) == ["learning_rate", "decay", "epsilon", "preconditioner"]
        assert [float(v) for v in opt.get_hparams(state).values()] == [0.25, 0.5, 0.125]
        assert state["preconditioner"]["kernel"].shape == (2, 2)
        np.testing.assert_array_equal(state["preconditioner"]["bias"], np.zeros([2]))

    def test_uses_the_defaults_when_no_hparams_are_given(self):
        opt = rmsprop.build_rmsprop()
        hparams = opt.get_hparams(opt.initialize(steps.SPECS))
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
