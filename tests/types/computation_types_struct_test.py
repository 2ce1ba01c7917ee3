"""Tests for tffl.types.computation_types: StructType and its containers, and to_type."""

import collections
import dataclasses
from typing import Any

import attr
import numpy as np
import pytest
import tensorflow as tf

from tests.types.sample_types import ALL_KINDS
from tests.types.sample_types import Point
from tests.types.sample_types import make_sequence
from tests.types.sample_types import make_struct
from tests.types.sample_types import make_tensor
from tffl.types import computation_types


# Record containers live at module level so that pickling finds them by name.
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


class TestStructType:
    def test_elements_names_and_length_when_elements_are_named(self):
        struct = make_struct([("a", np.int32), ("b", (np.float32, [3]))])

        assert struct.elements == (
            ("a", make_tensor(np.int32)),
            ("b", make_tensor(np.float32, [3])),
        )
        assert struct.names() == ("a", "b")
        assert len(struct) == 2
        assert list(struct) == [make_tensor(np.int32), make_tensor(np.float32, [3])]
        assert struct.container is None

    def test_names_are_none_when_elements_are_unnamed(self):
        struct = make_struct([np.int32, np.float32])

        assert struct.names() == (None, None)
        assert list(struct) == [make_tensor(np.int32), make_tensor(np.float32)]

    @pytest.mark.parametrize(
        "elements, expected_names, expected_str",
        [
            pytest.param([np.int32, ("b", np.bool_)], (None, "b"), "<int32,b=bool>", id="mixed"),
            pytest.param([("", np.int32)], (None,), "<int32>", id="empty_name"),
            pytest.param([(None, np.int32)], (None,), "<int32>", id="none_name"),
            pytest.param({"a": np.int32, "b": tf.bool}, ("a", "b"), "<a=int32,b=bool>", id="dict"),
            pytest.param([(np.float32, [3])], (None,), "<float32[3]>", id="dtype_shape_pair"),
            pytest.param([("float32", [3])], (None,), "<float32[3]>", id="dtype_name_shape_pair"),
            pytest.param([("a", [np.int32])], ("a",), "<a=<int32>>", id="named_nested_list"),
        ],
    )
    def test_names_when_elements_are_spelled_differently(
        self, elements, expected_names, expected_str
    ):
        struct = make_struct(elements)

        assert struct.names() == expected_names
        assert str(struct) == expected_str

    def test_element_access_by_index_name_and_attribute(self):
        struct = make_struct([("a", np.int32), ("b", np.float32)])

        assert struct[0] == make_tensor(np.int32)
        assert struct[-1] == make_tensor(np.float32)
        assert struct["b"] == make_tensor(np.float32)
        assert struct.a == make_tensor(np.int32)
        assert struct.index_of("b") == 1
        assert hasattr(struct, "a")
        assert not hasattr(struct, "c")

    @pytest.mark.parametrize(
        "access",
        [
            pytest.param(lambda struct: struct.c, id="attribute"),
            pytest.param(lambda struct: struct["c"], id="item"),
            pytest.param(lambda struct: struct.index_of("c"), id="index_of"),
        ],
    )
    def test_raises_attribute_error_when_name_is_missing(self, access):
        struct = make_struct([("a", np.int32), ("b", np.float32)])

        with pytest.raises(AttributeError) as raised:
            access(struct)

        assert str(raised.value) == "<a=int32,b=float32> has no element named 'c'"

    def test_raises_index_error_when_index_is_out_of_range(self):
        with pytest.raises(IndexError):
            make_struct([np.int32])[1]

    def test_raises_attribute_error_when_private_name_is_looked_up(self):
        with pytest.raises(AttributeError):
            make_struct([("_a", np.int32)])._a

    @pytest.mark.parametrize(
        "spec, container, expected_str",
        [
            pytest.param((np.int32, np.float32), tuple, "<int32,float32>", id="tuple"),
            pytest.param([np.int32, np.float32], list, "<int32,float32>", id="list"),
            pytest.param({"a": np.int32, "b": np.bool_}, dict, "<a=int32,b=bool>", id="dict"),
            pytest.param(
                collections.OrderedDict(a=np.int32, b=np.bool_),
                collections.OrderedDict,
                "<a=int32,b=bool>",
                id="ordered_dict",
            ),
            pytest.param(
                Point(np.int32, np.float32), Point, "<x=int32,y=float32>", id="namedtuple"
            ),
            pytest.param(
                AttrsPoint(np.int32, np.float32), AttrsPoint, "<x=int32,y=float32>", id="attrs"
            ),
            pytest.param(
                DataPoint(np.int32, np.float32), DataPoint, "<x=int32,y=float32>", id="dataclass"
            ),
        ],
    )
    def test_container_is_kept_when_built_from_a_python_container(
        self, spec, container, expected_str
    ):
        struct = computation_types.to_type(spec)

        assert struct.container is container
        assert str(struct) == expected_str

    @pytest.mark.parametrize(
        "container",
        [
            pytest.param(dict, id="dict"),
            pytest.param(collections.OrderedDict, id="ordered_dict"),
            pytest.param(Point, id="namedtuple"),
            pytest.param(AttrsPoint, id="attrs"),
            pytest.param(DataPoint, id="dataclass"),
            pytest.param(list, id="list"),
            pytest.param(tuple, id="tuple"),
        ],
    )
    def test_container_takes_part_in_equality_but_not_assignability(self, container):
        elements = [("x", np.int32), ("y", np.float32)]
        with_container = make_struct(elements, container=container)
        without_container = make_struct(elements)

        assert with_container != without_container
        assert with_container == make_struct(elements, container=container)
        assert with_container.is_assignable_from(without_container)
        assert without_container.is_assignable_from(with_container)
        assert with_container.is_equivalent_to(without_container)

    def test_not_equal_when_containers_differ(self):
        elements = [("x", np.int32), ("y", np.float32)]

        assert make_struct(elements, container=dict) != make_struct(
            elements, container=collections.OrderedDict
        )

    @pytest.mark.parametrize(
        "elements, container, expected_message",
        [
            pytest.param(
                [np.int32],
                "tuple",
                "StructType container: expected a class, got 'tuple'",
                id="not_a_class",
            ),
            pytest.param(
                [("a", np.int32), ("b", np.int32)],
                Point,
                "StructType container: Point has fields ['x', 'y'], got elements named ['a', 'b']",
                id="namedtuple_fields_differ",
            ),
            pytest.param(
                [("x", np.int32)],
                DataPoint,
                "StructType container: DataPoint has fields ['x', 'y'], got elements named ['x']",
                id="dataclass_fields_differ",
            ),
            pytest.param(
                [("x", np.int32), np.int32],
                dict,
                "StructType container: a dict needs every element named, got names ['x', None]",
                id="mapping_needs_names",
            ),
            pytest.param(
                [np.int32],
                set,
                "StructType container: expected tuple, list, a mapping, a namedtuple, attrs or "
                "dataclass class, got set",
                id="unsupported_class",
            ),
        ],
    )
    def test_raises_type_error_when_container_does_not_fit(
        self, elements, container, expected_message
    ):
        with pytest.raises(TypeError) as raised:
            computation_types.StructType(elements, container=container)

        assert str(raised.value) == expected_message

    def test_raises_value_error_when_names_repeat(self):
        with pytest.raises(ValueError) as raised:
            make_struct([("a", np.int32), ("b", np.int32), ("a", np.float32)])

        assert str(raised.value) == "StructType: element names must be unique, got ['a', 'b', 'a']"

    def test_raises_type_error_when_an_element_is_none(self):
        with pytest.raises(TypeError) as raised:
            make_struct([np.int32, None])

        assert str(raised.value) == "StructType element 1: expected a type, got None"

    def test_raises_type_error_when_an_element_is_not_a_type(self):
        with pytest.raises(TypeError) as raised:
            make_struct([("a", _Opaque())])

        assert str(raised.value) == "to_type: expected a type spec, got <opaque> of type _Opaque"


