"""Tests for tffl/core/value_impl.py: symbolic values and the tracing context."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs
from tffl.compiler import tree_transformations
from tffl.core import context_stack
from tffl.core import value_impl

INT = tffl.TensorType(np.int32)
NAMED = tffl.to_type(collections.OrderedDict(a=np.int32, b=np.float32))
UNNAMED = tffl.StructType([np.int32, np.float32])


@pytest.fixture
def tracing():
    context = value_impl.TracingContext(tree_transformations.UniqueNames())
    with context_stack.install(context):
        yield context


def _value(name, type_spec):
    return value_impl.Value(bb.Reference(name, tffl.to_type(type_spec)))


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


class TestValueSelection:
    @pytest.mark.parametrize(
        "select, compact, type_str",
        [
            pytest.param(lambda v: v.a, "x.a", "int32", id="attribute"),
            pytest.param(lambda v: v["b"], "x.b", "float32", id="name-key"),
            pytest.param(lambda v: v[0], "x.a", "int32", id="index-of-named"),
            pytest.param(lambda v: v[-1], "x.b", "float32", id="negative-index"),
        ],
    )
    def test_selects_element_when_value_is_a_named_struct(self, select, compact, type_str):
        selected = select(_value("x", NAMED))
        assert str(selected) == compact
        assert str(selected.type_signature) == type_str

    def test_selects_by_position_when_struct_is_unnamed(self):
        selected = _value("x", UNNAMED)[1]
        assert str(selected) == "x[1]"
        assert repr(selected) == "Value(x[1]: float32)"

    def test_gives_list_when_key_is_a_slice(self):
        assert [str(v) for v in _value("x", UNNAMED)[0:2]] == ["x[0]", "x[1]"]

    def test_maps_selection_when_value_is_a_federated_struct_at_clients(self, tracing):
        selected = _value("x", tffl.FederatedType(NAMED, tffl.CLIENTS)).b
        assert str(selected.type_signature) == "{float32}@CLIENTS"
        assert str(selected) == "map_1"
        name, block = tracing.locals[-1]
        assert name == "map_1"
        assert str(block) == "federated_map(<(member_0 -> member_0.b),x>)"

    def test_applies_selection_when_value_is_a_federated_struct_at_server(self, tracing):
        selected = _value("x", tffl.FederatedType(NAMED, tffl.SERVER))[0]
        assert str(selected.type_signature) == "int32@SERVER"
        assert str(tracing.locals[-1][1]) == "federated_apply(<(member_0 -> member_0.a),x>)"

    def test_raises_runtime_error_when_federated_selection_is_not_traced(self):
        with pytest.raises(RuntimeError) as raised:
            _value("x", tffl.FederatedType(NAMED, tffl.CLIENTS)).a
        assert str(raised.value) == (
            "selection can only be used inside a @tffl.federated_computation"
        )

    def test_raises_attribute_error_when_name_is_unknown(self):
        with pytest.raises(AttributeError) as raised:
            _value("x", NAMED).c
        assert str(raised.value) == "a value of type <a=int32,b=float32> has no element 'c'"

    def test_raises_attribute_error_when_name_is_a_dunder(self):
        with pytest.raises(AttributeError):
            _value("x", NAMED).__wrapped__

    def test_raises_index_error_when_index_is_out_of_range(self):
        with pytest.raises(IndexError) as raised:
            _value("x", UNNAMED)[2]
        assert str(raised.value) == "selection: index 2 out of range for <int32,float32>"

    def test_raises_type_mismatch_when_value_is_not_a_struct(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            _value("x", INT)[0]
        assert str(raised.value) == "value[0]: expected a struct, got int32"


class TestValueLengthAndIteration:
    def test_has_length_of_struct_when_value_is_a_struct(self):
        assert len(_value("x", NAMED)) == 2

    def test_has_length_of_member_when_value_is_a_federated_struct(self):
        assert len(_value("x", tffl.FederatedType(NAMED, tffl.SERVER))) == 2

    def test_iterates_elements_when_value_is_a_struct(self):
        assert [str(v) for v in _value("x", NAMED)] == ["x.a", "x.b"]

    def test_unpacks_elements_when_value_is_a_struct(self):
        a, b = _value("x", UNNAMED)
        assert (str(a), str(b)) == ("x[0]", "x[1]")

    def test_raises_type_error_when_value_has_no_length(self):
        with pytest.raises(TypeError) as raised:
            len(_value("x", INT))
        assert str(raised.value) == "a value of type int32 has no length"


class TestValueCall:
    def test_binds_call_when_function_value_is_called(self, tracing):
        result = _value("f", tffl.FunctionType(np.int32, np.float32))(_value("x", INT))
        assert repr(result) == "Value(v_0: float32)"
        assert [(n, str(b)) for n, b in tracing.locals] == [("v_0", "f(x)")]

    def test_packs_arguments_when_function_takes_a_named_struct(self, tracing):
        function_type = tffl.FunctionType(collections.OrderedDict(a=np.int32, b=np.int32), INT)
        _value("f", function_type)(_value("x", INT), b=_value("y", INT))
        assert str(tracing.locals[-1][1]) == "f(<a=x,b=y>)"

    def test_calls_without_argument_when_function_takes_none(self, tracing):
        _value("f", tffl.FunctionType(None, INT))()
        assert str(tracing.locals[-1][1]) == "f()"

    def test_raises_type_mismatch_when_value_is_not_a_function(self, tracing):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            _value("x", INT)(1)
        assert str(raised.value) == "call: expected a function, got int32"

    def test_raises_type_mismatch_when_argument_has_wrong_type(self, tracing):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            _value("f", tffl.FunctionType(np.int32, np.int32))(_value("y", np.float32))
        assert str(raised.value) == "argument of f: expected int32, got float32"

    def test_raises_runtime_error_when_not_tracing(self):
        with pytest.raises(RuntimeError) as raised:
            _value("f", tffl.FunctionType(np.int32, np.int32))(_value("x", INT))
        assert str(raised.value) == (
            "calling a function value can only be used inside a @tffl.federated_computation"
        )

    def test_calls_computation_value_when_traced_in_federated_computation(self):
        @tffl.federated_computation(tffl.FunctionType(np.int32, np.int32), np.int32)
        def apply(fn, x):
            return fn(x)

        assert str(apply.type_signature) == "(<fn=(int32 -> int32),x=int32> -> int32)"
        assert str(apply) == "(arg -> arg.fn(arg.x))"


class TestValueProtocol:
    def test_raises_type_error_when_used_as_a_condition(self):
        with pytest.raises(TypeError) as raised:
            bool(_value("x", INT))
        assert str(raised.value) == (
            "a symbolic value of type int32 has no truth value while tracing; put "
            "data-dependent logic in a tf_computation"
        )

    def test_raises_type_error_when_python_if_is_traced(self):
        def branch(x):
            if x:
                return x
            return x

        with pytest.raises(TypeError, match="has no truth value while tracing"):
            tffl.federated_computation(branch, np.int32)

    def test_raises_attribute_error_when_assigned_to(self):
        with pytest.raises(AttributeError) as raised:
            _value("x", NAMED).a = 1
        assert str(raised.value) == "tffl values are immutable"

    def test_prints_building_block_when_converted_to_string(self):
        value = _value("x", NAMED)
        assert str(value) == "x"
        assert repr(value) == "Value(x: <a=int32,b=float32>)"
        assert value.type_signature == NAMED
        assert isinstance(value.building_block, bb.Reference)


class TestToBuildingBlock:
    @pytest.mark.parametrize(
        "value, expected, compact, type_str",
        [
            pytest.param(3, None, "3", "int32", id="int"),
            pytest.param(2**40, None, "1099511627776", "int64", id="large-int"),
            pytest.param(2.5, None, "2.5", "float32", id="float"),
            pytest.param(np.float64(2.5), None, "2.5", "float64", id="numpy-scalar"),
            pytest.param(True, None, "True", "bool", id="bool"),
            pytest.param("s", None, "b's'", "string", id="str"),
            pytest.param(3, np.float32, "3.0", "float32", id="int-as-expected-float"),
            pytest.param(3.5, np.int32, "3.5", "float32", id="float-not-truncated-to-int"),
            pytest.param(tf.constant([1.0, 2.0]), None, "[1.,2.]", "float32[2]", id="eager-tensor"),
            pytest.param(np.zeros([2], np.int64), None, "[0,0]", "int64[2]", id="ndarray"),
        ],
    )
    def test_gives_literal_when_value_is_a_constant(self, value, expected, compact, type_str):
        block = value_impl.to_building_block(value, tffl.to_type(expected))
        assert isinstance(block, bb.Literal)
        assert str(block) == compact
        assert str(block.type_signature) == type_str

    @pytest.mark.parametrize(
        "value, compact, type_str, container",
        [
            pytest.param([1, 2.0], "<1,2.0>", "<int32,float32>", list, id="list"),
            pytest.param((1, 2.0), "<1,2.0>", "<int32,float32>", tuple, id="tuple"),
            pytest.param(
                collections.OrderedDict(a=1, b=[True]),
                "<a=1,b=<True>>",
                "<a=int32,b=<bool>>",
                collections.OrderedDict,
                id="nested-ordered-dict",
            ),
        ],
    )
    def test_gives_struct_when_value_is_a_container(self, value, compact, type_str, container):
        block = value_impl.to_building_block(value)
        assert str(block) == compact
        assert str(block.type_signature) == type_str
        assert block.type_signature.container is container

    def test_takes_container_from_expected_type_when_value_is_a_list(self):
        expected = tffl.StructType([np.int32, np.float32], container=tuple)
        block = value_impl.to_building_block([1, 2.0], expected)
        assert block.type_signature.container is tuple

    def test_gives_placement_when_value_is_a_placement(self):
        block = value_impl.to_building_block(tffl.SERVER)
        assert isinstance(block, bb.Placement)
        assert str(block) == "SERVER"

    def test_gives_its_block_when_value_is_a_computation(self):
        assert value_impl.to_building_block(double) is double.building_block

    def test_traces_polymorphic_computation_when_expected_type_is_a_function(self):
        polymorphic = tffl.tf_computation(lambda x: x + 1)
        block = value_impl.to_building_block(
            polymorphic, tffl.FunctionType(np.int32, tffl.types.AbstractType("U"))
        )
        assert str(block.type_signature) == "(int32 -> int32)"

    def test_raises_type_error_when_polymorphic_computation_has_no_expected_type(self):
        polymorphic = tffl.tf_computation(lambda x: x + 1)
        with pytest.raises(TypeError) as raised:
            value_impl.to_building_block(polymorphic)
        assert str(raised.value) == (
            "lambda is polymorphic; its parameter type is unknown here (give the decorator a type)"
        )

    def test_traces_python_function_when_expected_type_is_a_function(self):
        block = value_impl.to_building_block(
            lambda x: double(x), tffl.FunctionType(np.int32, tffl.types.AbstractType("U"))
        )
        assert str(block) == "(x -> double(x))"
        assert str(block.type_signature) == "(int32 -> int32)"

    def test_raises_type_error_when_python_function_has_no_expected_type(self):
        with pytest.raises(TypeError) as raised:
            value_impl.to_building_block(lambda x: x)
        assert str(raised.value) == (
            "a Python function <lambda> needs a known parameter type here; decorate it with a type"
        )

    @pytest.mark.parametrize(
        "value, description",
        [
            pytest.param(None, "None of type NoneType", id="none"),
            pytest.param(type, "<class 'type'> of type type", id="class"),
        ],
    )
    def test_raises_type_error_when_value_cannot_be_converted(self, value, description):
        with pytest.raises(TypeError) as raised:
            value_impl.to_building_block(value)
        assert str(raised.value) == (
            "expected a tffl value, computation, function, container or constant, "
            f"got {description}"
        )

    def test_wraps_block_when_converted_to_value(self):
        value = value_impl.to_value(3)
        assert isinstance(value, value_impl.Value)
        assert repr(value) == "Value(3: int32)"


class TestTracingContext:
    def test_binds_fresh_local_when_block_is_bound(self, tracing):
        first = tracing.bind(bb.Literal(np.int32(1)), hint="one")
        second = tracing.bind(bb.Literal(np.int32(2)), hint="one")
        assert (str(first), str(second)) == ("one_0", "one_1")
        assert [n for n, _ in tracing.locals] == ["one_0", "one_1"]

    def test_records_call_when_computation_is_invoked(self, tracing):
        result = double(_value("x", INT))
        assert repr(result) == "Value(v_0: int32)"
        assert str(tracing.locals[-1][1]) == "double(x)"

    def test_is_current_tracing_context_when_installed(self, tracing):
        assert context_stack.is_tracing()
        assert value_impl.tracing_context("anything") is tracing

    def test_raises_runtime_error_when_no_tracing_context_is_installed(self):
        with pytest.raises(RuntimeError) as raised:
            value_impl.tracing_context("federated_sum")
        assert str(raised.value) == (
            "federated_sum can only be used inside a @tffl.federated_computation"
        )


class TestMapDefinition:
    @pytest.mark.parametrize(
        "value_type, definition",
        [
            pytest.param(
                tffl.FederatedType(np.int32, tffl.CLIENTS),
                intrinsic_defs.FEDERATED_MAP,
                id="clients",
            ),
            pytest.param(
                tffl.FederatedType(np.int32, tffl.CLIENTS, all_equal=True),
                intrinsic_defs.FEDERATED_MAP,
                id="all-equal-clients",
            ),
            pytest.param(
                tffl.FederatedType(np.int32, tffl.SERVER),
                intrinsic_defs.FEDERATED_APPLY,
                id="server",
            ),
        ],
    )
    def test_picks_map_by_placement_when_value_is_federated(self, value_type, definition):
        assert value_impl.map_definition(value_type) is definition

    def test_raises_type_mismatch_when_value_is_not_federated(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            value_impl.map_definition(INT)
        assert str(raised.value) == (
            "federated_map value: expected {T}@CLIENTS or T@SERVER, got int32"
        )
