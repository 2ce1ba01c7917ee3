"""Tests for tffl/core/tensorflow_computation.py: tracing Python + TensorFlow into graphs."""

import collections
import dataclasses
import doctest
import re

import attrs
import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.core import computation_impl
from tffl.core import tensorflow_computation

BATCH_SPEC = collections.OrderedDict(x=(np.float32, [None, 784]), y=(np.int32, [None]))
BATCH_TYPE = "<x=float32[?,784],y=int32[?]>"

Point = collections.namedtuple("Point", ["x", "y"])


@attrs.define
class AttrsPoint:
    x: object
    y: object


@dataclasses.dataclass
class DataclassPoint:
    x: object
    y: object


def _graph_def(computation):
    return tf.compat.v1.GraphDef.FromString(computation.building_block.proto.graph_def)


def _sign_with_python_if(x):
    # Autograph turns this `if` on a tensor into a graph conditional.
    if x > 0:
        result = x * 2
    else:
        result = -x
    return result


def _sum_below_first(n):
    return tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + i), (0, 0))[1]


def _sum_below_second(n):
    return tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + i), (0, 0))[1]


class TestTfComputationForms:
    def test_is_typed_when_decorated_with_a_type(self):
        @tffl.tf_computation(np.float32)
        def to_celsius(f):
            return (f - 32.0) * 5.0 / 9.0

        assert isinstance(to_celsius, computation_impl.ConcreteComputation)
        assert str(to_celsius.type_signature) == "(float32 -> float32)"
        assert str(to_celsius) == "to_celsius"
        assert to_celsius.name == "to_celsius"

    def test_is_typed_when_called_with_function_and_type(self):
        def double(x):
            return x * 2

        computation = tffl.tf_computation(double, np.int32)
        assert str(computation.type_signature) == "(int32 -> int32)"

    def test_is_typed_when_decorated_through_tensorflow_alias(self):
        @tffl.tensorflow.computation(np.int32)
        def double(x):
            return x * 2

        assert tffl.tensorflow.computation is tffl.tf_computation
        assert str(double.type_signature) == "(int32 -> int32)"

    def test_takes_named_struct_when_given_several_parameter_types(self):
        @tffl.tf_computation(np.int32, np.float32)
        def scale(x, y):
            return tf.cast(x, tf.float32) * y

        assert str(scale.type_signature) == "(<x=int32,y=float32> -> float32)"

    def test_takes_no_parameter_when_function_has_none(self):
        @tffl.tf_computation
        def pair():
            return tf.constant([1, 2])

        assert isinstance(pair, computation_impl.ConcreteComputation)
        assert str(pair.type_signature) == "( -> int32[2])"

    def test_binds_self_when_function_is_a_bound_method(self):
        class Adder:
            def __init__(self, offset):
                self.offset = offset

            def add(self, x, y):
                return x + y + self.offset

        add = tffl.tf_computation(Adder(10.0).add, np.float32, np.float32)
        assert str(add.type_signature) == "(<x=float32,y=float32> -> float32)"
        assert add(1.0, 2.0) == 13.0

    def test_names_lambda_when_function_is_anonymous(self):
        computation = tffl.tf_computation(lambda x: x, np.int32)
        assert computation.name == "lambda"

    def test_keeps_docstring_when_decorated(self):
        @tffl.tf_computation(np.int32)
        def documented(x):
            """Returns x."""
            return x

        assert documented.__doc__ == "Returns x."

    def test_raises_type_error_when_type_count_does_not_fit_parameters(self):
        with pytest.raises(TypeError) as raised:
            tffl.tf_computation(lambda x: x, np.int32, np.int32)
        assert str(raised.value) == (
            "<lambda>: expected 1 parameter types for parameters ['x'], got 2"
        )

    def test_raises_type_error_when_parameter_is_federated(self):
        with pytest.raises(TypeError) as raised:
            tffl.tf_computation(lambda x: x, tffl.FederatedType(np.int32, tffl.CLIENTS))
        assert str(raised.value) == (
            "tf_computation: expected tensors, structs or sequences, got {int32}@CLIENTS "
            "(federated and function types belong in federated computations)"
        )


