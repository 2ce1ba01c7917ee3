"""Tests for tffl.types.type_conversions."""

import collections
import dataclasses
from typing import Any

import attr
import numpy as np
import pytest
import tensorflow as tf

from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions

Point = collections.namedtuple("Point", ["x", "y"])


@attr.s(auto_attribs=True)
class AttrsPoint:
    x: Any
    y: Any


@dataclasses.dataclass
class DataPoint:
    x: Any
    y: Any


class _Opaque:
    def __repr__(self):
        return "<opaque>"


class _WithTypeSignature:
    type_signature = computation_types.FunctionType(np.int32, np.float32)


class _StringTypeSignature:
    type_signature = "int32"

    def __repr__(self):
        return "<string signature>"


def _tensor(dtype, shape=()):
    return computation_types.TensorType(dtype, shape)


def _struct(elements, container=None):
    return computation_types.StructType(elements, container=container)


def _batched_dataset():
    return tf.data.Dataset.from_tensor_slices(
        {"x": np.zeros([10, 784], np.float32), "y": np.zeros([10], np.int32)}
    ).batch(4)


class TestInferType:
    @pytest.mark.parametrize(
        "value, expected",
        [
            pytest.param(None, None, id="none"),
            pytest.param(1, _tensor(np.int32), id="int"),
            pytest.param(2**31 - 1, _tensor(np.int32), id="int32_max"),
            pytest.param(-(2**31), _tensor(np.int32), id="int32_min"),
            pytest.param(2**31, _tensor(np.int64), id="above_int32"),
            pytest.param(-(2**31) - 1, _tensor(np.int64), id="below_int32"),
            pytest.param(2**40, _tensor(np.int64), id="big_int"),
            pytest.param(1.5, _tensor(np.float32), id="float"),
            pytest.param(True, _tensor(np.bool_), id="bool"),
            pytest.param("a", _tensor(tf.string), id="str"),
            pytest.param(b"a", _tensor(tf.string), id="bytes"),
            pytest.param(np.int64(1), _tensor(np.int64), id="numpy_int64"),
            pytest.param(np.float64(1), _tensor(np.float64), id="numpy_float64"),
            pytest.param(np.float32(1), _tensor(np.float32), id="numpy_float32"),
            pytest.param(np.bool_(True), _tensor(np.bool_), id="numpy_bool"),
            pytest.param(np.str_("a"), _tensor(tf.string), id="numpy_str"),
            pytest.param(np.zeros([2, 3], np.float32), _tensor(np.float32, [2, 3]), id="array"),
            pytest.param(np.zeros([0], np.uint8), _tensor(np.uint8, [0]), id="empty_array"),
            pytest.param(np.array(["a", "b"]), _tensor(tf.string, [2]), id="unicode_array"),
            pytest.param(np.array([b"a"]), _tensor(tf.string, [1]), id="bytes_array"),
            pytest.param(np.array(["a", 1], dtype=object), _tensor(tf.string, [2]), id="objects"),
            pytest.param(tf.constant([[1.0]]), _tensor(np.float32, [1, 1]), id="tensor"),
            pytest.param(tf.constant("a"), _tensor(tf.string), id="string_tensor"),
            pytest.param(tf.Variable(np.zeros([2], np.int64)), _tensor(np.int64, [2]), id="var"),
            pytest.param([1, 2], _struct([np.int32, np.int32], container=list), id="list"),
            pytest.param((1, 2.0), _struct([np.int32, np.float32], container=tuple), id="tuple"),
            pytest.param([], _struct([], container=list), id="empty_list"),
            pytest.param(
                {"a": 1, "b": True}, _struct([("a", np.int32), ("b", np.bool_)], dict), id="dict"
            ),
            pytest.param(
                collections.OrderedDict(b=1.0, a=1),
                _struct([("b", np.float32), ("a", np.int32)], collections.OrderedDict),
                id="ordered_dict",
            ),
            pytest.param(
                Point(1, 2.0), _struct([("x", np.int32), ("y", np.float32)], Point), id="namedtuple"
            ),
            pytest.param(
                AttrsPoint(1, 2.0),
                _struct([("x", np.int32), ("y", np.float32)], AttrsPoint),
                id="attrs",
            ),
            pytest.param(
                DataPoint(1, 2.0),
                _struct([("x", np.int32), ("y", np.float32)], DataPoint),
                id="dataclass",
            ),
            pytest.param(
                {"a": [1, np.float32(2)], "b": Point(x=np.zeros([3]), y=DataPoint(True, "s"))},
                _struct(
                    [
                        ("a", _struct([np.int32, np.float32], container=list)),
                        (
                            "b",
                            _struct(
                                [
                                    ("x", (np.float64, [3])),
                                    ("y", _struct([("x", np.bool_), ("y", tf.string)], DataPoint)),
                                ],
                                Point,
                            ),
                        ),
                    ],
                    container=dict,
                ),
                id="nested",
            ),
            pytest.param(
                tf.data.Dataset.range(3), computation_types.SequenceType(np.int64), id="dataset"
            ),
            pytest.param(
                _batched_dataset(),
                computation_types.SequenceType(
                    _struct([("x", (np.float32, [None, 784])), ("y", (np.int32, [None]))], dict)
                ),
                id="batched_dict_dataset",
            ),
            pytest.param(
                [_batched_dataset()],
                _struct(
                    [
                        computation_types.SequenceType(
                            _struct(
                                [("x", (np.float32, [None, 784])), ("y", (np.int32, [None]))],
                                dict,
                            )
                        )
                    ],
                    container=list,
                ),
                id="list_of_datasets",
            ),
        ],
    )
    def test_infers_type(self, value, expected):
        assert type_conversions.infer_type(value) == expected

    @pytest.mark.parametrize(
        "value, expected",
        [
            pytest.param([1, 2], "<int32,int32>", id="list"),
            pytest.param(_batched_dataset(), "<x=float32[?,784],y=int32[?]>*", id="dataset"),
            pytest.param(
                collections.OrderedDict(a=1, b=np.zeros([2], np.float32)),
                "<a=int32,b=float32[2]>",
                id="ordered_dict",
            ),
        ],
    )
    def test_notation_of_inferred_type(self, value, expected):
        assert str(type_conversions.infer_type(value)) == expected

    def test_returns_type_signature_when_value_has_one(self):
        value = _WithTypeSignature()

        assert type_conversions.infer_type(value) is _WithTypeSignature.type_signature

    def test_returns_federated_type_signature_when_value_is_inside_a_container(self):
        class Placed:
            type_signature = computation_types.FederatedType(np.float32, placements.CLIENTS)

        assert str(type_conversions.infer_type({"a": Placed(), "b": 1})) == (
            "<a={float32}@CLIENTS,b=int32>"
        )

    @pytest.mark.parametrize(
        "value, expected_message",
        [
            pytest.param(
                _Opaque(),
                "infer_type: expected a tensor, dataset or container of them, "
                "got <opaque> of type _Opaque",
                id="object",
            ),
            pytest.param(
                int,
                "infer_type: expected a tensor, dataset or container of them, "
                "got <class 'int'> of type type",
                id="class",
            ),
            pytest.param(
                {1, 2},
                "infer_type: expected a tensor, dataset or container of them, "
                "got {1, 2} of type set",
                id="set",
            ),
            pytest.param(
                [1, _Opaque()],
                "infer_type: expected a tensor, dataset or container of them, "
                "got <opaque> of type _Opaque",
                id="nested_object",
            ),
            pytest.param(
                _StringTypeSignature(),
                "infer_type: expected a tensor, dataset or container of them, "
                "got <string signature> of type _StringTypeSignature",
                id="type_signature_not_a_type",
            ),
            pytest.param({1: 2}, "infer_type: expected str keys in a mapping, got 1", id="int_key"),
            pytest.param(
                tf.ragged.constant([[1], [2, 3]]),
                "infer_type: expected a dense tensor, got a RaggedTensor "
                "(ragged and sparse tensors are not supported)",
                id="ragged",
            ),
            pytest.param(
                tf.sparse.from_dense(tf.constant([1, 0])),
                "infer_type: expected a dense tensor, got a SparseTensor "
                "(ragged and sparse tensors are not supported)",
                id="sparse",
            ),
            pytest.param(
                [1, None], "StructType element 1: expected a type, got None", id="none_element"
            ),
        ],
    )
    def test_raises_type_error_when_value_has_no_type(self, value, expected_message):
        with pytest.raises(TypeError) as raised:
            type_conversions.infer_type(value)

        assert str(raised.value) == expected_message

    def test_raises_type_error_when_dataset_elements_are_ragged(self):
        dataset = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1], [2, 3]]))

        with pytest.raises(TypeError) as raised:
            type_conversions.infer_type(dataset)

        assert str(raised.value).startswith(
            "to_type: expected dense tensor or dataset specs, got RaggedTensorSpec("
        )


