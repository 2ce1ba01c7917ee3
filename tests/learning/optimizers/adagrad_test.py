"""Tests for tffl/learning/optimizers/adagrad.py: Adagrad."""

import numpy as np
import pytest
import tensorflow as tf

from tests.learning.optimizers import steps
from tffl.learning.optimizers import adagrad


def _reference(learning_rate, initial_accumulator_value, epsilon):
    """Three steps of the formula in float64."""
    learning_rate, epsilon = steps.as_held(learning_rate), steps.as_held(epsilon)
    weights = [w.astype(np.float64) for w in steps.WEIGHTS]
    preconditioner = [np.full_like(w, steps.as_held(initial_accumulator_value)) for w in weights]
    for gradients in steps.GRADIENTS:
        for i, g in enumerate(gradients):
            preconditioner[i] = preconditioner[i] + g**2
            weights[i] = weights[i] - learning_rate * g / np.sqrt(preconditioner[i] + epsilon)
    return weights, preconditioner


class TestBuildAdagrad:
    @pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
    @pytest.mark.parametrize(
        "hparams", [(0.1, 0.1, 1e-7), (0.5, 0.0, 0.01)], ids=["defaults", "custom"]
    )
    def test_follows_the_formula_when_stepped_three_times(self, hparams, as_dict):
        state, weights = steps.three_steps(adagrad.build_adagrad(*hparams), as_dict)
        expected, preconditioner = _reference(*hparams)
        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
        held = state["preconditioner"]
        if as_dict:
            held = [held["kernel"], held["bias"]]
        for actual, wanted in zip(held, preconditioner):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_matches_keras_adagrad_when_stepped_three_times(self):
        _, weights = steps.three_steps(adagrad.build_adagrad(0.1), as_dict=False)
        expected = steps.keras_three_steps(tf.keras.optimizers.Adagrad(0.1))
        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_fills_the_preconditioner_when_initialized(self):
        opt = adagrad.build_adagrad(0.25, initial_accumulator_value=0.5, epsilon=0.125)
        state = opt.initialize(steps.SPECS)
        assert list(state) == ["learning_rate", "epsilon", "preconditioner"]
        assert [float(v) for v in opt.get_hparams(state).values()] == [0.25, 0.125]
        np.testing.assert_array_equal(state["preconditioner"][0], np.full([2, 2], 0.5))
        np.testing.assert_array_equal(state["preconditioner"][1], np.full([2], 0.5))

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"learning_rate": -1.0}, "build_adagrad: learning_rate must be >= 0, got -1.0"),
            (
                {"learning_rate": 0.1, "initial_accumulator_value": -0.1},
                "build_adagrad: initial_accumulator_value must be >= 0, got -0.1",
            ),
            (
                {"learning_rate": 0.1, "epsilon": -1.0},
                "build_adagrad: epsilon must be >= 0, got -1.0",
            ),
        ],
        ids=["negative_learning_rate", "negative_initial_value", "negative_epsilon"],
    )
    def test_raises_when_a_hyperparameter_is_out_of_range(self, kwargs, message):
        with pytest.raises(ValueError) as raised:
            adagrad.build_adagrad(**kwargs)
        assert str(raised.value) == message