class TestPolymorphicTfComputation:
    def test_gives_one_signature_per_type_when_made_concrete(self):
        @tffl.tf_computation
        def add_one(x):
            return x + 1

        assert isinstance(add_one, computation_impl.PolymorphicComputation)
        assert str(add_one.concrete(np.int32).type_signature) == "(int32 -> int32)"
        assert str(add_one.concrete(np.float32).type_signature) == "(float32 -> float32)"
        assert [str(t) for t in add_one.traced_types] == ["int32", "float32"]

    def test_traces_once_when_made_concrete_twice_with_one_type(self):
        calls = []

        def add_one(x):
            calls.append(x)
            return x + 1

        polymorphic = tffl.tf_computation(add_one)
        first = polymorphic.concrete(np.int32)
        second = polymorphic.concrete(tffl.TensorType(np.int32))
        assert first is second
        assert len(calls) == 1

    def test_traces_at_expected_type_when_passed_to_federated_map(self):
        polymorphic = tffl.tf_computation(lambda x: x * 2)

        @tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
        def double_all(values):
            return tffl.federated_map(polymorphic, values)

        assert str(double_all.type_signature) == "({float32}@CLIENTS -> {float32}@CLIENTS)"
        assert [str(t) for t in polymorphic.traced_types] == ["float32"]

    def test_reprs_name_when_polymorphic(self):
        @tffl.tf_computation
        def add_one(x):
            return x + 1

        assert repr(add_one) == "<tffl polymorphic computation add_one>"
        assert add_one.name == "add_one"


class TestVariables:
    def test_traces_when_function_creates_a_variable(self):
        @tffl.tf_computation(np.float32)
        def accumulate(x):
            total = tf.Variable(1.0)
            total.assign_add(x)
            return total.read_value()

        assert str(accumulate.type_signature) == "(float32 -> float32)"

    def test_traces_when_function_trains_a_keras_layer(self):
        @tffl.tf_computation((np.float32, [1, 3]))
        def train_step(x):
            layer = tf.keras.layers.Dense(2)
            optimizer = tf.keras.optimizers.SGD(0.1)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x))
            grads = tape.gradient(loss, layer.trainable_variables)
            optimizer.apply_gradients(zip(grads, layer.trainable_variables))
            return layer.kernel.read_value()

        assert str(train_step.type_signature) == "(float32[1,3] -> float32[3,2])"

    def test_raises_tracing_error_when_function_captures_an_outside_variable(self):
        outside = tf.Variable(1.0)
        with pytest.raises(tensorflow_computation.TracingError) as raised:
            tffl.tf_computation(lambda x: x + outside, np.float32)
        assert str(raised.value) == (
            "tf_computation: the function captures a variable or resource created outside "
            "it; create variables inside the function or pass values as parameters (the "
            "graph must run on a remote worker)"
        )

    def test_folds_constant_when_function_closes_over_an_eager_tensor(self):
        offset = tf.constant(3.0)
        computation = tffl.tf_computation(lambda x: x + offset, np.float32)
        assert str(computation.type_signature) == "(float32 -> float32)"
        placeholders = [n for n in _graph_def(computation).node if n.op == "Placeholder"]
        assert len(placeholders) == 1


class TestPythonCallbacks:
    def test_raises_tracing_error_when_function_uses_py_function(self):
        def callback(x):
            return tf.py_function(lambda t: t, [x], tf.float32)

        with pytest.raises(tensorflow_computation.TracingError) as raised:
            tffl.tf_computation(callback, np.float32)
        assert str(raised.value) == (
            "tf_computation callback: uses EagerPyFunc (tf.py_function or tf.numpy_function); "
            "Python callbacks cannot be serialized, and a computation must run unchanged on "
            "a remote worker"
        )

    def test_tracing_error_is_a_value_error_when_caught_as_one(self):
        assert issubclass(tensorflow_computation.TracingError, ValueError)