# (value, struct type) pairs covering each container kind; `to_container` of
# `elements_of(value)` must give back an equal value of the same class.
CONTAINER_ROUND_TRIPS = [
    pytest.param((1, 2.0), _struct([np.int32, np.float32], tuple), [1, 2.0], id="tuple"),
    pytest.param([1, 2.0], _struct([np.int32, np.float32], list), [1, 2.0], id="list"),
    pytest.param(
        {"b": 1, "a": 2.0},
        _struct([("b", np.int32), ("a", np.float32)], dict),
        [1, 2.0],
        id="dict",
    ),
    pytest.param(
        collections.OrderedDict(b=1, a=2.0),
        _struct([("b", np.int32), ("a", np.float32)], collections.OrderedDict),
        [1, 2.0],
        id="ordered_dict",
    ),
    pytest.param(
        Point(1, 2.0), _struct([("x", np.int32), ("y", np.float32)], Point), [1, 2.0], id="ntuple"
    ),
    pytest.param(
        AttrsPoint(1, 2.0),
        _struct([("x", np.int32), ("y", np.float32)], AttrsPoint),
        [1, 2.0],
        id="attrs",
    ),
    pytest.param(
        DataPoint(1, 2.0),
        _struct([("x", np.int32), ("y", np.float32)], DataPoint),
        [1, 2.0],
        id="dataclass",
    ),
    pytest.param(
        collections.OrderedDict(b=1, a=2.0),
        _struct([("b", np.int32), ("a", np.float32)]),
        [1, 2.0],
        id="no_container_named",
    ),
    pytest.param((1, 2.0), _struct([np.int32, np.float32]), [1, 2.0], id="no_container_unnamed"),
    pytest.param((), _struct([]), [], id="no_container_empty"),
]


