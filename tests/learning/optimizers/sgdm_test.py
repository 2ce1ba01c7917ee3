"""Tests for tffl/learning/optimizers/sgdm.py: gradient descent with (Nesterov) momentum."""

import numpy as np
import pytest
import tensorflow as tf

from tests.learning.optimizers import steps
from tffl.learning.optimizers import sgdm


def _reference(learning_rate, momentum, nesterov):
    """Three steps of the formula in float64, with the hyperparameters as float32 holds them."""
    learning_rate = np.float64(np.float32(learning_rate))
    momentum = np.float64(np.float32(momentum))
    weights = [w.astype(np.float64) for w in steps.WEIGHTS]
    accumulators = [np.zeros_like(w) for w in weights]
    for gradients in steps.GRADIENTS:
        for i, g in enumerate(gradients):
            accumulators[i] = momentum * accumulators[i] + g
            direction = g + momentum * accumulators[i] if nesterov else accumulators[i]
            weights[i] = weights[i] - learning_rate * direction
    return weights


class TestBuildSgdm:
    @pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
    @pytest.mark.parametrize(
        "momentum, nesterov",
        [(None, False), (0.0, False), (0.9, False), (0.9, True), (None, True)],
        ids=["plain", "zero_momentum", "momentum", "nesterov", "nesterov_without_momentum"],
    )
    def test_follows_the_formula_when_stepped_three_times(self, momentum, nesterov, as_dict):
        opt = sgdm.build_sgdm(0.1, momentum=momentum, nesterov=nesterov)
        _, weights = steps.three_steps(opt, as_dict)
        expected = _reference(0.1, momentum or 0.0, nesterov)
        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    @pytest.mark.parametrize(
        "momentum, nesterov",
        [(0.0, False), (0.9, False), (0.9, True)],
        ids=["plain", "momentum", "nesterov"],
    )
    def test_matches_keras_sgd_when_stepped_three_times(self, momentum, nesterov):
        opt = sgdm.build_sgdm(0.1, momentum=momentum, nesterov=nesterov)
        keras_optimizer = tf.keras.optimizers.SGD(0.1, momentum=momentum, nesterov=nesterov)
        _, weights = steps.three_steps(opt, as_dict=False)
        for actual, wanted in zip(weights, steps.keras_three_steps(keras_optimizer)):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_holds_the_velocity_in_the_accumulator_when_stepped(self):
        state, _ = steps.three_steps(sgdm.build_sgdm(0.5, momentum=0.5), as_dict=False)
        # a1 = g1, a2 = g1/2 + g2, a3 = g1/4 + g2/2 + g3.
        expected = [g1 / 4 + g2 / 2 + g3 for g1, g2, g3 in zip(*steps.GRADIENTS)]
        for actual, wanted in zip(state["accumulator"], expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_keeps_learning_rate_only_when_momentum_is_none_or_zero(self):
        for momentum in (None, 0.0):
            opt = sgdm.build_sgdm(0.25, momentum=momentum)
            state = opt.initialize(steps.SPECS)
            assert list(state) == ["learning_rate"]
            assert state["learning_rate"].dtype == tf.float32
            assert float(state["learning_rate"]) == 0.25
            assert list(opt.get_hparams(state)) == ["learning_rate"]

    def test_adds_momentum_and_zero_accumulator_when_momentum_is_set(self):
        opt = sgdm.build_sgdm(0.25, momentum=0.5)
        state = opt.initialize({"kernel": steps.SPECS[0], "bias": steps.SPECS[1]})
        assert list(state) == ["learning_rate", "momentum", "accumulator"]
        assert float(state["momentum"]) == 0.5
        assert state["accumulator"]["kernel"].shape == (2, 2)
        np.testing.assert_array_equal(state["accumulator"]["bias"], np.zeros([2], np.float32))
        assert list(opt.get_hparams(state)) == ["learning_rate", "momentum"]

    def test_uses_the_default_learning_rate_when_none_is_given(self):
        state = sgdm.build_sgdm().initialize(steps.SPECS)
        assert float(state["learning_rate"]) == np.float32(0.01)

    def test_steps_float64_weights_in_float64_when_specs_say_so(self):
        opt = sgdm.build_sgdm(0.1, momentum=0.5)
        state = opt.initialize([tf.TensorSpec([2], tf.float64)])
        state, weights = opt.next(state, [np.array([1.0, 2.0])], [np.array([1.0, 1.0])])
        assert weights[0].dtype == tf.float64
        np.testing.assert_allclose(weights[0], [1.0 - np.float32(0.1), 2.0 - np.float32(0.1)])

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"learning_rate": -0.1}, "build_sgdm: learning_rate must be >= 0, got -0.1"),
            ({"momentum": -0.5}, "build_sgdm: momentum must be in [0, 1], got -0.5"),
            ({"momentum": 1.5}, "build_sgdm: momentum must be in [0, 1], got 1.5"),
        ],
        ids=["negative_learning_rate", "negative_momentum", "momentum_above_one"],
    )
    def test_raises_when_a_hyperparameter_is_out_of_range(self, kwargs, message):
        with pytest.raises(ValueError) as raised:
            sgdm.build_sgdm(**kwargs)
        assert str(raised.value) == message

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            (
                {"learning_rate": "0.1"},
                "build_sgdm: expected learning_rate to be a float, got '0.1' of type str",
            ),
            (
                {"nesterov": 1},
                "build_sgdm: expected nesterov to be a bool, got 1 of type int",
            ),
        ],
        ids=["string_learning_rate", "int_nesterov"],
    )
    def test_raises_type_error_when_a_hyperparameter_has_the_wrong_type(self, kwargs, message):
        with pytest.raises(TypeError) as raised:
            sgdm.build_sgdm(**kwargs)
        assert str(raised.value) == message