class TestResults:
    def test_raises_tracing_error_when_function_returns_none(self):
        with pytest.raises(tensorflow_computation.TracingError) as raised:
            tffl.tf_computation(lambda x: None, np.int32)
        assert str(raised.value) == "tf_computation: the function returned None; return a value"

    def test_raises_tracing_error_when_function_returns_an_object(self):
        class Opaque:
            def __repr__(self):
                return "Opaque()"

        with pytest.raises(tensorflow_computation.TracingError) as raised:
            tffl.tf_computation(lambda: Opaque())
        assert str(raised.value) == (
            "tf_computation: expected the function to return tensors, datasets or containers "
            "of them, got Opaque() of type Opaque"
        )

    @pytest.mark.parametrize(
        "fn, signature",
        [
            pytest.param(lambda: 3, "( -> int32)", id="small-int-is-int32"),
            pytest.param(lambda: 2**40, "( -> int64)", id="large-int-is-int64"),
            pytest.param(lambda: 1.5, "( -> float32)", id="float"),
            pytest.param(lambda: np.float64(1.5), "( -> float64)", id="numpy-scalar"),
            pytest.param(lambda: True, "( -> bool)", id="bool"),
            pytest.param(lambda: "text", "( -> string)", id="str"),
        ],
    )
    def test_infers_result_type_when_function_returns_python_value(self, fn, signature):
        assert str(tffl.tf_computation(fn).type_signature) == signature


class TestDatasets:
    def test_takes_sequence_when_parameter_is_a_dataset_spec(self):
        @tffl.tf_computation(tf.data.DatasetSpec(tf.TensorSpec([], tf.float32)))
        def total(dataset):
            return dataset.reduce(0.0, lambda a, b: a + b)

        assert str(total.type_signature) == "(float32* -> float32)"

    def test_takes_sequence_when_parameter_is_a_sequence_type(self):
        @tffl.tf_computation(tffl.SequenceType(BATCH_SPEC))
        def count(dataset):
            return dataset.reduce(0, lambda n, batch: n + tf.size(batch["y"]))

        assert str(count.type_signature) == f"({BATCH_TYPE}* -> int32)"

    def test_receives_dataset_when_parameter_is_a_sequence(self):
        received = []

        @tffl.tf_computation(tffl.SequenceType(BATCH_SPEC))
        def passthrough(dataset):
            received.append(dataset)
            return dataset

        assert isinstance(received[0], tf.data.Dataset)
        assert str(passthrough.type_signature) == f"({BATCH_TYPE}* -> {BATCH_TYPE}*)"

    def test_returns_sequence_when_function_returns_a_dataset(self):
        @tffl.tf_computation
        def make_batches():
            return tf.data.Dataset.from_tensor_slices(
                collections.OrderedDict(x=tf.zeros([8, 784]), y=tf.zeros([8], tf.int32))
            ).batch(2)

        assert str(make_batches.type_signature) == f"( -> {BATCH_TYPE}*)"


class TestAutograph:
    def test_converts_python_if_when_condition_is_a_tensor(self):
        computation = tffl.tf_computation(_sign_with_python_if, np.int32)
        assert str(computation.type_signature) == "(int32 -> int32)"
        ops = {node.op for node in _graph_def(computation).node}
        assert "StatelessIf" in ops or "If" in ops


class TestDeterminism:
    def test_gives_identical_graph_bytes_when_same_source_is_traced_twice(self):
        first = tffl.tf_computation(_sum_below_first, np.int32)
        second = tffl.tf_computation(_sum_below_second, np.int32)
        assert first.building_block.proto.graph_def == second.building_block.proto.graph_def
        assert first.building_block.proto.parameter == second.building_block.proto.parameter
        assert first.building_block.proto.result == second.building_block.proto.result

    def test_names_library_functions_canonically_when_graph_has_a_loop(self):
        computation = tffl.tf_computation(_sum_below_first, np.int32)
        names = [f.signature.name for f in _graph_def(computation).library.function]
        assert len(names) == 2
        assert all(re.fullmatch(r"tffl_fn_[0-9a-f]{16}_[01]", name) for name in names)


def _record_container(seen):
    def fn(value):
        seen.append(type(value))
        return value

    return fn


CONTAINER_SPECS = [
    pytest.param(
        collections.OrderedDict(x=np.int32, y=np.float32),
        collections.OrderedDict,
        "<x=int32,y=float32>",
        id="ordered-dict",
    ),
    pytest.param(dict(x=np.int32, y=np.float32), dict, "<x=int32,y=float32>", id="dict"),
    pytest.param(Point(np.int32, np.float32), Point, "<x=int32,y=float32>", id="namedtuple"),
    pytest.param(AttrsPoint(np.int32, np.float32), AttrsPoint, "<x=int32,y=float32>", id="attrs"),
    pytest.param(
        DataclassPoint(np.int32, np.float32),
        DataclassPoint,
        "<x=int32,y=float32>",
        id="dataclass",
    ),
    pytest.param([np.int32, np.float32], list, "<int32,float32>", id="list"),
    pytest.param((np.int32, np.float32), tuple, "<int32,float32>", id="tuple"),
]


