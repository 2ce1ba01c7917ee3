"""Tests for tffl.types.computation_types."""

import collections
import copy
import dataclasses
import pickle
from typing import Any

import attr
import numpy as np
import pytest
import tensorflow as tf

from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors

# Record containers live at module level so that pickling finds them by name.
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


def _tensor(dtype, shape=()):
    return computation_types.TensorType(dtype, shape)


def _struct(elements, container=None):
    return computation_types.StructType(elements, container=container)


def _clients(member, all_equal=None):
    return computation_types.FederatedType(member, placements.CLIENTS, all_equal)


def _server(member, all_equal=None):
    return computation_types.FederatedType(member, placements.SERVER, all_equal)


def _function(parameter, result):
    return computation_types.FunctionType(parameter, result)


def _sequence(element):
    return computation_types.SequenceType(element)


# One or more of every kind of type, for properties that must hold for all of them.
ALL_KINDS = [
    pytest.param(_tensor(np.float32), id="scalar"),
    pytest.param(_tensor(np.int32, [10]), id="vector"),
    pytest.param(_tensor(np.float32, [None, 784]), id="partly_known_shape"),
    pytest.param(_tensor(np.float32, None), id="unknown_rank"),
    pytest.param(_struct([]), id="empty_struct"),
    pytest.param(_struct([("a", np.int32), ("b", np.float32)]), id="named_struct"),
    pytest.param(_struct([np.int32, np.float32]), id="unnamed_struct"),
    pytest.param(_struct([("a", np.int32)], container=collections.OrderedDict), id="ordered_dict"),
    pytest.param(_struct([("x", np.int32), ("y", np.int32)], container=Point), id="namedtuple"),
    pytest.param(_sequence(np.int32), id="sequence"),
    pytest.param(_function(np.int32, np.float32), id="function"),
    pytest.param(_function(None, np.int32), id="function_of_nothing"),
    pytest.param(_clients(np.float32), id="clients"),
    pytest.param(_clients(np.float32, all_equal=True), id="clients_all_equal"),
    pytest.param(_server(np.float32), id="server"),
    pytest.param(computation_types.PlacementType(), id="placement"),
    pytest.param(computation_types.AbstractType("T"), id="abstract"),
]


class TestNotation:
    @pytest.mark.parametrize(
        "type_spec, expected",
        [
            pytest.param(_tensor(np.float32), "float32", id="scalar"),
            pytest.param(_tensor(np.int32, [10]), "int32[10]", id="vector"),
            pytest.param(_tensor(np.float32, [None, 784]), "float32[?,784]", id="unknown_dim"),
            pytest.param(_tensor(np.float32, None), "float32[*]", id="unknown_rank"),
            pytest.param(_tensor(np.int32, [0]), "int32[0]", id="empty_vector"),
            pytest.param(
                _struct([("a", np.int32), ("b", np.float32)]), "<a=int32,b=float32>", id="named"
            ),
            pytest.param(_struct([np.int32, np.float32]), "<int32,float32>", id="unnamed"),
            pytest.param(_struct([np.int32, ("b", np.float32)]), "<int32,b=float32>", id="mixed"),
            pytest.param(_struct([]), "<>", id="empty_struct"),
            pytest.param(
                _struct([("a", np.int32), ("b", [("x", tf.string), ("y", np.bool_)])]),
                "<a=int32,b=<x=string,y=bool>>",
                id="nested_struct",
            ),
            pytest.param(_sequence(np.int32), "int32*", id="sequence"),
            pytest.param(
                _sequence([("x", (np.float32, [None, 784])), ("y", (np.int32, [None]))]),
                "<x=float32[?,784],y=int32[?]>*",
                id="sequence_of_struct",
            ),
            pytest.param(_function(np.int32, np.float32), "(int32 -> float32)", id="function"),
            pytest.param(
                _function([("x", np.int32), ("y", np.float32)], np.int32),
                "(<x=int32,y=float32> -> int32)",
                id="function_of_struct",
            ),
            pytest.param(_function(None, np.int32), "( -> int32)", id="function_of_nothing"),
            pytest.param(
                _function(_clients(np.float32), _server(np.float32)),
                "({float32}@CLIENTS -> float32@SERVER)",
                id="federated_function",
            ),
            pytest.param(_clients(np.float32), "{float32}@CLIENTS", id="clients"),
            pytest.param(_clients(np.float32, all_equal=True), "float32@CLIENTS", id="clients_eq"),
            pytest.param(_server(np.float32), "float32@SERVER", id="server"),
            pytest.param(_server(np.float32, all_equal=False), "{float32}@SERVER", id="server_ne"),
            pytest.param(_clients(_sequence(np.int32)), "{int32*}@CLIENTS", id="clients_sequence"),
            pytest.param(computation_types.PlacementType(), "placement", id="placement"),
            pytest.param(computation_types.AbstractType("T"), "T", id="abstract"),
            pytest.param(
                _clients(computation_types.AbstractType("T")), "{T}@CLIENTS", id="abstract_member"
            ),
        ],
    )
    def test_str_is_compact_notation(self, type_spec, expected):
        assert str(type_spec) == expected
        assert type_spec.compact_representation() == expected

    @pytest.mark.parametrize(
        "type_spec, expected",
        [
            pytest.param(_tensor(np.float32), "TensorType(float32)", id="scalar"),
            pytest.param(
                _tensor(np.int32, [None, 3]), "TensorType(int32, [None, 3])", id="partly_known"
            ),
            pytest.param(_tensor(np.float32, None), "TensorType(float32, None)", id="unknown_rank"),
            pytest.param(
                _struct([("a", np.int32), np.float32]),
                "StructType([('a', TensorType(int32)), TensorType(float32)])",
                id="struct",
            ),
            pytest.param(
                _struct([("a", np.int32)], container=collections.OrderedDict),
                "StructType([('a', TensorType(int32))], container=OrderedDict)",
                id="struct_with_container",
            ),
            pytest.param(_sequence(np.int32), "SequenceType(TensorType(int32))", id="sequence"),
            pytest.param(
                _function(None, np.int32),
                "FunctionType(None, TensorType(int32))",
                id="function_of_nothing",
            ),
            pytest.param(
                _clients(np.float32),
                "FederatedType(TensorType(float32), PlacementLiteral('clients'), all_equal=False)",
                id="clients",
            ),
            pytest.param(computation_types.PlacementType(), "PlacementType()", id="placement"),
            pytest.param(computation_types.AbstractType("T"), "AbstractType('T')", id="abstract"),
        ],
    )
    def test_repr_is_constructor_form(self, type_spec, expected):
        assert repr(type_spec) == expected


