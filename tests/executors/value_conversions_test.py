"""Tests for tffl.executors.value_conversions."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from tffl.executors import value_conversions
from tffl.types import computation_types
from tffl.types import type_errors

Point = collections.namedtuple("Point", ["x", "y"])


class _Opaque:
    def __repr__(self):
        return "<opaque>"


def _tensor(dtype, shape=()):
    return computation_types.TensorType(dtype, shape)


def _sequence(element):
    return computation_types.SequenceType(element)


POINT_TYPE = computation_types.to_type(Point(np.int32, (np.float32, [2])))
RECORD_TYPE = computation_types.to_type(collections.OrderedDict(x=(np.float32, [2]), y=np.int32))


class TestToTensor:
    @pytest.mark.parametrize(
        "value, type_spec, expected",
        [
            pytest.param(1.5, _tensor(np.float32), np.float32(1.5), id="float_to_float32"),
            pytest.param(3, _tensor(np.float32), np.float32(3.0), id="int_to_float32"),
            pytest.param(3, _tensor(np.int64), np.int64(3), id="int_to_int64"),
            pytest.param(np.float64(0.25), _tensor(np.float32), np.float32(0.25), id="f64_to_f32"),
            pytest.param(np.uint8(7), _tensor(np.int32), np.int32(7), id="uint8_to_int32"),
            pytest.param(2**31 - 1, _tensor(np.int32), np.int32(2**31 - 1), id="int32_max"),
            pytest.param(True, _tensor(np.bool_), np.bool_(True), id="bool"),
            pytest.param("abc", _tensor(tf.string), b"abc", id="string"),
            pytest.param(
                [1.0, 2.0, 3.0],
                _tensor(np.float32, [3]),
                np.array([1.0, 2.0, 3.0], np.float32),
                id="list_to_vector",
            ),
            pytest.param(
                [[1, 2]],
                _tensor(np.int32, [None, 2]),
                np.array([[1, 2]], np.int32),
                id="unknown_dim",
            ),
            pytest.param([], _tensor(np.int32, [None]), np.zeros([0], np.int32), id="empty_list"),
            pytest.param(
                tf.constant([4, 5]),
                _tensor(np.int32, [2]),
                np.array([4, 5], np.int32),
                id="tf_tensor",
            ),
            pytest.param(
                np.array([[1.5, -0.0]], np.float32),
                _tensor(np.float32, [None, 2]),
                np.array([[1.5, -0.0]], np.float32),
                id="array_of_the_declared_dtype",
            ),
            pytest.param(
                np.array([7, 8], np.int32),
                _tensor(np.int32, None),
                np.array([7, 8], np.int32),
                id="array_any_shape",
            ),
            pytest.param(np.float32(0.1), _tensor(np.float32), np.float32(0.1), id="f32_scalar"),
            pytest.param(np.int64(-4), _tensor(np.int64), np.int64(-4), id="i64_scalar"),
            pytest.param(
                np.float32(2.5), _tensor(np.float32, None), np.float32(2.5), id="scalar_any_shape"
            ),
        ],
    )
    def test_converts_to_declared_dtype_when_value_fits(self, value, type_spec, expected):
        tensor = value_conversions.to_tensor(value, type_spec)

        assert isinstance(tensor, tf.Tensor)
        assert tensor.dtype == type_spec.dtype
        np.testing.assert_array_equal(tensor.numpy(), expected)

    @pytest.mark.parametrize(
        "value, type_spec, message",
        [
            pytest.param(
                "hello", _tensor(np.float32), "argument: expected float32, got string", id="str"
            ),
            pytest.param(
                1.5, _tensor(np.int32), "argument: expected int32, got float32", id="float_to_int"
            ),
            pytest.param(
                True, _tensor(np.float32), "argument: expected float32, got bool", id="bool"
            ),
            pytest.param(
                tf.constant(3),
                _tensor(np.float32),
                "argument: expected float32, got int32",
                id="tf_tensor_other_dtype",
            ),
            pytest.param(
                [1.0, 2.0],
                _tensor(np.float32, [3]),
                "argument: expected float32[3], got float32[2]",
                id="shape",
            ),
            pytest.param(
                [[1.0, 2.0, 3.0]],
                _tensor(np.float32, [3]),
                "argument: expected float32[3], got float32[1,3]",
                id="rank",
            ),
            pytest.param(
                2**40, _tensor(np.int32), "argument: expected int32, got int64", id="int_overflow"
            ),
            pytest.param(
                np.zeros([2, 3], np.float32),
                _tensor(np.float32, [3, 2]),
                "argument: expected float32[3,2], got float32[2,3]",
                id="array_of_the_declared_dtype_and_another_shape",
            ),
            pytest.param(
                np.zeros([2], np.float32),
                _tensor(np.float32, [2, 1]),
                "argument: expected float32[2,1], got float32[2]",
                id="array_of_the_declared_dtype_and_another_rank",
            ),
            pytest.param(
                np.float32(1.0),
                _tensor(np.float32, [1]),
                "argument: expected float32[1], got float32",
                id="numpy_scalar_of_the_declared_dtype_for_a_vector",
            ),
            pytest.param(
                np.int64(2**40),
                _tensor(np.int32),
                "argument: expected int32, got int64",
                id="numpy_int64_scalar_over_int32",
            ),
            pytest.param(
                -1, _tensor(np.uint8), "argument: expected uint8, got int32", id="negative_unsigned"
            ),
            pytest.param(
                None, _tensor(np.float32), "argument: expected float32, got None", id="none"
            ),
            pytest.param(
                _Opaque(),
                _tensor(np.float32),
                "argument: expected float32, got <opaque> of type _Opaque",
                id="object",
            ),
            pytest.param(
                [1.0, "a"],
                _tensor(np.float32, [2]),
                "argument: expected float32[2], got <float32,string>",
                id="mixed_list",
            ),
        ],
    )
    def test_raises_naming_both_types_when_value_does_not_fit(self, value, type_spec, message):
        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_conversions.to_tensor(value, type_spec)

        assert str(caught.value) == message
        assert caught.value.expected == type_spec


class TestToDataset:
    def test_returns_the_dataset_itself_when_its_elements_fit(self):
        dataset = tf.data.Dataset.from_tensor_slices(np.array([1, 2], np.int32))

        assert value_conversions.to_dataset(dataset, _sequence(np.int32)) is dataset

    def test_builds_a_dataset_of_the_elements_when_given_a_list(self):
        dataset = value_conversions.to_dataset([1, 2, 3], _sequence(np.int32))

        assert [int(e) for e in dataset] == [1, 2, 3]
        assert dataset.element_spec == tf.TensorSpec([], tf.int32)

    def test_stacks_struct_elements_member_by_member_when_given_a_list_of_structs(self):
        elements = [
            collections.OrderedDict(x=[1.0, 2.0], y=1),
            collections.OrderedDict(x=[3.0, 4.0], y=2),
        ]

        dataset = value_conversions.to_dataset(elements, _sequence(RECORD_TYPE))

        assert dataset.element_spec == collections.OrderedDict(
            x=tf.TensorSpec([2], tf.float32), y=tf.TensorSpec([], tf.int32)
        )
        assert [(e["x"].numpy().tolist(), int(e["y"])) for e in dataset] == [
            ([1.0, 2.0], 1),
            ([3.0, 4.0], 2),
        ]

    def test_builds_an_empty_dataset_when_the_element_shape_is_known(self):
        dataset = value_conversions.to_dataset([], _sequence(RECORD_TYPE))

        assert list(dataset) == []
        assert dataset.element_spec["x"] == tf.TensorSpec([2], tf.float32)

    def test_raises_when_empty_and_the_element_shape_is_unknown(self):
        with pytest.raises(ValueError) as caught:
            value_conversions.to_dataset([], _sequence(_tensor(np.float32, [None])))

        assert str(caught.value) == "an empty sequence of float32[?] needs a fully known shape"

    @pytest.mark.parametrize(
        "value, message",
        [
            pytest.param(
                tf.data.Dataset.range(3),
                "argument: expected int32*, got int64*",
                id="dataset_of_other_dtype",
            ),
            pytest.param(3, "argument: expected int32*, got int32", id="scalar"),
            pytest.param([1.5], "argument: expected int32, got float32", id="element"),
        ],
    )
    def test_raises_when_the_value_is_not_a_sequence_of_the_type(self, value, message):
        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_conversions.to_dataset(value, _sequence(np.int32))

        assert str(caught.value) == message


class TestToEager:
    def test_converts_struct_members_into_a_list_when_given_a_namedtuple(self):
        eager = value_conversions.to_eager(Point(x=1, y=[2.0, 3.0]), POINT_TYPE)

        assert isinstance(eager, list)
        assert int(eager[0]) == 1
        assert eager[1].numpy().tolist() == [2.0, 3.0]

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param({"x": 1, "y": [2.0, 3.0]}, id="dict"),
            pytest.param((1, [2.0, 3.0]), id="tuple"),
            pytest.param([1, [2.0, 3.0]], id="list"),
        ],
    )
    def test_accepts_any_container_when_its_elements_line_up(self, value):
        eager = value_conversions.to_eager(value, POINT_TYPE)

        assert [np.asarray(e).tolist() for e in eager] == [1, [2.0, 3.0]]

    @pytest.mark.parametrize(
        "value, message",
        [
            pytest.param(
                (1,), "argument: expected <x=int32,y=float32[2]>, got <int32>", id="too_short"
            ),
            pytest.param(
                {"x": 1, "z": [2.0, 3.0]},
                "argument: expected <x=int32,y=float32[2]>, got <x=int32,z=<float32,float32>>",
                id="wrong_names",
            ),
            pytest.param(
                5, "argument: expected <x=int32,y=float32[2]>, got int32", id="not_a_container"
            ),
            pytest.param(
                (1, np.array(["a", "b"])),
                "argument: expected float32[2], got string[2]",
                id="leaf",
            ),
        ],
    )
    def test_raises_when_a_struct_does_not_fit(self, value, message):
        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_conversions.to_eager(value, POINT_TYPE)

        assert str(caught.value) == message

    def test_raises_when_the_type_is_federated(self):
        federated = computation_types.FederatedType(np.int32, computation_types.placements.CLIENTS)

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_conversions.to_eager([1], federated)

        assert str(caught.value) == (
            "value of an unplaced executor: expected a tensor, struct or sequence type, "
            "got {int32}@CLIENTS"
        )


class TestToPython:
    def test_returns_a_numpy_value_when_given_a_tensor(self):
        value = value_conversions.to_python(tf.constant(2.5), _tensor(np.float32))

        assert value == np.float32(2.5)
        assert type(value) is np.float32

    def test_returns_the_user_container_when_the_type_remembers_it(self):
        value = value_conversions.to_python([tf.constant(1), tf.constant([2.0, 3.0])], POINT_TYPE)

        assert type(value) is Point
        assert value.x == 1
        assert value.y.tolist() == [2.0, 3.0]

    def test_returns_a_list_of_elements_when_given_a_dataset(self):
        dataset = value_conversions.to_dataset(
            [collections.OrderedDict(x=[1.0, 2.0], y=7)], _sequence(RECORD_TYPE)
        )

        elements = value_conversions.to_python(dataset, _sequence(RECORD_TYPE))

        assert len(elements) == 1
        assert type(elements[0]) is collections.OrderedDict
        assert elements[0]["x"].tolist() == [1.0, 2.0]
        assert elements[0]["y"] == 7

    def test_raises_when_the_type_is_a_function(self):
        with pytest.raises(TypeError) as caught:
            value_conversions.to_python(None, computation_types.FunctionType(np.int32, np.int32))

        assert str(caught.value) == "cannot materialize a value of type (int32 -> int32)"


class TestStructures:
    def test_from_structure_gives_lists_in_type_order_when_given_a_dict(self):
        structure = {"y": 2, "x": 1}

        assert value_conversions.from_structure(structure, RECORD_TYPE) == [1, 2]

    def test_to_structure_gives_the_type_container_when_given_lists(self):
        structure = value_conversions.to_structure([1, [2, 3]], POINT_TYPE)

        assert structure == Point(x=1, y=[2, 3])

    def test_dataset_element_to_python_converts_nested_tensors(self):
        element = collections.OrderedDict(x=tf.constant([1.0, 2.0]), y=tf.constant(3))

        value = value_conversions.dataset_element_to_python(element, RECORD_TYPE)

        assert value["x"].tolist() == [1.0, 2.0]
        assert value["y"] == 3


class TestFlatten:
    NESTED = computation_types.to_type(
        collections.OrderedDict(a=np.int32, b=(np.float32, np.float32), c=np.int32)
    )

    def test_flatten_lists_leaves_in_type_order(self):
        assert value_conversions.flatten([1, [2.0, 3.0], 4], self.NESTED) == [1, 2.0, 3.0, 4]

    def test_unflatten_inverts_flatten(self):
        leaves = iter([1, 2.0, 3.0, 4])

        assert value_conversions.unflatten(leaves, self.NESTED) == [1, [2.0, 3.0], 4]

    def test_flatten_gives_one_leaf_when_given_a_tensor(self):
        assert value_conversions.flatten(5, _tensor(np.int32)) == [5]


class TestDatasetSpec:
    def test_gives_tensor_specs_in_the_element_container(self):
        spec = value_conversions.dataset_spec(
            _sequence(collections.OrderedDict(x=(np.float32, [None, 3]), y=np.int32))
        )

        assert spec == collections.OrderedDict(
            x=tf.TensorSpec([None, 3], tf.float32), y=tf.TensorSpec([], tf.int32)
        )