class TestContainers:
    @pytest.mark.parametrize("spec, container, struct", CONTAINER_SPECS)
    def test_receives_container_when_parameter_is_declared_as_one(self, spec, container, struct):
        seen = []
        tffl.tf_computation(_record_container(seen), spec)
        assert seen == [container]

    @pytest.mark.parametrize("spec, container, struct", CONTAINER_SPECS)
    def test_result_keeps_container_when_function_returns_it(self, spec, container, struct):
        computation = tffl.tf_computation(_record_container([]), spec)
        assert str(computation.type_signature) == f"({struct} -> {struct})"
        assert computation.type_signature.parameter.container is container
        assert computation.type_signature.result.container is container

    def test_spreads_struct_over_parameters_when_function_takes_several(self):
        @tffl.tf_computation(collections.OrderedDict(x=np.int32, y=np.int32))
        def add(x, y):
            return x + y

        assert str(add.type_signature) == "(<x=int32,y=int32> -> int32)"

    def test_result_is_nested_struct_when_function_returns_nested_containers(self):
        @tffl.tf_computation(np.int32)
        def nest(x):
            return collections.OrderedDict(a=x, b=[x, (x, x)])

        assert str(nest.type_signature) == "(int32 -> <a=int32,b=<int32,<int32,int32>>>)"
        assert nest.type_signature.result.container is collections.OrderedDict
        assert nest.type_signature.result.b.container is list
        assert nest.type_signature.result.b[1].container is tuple


class TestTypeToSpec:
    @pytest.mark.parametrize(
        "type_spec, expected",
        [
            pytest.param(
                tffl.TensorType(np.float32, [None, 3]),
                tf.TensorSpec([None, 3], tf.float32),
                id="tensor",
            ),
            pytest.param(
                tffl.to_type(collections.OrderedDict(a=np.int32)),
                collections.OrderedDict(a=tf.TensorSpec([], tf.int32)),
                id="struct",
            ),
            pytest.param(
                tffl.SequenceType(np.int32),
                tf.data.DatasetSpec(tf.TensorSpec([], tf.int32)),
                id="sequence",
            ),
        ],
    )
    def test_gives_tensorflow_spec_when_type_is_tensorflow_kind(self, type_spec, expected):
        assert tensorflow_computation.type_to_spec(type_spec) == expected

    def test_raises_type_error_when_type_is_a_function(self):
        with pytest.raises(TypeError) as raised:
            tensorflow_computation.type_to_spec(tffl.FunctionType(np.int32, np.int32))
        assert str(raised.value) == (
            "tf_computation: expected tensors, structs or sequences, got (int32 -> int32) "
            "(federated and function types belong in federated computations)"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        globs = {**vars(tensorflow_computation), "np": np, "collections": collections, "tffl": tffl}
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner()
        for test in finder.find(tensorflow_computation, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0


class TestVariablesAtExecution:
    def test_starts_from_fresh_variables_when_called_again(self):
        @tffl.tf_computation(np.float32)
        def accumulate(x):
            total = tf.Variable(10.0)
            total.assign_add(x)
            total.assign_add(x)
            return total.read_value()

        assert accumulate(1.0) == np.float32(12.0)
        assert accumulate(1.0) == np.float32(12.0)

    def test_trains_a_keras_layer_from_its_initial_weights_on_every_call(self):
        @tffl.tf_computation(tffl.TensorType(np.float32, [1, 2]))
        def one_step(x):
            layer = tf.keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)
            optimizer = tf.keras.optimizers.SGD(0.1)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x))
            grads = tape.gradient(loss, layer.trainable_variables)
            optimizer.apply_gradients(zip(grads, layer.trainable_variables))
            return layer.kernel.read_value()

        x = np.array([[1.0, 2.0]], np.float32)
        expected = np.array([[0.9], [0.8]], np.float32)
        np.testing.assert_allclose(one_step(x), expected, rtol=1e-6)
        np.testing.assert_allclose(one_step(x), expected, rtol=1e-6)