class TestTensorType:
    @pytest.mark.parametrize(
        "dtype, expected",
        [
            pytest.param(np.float32, tf.float32, id="numpy_scalar_class"),
            pytest.param(np.dtype("int64"), tf.int64, id="numpy_dtype"),
            pytest.param(np.bool_, tf.bool, id="numpy_bool"),
            pytest.param(tf.float16, tf.float16, id="tf_dtype"),
            pytest.param(tf.string, tf.string, id="tf_string"),
            pytest.param("float32", tf.float32, id="name"),
            pytest.param("uint8", tf.uint8, id="name_uint8"),
            pytest.param(int, tf.int32, id="python_int"),
            pytest.param(float, tf.float32, id="python_float"),
            pytest.param(bool, tf.bool, id="python_bool"),
            pytest.param(str, tf.string, id="python_str"),
            pytest.param(bytes, tf.string, id="python_bytes"),
        ],
    )
    def test_dtype_is_normalized_when_given_any_dtype_spelling(self, dtype, expected):
        tensor_type = computation_types.TensorType(dtype)

        assert tensor_type.dtype == expected
        assert isinstance(tensor_type.dtype, tf.DType)
        assert tensor_type.shape == ()

    @pytest.mark.parametrize(
        "shape, expected_shape, expected_str",
        [
            pytest.param((), (), "float32", id="empty_tuple"),
            pytest.param([], (), "float32", id="empty_list"),
            pytest.param([10], (10,), "float32[10]", id="list"),
            pytest.param((2, 3), (2, 3), "float32[2,3]", id="tuple"),
            pytest.param(10, (10,), "float32[10]", id="int"),
            pytest.param(np.int64(4), (4,), "float32[4]", id="numpy_int"),
            pytest.param([np.int32(2), None], (2, None), "float32[2,?]", id="numpy_int_dims"),
            pytest.param([None, 784], (None, 784), "float32[?,784]", id="partly_known"),
            pytest.param(tf.TensorShape([None, 3]), (None, 3), "float32[?,3]", id="tf_shape"),
            pytest.param(tf.TensorShape(None), None, "float32[*]", id="tf_unknown_rank"),
            pytest.param(None, None, "float32[*]", id="unknown_rank"),
        ],
    )
    def test_shape_is_normalized_when_given_any_shape_spelling(
        self, shape, expected_shape, expected_str
    ):
        tensor_type = computation_types.TensorType(np.float32, shape)

        assert tensor_type.shape == expected_shape
        assert str(tensor_type) == expected_str

    def test_shape_dims_are_python_ints_when_given_numpy_ints(self):
        tensor_type = computation_types.TensorType(np.float32, [np.int64(4)])

        assert type(tensor_type.shape[0]) is int

    @pytest.mark.parametrize(
        "shape, expected",
        [
            pytest.param((), True, id="scalar"),
            pytest.param([2, 3], True, id="known"),
            pytest.param([None, 3], False, id="unknown_dim"),
            pytest.param(None, False, id="unknown_rank"),
        ],
    )
    def test_is_fully_defined(self, shape, expected):
        assert computation_types.TensorType(np.float32, shape).is_fully_defined() is expected

    @pytest.mark.parametrize(
        "shape, expected",
        [
            pytest.param([None, 3], [None, 3], id="partly_known"),
            pytest.param((), [], id="scalar"),
        ],
    )
    def test_tensor_shape_when_rank_is_known(self, shape, expected):
        tensor_shape = computation_types.TensorType(np.float32, shape).tensor_shape

        assert isinstance(tensor_shape, tf.TensorShape)
        assert tensor_shape.as_list() == expected

    def test_tensor_shape_has_no_rank_when_rank_is_unknown(self):
        assert computation_types.TensorType(np.float32, None).tensor_shape.rank is None

    @pytest.mark.parametrize(
        "dtype, expected_message",
        [
            pytest.param("nope", "TensorType dtype: expected a dtype, got 'nope'", id="bad_name"),
            pytest.param(
                object, "TensorType dtype: expected a dtype, got <class 'object'>", id="cls"
            ),
            pytest.param(3, "TensorType dtype: expected a dtype, got 3", id="int"),
            pytest.param(None, "TensorType dtype: expected a dtype, got None", id="none"),
            pytest.param([3], "TensorType dtype: expected a dtype, got [3]", id="shape"),
        ],
    )
    def test_raises_type_error_when_dtype_is_not_one(self, dtype, expected_message):
        with pytest.raises(TypeError) as raised:
            computation_types.TensorType(dtype)

        assert str(raised.value) == expected_message

    @pytest.mark.parametrize(
        "shape, shown",
        [
            pytest.param([-1], "[-1]", id="negative"),
            pytest.param(-2, "(-2,)", id="negative_int"),
            pytest.param([1.5], "[1.5]", id="float_dim"),
            pytest.param([True], "[True]", id="bool_dim"),
            pytest.param(True, "True", id="bool"),
            pytest.param("3", "'3'", id="string"),
            pytest.param({"a": 1}, "{'a': 1}", id="dict"),
        ],
    )
    def test_raises_type_error_when_shape_is_not_one(self, shape, shown):
        with pytest.raises(TypeError) as raised:
            computation_types.TensorType(np.float32, shape)

        assert str(raised.value) == (
            f"TensorType shape: expected a list of non-negative ints or None, got {shown}"
        )


