"""Tests for tffl/compiler/building_blocks.py: IR nodes, their checks, strings and protos."""

import collections
import doctest
import importlib
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import building_blocks as bb
from tffl.proto import computation_pb2

ROOT = pathlib.Path(__file__).resolve().parents[2]
INT = tffl.TensorType(np.int32)
FLOAT = tffl.TensorType(np.float32)
NAMED = tffl.to_type(collections.OrderedDict(a=np.int32, b=np.float32))


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


def _ref(name, type_spec=INT):
    return bb.Reference(name, tffl.to_type(type_spec))


class TestReference:
    def test_prints_name_when_converted_to_string(self):
        reference = _ref("x")
        assert str(reference) == "x"
        assert repr(reference) == "Reference('x': int32)"
        assert reference.children() == ()

    def test_raises_type_error_when_name_is_empty(self):
        with pytest.raises(TypeError) as raised:
            bb.Reference("", INT)
        assert str(raised.value) == "Reference name: expected a non-empty str, got ''"


class TestSelection:
    @pytest.mark.parametrize(
        "kwargs, compact, index, type_str",
        [
            pytest.param({"name": "b"}, "x.b", 1, "float32", id="by-name"),
            pytest.param({"index": 0}, "x.a", 0, "int32", id="by-index-named"),
            pytest.param({"index": -1}, "x.b", 1, "float32", id="negative-index"),
        ],
    )
    def test_selects_element_when_source_is_a_named_struct(self, kwargs, compact, index, type_str):
        selection = bb.Selection(_ref("x", NAMED), **kwargs)
        assert str(selection) == compact
        assert selection.index == index
        assert str(selection.type_signature) == type_str

    def test_prints_index_when_element_is_unnamed(self):
        selection = bb.Selection(_ref("x", [np.int32, np.float32]), index=1)
        assert str(selection) == "x[1]"
        assert selection.name is None

    def test_raises_type_mismatch_when_source_is_not_a_struct(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            bb.Selection(_ref("x"), index=0)
        assert str(raised.value) == "selection source: expected a struct, got int32"

    @pytest.mark.parametrize(
        "kwargs",
        [pytest.param({}, id="neither"), pytest.param({"name": "a", "index": 0}, id="both")],
    )
    def test_raises_value_error_when_not_exactly_one_of_name_and_index(self, kwargs):
        with pytest.raises(ValueError) as raised:
            bb.Selection(_ref("x", NAMED), **kwargs)
        assert str(raised.value) == "Selection: give exactly one of name and index"

    def test_raises_attribute_error_when_name_is_unknown(self):
        with pytest.raises(AttributeError) as raised:
            bb.Selection(_ref("x", NAMED), name="c")
        assert str(raised.value) == "selection: <a=int32,b=float32> has no element named 'c'"

    def test_raises_index_error_when_index_is_out_of_range(self):
        with pytest.raises(IndexError) as raised:
            bb.Selection(_ref("x", NAMED), index=2)
        assert str(raised.value) == "selection: index 2 out of range for <a=int32,b=float32>"


class TestStruct:
    def test_prints_names_when_elements_are_named(self):
        struct = bb.Struct([("a", _ref("x")), _ref("y", FLOAT)])
        assert str(struct) == "<a=x,y>"
        assert str(struct.type_signature) == "<a=int32,float32>"

    def test_keeps_container_when_given_one(self):
        struct = bb.Struct([("a", _ref("x"))], container=collections.OrderedDict)
        assert struct.type_signature.container is collections.OrderedDict

    def test_raises_type_error_when_element_is_not_a_building_block(self):
        with pytest.raises(TypeError) as raised:
            bb.Struct([3])
        assert str(raised.value) == "Struct element: expected a building block, got 3"


class TestCall:
    def test_has_result_type_when_argument_fits(self):
        call = bb.Call(_ref("f", tffl.FunctionType(np.int32, np.float32)), _ref("x"))
        assert str(call) == "f(x)"
        assert str(call.type_signature) == "float32"
        assert call.children() == (call.function, call.argument)

    def test_takes_no_argument_when_function_has_no_parameter(self):
        call = bb.Call(_ref("f", tffl.FunctionType(None, np.int32)))
        assert str(call) == "f()"
        assert call.children() == (call.function,)

    def test_raises_type_mismatch_when_function_is_not_a_function(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            bb.Call(_ref("f"))
        assert str(raised.value) == "call: expected a function, got int32"

    def test_raises_type_mismatch_when_argument_has_wrong_type(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            bb.Call(_ref("f", tffl.FunctionType(np.int32, np.int32)), _ref("x", FLOAT))
        assert str(raised.value) == "argument of f: expected int32, got float32"

    def test_raises_type_error_when_argument_is_missing(self):
        with pytest.raises(TypeError) as raised:
            bb.Call(_ref("f", tffl.FunctionType(np.int32, np.int32)))
        assert str(raised.value) == "call of f: expected an argument of type int32, got none"

    def test_raises_type_error_when_argument_is_unexpected(self):
        with pytest.raises(TypeError) as raised:
            bb.Call(_ref("f", tffl.FunctionType(None, np.int32)), _ref("x"))
        assert str(raised.value) == "call of f: expected no argument, got int32"


class TestLambda:
    def test_has_function_type_when_given_parameter(self):
        function = bb.Lambda("x", INT, bb.Struct([_ref("x"), _ref("x")]))
        assert str(function) == "(x -> <x,x>)"
        assert str(function.type_signature) == "(int32 -> <int32,int32>)"

    def test_has_no_parameter_when_given_none(self):
        function = bb.Lambda(None, None, _ref("y"))
        assert str(function) == "( -> y)"
        assert str(function.type_signature) == "( -> int32)"

    def test_raises_type_error_when_only_name_is_given(self):
        with pytest.raises(TypeError) as raised:
            bb.Lambda("x", None, _ref("x"))
        assert str(raised.value) == "Lambda: give both a parameter name and type, or neither"


class TestBlock:
    def test_prints_let_when_converted_to_string(self):
        block = bb.Block([("a", _ref("x")), ("b", _ref("a"))], bb.Struct([_ref("a"), _ref("b")]))
        assert str(block) == "(let a=x,b=a in <a,b>)"
        assert str(block.type_signature) == "<int32,int32>"

    def test_raises_type_error_when_local_is_malformed(self):
        with pytest.raises(TypeError) as raised:
            bb.Block([(1, _ref("x"))], _ref("x"))
        assert str(raised.value) == (
            "Block local: expected (str, building block), got (1, Reference('x': int32))"
        )


class TestIntrinsic:
    def test_prints_uri_when_converted_to_string(self):
        intrinsic = bb.Intrinsic(
            "federated_sum",
            tffl.FunctionType(
                tffl.FederatedType(np.int32, tffl.CLIENTS),
                tffl.FederatedType(np.int32, tffl.SERVER),
            ),
        )
        assert str(intrinsic) == "federated_sum"
        assert intrinsic.uri == "federated_sum"

    def test_raises_type_mismatch_when_type_is_not_a_function(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            bb.Intrinsic("federated_sum", INT)
        assert str(raised.value) == "intrinsic federated_sum: expected a function type, got int32"


class TestData:
    def test_prints_uri_when_converted_to_string(self):
        data = bb.Data("file://clients", INT)
        assert str(data) == "data(file://clients)"
        assert data.uri == "file://clients"


class TestLiteral:
    @pytest.mark.parametrize(
        "value, type_spec, compact, type_str",
        [
            pytest.param(np.int32(3), None, "3", "int32", id="int32"),
            pytest.param(3, None, "3", "int64", id="python-int-is-numpy-default"),
            pytest.param(2.5, tffl.TensorType(np.float32), "2.5", "float32", id="cast-to-type"),
            pytest.param(
                np.array([[1, 2], [3, 4]], np.int32),
                None,
                "[[1,2], [3,4]]",
                "int32[2,2]",
                id="matrix",
            ),
            pytest.param(
                np.zeros([2, 3], np.float32),
                tffl.TensorType(np.float32, [None, 3]),
                "[[0.,0.,0.], [0.,0.,0.]]",
                "float32[?,3]",
                id="partly-known-shape",
            ),
            pytest.param("hello", None, "b'hello'", "string", id="str"),
            pytest.param(b"hello", None, "b'hello'", "string", id="bytes"),
            pytest.param(["a", "b"], None, "[b'a',b'b']", "string[2]", id="str-vector"),
        ],
    )
    def test_prints_value_when_converted_to_string(self, value, type_spec, compact, type_str):
        literal = bb.Literal(value, type_spec)
        assert str(literal) == compact
        assert str(literal.type_signature) == type_str

    def test_raises_type_mismatch_when_shape_does_not_fit(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            bb.Literal(np.zeros([2]), tffl.TensorType(np.float32, [3]))
        assert str(raised.value) == "literal: expected float32[3], got float32[2]"

    def test_raises_type_mismatch_when_type_is_not_a_tensor(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            bb.Literal(1, tffl.StructType([np.int32]))
        assert str(raised.value) == "literal: expected a tensor type, got <int32>"


class TestPlacement:
    def test_prints_literal_when_converted_to_string(self):
        placement = bb.Placement(tffl.CLIENTS)
        assert str(placement) == "CLIENTS"
        assert str(placement.type_signature) == "placement"

    def test_raises_type_error_when_given_a_string(self):
        with pytest.raises(TypeError) as raised:
            bb.Placement("CLIENTS")
        assert str(raised.value) == (
            "Placement: expected tffl.CLIENTS or tffl.SERVER, got 'CLIENTS'"
        )


class TestTensorFlow:
    def test_prints_name_when_graph_is_named(self):
        assert str(double.building_block) == "double"
        assert double.building_block.name == "double"

    def test_prints_hash_when_graph_is_unnamed(self):
        proto = computation_pb2.TensorFlow()
        proto.CopyFrom(double.building_block.proto)
        proto.name = ""
        block = bb.TensorFlow(proto, double.type_signature)
        assert str(block) == f"comp#{block.content_hash()[:8]}"

    def test_has_equal_hash_when_graph_and_type_are_equal(self):
        copy = bb.TensorFlow(double.building_block.proto, double.type_signature)
        assert copy.content_hash() == double.building_block.content_hash()
        assert len(copy.content_hash()) == 64

    def test_raises_type_mismatch_when_type_is_not_a_function(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            bb.TensorFlow(double.building_block.proto, INT)
        assert str(raised.value) == "TensorFlow block: expected a function type, got int32"


def _every_node_kind():
    federated_int = tffl.FederatedType(np.int32, tffl.CLIENTS)
    intrinsic = bb.Intrinsic(
        "federated_sum",
        tffl.FunctionType(federated_int, tffl.FederatedType(np.int32, tffl.SERVER)),
    )
    return {
        "reference": _ref("x"),
        "selection": bb.Selection(_ref("x", NAMED), name="b"),
        "struct": bb.Struct(
            [("a", _ref("x")), ("b", _ref("y", FLOAT))], container=collections.OrderedDict
        ),
        "struct-unnamed": bb.Struct([_ref("x"), _ref("y", FLOAT)], container=tuple),
        "call": bb.Call(intrinsic, _ref("v", federated_int)),
        "call-without-argument": bb.Call(_ref("f", tffl.FunctionType(None, np.int32))),
        "lambda": bb.Lambda("x", INT, bb.Call(double.building_block, _ref("x"))),
        "lambda-without-parameter": bb.Lambda(None, None, bb.Literal(np.int32(1))),
        "block": bb.Block(
            [("a", bb.Literal(np.float32(1.5))), ("b", bb.Struct([_ref("a", FLOAT)]))],
            bb.Selection(_ref("b", [np.float32]), index=0),
        ),
        "intrinsic": intrinsic,
        "data": bb.Data("file://clients", tffl.FederatedType(np.int32, tffl.CLIENTS)),
        "literal": bb.Literal(np.array([1.0, 2.0], np.float32)),
        "literal-string": bb.Literal("hello"),
        "placement": bb.Placement(tffl.SERVER),
        "tensorflow": double.building_block,
    }


NODES = _every_node_kind()


class TestProtoRoundTrip:
    @pytest.mark.parametrize("kind", list(NODES))
    def test_prints_identically_when_node_goes_through_its_proto(self, kind):
        node = NODES[kind]
        back = bb.from_proto(node.to_proto())
        assert type(back) is type(node)
        assert str(back) == str(node)
        assert back.type_signature == node.type_signature

    @pytest.mark.parametrize("kind", list(NODES))
    def test_serializes_identically_when_node_goes_through_its_proto(self, kind):
        data = NODES[kind].to_proto().SerializeToString(deterministic=True)
        back = bb.from_proto(computation_pb2.Computation.FromString(data))
        assert back.to_proto().SerializeToString(deterministic=True) == data

    def test_keeps_literal_value_when_literal_goes_through_its_proto(self):
        back = bb.from_proto(NODES["literal"].to_proto())
        np.testing.assert_array_equal(back.value, np.array([1.0, 2.0], np.float32))
        assert back.value.dtype == np.float32

    def test_raises_value_error_when_message_has_no_kind(self):
        with pytest.raises(ValueError) as raised:
            bb.from_proto(computation_pb2.Computation())
        assert str(raised.value) == "from_proto: the computation message has no kind set (None)"

    def test_raises_value_error_when_lambda_has_no_function_type(self):
        proto = bb.Lambda("x", INT, _ref("x")).to_proto()
        proto.type.CopyFrom(tffl.types.serialize_type(INT))
        with pytest.raises(ValueError) as raised:
            bb.from_proto(proto)
        assert str(raised.value) == "lambda: expected a function type, got int32"

    def test_raises_type_mismatch_when_message_is_ill_typed(self):
        proto = bb.Call(_ref("f", tffl.FunctionType(np.int32, np.int32)), _ref("x")).to_proto()
        proto.call.argument.type.CopyFrom(tffl.types.serialize_type(FLOAT))
        with pytest.raises(tffl.TypeMismatchError) as raised:
            bb.from_proto(proto)
        assert str(raised.value) == "argument of f: expected int32, got float32"


class TestWalk:
    def test_lists_parents_before_children_when_walking(self):
        tree = bb.Lambda(
            "x", INT, bb.Struct([_ref("x"), bb.Call(double.building_block, _ref("x"))])
        )
        assert [str(n) for n in bb.walk(tree)] == [
            "(x -> <x,double(x)>)",
            "<x,double(x)>",
            "x",
            "double(x)",
            "double",
            "x",
        ]


def _compiler_modules():
    return sorted(
        f"tffl.compiler.{p.stem}"
        for p in (ROOT / "tffl" / "compiler").glob("*.py")
        if p.stem != "__init__"
    )


class TestDocstringExamples:
    @pytest.mark.parametrize("module_name", _compiler_modules())
    def test_runs_without_failures_when_module_examples_are_run(self, module_name):
        module = importlib.import_module(module_name)
        globs = {**vars(module), "np": np, "collections": collections, "tffl": tffl, "tf": tf}
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(module, globs=globs):
            runner.run(test)
        assert runner.summarize(verbose=False).failed == 0