class TestElementsOf:
    @pytest.mark.parametrize("value, struct_type, expected", CONTAINER_ROUND_TRIPS)
    def test_returns_elements_in_struct_order(self, value, struct_type, expected):
        assert type_conversions.elements_of(value, struct_type) == expected

    @pytest.mark.parametrize(
        "value, struct_type, expected",
        [
            pytest.param(
                {"y": 2, "x": 1},
                _struct([("x", np.int32), ("y", np.int32)], Point),
                [1, 2],
                id="mapping_for_namedtuple_struct",
            ),
            pytest.param(
                Point(1, 2), _struct([np.int32, np.int32]), [1, 2], id="namedtuple_for_unnamed"
            ),
            pytest.param(
                DataPoint(1, 2), _struct([np.int32, np.int32]), [1, 2], id="dataclass_for_unnamed"
            ),
            pytest.param(
                [1, 2], _struct([("x", np.int32), ("y", np.int32)]), [1, 2], id="list_for_named"
            ),
            pytest.param(
                Point(1, 2),
                _struct([("x", np.int32), np.int32]),
                [1, 2],
                id="namedtuple_for_partly_named",
            ),
        ],
    )
    def test_returns_elements_when_value_is_another_fitting_container(
        self, value, struct_type, expected
    ):
        assert type_conversions.elements_of(value, struct_type) == expected

    @pytest.mark.parametrize(
        "value, struct_type, expected_message",
        [
            pytest.param(
                {"a": 1},
                _struct([("a", np.int32), ("b", np.int32)]),
                "expected a value of type <a=int32,b=int32>, got a mapping with keys ['a']",
                id="mapping_missing_key",
            ),
            pytest.param(
                {"a": 1, "b": 2, "c": 3},
                _struct([("a", np.int32), ("b", np.int32)]),
                "expected a value of type <a=int32,b=int32>, got a mapping with keys "
                "['a', 'b', 'c']",
                id="mapping_extra_key",
            ),
            pytest.param(
                {"a": 1},
                _struct([np.int32]),
                "expected a value of type <int32>, got a mapping with keys ['a']",
                id="mapping_for_unnamed",
            ),
            pytest.param(
                DataPoint(1, 2),
                _struct([("a", np.int32), ("b", np.int32)]),
                "expected a value of type <a=int32,b=int32>, got DataPoint with fields ['x', 'y']",
                id="dataclass_fields_differ",
            ),
            pytest.param(
                AttrsPoint(1, 2),
                _struct([np.int32]),
                "expected a value of type <int32>, got AttrsPoint with fields ['x', 'y']",
                id="attrs_length_differs",
            ),
            pytest.param(
                [1, 2, 3],
                _struct([np.int32, np.int32]),
                "expected a value of type <int32,int32> (2 elements), got 3 elements",
                id="list_length_differs",
            ),
            pytest.param(
                Point(1, 2),
                _struct([("a", np.int32), ("b", np.int32)]),
                "expected a value of type <a=int32,b=int32>, got Point with fields ['x', 'y']",
                id="namedtuple_fields_differ",
            ),
            pytest.param(
                3,
                _struct([np.int32]),
                "expected a value of type <int32>, got 3 of type int",
                id="not_a_container",
            ),
        ],
    )
    def test_raises_type_error_when_value_does_not_line_up(
        self, value, struct_type, expected_message
    ):
        with pytest.raises(TypeError) as raised:
            type_conversions.elements_of(value, struct_type)

        assert str(raised.value) == expected_message


