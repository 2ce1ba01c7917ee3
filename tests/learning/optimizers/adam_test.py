"""Tests for tffl/learning/optimizers/adam.py: Adam with bias correction."""

import numpy as np
import pytest
import tensorflow as tf

from tests.learning.optimizers import steps
from tffl.learning.optimizers import adam


def _reference(learning_rate, beta_1, beta_2, epsilon):
    """Three steps of the formula in float64."""
    learning_rate, beta_1, beta_2, epsilon = map(
        steps.as_held, (learning_rate, beta_1, beta_2, epsilon)
    )
    weights = [w.astype(np.float64) for w in steps.WEIGHTS]
    first = [np.zeros_like(w) for w in weights]
    second = [np.zeros_like(w) for w in weights]
    for t, gradients in enumerate(steps.GRADIENTS, start=1):
        rate = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate(gradients):
            first[i] = beta_1 * first[i] + (1 - beta_1) * g
            second[i] = beta_2 * second[i] + (1 - beta_2) * g**2
            weights[i] = weights[i] - rate * first[i] / (np.sqrt(second[i]) + epsilon)
    return weights, first, second


class TestBuildAdam:
    @pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
    @pytest.mark.parametrize(
        "hparams",
        [(0.1, 0.9, 0.999, 1e-7), (0.5, 0.5, 0.75, 0.01)],
        ids=["defaults", "custom"],
    )
    def test_follows_the_formula_when_stepped_three_times(self, hparams, as_dict):
        state, weights = steps.three_steps(adam.build_adam(*hparams), as_dict)
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

    def test_matches_keras_adam_when_stepped_three_times(self):
        # float32 holds beta_2 = 0.999 as 0.99900001, so 1 - beta_2 differs from Keras's
        # (computed from the Python float) by 1.3e-5 relative; with Keras's default
        # learning rate that stays below 1e-6 of the weights.
        _, weights = steps.three_steps(adam.build_adam(), as_dict=False)
        expected = steps.keras_three_steps(tf.keras.optimizers.Adam())
        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_holds_hparams_step_and_zero_moments_when_initialized(self):
        opt = adam.build_adam(0.25, beta_1=0.5, beta_2=0.75, epsilon=0.125)
        state = opt.initialize(steps.to_dict(steps.SPECS))
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
        assert int(state["step"]) == 0
        for key in ("accumulator", "preconditioner"):
            assert state[key]["kernel"].shape == (2, 2)
            np.testing.assert_array_equal(state[key]["bias"], np.zeros([2], np.float32))

    def test_uses_keras_defaults_when_no_hparams_are_given(self):
        hparams = adam.build_adam().get_hparams(adam.build_adam().initialize(steps.SPECS))
        assert [float(v) for v in hparams.values()] == [
            np.float32(0.001),
            np.float32(0.9),
            np.float32(0.999),
            np.float32(1e-7),
        ]

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"learning_rate": -1.0}, "build_adam: learning_rate must be >= 0, got -1.0"),
            ({"beta_1": 1.0}, "build_adam: beta_1 must be in [0, 1), got 1.0"),
            ({"beta_2": -0.1}, "build_adam: beta_2 must be in [0, 1), got -0.1"),
            ({"epsilon": -1e-7}, "build_adam: epsilon must be >= 0, got -1e-07"),
        ],
        ids=["negative_learning_rate", "beta_1_of_one", "negative_beta_2", "negative_epsilon"],
    )
    def test_raises_when_a_hyperparameter_is_out_of_range(self, kwargs, message):
        with pytest.raises(ValueError) as raised:
            adam.build_adam(**kwargs)
        assert str(raised.value) == message

    def test_raises_type_error_when_a_hyperparameter_is_not_a_number(self):
        with pytest.raises(TypeError) as raised:
            adam.build_adam(beta_1=None)
        assert str(raised.value) == (
            "build_adam: expected beta_1 to be a float, got None of type NoneType"
        )


def _reference_adamw(learning_rate, beta_1, beta_2, epsilon, weight_decay):
    """Three AdamW steps in float64: Adam's step plus `lr * weight_decay * w`."""
    learning_rate, beta_1, beta_2, epsilon, weight_decay = map(
        steps.as_held, (learning_rate, beta_1, beta_2, epsilon, weight_decay)
    )
    weights = [w.astype(np.float64) for w in steps.WEIGHTS]
    first = [np.zeros_like(w) for w in weights]
    second = [np.zeros_like(w) for w in weights]
    for t, gradients in enumerate(steps.GRADIENTS, start=1):
        rate = np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate(gradients):
            first[i] = beta_1 * first[i] + (1 - beta_1) * g
            second[i] = beta_2 * second[i] + (1 - beta_2) * g**2
            adam_step = rate * first[i] / (np.sqrt(second[i]) + epsilon)
            weights[i] = weights[i] - learning_rate * (adam_step + weight_decay * weights[i])
    return weights


class TestBuildAdamW:
    @pytest.mark.parametrize(
        "hparams",
        [(0.1, 0.9, 0.999, 1e-7, 0.004), (0.5, 0.5, 0.75, 0.01, 0.25)],
        ids=["defaults", "custom"],
    )
    def test_follows_the_formula_when_stepped_three_times(self, hparams):
        state, weights = steps.three_steps(adam.build_adamw(*hparams), as_dict=True)
        for actual, wanted in zip(weights, _reference_adamw(*hparams)):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
        assert int(state["step"]) == 3

    def test_matches_keras_adamw_when_stepped_three_times(self):
        _, weights = steps.three_steps(adam.build_adamw(weight_decay=0.004), as_dict=False)
        expected = steps.keras_three_steps(tf.keras.optimizers.AdamW(weight_decay=0.004))
        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_is_adam_when_weight_decay_is_zero(self):
        _, adamw_weights = steps.three_steps(adam.build_adamw(0.1, weight_decay=0.0), False)
        _, adam_weights = steps.three_steps(adam.build_adam(0.1), False)
        for actual, wanted in zip(adamw_weights, adam_weights):
            np.testing.assert_array_equal(actual, wanted)

    def test_holds_weight_decay_among_its_hparams(self):
        opt = adam.build_adamw(0.25, weight_decay=0.125)
        state = opt.initialize(steps.SPECS)
        assert list(opt.get_hparams(state)) == [
            "learning_rate",
            "beta_1",
            "beta_2",
            "epsilon",
            "weight_decay",
        ]
        state = opt.set_hparams(state, {"weight_decay": 0.5})
        assert float(opt.get_hparams(state)["weight_decay"]) == 0.5

    def test_raises_when_weight_decay_is_negative(self):
        with pytest.raises(ValueError) as raised:
            adam.build_adamw(weight_decay=-0.1)
        assert str(raised.value) == "build_adamw: weight_decay must be >= 0, got -0.1"
