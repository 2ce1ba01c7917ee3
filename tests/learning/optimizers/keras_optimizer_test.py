"""Tests for tffl/learning/optimizers/keras_optimizer.py: Keras optimizers as pure functions."""

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.learning.optimizers import keras_optimizer
from tffl.learning.optimizers import sgdm

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
WEIGHTS_TYPE = tffl.to_type([(np.float32, [2, 2]), (np.float32, [2])])

OPTIMIZER_FNS = {
    "sgd_momentum": lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
    "adam": lambda: tf.keras.optimizers.Adam(0.1),
    "legacy_sgd_momentum": lambda: tf.keras.optimizers.legacy.SGD(0.1, momentum=0.9),
    "legacy_adam": lambda: tf.keras.optimizers.legacy.Adam(0.1),
}
EXPECTED = (
    "build_optimizer: expected a tffl.learning.optimizers.Optimizer or a no-argument "
    "function returning a tf.keras.optimizers.Optimizer, got "
)


def _keras_three_steps(keras_optimizer):
    variables = [tf.Variable(w) for w in WEIGHTS]
    for gradients in GRADIENTS:
        keras_optimizer.apply_gradients(zip([tf.constant(g) for g in gradients], variables))
    return [v.numpy() for v in variables], [v.numpy() for v in _variables(keras_optimizer)]


def _variables(keras_optimizer):
    if isinstance(keras_optimizer, tf.keras.optimizers.legacy.Optimizer):
        return keras_optimizer.variables()
    return keras_optimizer.variables


class TestKerasOptimizer:
    def test_holds_the_iteration_counter_and_slots_when_initialized(self):
        opt = keras_optimizer.KerasOptimizer(OPTIMIZER_FNS["sgd_momentum"])
        state = opt.initialize(SPECS)
        assert [(value.dtype, tuple(value.shape)) for value in state] == [
            (tf.int64, ()),
            (tf.float32, (2, 2)),
            (tf.float32, (2,)),
        ]
        assert int(state[0]) == 0
        np.testing.assert_array_equal(state[1], np.zeros([2, 2]))

    def test_holds_slots_in_the_optimizer_order_when_initialized_for_adam(self):
        state = keras_optimizer.KerasOptimizer(OPTIMIZER_FNS["adam"]).initialize(SPECS)
        # Adam builds m and v for each variable in turn.
        assert [tuple(value.shape) for value in state] == [(), (2, 2), (2, 2), (2,), (2,)]

    @pytest.mark.parametrize("name", sorted(OPTIMIZER_FNS))
    def test_equals_one_keras_optimizer_when_state_is_carried_over_three_rounds(self, name):
        opt = keras_optimizer.KerasOptimizer(OPTIMIZER_FNS[name])
        state = opt.initialize(SPECS)
        weights = WEIGHTS
        for gradients in GRADIENTS:
            state, weights = opt.next(state, weights, gradients)

        expected_weights, expected_state = _keras_three_steps(OPTIMIZER_FNS[name]())
        for actual, wanted in zip(weights, expected_weights):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
        assert len(state) == len(expected_state)
        for actual, wanted in zip(state, expected_state):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
        assert int(state[0]) == 3

    @pytest.mark.parametrize("name", ["sgd_momentum", "legacy_adam"])
    def test_equals_one_keras_optimizer_when_rounds_are_tf_computations(self, name):
        opt = keras_optimizer.KerasOptimizer(OPTIMIZER_FNS[name])
        initialize = tffl.tf_computation(lambda: opt.initialize(SPECS))

        @tffl.tf_computation(initialize.type_signature.result, WEIGHTS_TYPE, WEIGHTS_TYPE)
        def step(state, weights, gradients):
            return opt.next(state, weights, gradients)

        state = initialize()
        weights = WEIGHTS
        for gradients in GRADIENTS:
            state, weights = step(state, weights, gradients)

        expected_weights, expected_state = _keras_three_steps(OPTIMIZER_FNS[name]())
        for actual, wanted in zip(weights, expected_weights):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
        for actual, wanted in zip(state, expected_state):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    def test_keeps_the_weights_structure_when_weights_are_a_dict(self):
        opt = keras_optimizer.KerasOptimizer(lambda: tf.keras.optimizers.SGD(0.5))
        specs = {"kernel": SPECS[0], "bias": SPECS[1]}
        weights = {"kernel": WEIGHTS[0], "bias": WEIGHTS[1]}
        gradients = {"kernel": GRADIENTS[0][0], "bias": GRADIENTS[0][1]}
        _, updated = opt.next(opt.initialize(specs), weights, gradients)
        assert sorted(updated) == ["bias", "kernel"]
        np.testing.assert_allclose(updated["bias"], WEIGHTS[1] - 0.5 * GRADIENTS[0][1])

    def test_raises_when_the_state_does_not_fit_the_optimizer(self):
        opt = keras_optimizer.KerasOptimizer(OPTIMIZER_FNS["sgd_momentum"])
        state = opt.initialize(SPECS)
        with pytest.raises(ValueError) as raised:
            opt.next(state[:2], WEIGHTS, GRADIENTS[0])
        assert str(raised.value) == (
            "KerasOptimizer.next: state do not match the optimizer's variables: expected "
            "[int64, float32[2,2], float32[2]], got [int64, float32[2,2]] (at state: "
            "expected 3 elements, got 2)"
        )

    def test_raises_when_the_state_is_not_a_list(self):
        opt = keras_optimizer.KerasOptimizer(OPTIMIZER_FNS["sgd_momentum"])
        with pytest.raises(ValueError) as raised:
            opt.next({"step": 0}, WEIGHTS, GRADIENTS[0])
        assert str(raised.value) == (
            "KerasOptimizer.next: expected the state to be the list of the optimizer's 3 "
            "variable values, got {'step': int}"
        )

    def test_raises_type_error_when_the_function_returns_something_else(self):
        opt = keras_optimizer.KerasOptimizer(lambda: "sgd")
        with pytest.raises(TypeError) as raised:
            opt.initialize(SPECS)
        assert str(raised.value) == (
            "KerasOptimizer.initialize: expected optimizer_fn to return a "
            "tf.keras.optimizers.Optimizer, got 'sgd' of type str"
        )

    def test_raises_type_error_when_given_a_keras_optimizer_instance(self):
        with pytest.raises(TypeError) as raised:
            keras_optimizer.KerasOptimizer(tf.keras.optimizers.SGD(0.1))
        assert str(raised.value) == (
            "KerasOptimizer: expected a no-argument function returning a "
            "tf.keras.optimizers.Optimizer, got an instance of SGD; pass a function that "
            "creates one, such as `lambda: tf.keras.optimizers.SGD(...)`"
        )

    def test_raises_naming_the_position_when_a_gradient_is_none(self):
        opt = keras_optimizer.KerasOptimizer(OPTIMIZER_FNS["sgd_momentum"])
        with pytest.raises(ValueError) as raised:
            opt.next(opt.initialize(SPECS), WEIGHTS, [None, GRADIENTS[0][1]])
        assert str(raised.value) == (
            "KerasOptimizer.next: gradients[0] is None; every weight needs a gradient tensor "
            "(zeros where the loss does not depend on it)"
        )