class TestToContainer:
    @pytest.mark.parametrize("value, struct_type, elements", CONTAINER_ROUND_TRIPS)
    def test_round_trips_with_elements_of(self, value, struct_type, elements):
        rebuilt = type_conversions.to_container(
            type_conversions.elements_of(value, struct_type), struct_type
        )

        assert rebuilt == value
        assert type(rebuilt) is type(value)

    @pytest.mark.parametrize("value, struct_type, elements", CONTAINER_ROUND_TRIPS)
    def test_round_trips_with_infer_type(self, value, struct_type, elements):
        inferred = type_conversions.infer_type(value)

        rebuilt = type_conversions.to_container(
            type_conversions.elements_of(value, inferred), inferred
        )

        assert rebuilt == value
        assert type(rebuilt) is type(value)

    @pytest.mark.parametrize("value, struct_type, elements", CONTAINER_ROUND_TRIPS)
    def test_container_maker_packs_as_to_container_does(self, value, struct_type, elements):
        make = type_conversions.container_maker(struct_type)

        rebuilt = make(list(elements))

        assert rebuilt == value
        assert type(rebuilt) is type(value)

    def test_drops_names_when_struct_is_partly_named_and_has_no_container(self):
        struct_type = _struct([("a", np.int32), np.int32])

        assert type_conversions.to_container([1, 2], struct_type) == (1, 2)

    @pytest.mark.parametrize(
        "struct_type, elements, expected_message",
        [
            pytest.param(
                _struct([("a", np.int32), ("b", np.int32)]),
                [1],
                "to_container: expected 2 elements for <a=int32,b=int32>, got 1",
                id="too_few_named",
            ),
            pytest.param(
                _struct([np.int32], list),
                [1, 2],
                "to_container: expected 1 elements for <int32>, got 2",
                id="too_many_list",
            ),
            pytest.param(
                _struct([("x", np.int32), ("y", np.int32)], Point),
                [1],
                "to_container: expected 2 elements for <x=int32,y=int32>, got 1",
                id="too_few_namedtuple",
            ),
        ],
    )
    def test_raises_type_error_when_element_count_differs(
        self, struct_type, elements, expected_message
    ):
        with pytest.raises(TypeError) as raised:
            type_conversions.to_container(elements, struct_type)

        assert str(raised.value) == expected_message