class TestStructType:
    def test_elements_names_and_length_when_elements_are_named(self):
        struct = _struct([("a", np.int32), ("b", (np.float32, [3]))])

        assert struct.elements == (("a", _tensor(np.int32)), ("b", _tensor(np.float32, [3])))
        assert struct.names() == ("a", "b")
        assert len(struct) == 2
        assert list(struct) == [_tensor(np.int32), _tensor(np.float32, [3])]
        assert struct.container is None

    def test_names_are_none_when_elements_are_unnamed(self):
        struct = _struct([np.int32, np.float32])

        assert struct.names() == (None, None)
        assert list(struct) == [_tensor(np.int32), _tensor(np.float32)]

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
        struct = _struct(elements)

        assert struct.names() == expected_names
        assert str(struct) == expected_str

    def test_element_access_by_index_name_and_attribute(self):
        struct = _struct([("a", np.int32), ("b", np.float32)])

        assert struct[0] == _tensor(np.int32)
        assert struct[-1] == _tensor(np.float32)
        assert struct["b"] == _tensor(np.float32)
        assert struct.a == _tensor(np.int32)
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
        struct = _struct([("a", np.int32), ("b", np.float32)])

        with pytest.raises(AttributeError) as raised:
            access(struct)

        assert str(raised.value) == "<a=int32,b=float32> has no element named 'c'"

    def test_raises_index_error_when_index_is_out_of_range(self):
        with pytest.raises(IndexError):
            _struct([np.int32])[1]

    def test_raises_attribute_error_when_private_name_is_looked_up(self):
        with pytest.raises(AttributeError):
            _struct([("_a", np.int32)])._a

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
        with_container = _struct(elements, container=container)
        without_container = _struct(elements)

        assert with_container != without_container
        assert with_container == _struct(elements, container=container)
        assert with_container.is_assignable_from(without_container)
        assert without_container.is_assignable_from(with_container)
        assert with_container.is_equivalent_to(without_container)

    def test_not_equal_when_containers_differ(self):
        elements = [("x", np.int32), ("y", np.float32)]

        assert _struct(elements, container=dict) != _struct(
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
            _struct([("a", np.int32), ("b", np.int32), ("a", np.float32)])

        assert str(raised.value) == "StructType: element names must be unique, got ['a', 'b', 'a']"

    def test_raises_type_error_when_an_element_is_none(self):
        with pytest.raises(TypeError) as raised:
            _struct([np.int32, None])

        assert str(raised.value) == "StructType element 1: expected a type, got None"

    def test_raises_type_error_when_an_element_is_not_a_type(self):
        with pytest.raises(TypeError) as raised:
            _struct([("a", _Opaque())])

        assert str(raised.value) == "to_type: expected a type spec, got <opaque> of type _Opaque"


class TestSequenceType:
    def test_element_is_normalized(self):
        assert _sequence((np.float32, [3])).element == _tensor(np.float32, [3])

    @pytest.mark.parametrize(
        "element, shown",
        [
            pytest.param(_clients(np.int32), "{int32}@CLIENTS", id="federated"),
            pytest.param(_sequence(np.int32), "int32*", id="sequence"),
            pytest.param(_function(np.int32, np.int32), "(int32 -> int32)", id="function"),
            pytest.param(computation_types.PlacementType(), "placement", id="placement"),
            pytest.param(_struct([("a", _sequence(np.int32))]), "<a=int32*>", id="nested"),
            pytest.param(None, "None", id="none"),
        ],
    )
    def test_raises_type_error_when_element_is_not_tensors(self, element, shown):
        with pytest.raises(TypeError) as raised:
            computation_types.SequenceType(element)

        assert str(raised.value) == (
            f"SequenceType element: expected tensors or structs of tensors, got {shown}"
        )


class TestFunctionType:
    def test_parameter_and_result_are_normalized(self):
        function = _function((np.int32, [2]), [("a", np.float32)])

        assert function.parameter == _tensor(np.int32, [2])
        assert function.result == _struct([("a", np.float32)])

    def test_parameter_is_none_when_function_takes_nothing(self):
        assert _function(None, np.int32).parameter is None

    def test_raises_type_error_when_result_is_none(self):
        with pytest.raises(TypeError) as raised:
            computation_types.FunctionType(np.int32, None)

        assert str(raised.value) == "FunctionType result: expected a type, got None"


class TestFederatedType:
    @pytest.mark.parametrize(
        "placement, expected",
        [
            pytest.param(placements.CLIENTS, False, id="clients"),
            pytest.param(placements.SERVER, True, id="server"),
        ],
    )
    def test_all_equal_defaults_to_placement_default(self, placement, expected):
        federated = computation_types.FederatedType(np.float32, placement)

        assert federated.all_equal is expected
        assert federated.placement is placement
        assert federated.member == _tensor(np.float32)

    def test_all_equal_is_kept_when_given(self):
        assert _clients(np.float32, all_equal=True).all_equal is True
        assert _server(np.float32, all_equal=False).all_equal is False

    @pytest.mark.parametrize(
        "member, placement, all_equal, expected_message",
        [
            pytest.param(
                _clients(np.int32),
                placements.CLIENTS,
                None,
                "FederatedType member: expected tensors, structs or sequences, "
                "got {int32}@CLIENTS (federated values do not nest)",
                id="federated_member",
            ),
            pytest.param(
                [("a", _server(np.int32))],
                placements.CLIENTS,
                None,
                "FederatedType member: expected tensors, structs or sequences, "
                "got <a=int32@SERVER> (federated values do not nest)",
                id="federated_inside_struct",
            ),
            pytest.param(
                _function(np.int32, np.int32),
                placements.SERVER,
                None,
                "FederatedType member: expected tensors, structs or sequences, "
                "got (int32 -> int32) (federated values do not nest)",
                id="function_member",
            ),
            pytest.param(
                np.int32,
                "clients",
                None,
                "FederatedType placement: expected tffl.CLIENTS or tffl.SERVER, got 'clients'",
                id="placement_string",
            ),
            pytest.param(
                None,
                placements.CLIENTS,
                None,
                "FederatedType member: expected a type, got None",
                id="none_member",
            ),
            pytest.param(
                np.int32,
                placements.CLIENTS,
                1,
                "FederatedType all_equal: expected a bool, got 1",
                id="all_equal_int",
            ),
        ],
    )
    def test_raises_type_error_when_invalid(self, member, placement, all_equal, expected_message):
        with pytest.raises(TypeError) as raised:
            computation_types.FederatedType(member, placement, all_equal)

        assert str(raised.value) == expected_message


class TestAbstractType:
    def test_label(self):
        assert computation_types.AbstractType("T").label == "T"

    @pytest.mark.parametrize(
        "label, shown",
        [
            pytest.param("", "''", id="empty"),
            pytest.param(3, "3", id="int"),
            pytest.param(None, "None", id="none"),
        ],
    )
    def test_raises_type_error_when_label_is_not_a_non_empty_str(self, label, shown):
        with pytest.raises(TypeError) as raised:
            computation_types.AbstractType(label)

        assert str(raised.value) == f"AbstractType label: expected a non-empty str, got {shown}"


class TestValueSemantics:
    @pytest.mark.parametrize(
        "type_spec, attribute",
        [
            pytest.param(_tensor(np.float32), "_dtype", id="tensor_slot"),
            pytest.param(_tensor(np.float32), "dtype", id="tensor_property"),
            pytest.param(_struct([("a", np.int32)]), "_elements", id="struct_slot"),
            pytest.param(_struct([("a", np.int32)]), "a", id="struct_element"),
            pytest.param(_sequence(np.int32), "_element", id="sequence_slot"),
            pytest.param(_function(np.int32, np.int32), "_result", id="function_slot"),
            pytest.param(_clients(np.int32), "all_equal", id="federated_property"),
            pytest.param(computation_types.PlacementType(), "anything", id="placement_new_attr"),
            pytest.param(computation_types.AbstractType("T"), "_label", id="abstract_slot"),
        ],
    )
    def test_raises_attribute_error_when_setting_an_attribute(self, type_spec, attribute):
        with pytest.raises(AttributeError) as raised:
            setattr(type_spec, attribute, None)

        assert str(raised.value) == f"{type(type_spec).__name__} is immutable"

    @pytest.mark.parametrize("type_spec", ALL_KINDS)
    def test_usable_in_sets_and_as_dict_keys(self, type_spec):
        twin = copy.deepcopy(type_spec)

        assert {type_spec, twin} == {type_spec}
        assert {type_spec: 1}[twin] == 1

    @pytest.mark.parametrize(
        "first, second",
        [
            pytest.param(
                _tensor(np.float32, [3]), _tensor(tf.float32, (3,)), id="numpy_vs_tf_dtype"
            ),
            pytest.param(
                _tensor("float32", tf.TensorShape([3])), _tensor(float, 3), id="name_vs_class"
            ),
            pytest.param(
                _struct([("a", np.int32)]), _struct({"a": tf.int32}), id="struct_list_vs_dict"
            ),
            pytest.param(
                _clients([np.int32]),
                computation_types.FederatedType(
                    _struct([_tensor(np.int32)], container=list),
                    placements.PlacementLiteral("clients", "C", default_all_equal=True),
                    all_equal=False,
                ),
                id="federated",
            ),
            pytest.param(
                _function(None, np.int32), _function(None, _tensor(tf.int32)), id="function"
            ),
            pytest.param(
                computation_types.PlacementType(), computation_types.PlacementType(), id="placement"
            ),
        ],
    )
    def test_equal_with_equal_hash_when_structure_is_equal(self, first, second):
        assert first is not second
        assert first == second
        assert not first != second
        assert hash(first) == hash(second)

    @pytest.mark.parametrize(
        "first, second",
        [
            pytest.param(_tensor(np.float32), _tensor(np.float64), id="dtype"),
            pytest.param(_tensor(np.float32, [3]), _tensor(np.float32, [None]), id="shape"),
            pytest.param(_tensor(np.float32, [None]), _tensor(np.float32, None), id="rank"),
            pytest.param(_struct([("a", np.int32)]), _struct([("b", np.int32)]), id="names"),
            pytest.param(_struct([("a", np.int32)]), _struct([np.int32]), id="named_unnamed"),
            pytest.param(_struct([np.int32]), _struct([np.int32, np.int32]), id="length"),
            pytest.param(_clients(np.int32), _server(np.int32, False), id="placement"),
            pytest.param(_clients(np.int32), _clients(np.int32, True), id="all_equal"),
            pytest.param(_function(None, np.int32), _function(np.int32, np.int32), id="parameter"),
            pytest.param(_sequence(np.int32), _struct([np.int32]), id="kinds"),
            pytest.param(
                computation_types.AbstractType("T"), computation_types.AbstractType("U"), id="label"
            ),
            pytest.param(_tensor(np.float32), "float32", id="string"),
            pytest.param(_tensor(np.float32), tf.float32, id="dtype_object"),
        ],
    )
    def test_not_equal_when_structure_differs(self, first, second):
        assert first != second
        assert not first == second

    @pytest.mark.parametrize(
        "duplicate",
        [
            pytest.param(copy.copy, id="copy"),
            pytest.param(copy.deepcopy, id="deepcopy"),
            pytest.param(lambda value: pickle.loads(pickle.dumps(value)), id="pickle"),
        ],
    )
    @pytest.mark.parametrize("type_spec", ALL_KINDS)
    def test_copies_are_equal_when_copied_or_pickled(self, type_spec, duplicate):
        duplicated = duplicate(type_spec)

        assert duplicated == type_spec
        assert hash(duplicated) == hash(type_spec)
        assert str(duplicated) == str(type_spec)


class TestToType:
    @pytest.mark.parametrize(
        "spec, expected",
        [
            pytest.param(None, None, id="none"),
            pytest.param(np.int32, _tensor(np.int32), id="numpy_class"),
            pytest.param(np.dtype("float64"), _tensor(np.float64), id="numpy_dtype"),
            pytest.param(tf.bool, _tensor(np.bool_), id="tf_dtype"),
            pytest.param("int64", _tensor(np.int64), id="dtype_name"),
            pytest.param(int, _tensor(np.int32), id="python_int"),
            pytest.param(float, _tensor(np.float32), id="python_float"),
            pytest.param(
                tf.TensorSpec([None, 3], tf.float32), _tensor(np.float32, [None, 3]), id="spec"
            ),
            pytest.param(tf.TensorSpec(None, tf.int32), _tensor(np.int32, None), id="spec_no_rank"),
            pytest.param(
                (np.float32, [None, 784]), _tensor(np.float32, [None, 784]), id="dtype_shape_pair"
            ),
            pytest.param(("int32", [2]), _tensor(np.int32, [2]), id="name_shape_pair"),
            pytest.param(
                (tf.float32, tf.TensorShape([3])), _tensor(np.float32, [3]), id="tf_shape_pair"
            ),
            pytest.param(("a", np.int32), _struct([("a", np.int32)]), id="named_pair"),
            pytest.param(
                ("a", [np.int32, np.bool_]),
                _struct([("a", _struct([np.int32, np.bool_], container=list))]),
                id="named_pair_of_list",
            ),
            pytest.param(
                [("a", np.int32), ("b", np.float32)],
                _struct([("a", np.int32), ("b", np.float32)]),
                id="list_of_pairs",
            ),
            pytest.param(
                (("a", np.int32), ("b", np.float32)),
                _struct([("a", np.int32), ("b", np.float32)]),
                id="tuple_of_pairs",
            ),
            pytest.param(
                [np.int32, np.float32],
                _struct([np.int32, np.float32], container=list),
                id="list",
            ),
            pytest.param(
                (np.int32, np.float32, np.bool_),
                _struct([np.int32, np.float32, np.bool_], container=tuple),
                id="tuple",
            ),
            pytest.param(
                {"a": np.int32, "b": tf.TensorSpec([2], tf.float32)},
                _struct([("a", np.int32), ("b", (np.float32, [2]))], container=dict),
                id="dict",
            ),
            pytest.param(
                collections.OrderedDict(b=np.int32, a=np.float32),
                _struct([("b", np.int32), ("a", np.float32)], container=collections.OrderedDict),
                id="ordered_dict",
            ),
            pytest.param(
                Point(tf.TensorSpec([3], tf.float32), np.int32),
                _struct([("x", (np.float32, [3])), ("y", np.int32)], container=Point),
                id="namedtuple",
            ),
            pytest.param(
                AttrsPoint(np.int32, np.float32),
                _struct([("x", np.int32), ("y", np.float32)], container=AttrsPoint),
                id="attrs",
            ),
            pytest.param(
                DataPoint(np.int32, np.float32),
                _struct([("x", np.int32), ("y", np.float32)], container=DataPoint),
                id="dataclass",
            ),
            pytest.param(
                {
                    "x": (tf.TensorSpec([None, 784], tf.float32), tf.TensorSpec([None], tf.int32)),
                    "y": Point(np.int32, [np.float32]),
                },
                _struct(
                    [
                        (
                            "x",
                            _struct(
                                [_tensor(np.float32, [None, 784]), _tensor(np.int32, [None])],
                                container=tuple,
                            ),
                        ),
                        (
                            "y",
                            _struct(
                                [("x", np.int32), ("y", _struct([np.float32], container=list))],
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
                _sequence(
                    _struct(
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


class TestIsAssignableFrom:
    @pytest.mark.parametrize("type_spec", ALL_KINDS)
    def test_reflexive(self, type_spec):
        assert type_spec.is_assignable_from(type_spec)
        assert type_spec.is_assignable_from(copy.deepcopy(type_spec))
        assert type_spec.is_equivalent_to(type_spec)

    @pytest.mark.parametrize(
        "chain",
        [
            pytest.param(
                [_tensor(np.float32, [3]), _tensor(np.float32, [None]), _tensor(np.float32, None)],
                id="tensor_shapes",
            ),
            pytest.param(
                [
                    _clients(_tensor(np.float32, [3]), all_equal=True),
                    _clients(_tensor(np.float32, [None]), all_equal=True),
                    _clients(_tensor(np.float32, [None])),
                    _clients(_tensor(np.float32, None)),
                ],
                id="federated",
            ),
            pytest.param(
                [
                    _struct([("a", _tensor(np.float32, [3]))]),
                    _struct([("a", _tensor(np.float32, [None]))]),
                    _struct([_tensor(np.float32, None)]),
                ],
                id="struct",
            ),
            pytest.param(
                [
                    _function(_tensor(np.float32, None), _tensor(np.int32, [2])),
                    _function(_tensor(np.float32, [None]), _tensor(np.int32, [None])),
                    _function(_tensor(np.float32, [4]), _tensor(np.int32, None)),
                ],
                id="function",
            ),
        ],
    )
    def test_transitive_along_a_generalising_chain(self, chain):
        for i, narrow in enumerate(chain):
            for wide in chain[i + 1 :]:
                assert wide.is_assignable_from(narrow)
                assert not narrow.is_assignable_from(wide)

    @pytest.mark.parametrize(
        "target, source, expected",
        [
            pytest.param(_tensor(np.float32, [None]), _tensor(np.float32, [3]), True, id="dim"),
            pytest.param(
                _tensor(np.float32, [3]), _tensor(np.float32, [None]), False, id="dim_reversed"
            ),
            pytest.param(_tensor(np.float32, [3]), _tensor(np.float32, [4]), False, id="dim_size"),
            pytest.param(_tensor(np.float32, None), _tensor(np.float32, [2, 3]), True, id="rank"),
            pytest.param(
                _tensor(np.float32, [None]), _tensor(np.float32, None), False, id="rank_reversed"
            ),
            pytest.param(
                _tensor(np.float32, [None]), _tensor(np.float32, [None, 3]), False, id="rank_diff"
            ),
            pytest.param(_tensor(np.float32), _tensor(np.int32), False, id="dtype"),
            pytest.param(_tensor(np.float32), _struct([np.float32]), False, id="tensor_vs_struct"),
            pytest.param(
                _clients(np.float32), _clients(np.float32, all_equal=True), True, id="to_non_eq"
            ),
            pytest.param(
                _clients(np.float32, all_equal=True), _clients(np.float32), False, id="to_all_eq"
            ),
            pytest.param(
                _server(np.float32, all_equal=False), _server(np.float32), True, id="server_to_ne"
            ),
            pytest.param(_clients(np.float32), _server(np.float32), False, id="placement"),
            pytest.param(
                _server(np.float32), _clients(np.float32, all_equal=True), False, id="placement_eq"
            ),
            pytest.param(
                _clients(_tensor(np.float32, [None])),
                _clients(_tensor(np.float32, [3])),
                True,
                id="federated_member",
            ),
            pytest.param(_clients(np.float32), _tensor(np.float32), False, id="unplaced"),
            pytest.param(
                _struct([np.int32, np.float32]),
                _struct([("a", np.int32), ("b", np.float32)]),
                True,
                id="unnamed_accepts_named",
            ),
            pytest.param(
                _struct([("a", np.int32), ("b", np.float32)]),
                _struct([np.int32, np.float32]),
                True,
                id="named_accepts_unnamed_by_position",
            ),
            pytest.param(
                _struct([("a", np.int32), ("b", np.float32)]),
                _struct([("a", np.int32), ("c", np.float32)]),
                False,
                id="named_refuses_other_name",
            ),
            pytest.param(
                _struct([("a", np.int32), ("b", np.float32)]),
                _struct([("b", np.float32), ("a", np.int32)]),
                False,
                id="named_refuses_reordered",
            ),
            pytest.param(
                _struct([("a", np.int32), np.float32]),
                _struct([("a", np.int32), ("b", np.float32)]),
                True,
                id="partly_named_accepts_named",
            ),
            pytest.param(
                _struct([("a", np.int32)]),
                _struct([("a", np.int32), ("b", np.float32)]),
                False,
                id="length",
            ),
            pytest.param(
                _struct([("a", np.int32)]), _struct([("a", np.float32)]), False, id="element_type"
            ),
            pytest.param(
                _sequence(_tensor(np.float32, [None])),
                _sequence(_tensor(np.float32, [3])),
                True,
                id="sequence",
            ),
            pytest.param(
                _sequence(_tensor(np.float32, [3])),
                _sequence(_tensor(np.float32, [None])),
                False,
                id="sequence_reversed",
            ),
            pytest.param(_sequence(np.int32), _struct([np.int32]), False, id="sequence_vs_struct"),
            pytest.param(
                _function(_tensor(np.float32, [3]), _tensor(np.float32, [None])),
                _function(_tensor(np.float32, [None]), _tensor(np.float32, [3])),
                True,
                id="function_wider_parameter_narrower_result",
            ),
            pytest.param(
                _function(_tensor(np.float32, [None]), np.float32),
                _function(_tensor(np.float32, [3]), np.float32),
                False,
                id="function_narrower_parameter",
            ),
            pytest.param(
                _function(np.float32, _tensor(np.float32, [3])),
                _function(np.float32, _tensor(np.float32, [None])),
                False,
                id="function_wider_result",
            ),
            pytest.param(
                _function(None, np.int32), _function(np.int32, np.int32), False, id="no_parameter"
            ),
            pytest.param(
                _function(np.int32, np.int32), _function(None, np.int32), False, id="parameter"
            ),
            pytest.param(_function(None, np.int32), _tensor(np.int32), False, id="not_function"),
            pytest.param(
                computation_types.PlacementType(),
                computation_types.PlacementType(),
                True,
                id="placement_type",
            ),
            pytest.param(
                computation_types.PlacementType(), _tensor(np.int32), False, id="placement_tensor"
            ),
            pytest.param(
                computation_types.AbstractType("T"),
                computation_types.AbstractType("U"),
                False,
                id="abstract_label",
            ),
            pytest.param(
                computation_types.AbstractType("T"), _tensor(np.int32), False, id="abstract_tensor"
            ),
        ],
    )
    def test_is_assignable_from(self, target, source, expected):
        assert target.is_assignable_from(source) is expected

    @pytest.mark.parametrize(
        "first, second, expected",
        [
            pytest.param(
                _tensor(np.float32, [3]), _tensor(np.float32, [None]), False, id="shape_differs"
            ),
            pytest.param(
                _struct([("a", np.int32)], container=dict),
                _struct([("a", np.int32)], container=collections.OrderedDict),
                True,
                id="containers_differ",
            ),
            pytest.param(
                _struct([("a", np.int32)]), _struct([np.int32]), True, id="named_and_unnamed"
            ),
            pytest.param(
                _struct([("a", np.int32)]), _struct([("b", np.int32)]), False, id="names_differ"
            ),
        ],
    )
    def test_is_equivalent_to(self, first, second, expected):
        assert first.is_equivalent_to(second) is expected
        assert second.is_equivalent_to(first) is expected


class TestCheckAssignableFrom:
    def test_returns_none_when_assignable(self):
        target = _tensor(np.float32, [None])

        assert target.check_assignable_from(_tensor(np.float32, [3])) is None

    def test_raises_type_mismatch_error_with_context_when_not_assignable(self):
        target = _clients(np.float32)
        source = _server(np.float32)

        with pytest.raises(type_errors.TypeMismatchError) as raised:
            target.check_assignable_from(source, "federated_sum")

        assert isinstance(raised.value, TypeError)
        assert raised.value.expected is target
        assert raised.value.actual is source
        assert raised.value.context == "federated_sum"
        assert str(raised.value) == "federated_sum: expected {float32}@CLIENTS, got float32@SERVER"

    def test_message_has_no_context_when_none_given(self):
        with pytest.raises(type_errors.TypeMismatchError) as raised:
            _tensor(np.float32, [3]).check_assignable_from(_tensor(np.float32, [None]))

        assert str(raised.value) == "expected float32[3], got float32[?]"

    def test_message_contains_diff_when_types_are_long(self):
        fields = [f"feature_{i}" for i in range(8)]
        target = _clients([(name, (np.float32, [None, 28, 28])) for name in fields])
        source = _clients(
            [(name, (np.float32, [None, 28, 28 if name != "feature_5" else 27])) for name in fields]
        )

        with pytest.raises(type_errors.TypeMismatchError) as raised:
            target.check_assignable_from(source, "federated_mean")

        assert str(raised.value).splitlines() == [
            f"federated_mean: expected {target}, got {source}",
            "  expected: ...8,28],feature_5=float32[?,28,28],"
            "feature_6=float32[?,28,28],feature_7=float32[?,",
            "  actual:   ...8,28],feature_5=float32[?,28,27],"
            "feature_6=float32[?,28,28],feature_7=float32[?,",
            "  (first difference at character 161)",
        ]