class TestBuildOptimizer:
    def test_returns_an_optimizer_as_is(self):
        opt = sgdm.build_sgdm(0.1)
        assert keras_optimizer.build_optimizer(opt) is opt

    def test_wraps_a_function_returning_a_keras_optimizer(self):
        opt = keras_optimizer.build_optimizer(OPTIMIZER_FNS["sgd_momentum"])
        assert isinstance(opt, keras_optimizer.KerasOptimizer)
        assert len(opt.initialize(SPECS)) == 3

    def test_wraps_a_keras_optimizer_class_since_it_is_a_no_argument_function(self):
        opt = keras_optimizer.build_optimizer(tf.keras.optimizers.SGD)
        _, weights = opt.next(opt.initialize(SPECS), WEIGHTS, GRADIENTS[0])
        np.testing.assert_allclose(weights[1], WEIGHTS[1] - np.float32(0.01) * GRADIENTS[0][1])

    @pytest.mark.parametrize(
        "value, given",
        [
            ("sgd", "'sgd' of type str"),
            (None, "None of type NoneType"),
            (0.1, "0.1 of type float"),
            (
                tf.keras.optimizers.SGD(0.1),
                "an instance of SGD; pass a function that creates one, such as "
                "`lambda: tf.keras.optimizers.SGD(...)`",
            ),
            (
                tf.keras.optimizers.legacy.Adam(0.1),
                "an instance of Adam; pass a function that creates one, such as "
                "`lambda: tf.keras.optimizers.Adam(...)`",
            ),
        ],
        ids=["string", "none", "float", "keras_instance", "legacy_keras_instance"],
    )
    def test_raises_type_error_naming_what_was_given(self, value, given):
        with pytest.raises(TypeError) as raised:
            keras_optimizer.build_optimizer(value)
        assert str(raised.value) == EXPECTED + given
