"""Tests for tffl/learning/optimizers/yogi.py: Yogi."""

import numpy as np
import pytest
import tensorflow as tf

from tests.learning.optimizers import steps
from tffl.learning.optimizers import yogi


def _reference(learning_rate, beta_1, beta_2, epsilon, initial_accumulator_value):
    """Three steps of the formula in float64."""
    learning_rate, beta_1, beta_2, epsilon = map(
        steps.as_held, (learning_rate, beta_1, beta_2, epsilon)
    )
    weights = [w.astype(np.float64) for w in steps.WEIGHTS]
    first = [np.zeros_like(w) for w in weights]
    second = [np.full_like(w, steps.as_held(initial_accumulator_value)) for w in weights]
    for t, gradients in enumerate(steps.GRADIENTS, start=1):
        rate = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate(gradients):
            first[i] = beta_1 * first[i] + (1 - beta_1) * g
            second[i] = second[i] - (1 - beta_2) * np.sign(second[i] - g**2) * g**2
            weights[i] = weights[i] - rate * first[i] / (np.sqrt(second[i]) + epsilon)
    return weights, first, second


class TestBuildYogi:
    @pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
    @pytest.mark.parametrize(
        "hparams",
        [(0.1, 0.9, 0.999, 1e-3, 1e-6), (0.5, 0.5, 0.75, 0.01, 0.05)],
        ids=["defaults", "custom"],
    )
    def test_follows_the_formula_when_stepped_three_times(self, hparams, as_dict):
        state, weights = steps.three_steps(yogi.build_yogi(*hparams), as_dict)
        expected, first, second = _reference(*hparams)
        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
        accumulator, preconditioner = state["accumulator"], state["preconditioner"]
        if as_dict:
            accumulator = [accumulator["kernel"], accumulator["bias"]]
            preconditioner = [preconditioner["kernel"], preconditioner["bias"]]
        for actual, wanted in zip(accumulator + preconditioner, first + second):
            np.testing.assert_allclose(actual, wanted, rtol=1e-5)
        assert int(state["step"]) == 3

    def test_shrinks_the_preconditioner_additively_when_gradients_are_small(self):
        opt = yogi.build_yogi(0.1, beta_2=0.5, initial_accumulator_value=1.0)
        state = opt.initialize([tf.TensorSpec([])])
        state, _ = opt.next(state, [1.0], [0.5])
        # v - (1 - beta_2) * sign(v - g**2) * g**2 = 1 - 0.5 * 0.25.
        assert float(state["preconditioner"][0]) == 0.875

    def test_holds_hparams_step_and_moments_when_initialized(self):
        opt = yogi.build_yogi(
            0.25, beta_1=0.5, beta_2=0.75, epsilon=0.125, initial_accumulator_value=0.5
        )
        state = opt.initialize(steps.SPECS)
        assert list(state) == [
            "learning_rate",
            "beta_1",
            "beta_2",
            "epsilon",
            "step",
            "accumulator",
            "preconditioner",
        ]
        assert [float(v) for v in opt.get_hparams(state).values()] == [0.25, 0.5, 0.75, 0.125]
        assert state["step"].dtype == tf.int64
        np.testing.assert_array_equal(state["accumulator"][0], np.zeros([2, 2]))
        np.testing.assert_array_equal(state["preconditioner"][1], np.full([2], 0.5))

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"learning_rate": -1.0}, "build_yogi: learning_rate must be >= 0, got -1.0"),
            (
                {"learning_rate": 0.1, "beta_1": 1.0},
                "build_yogi: beta_1 must be in [0, 1), got 1.0",
            ),
            (
                {"learning_rate": 0.1, "beta_2": 2.0},
                "build_yogi: beta_2 must be in [0, 1), got 2.0",
            ),
            (
                {"learning_rate": 0.1, "epsilon": -1.0},
                "build_yogi: epsilon must be >= 0, got -1.0",
            ),
            (
                {"learning_rate": 0.1, "initial_accumulator_value": -1.0},
                "build_yogi: initial_accumulator_value must be >= 0, got -1.0",
            ),
        ],
        ids=[
            "negative_learning_rate",
            "beta_1_of_one",
            "beta_2_above_one",
            "negative_epsilon",
            "negative_initial_value",
        ],
    )
    def test_raises_when_a_hyperparameter_is_out_of_range(self, kwargs, message):
        with pytest.raises(ValueError) as raised:
            yogi.build_yogi(**kwargs)
        assert str(raised.value) == message
