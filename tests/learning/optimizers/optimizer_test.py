"""Tests for tffl/learning/optimizers/optimizer.py: the interface and its shared checks."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.learning import optimizers
from tffl.learning.optimizers import optimizer

Point = collections.namedtuple("Point", ["x", "y"])

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

BUILDERS = {
    "sgd": lambda: optimizers.build_sgdm(0.1),
    "sgdm": lambda: optimizers.build_sgdm(0.1, momentum=0.9),
    "nesterov": lambda: optimizers.build_sgdm(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.build_adam(0.1),
    "adagrad": lambda: optimizers.build_adagrad(0.1),
    "rmsprop": lambda: optimizers.build_rmsprop(0.1),
    "yogi": lambda: optimizers.build_yogi(0.1),
}
CONTEXTS = {
    "sgd": "sgdm",
    "sgdm": "sgdm",
    "nesterov": "sgdm",
    "adam": "adam",
    "adagrad": "adagrad",
    "rmsprop": "rmsprop",
    "yogi": "yogi",
}


def _three_eager_steps(opt):
    state = opt.initialize(SPECS)
    weights = WEIGHTS
    for gradients in GRADIENTS:
        state, weights = opt.next(state, weights, gradients)
    return state, [np.asarray(w) for w in weights]


class TestOptimizerInterface:
    def test_refuses_instantiation_when_methods_are_abstract(self):
        with pytest.raises(TypeError):
            optimizer.Optimizer()

    def test_raises_when_hparams_are_not_exposed(self):
        class Identity(optimizer.Optimizer):
            def initialize(self, specs):
                return ()

            def next(self, state, weights, gradients):
                return state, weights

        with pytest.raises(NotImplementedError) as raised:
            Identity().get_hparams(())
        assert str(raised.value) == "Identity does not expose hyperparameters"
        with pytest.raises(NotImplementedError) as raised:
            Identity().set_hparams((), {})
        assert str(raised.value) == "Identity does not expose hyperparameters"


class TestCheckHparam:
    @pytest.mark.parametrize(
        "value, upper, inclusive, expected",
        [
            (0.0, None, False, 0.0),
            (3, None, False, 3.0),
            (np.float32(0.5), 1.0, False, 0.5),
            (1.0, 1.0, True, 1.0),
        ],
        ids=["zero", "int", "numpy_float", "upper_inclusive"],
    )
    def test_returns_float_when_in_range(self, value, upper, inclusive, expected):
        result = optimizer.check_hparam(value, "x", "ctx", upper=upper, upper_inclusive=inclusive)
        assert result == expected
        assert type(result) is float

    @pytest.mark.parametrize(
        "value, upper, inclusive, message",
        [
            (-0.1, None, False, "ctx: x must be >= 0, got -0.1"),
            (float("inf"), None, False, "ctx: x must be >= 0, got inf"),
            (float("nan"), None, False, "ctx: x must be >= 0, got nan"),
            (1.0, 1.0, False, "ctx: x must be in [0, 1), got 1.0"),
            (1.5, 1.0, True, "ctx: x must be in [0, 1], got 1.5"),
        ],
        ids=["negative", "infinite", "nan", "at_open_upper", "above_closed_upper"],
    )
    def test_raises_when_out_of_range(self, value, upper, inclusive, message):
        with pytest.raises(ValueError) as raised:
            optimizer.check_hparam(value, "x", "ctx", upper=upper, upper_inclusive=inclusive)
        assert str(raised.value) == message

    @pytest.mark.parametrize("value", ["0.1", True, None], ids=["str", "bool", "none"])
    def test_raises_type_error_when_not_a_real_number(self, value):
        with pytest.raises(TypeError) as raised:
            optimizer.check_hparam(value, "x", "ctx")
        assert str(raised.value) == (
            f"ctx: expected x to be a float, got {value!r} of type {type(value).__name__}"
        )


class TestDescribeStructure:
    @pytest.mark.parametrize(
        "structure, expected",
        [
            (SPECS, "[float32[2,2], float32[2]]"),
            ((tf.zeros([3]),), "(float32[3],)"),
            (collections.OrderedDict(b=tf.constant(1, tf.int64)), "{'b': int64}"),
            (Point(x=np.zeros([2], np.float64), y=None), "Point(x=float64[2], y=None)"),
            ([tf.TensorSpec([None, 3])], "[float32[?,3]]"),
            ([1.5, "a"], "[float, str]"),
        ],
        ids=["list", "tuple", "ordered_dict", "namedtuple", "unknown_dim", "python_values"],
    )
    def test_describes_containers_and_tensors(self, structure, expected):
        assert optimizer.describe_structure(structure) == expected


class TestCheckStructureMatch:
    def _check(self, expected, actual):
        optimizer.check_structure_match(
            expected, actual, context="ctx", expected_name="weights", actual_name="gradients"
        )

    def test_passes_when_containers_differ_only_in_kind(self):
        self._check([tf.zeros([2])], (tf.ones([2]),))
        self._check({"a": tf.zeros([])}, collections.OrderedDict(a=tf.zeros([])))
        self._check(Point(tf.zeros([]), tf.zeros([])), (tf.zeros([]), tf.zeros([])))

    def test_passes_when_shapes_are_compatible(self):
        self._check([tf.TensorSpec([None, 2])], [tf.zeros([3, 2])])

    @pytest.mark.parametrize(
        "expected, actual, message",
        [
            (
                [tf.zeros([2]), tf.zeros([3])],
                [tf.zeros([2])],
                "ctx: gradients do not match the weights: expected [float32[2], float32[3]], "
                "got [float32[2]] (at gradients: expected 2 elements, got 1)",
            ),
            (
                {"kernel": tf.zeros([2]), "bias": tf.zeros([])},
                {"kernel": tf.zeros([2]), "b": tf.zeros([])},
                "ctx: gradients do not match the weights: expected {'kernel': float32[2], "
                "'bias': float32}, got {'kernel': float32[2], 'b': float32} (at gradients: "
                "expected keys ['kernel', 'bias'], got keys ['kernel', 'b'])",
            ),
            (
                [tf.zeros([2, 2])],
                [tf.zeros([2])],
                "ctx: gradients do not match the weights: expected [float32[2,2]], got "
                "[float32[2]] (at gradients[0]: expected float32[2,2], got float32[2])",
            ),
            (
                {"w": [tf.zeros([2])]},
                {"w": [tf.zeros([2], tf.float64)]},
                "ctx: gradients do not match the weights: expected {'w': [float32[2]]}, got "
                "{'w': [float64[2]]} (at gradients['w'][0]: expected float32[2], got "
                "float64[2])",
            ),
            (
                [tf.zeros([2])],
                {"a": tf.zeros([2])},
                "ctx: gradients do not match the weights: expected [float32[2]], got "
                "{'a': float32[2]} (at gradients: expected a sequence, got {'a': float32[2]})",
            ),
            (
                Point(tf.zeros([]), tf.zeros([])),
                Point(tf.zeros([]), [tf.zeros([])]),
                "ctx: gradients do not match the weights: expected Point(x=float32, "
                "y=float32), got Point(x=float32, y=[float32]) (at gradients.y: expected a "
                "float32 tensor, got [float32])",
            ),
            (
                [tf.zeros([])],
                [0.5],
                "ctx: gradients do not match the weights: expected [float32], got [float] "
                "(at gradients[0]: expected a float32 tensor, got 0.5)",
            ),
        ],
        ids=[
            "length",
            "keys",
            "shape",
            "dtype",
            "mapping_for_sequence",
            "container_for_leaf",
            "python_leaf",
        ],
    )
    def test_raises_naming_both_structures_when_they_differ(self, expected, actual, message):
        with pytest.raises(ValueError) as raised:
            self._check(expected, actual)
        assert str(raised.value) == message


class TestCheckSpecs:
    def test_raises_type_error_when_a_leaf_is_not_a_spec(self):
        with pytest.raises(TypeError) as raised:
            optimizer.check_specs({"w": tf.zeros([2])}, "ctx")
        assert str(raised.value).startswith(
            "ctx: expected specs to be a structure of tf.TensorSpec, got {'w': float32[2]} "
            "(specs['w'] is <tf.Tensor"
        )

    def test_raises_when_a_shape_is_not_fully_defined(self):
        with pytest.raises(ValueError) as raised:
            optimizer.check_specs([tf.TensorSpec([None, 2])], "ctx")
        assert str(raised.value) == (
            "ctx: specs[0] is float32[?,2], expected a fully defined shape"
        )


class TestPrepareStep:
    def test_converts_numpy_and_python_values_to_tensors(self):
        weights, gradients = optimizer.prepare_step([np.zeros([], np.float32)], (1.5,), "ctx")
        assert isinstance(weights[0], tf.Tensor)
        assert isinstance(gradients, tuple)
        assert gradients[0].dtype == tf.float32

    def test_raises_naming_the_position_when_a_gradient_is_none(self):
        with pytest.raises(ValueError) as raised:
            optimizer.prepare_step({"a": [tf.zeros([]), tf.zeros([])]}, {"a": [None, 1.0]}, "ctx")
        assert str(raised.value) == (
            "ctx: gradients['a'][0] is None; every weight needs a gradient tensor (zeros "
            "where the loss does not depend on it)"
        )

    def test_raises_naming_the_position_when_a_weight_is_none(self):
        with pytest.raises(ValueError) as raised:
            optimizer.prepare_step([None], [1.0], "ctx")
        assert str(raised.value) == "ctx: weights[0] is None; expected a tensor"


class TestMapLeaves:
    def test_keeps_the_container_of_the_first_structure(self):
        result = optimizer.map_leaves(lambda a, b: a + b, (1.0, 2.0), [10.0, 20.0])
        assert result == (11.0, 22.0)

    def test_returns_one_structure_per_output_when_given_num_outputs(self):
        first, second = optimizer.map_leaves(
            lambda x: (x, 2 * x), {"b": 1.0, "a": 3.0}, num_outputs=2
        )
        assert first == {"a": 3.0, "b": 1.0}
        assert second == {"a": 6.0, "b": 2.0}

    def test_returns_empty_structures_when_there_are_no_leaves(self):
        assert optimizer.map_leaves(lambda x: (x, x), [], num_outputs=2) == ([], [])


class TestHparamHelpers:
    def test_replaces_only_given_hparams_when_set(self):
        state = collections.OrderedDict(
            learning_rate=tf.constant(0.1), momentum=tf.constant(0.9), accumulator=[1.0]
        )
        updated = optimizer.replace_hparams(
            state, {"momentum": 0.5}, ["learning_rate", "momentum"], "sgdm"
        )
        assert list(updated) == ["learning_rate", "momentum", "accumulator"]
        assert updated["momentum"].dtype == tf.float32
        assert float(updated["momentum"]) == 0.5
        assert updated["learning_rate"] is state["learning_rate"]
        assert float(state["momentum"]) == np.float32(0.9)

    def test_raises_type_error_when_hparams_are_not_a_mapping(self):
        with pytest.raises(TypeError) as raised:
            optimizer.replace_hparams({}, [0.1], ["learning_rate"], "sgdm")
        assert str(raised.value) == (
            "sgdm.set_hparams: expected a mapping of hyperparameters, got [0.1] of type list"
        )

    def test_raises_when_state_is_not_a_mapping(self):
        with pytest.raises(ValueError) as raised:
            optimizer.check_state_keys([tf.zeros([])], ["learning_rate"], "sgdm.next")
        assert str(raised.value) == (
            "sgdm.next: expected a state with keys ['learning_rate'], got [float32]"
        )


class TestEveryOptimizer:
    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_matches_eager_numbers_when_stepped_inside_tf_function(self, name):
        opt = BUILDERS[name]()
        _, expected = _three_eager_steps(opt)

        @tf.function
        def three_steps(weights, gradients):
            state = opt.initialize(SPECS)
            for step_gradients in gradients:
                state, weights = opt.next(state, weights, step_gradients)
            return weights

        weights = three_steps(WEIGHTS, GRADIENTS)
        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_matches_eager_numbers_when_state_is_carried_between_tf_computations(self, name):
        opt = BUILDERS[name]()
        expected_state, expected = _three_eager_steps(opt)
        initialize = tffl.tf_computation(lambda: opt.initialize(SPECS))
        state_type = initialize.type_signature.result

        @tffl.tf_computation(state_type, WEIGHTS_TYPE, WEIGHTS_TYPE)
        def step(state, weights, gradients):
            return opt.next(state, weights, gradients)

        state = initialize()
        weights = WEIGHTS
        for gradients in GRADIENTS:
            state, weights = step(state, weights, gradients)

        for actual, wanted in zip(weights, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)
        assert list(state) == list(expected_state)
        for actual, wanted in zip(tf.nest.flatten(state), tf.nest.flatten(expected_state)):
            np.testing.assert_allclose(actual, wanted, rtol=1e-6)

    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_raises_naming_the_position_when_a_gradient_is_none(self, name):
        opt = BUILDERS[name]()
        with pytest.raises(ValueError) as raised:
            opt.next(opt.initialize(SPECS), WEIGHTS, [GRADIENTS[0][0], None])
        assert str(raised.value) == (
            f"{CONTEXTS[name]}.next: gradients[1] is None; every weight needs a gradient "
            "tensor (zeros where the loss does not depend on it)"
        )

    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_raises_naming_both_structures_when_gradients_do_not_match(self, name):
        opt = BUILDERS[name]()
        with pytest.raises(ValueError) as raised:
            opt.next(opt.initialize(SPECS), WEIGHTS, [GRADIENTS[0][0]])
        assert str(raised.value) == (
            f"{CONTEXTS[name]}.next: gradients do not match the weights: expected "
            "[float32[2,2], float32[2]], got [float32[2,2]] (at gradients: expected 2 "
            "elements, got 1)"
        )

    @pytest.mark.parametrize("name", sorted(set(BUILDERS) - {"sgd"}))
    def test_raises_when_state_was_initialized_for_other_weights(self, name):
        opt = BUILDERS[name]()
        state = opt.initialize([tf.TensorSpec([2, 2]), tf.TensorSpec([3])])
        key = "accumulator" if "accumulator" in state else "preconditioner"
        with pytest.raises(ValueError) as raised:
            opt.next(state, WEIGHTS, GRADIENTS[0])
        assert str(raised.value) == (
            f"{CONTEXTS[name]}.next: state['{key}'] do not match the weights: expected "
            f"[float32[2,2], float32[2]], got [float32[2,2], float32[3]] (at "
            f"state['{key}'][1]: expected float32[2], got float32[3]); was the state "
            "initialized with specs of other weights?"
        )

    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_raises_type_error_when_specs_are_not_tensor_specs(self, name):
        with pytest.raises(TypeError) as raised:
            BUILDERS[name]().initialize([(np.float32, [2])])
        assert str(raised.value).startswith(
            f"{CONTEXTS[name]}.initialize: expected specs to be a structure of tf.TensorSpec"
        )

    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_holds_hparams_as_float32_scalars_when_initialized(self, name):
        opt = BUILDERS[name]()
        hparams = opt.get_hparams(opt.initialize(SPECS))
        assert list(hparams)[0] == "learning_rate"
        for value in hparams.values():
            assert value.dtype == tf.float32
            assert value.shape == ()
        assert float(hparams["learning_rate"]) == np.float32(0.1)

    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_steps_with_the_new_learning_rate_when_set(self, name):
        opt = BUILDERS[name]()
        state = opt.initialize(SPECS)
        zero_rate = opt.set_hparams(state, {"learning_rate": 0.0})
        _, weights = opt.next(zero_rate, WEIGHTS, GRADIENTS[0])
        for actual, wanted in zip(weights, WEIGHTS):
            np.testing.assert_array_equal(actual, wanted)

    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_raises_key_error_when_setting_an_unknown_hparam(self, name):
        opt = BUILDERS[name]()
        state = opt.initialize(SPECS)
        with pytest.raises(KeyError) as raised:
            opt.set_hparams(state, {"rho": 0.5})
        keys = list(opt.get_hparams(state))
        assert raised.value.args[0] == (
            f"{CONTEXTS[name]}.set_hparams: unknown hyperparameters ['rho'], expected some "
            f"of {keys}"
        )

    @pytest.mark.parametrize("name", sorted(BUILDERS))
    def test_keeps_the_weights_container_when_containers_differ(self, name):
        opt = BUILDERS[name]()
        state = opt.initialize({"b": SPECS[1], "w": SPECS[0]})
        gradients = collections.OrderedDict(w=GRADIENTS[0][0], b=GRADIENTS[0][1])
        _, weights = opt.next(state, {"w": WEIGHTS[0], "b": WEIGHTS[1]}, gradients)
        assert type(weights) is dict
        assert weights["w"].shape == (2, 2)