class TestToType:
    @pytest.mark.parametrize(
        "spec, expected",
        [
            pytest.param(None, None, id="none"),
            pytest.param(np.int32, make_tensor(np.int32), id="numpy_class"),
            pytest.param(np.dtype("float64"), make_tensor(np.float64), id="numpy_dtype"),
            pytest.param(tf.bool, make_tensor(np.bool_), id="tf_dtype"),
            pytest.param("int64", make_tensor(np.int64), id="dtype_name"),
            pytest.param(int, make_tensor(np.int32), id="python_int"),
            pytest.param(float, make_tensor(np.float32), id="python_float"),
            pytest.param(
                tf.TensorSpec([None, 3], tf.float32), make_tensor(np.float32, [None, 3]), id="spec"
            ),
            pytest.param(
                tf.TensorSpec(None, tf.int32), make_tensor(np.int32, None), id="spec_no_rank"
            ),
            pytest.param(
                (np.float32, [None, 784]),
                make_tensor(np.float32, [None, 784]),
                id="dtype_shape_pair",
            ),
            pytest.param(("int32", [2]), make_tensor(np.int32, [2]), id="name_shape_pair"),
            pytest.param(
                (tf.float32, tf.TensorShape([3])), make_tensor(np.float32, [3]), id="tf_shape_pair"
            ),
            pytest.param(("a", np.int32), make_struct([("a", np.int32)]), id="named_pair"),
            pytest.param(
                ("a", [np.int32, np.bool_]),
                make_struct([("a", make_struct([np.int32, np.bool_], container=list))]),
                id="named_pair_of_list",
            ),
            pytest.param(
                [("a", np.int32), ("b", np.float32)],
                make_struct([("a", np.int32), ("b", np.float32)]),
                id="list_of_pairs",
            ),
            pytest.param(
                (("a", np.int32), ("b", np.float32)),
                make_struct([("a", np.int32), ("b", np.float32)]),
                id="tuple_of_pairs",
            ),
            pytest.param(
                [np.int32, np.float32],
                make_struct([np.int32, np.float32], container=list),
                id="list",
            ),
            pytest.param(
                (np.int32, np.float32, np.bool_),
                make_struct([np.int32, np.float32, np.bool_], container=tuple),
                id="tuple",
            ),
            pytest.param(
                {"a": np.int32, "b": tf.TensorSpec([2], tf.float32)},
                make_struct([("a", np.int32), ("b", (np.float32, [2]))], container=dict),
                id="dict",
            ),
            pytest.param(
                collections.OrderedDict(b=np.int32, a=np.float32),
                make_struct(
                    [("b", np.int32), ("a", np.float32)], container=collections.OrderedDict
                ),
                id="ordered_dict",
            ),
            pytest.param(
                Point(tf.TensorSpec([3], tf.float32), np.int32),
                make_struct([("x", (np.float32, [3])), ("y", np.int32)], container=Point),
                id="namedtuple",
            ),
            pytest.param(
                AttrsPoint(np.int32, np.float32),
                make_struct([("x", np.int32), ("y", np.float32)], container=AttrsPoint),
                id="attrs",
            ),
            pytest.param(
                DataPoint(np.int32, np.float32),
                make_struct([("x", np.int32), ("y", np.float32)], container=DataPoint),
                id="dataclass",
            ),
            pytest.param(
                {
                    "x": (tf.TensorSpec([None, 784], tf.float32), tf.TensorSpec([None], tf.int32)),
                    "y": Point(np.int32, [np.float32]),
                },
                make_struct(
                    [
                        (
                            "x",
                            make_struct(
                                [
                                    make_tensor(np.float32, [None, 784]),
                                    make_tensor(np.int32, [None]),
                                ],
                                container=tuple,
                            ),
                        ),
                        (
                            "y",
                            make_struct(
                                [("x", np.int32), ("y", make_struct([np.float32], container=list))],
                                container=Point,
                            ),
                        ),
                    ],
                    container=dict,
                ),
                id="nested",
            ),
            pytest.param(
                tf.data.DatasetSpec(
                    {
                        "x": tf.TensorSpec([None, 784], tf.float32),
                        "y": tf.TensorSpec([None], tf.int32),
                    }
                ),
                make_sequence(
                    make_struct(
                        [("x", (np.float32, [None, 784])), ("y", (np.int32, [None]))],
                        container=dict,
                    )
                ),
                id="dataset_spec",
            ),
        ],
    )
    def test_returns_type_when_given_a_spelling(self, spec, expected):
        assert computation_types.to_type(spec) == expected

    def test_dataset_spec_notation(self):
        spec = tf.data.DatasetSpec(
            {"x": tf.TensorSpec([None, 784], tf.float32), "y": tf.TensorSpec([None], tf.int32)}
        )

        assert str(computation_types.to_type(spec)) == "<x=float32[?,784],y=int32[?]>*"

    @pytest.mark.parametrize("type_spec", ALL_KINDS)
    def test_returns_the_same_object_when_given_a_type(self, type_spec):
        assert computation_types.to_type(type_spec) is type_spec

    @pytest.mark.parametrize(
        "spec, expected_message",
        [
            pytest.param(
                _Opaque(),
                "to_type: expected a type spec, got <opaque> of type _Opaque",
                id="object",
            ),
            pytest.param("nope", "to_type: expected a type spec, got 'nope' of type str", id="str"),
            pytest.param(3, "to_type: expected a type spec, got 3 of type int", id="int"),
            pytest.param(
                DataPoint,
                f"to_type: expected a type spec, got <class '{__name__}.DataPoint'> of type type",
                id="dataclass_class",
            ),
            pytest.param(
                {1: np.int32}, "to_type: expected str keys in a mapping, got 1", id="int_key"
            ),
            pytest.param(
                tf.RaggedTensorSpec([None, None], tf.int32),
                "to_type: expected dense tensor or dataset specs, got "
                "RaggedTensorSpec(TensorShape([None, None]), tf.int32, 1, tf.int64) "
                "(ragged and sparse tensors are not supported)",
                id="ragged_spec",
            ),
            pytest.param(
                tf.SparseTensorSpec([3], tf.float32),
                "to_type: expected dense tensor or dataset specs, got "
                "SparseTensorSpec(TensorShape([3]), tf.float32) "
                "(ragged and sparse tensors are not supported)",
                id="sparse_spec",
            ),
        ],
    )
    def test_raises_type_error_when_spec_is_not_a_type(self, spec, expected_message):
        with pytest.raises(TypeError) as raised:
            computation_types.to_type(spec)

        assert str(raised.value) == expected_message

    def test_raises_type_error_naming_the_object_when_given_a_plain_object(self):
        with pytest.raises(TypeError) as raised:
            computation_types.to_type(object())

        assert str(raised.value).startswith("to_type: expected a type spec, got <object object at ")
        assert str(raised.value).endswith("> of type object")
