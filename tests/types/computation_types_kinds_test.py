"""Tests for tffl.types.computation_types: notation, and the kinds of type other than structs."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from tests.types.sample_types import make_clients
from tests.types.sample_types import make_function
from tests.types.sample_types import make_sequence
from tests.types.sample_types import make_server
from tests.types.sample_types import make_struct
from tests.types.sample_types import make_tensor
import tffl.types
from tffl.types import computation_types
from tffl.types import placements


class TestNotation:
    @pytest.mark.parametrize(
        "type_spec, expected",
        [
            pytest.param(make_tensor(np.float32), "float32", id="scalar"),
            pytest.param(make_tensor(np.int32, [10]), "int32[10]", id="vector"),
            pytest.param(make_tensor(np.float32, [None, 784]), "float32[?,784]", id="unknown_dim"),
            pytest.param(make_tensor(np.float32, None), "float32[*]", id="unknown_rank"),
            pytest.param(make_tensor(np.int32, [0]), "int32[0]", id="empty_vector"),
            pytest.param(
                make_struct([("a", np.int32), ("b", np.float32)]), "<a=int32,b=float32>", id="named"
            ),
            pytest.param(make_struct([np.int32, np.float32]), "<int32,float32>", id="unnamed"),
            pytest.param(
                make_struct([np.int32, ("b", np.float32)]), "<int32,b=float32>", id="mixed"
            ),
            pytest.param(make_struct([]), "<>", id="empty_struct"),
            pytest.param(
                make_struct([("a", np.int32), ("b", [("x", tf.string), ("y", np.bool_)])]),
                "<a=int32,b=<x=string,y=bool>>",
                id="nested_struct",
            ),
            pytest.param(make_sequence(np.int32), "int32*", id="sequence"),
            pytest.param(
                make_sequence([("x", (np.float32, [None, 784])), ("y", (np.int32, [None]))]),
                "<x=float32[?,784],y=int32[?]>*",
                id="sequence_of_struct",
            ),
            pytest.param(make_function(np.int32, np.float32), "(int32 -> float32)", id="function"),
            pytest.param(
                make_function([("x", np.int32), ("y", np.float32)], np.int32),
                "(<x=int32,y=float32> -> int32)",
                id="function_of_struct",
            ),
            pytest.param(make_function(None, np.int32), "( -> int32)", id="function_of_nothing"),
            pytest.param(
                make_function(make_clients(np.float32), make_server(np.float32)),
                "({float32}@CLIENTS -> float32@SERVER)",
                id="federated_function",
            ),
            pytest.param(make_clients(np.float32), "{float32}@CLIENTS", id="clients"),
            pytest.param(
                make_clients(np.float32, all_equal=True), "float32@CLIENTS", id="clients_eq"
            ),
            pytest.param(make_server(np.float32), "float32@SERVER", id="server"),
            pytest.param(
                make_server(np.float32, all_equal=False), "{float32}@SERVER", id="server_ne"
            ),
            pytest.param(
                make_clients(make_sequence(np.int32)), "{int32*}@CLIENTS", id="clients_sequence"
            ),
            pytest.param(computation_types.PlacementType(), "placement", id="placement"),
            pytest.param(computation_types.AbstractType("T"), "T", id="abstract"),
            pytest.param(
                make_clients(computation_types.AbstractType("T")),
                "{T}@CLIENTS",
                id="abstract_member",
            ),
        ],
    )
    def test_str_is_compact_notation(self, type_spec, expected):
        assert str(type_spec) == expected
        assert type_spec.compact_representation() == expected

    @pytest.mark.parametrize(
        "type_spec, expected",
        [
            pytest.param(make_tensor(np.float32), "TensorType(float32)", id="scalar"),
            pytest.param(
                make_tensor(np.int32, [None, 3]), "TensorType(int32, [None, 3])", id="partly_known"
            ),
            pytest.param(
                make_tensor(np.float32, None), "TensorType(float32, None)", id="unknown_rank"
            ),
            pytest.param(
                make_struct([("a", np.int32), np.float32]),
                "StructType([('a', TensorType(int32)), TensorType(float32)])",
                id="struct",
            ),
            pytest.param(
                make_struct([("a", np.int32)], container=collections.OrderedDict),
                "StructType([('a', TensorType(int32))], container=OrderedDict)",
                id="struct_with_container",
            ),
            pytest.param(make_sequence(np.int32), "SequenceType(TensorType(int32))", id="sequence"),
            pytest.param(
                make_function(None, np.int32),
                "FunctionType(None, TensorType(int32))",
                id="function_of_nothing",
            ),
            pytest.param(
                make_clients(np.float32),
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


class TestSequenceType:
    def test_element_is_normalized(self):
        assert make_sequence((np.float32, [3])).element == make_tensor(np.float32, [3])

    @pytest.mark.parametrize(
        "element, shown",
        [
            pytest.param(make_clients(np.int32), "{int32}@CLIENTS", id="federated"),
            pytest.param(make_sequence(np.int32), "int32*", id="sequence"),
            pytest.param(make_function(np.int32, np.int32), "(int32 -> int32)", id="function"),
            pytest.param(computation_types.PlacementType(), "placement", id="placement"),
            pytest.param(make_struct([("a", make_sequence(np.int32))]), "<a=int32*>", id="nested"),
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
        function = make_function((np.int32, [2]), [("a", np.float32)])

        assert function.parameter == make_tensor(np.int32, [2])
        assert function.result == make_struct([("a", np.float32)])

    def test_parameter_is_none_when_function_takes_nothing(self):
        assert make_function(None, np.int32).parameter is None

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
        assert federated.member == make_tensor(np.float32)

    def test_all_equal_is_kept_when_given(self):
        assert make_clients(np.float32, all_equal=True).all_equal is True
        assert make_server(np.float32, all_equal=False).all_equal is False

    @pytest.mark.parametrize(
        "member, placement, all_equal, expected_message",
        [
            pytest.param(
                make_clients(np.int32),
                placements.CLIENTS,
                None,
                "FederatedType member: expected tensors, structs or sequences, "
                "got {int32}@CLIENTS (federated values do not nest)",
                id="federated_member",
            ),
            pytest.param(
                [("a", make_server(np.int32))],
                placements.CLIENTS,
                None,
                "FederatedType member: expected tensors, structs or sequences, "
                "got <a=int32@SERVER> (federated values do not nest)",
                id="federated_inside_struct",
            ),
            pytest.param(
                make_function(np.int32, np.int32),
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

    def test_at_clients_and_at_server_build_placed_types(self):
        assert tffl.types.at_clients(np.float32) == make_clients(np.float32)
        assert tffl.types.at_clients(np.float32, all_equal=True) == make_clients(
            np.float32, all_equal=True
        )
        assert tffl.types.at_server([np.int32, np.float32]) == make_server([np.int32, np.float32])
        assert str(tffl.types.at_clients([("x", np.float32)])) == "{<x=float32>}@CLIENTS"

    def test_at_clients_refuses_a_federated_member(self):
        with pytest.raises(TypeError, match=r"got int32@SERVER \(federated values do not nest\)"):
            tffl.types.at_clients(make_server(np.int32))


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


class TestFormattedRepresentation:
    def test_keeps_a_type_that_fits_on_one_line(self):
        federated = make_clients([("x", (np.float32, [None, 784])), ("y", np.int32)])

        assert federated.formatted_representation() == "{<x=float32[?,784],y=int32>}@CLIENTS"

    def test_puts_each_element_of_a_long_struct_on_its_own_line(self):
        weights = collections.OrderedDict(
            trainable=[(np.float32, [784, 62]), (np.float32, [62])], non_trainable=[]
        )
        state = computation_types.to_type(
            collections.OrderedDict(
                global_model_weights=weights,
                aggregator=collections.OrderedDict(value_sum_process=(), weight_sum_process=()),
                finalizer=collections.OrderedDict(learning_rate=np.float32),
            )
        )
        data = make_clients(make_sequence([("x", (np.float32, [None, 784])), ("y", np.int32)]))
        signature = make_function([("state", make_server(state)), ("client_data", data)], state)

        assert signature.formatted_representation() == (
            "(<\n"
            "  state=<\n"
            "    global_model_weights=<trainable=<float32[784,62],float32[62]>,non_trainable=<>>,\n"
            "    aggregator=<value_sum_process=<>,weight_sum_process=<>>,\n"
            "    finalizer=<learning_rate=float32>\n"
            "  >@SERVER,\n"
            "  client_data={<x=float32[?,784],y=int32>*}@CLIENTS\n"
            "> -> <\n"
            "  global_model_weights=<trainable=<float32[784,62],float32[62]>,non_trainable=<>>,\n"
            "  aggregator=<value_sum_process=<>,weight_sum_process=<>>,\n"
            "  finalizer=<learning_rate=float32>\n"
            ">)"
        )
        assert signature.formatted_representation().replace("\n", "").replace(" ", "") == (
            str(signature).replace(" ", "")
        )
