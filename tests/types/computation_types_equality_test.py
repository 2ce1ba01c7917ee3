"""Tests for tffl.types.computation_types: immutability, equality, copies and assignability."""

import collections
import copy
import pickle

import numpy as np
import pytest
import tensorflow as tf

from tests.types.sample_types import ALL_KINDS
from tests.types.sample_types import make_clients
from tests.types.sample_types import make_function
from tests.types.sample_types import make_sequence
from tests.types.sample_types import make_server
from tests.types.sample_types import make_struct
from tests.types.sample_types import make_tensor
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors


class TestValueSemantics:
    @pytest.mark.parametrize(
        "type_spec, attribute",
        [
            pytest.param(make_tensor(np.float32), "_dtype", id="tensor_slot"),
            pytest.param(make_tensor(np.float32), "dtype", id="tensor_property"),
            pytest.param(make_struct([("a", np.int32)]), "_elements", id="struct_slot"),
            pytest.param(make_struct([("a", np.int32)]), "a", id="struct_element"),
            pytest.param(make_sequence(np.int32), "_element", id="sequence_slot"),
            pytest.param(make_function(np.int32, np.int32), "_result", id="function_slot"),
            pytest.param(make_clients(np.int32), "all_equal", id="federated_property"),
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
                make_tensor(np.float32, [3]), make_tensor(tf.float32, (3,)), id="numpy_vs_tf_dtype"
            ),
            pytest.param(
                make_tensor("float32", tf.TensorShape([3])),
                make_tensor(float, 3),
                id="name_vs_class",
            ),
            pytest.param(
                make_struct([("a", np.int32)]),
                make_struct({"a": tf.int32}),
                id="struct_list_vs_dict",
            ),
            pytest.param(
                make_clients([np.int32]),
                computation_types.FederatedType(
                    make_struct([make_tensor(np.int32)], container=list),
                    placements.PlacementLiteral("clients", "C", default_all_equal=True),
                    all_equal=False,
                ),
                id="federated",
            ),
            pytest.param(
                make_function(None, np.int32),
                make_function(None, make_tensor(tf.int32)),
                id="function",
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
            pytest.param(make_tensor(np.float32), make_tensor(np.float64), id="dtype"),
            pytest.param(make_tensor(np.float32, [3]), make_tensor(np.float32, [None]), id="shape"),
            pytest.param(make_tensor(np.float32, [None]), make_tensor(np.float32, None), id="rank"),
            pytest.param(
                make_struct([("a", np.int32)]), make_struct([("b", np.int32)]), id="names"
            ),
            pytest.param(
                make_struct([("a", np.int32)]), make_struct([np.int32]), id="named_unnamed"
            ),
            pytest.param(make_struct([np.int32]), make_struct([np.int32, np.int32]), id="length"),
            pytest.param(make_clients(np.int32), make_server(np.int32, False), id="placement"),
            pytest.param(make_clients(np.int32), make_clients(np.int32, True), id="all_equal"),
            pytest.param(
                make_function(None, np.int32), make_function(np.int32, np.int32), id="parameter"
            ),
            pytest.param(make_sequence(np.int32), make_struct([np.int32]), id="kinds"),
            pytest.param(
                computation_types.AbstractType("T"), computation_types.AbstractType("U"), id="label"
            ),
            pytest.param(make_tensor(np.float32), "float32", id="string"),
            pytest.param(make_tensor(np.float32), tf.float32, id="dtype_object"),
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
                [
                    make_tensor(np.float32, [3]),
                    make_tensor(np.float32, [None]),
                    make_tensor(np.float32, None),
                ],
                id="tensor_shapes",
            ),
            pytest.param(
                [
                    make_clients(make_tensor(np.float32, [3]), all_equal=True),
                    make_clients(make_tensor(np.float32, [None]), all_equal=True),
                    make_clients(make_tensor(np.float32, [None])),
                    make_clients(make_tensor(np.float32, None)),
                ],
                id="federated",
            ),
            pytest.param(
                [
                    make_struct([("a", make_tensor(np.float32, [3]))]),
                    make_struct([("a", make_tensor(np.float32, [None]))]),
                    make_struct([make_tensor(np.float32, None)]),
                ],
                id="struct",
            ),
            pytest.param(
                [
                    make_function(make_tensor(np.float32, None), make_tensor(np.int32, [2])),
                    make_function(make_tensor(np.float32, [None]), make_tensor(np.int32, [None])),
                    make_function(make_tensor(np.float32, [4]), make_tensor(np.int32, None)),
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
            pytest.param(
                make_tensor(np.float32, [None]), make_tensor(np.float32, [3]), True, id="dim"
            ),
            pytest.param(
                make_tensor(np.float32, [3]),
                make_tensor(np.float32, [None]),
                False,
                id="dim_reversed",
            ),
            pytest.param(
                make_tensor(np.float32, [3]), make_tensor(np.float32, [4]), False, id="dim_size"
            ),
            pytest.param(
                make_tensor(np.float32, None), make_tensor(np.float32, [2, 3]), True, id="rank"
            ),
            pytest.param(
                make_tensor(np.float32, [None]),
                make_tensor(np.float32, None),
                False,
                id="rank_reversed",
            ),
            pytest.param(
                make_tensor(np.float32, [None]),
                make_tensor(np.float32, [None, 3]),
                False,
                id="rank_diff",
            ),
            pytest.param(make_tensor(np.float32), make_tensor(np.int32), False, id="dtype"),
            pytest.param(
                make_tensor(np.float32), make_struct([np.float32]), False, id="tensor_vs_struct"
            ),
            pytest.param(
                make_clients(np.float32),
                make_clients(np.float32, all_equal=True),
                True,
                id="to_non_eq",
            ),
            pytest.param(
                make_clients(np.float32, all_equal=True),
                make_clients(np.float32),
                False,
                id="to_all_eq",
            ),
            pytest.param(
                make_server(np.float32, all_equal=False),
                make_server(np.float32),
                True,
                id="server_to_ne",
            ),
            pytest.param(make_clients(np.float32), make_server(np.float32), False, id="placement"),
            pytest.param(
                make_server(np.float32),
                make_clients(np.float32, all_equal=True),
                False,
                id="placement_eq",
            ),
            pytest.param(
                make_clients(make_tensor(np.float32, [None])),
                make_clients(make_tensor(np.float32, [3])),
                True,
                id="federated_member",
            ),
            pytest.param(make_clients(np.float32), make_tensor(np.float32), False, id="unplaced"),
            pytest.param(
                make_struct([np.int32, np.float32]),
                make_struct([("a", np.int32), ("b", np.float32)]),
                True,
                id="unnamed_accepts_named",
            ),
            pytest.param(
                make_struct([("a", np.int32), ("b", np.float32)]),
                make_struct([np.int32, np.float32]),
                True,
                id="named_accepts_unnamed_by_position",
            ),
            pytest.param(
                make_struct([("a", np.int32), ("b", np.float32)]),
                make_struct([("a", np.int32), ("c", np.float32)]),
                False,
                id="named_refuses_other_name",
            ),
            pytest.param(
                make_struct([("a", np.int32), ("b", np.float32)]),
                make_struct([("b", np.float32), ("a", np.int32)]),
                False,
                id="named_refuses_reordered",
            ),
            pytest.param(
                make_struct([("a", np.int32), np.float32]),
                make_struct([("a", np.int32), ("b", np.float32)]),
                True,
                id="partly_named_accepts_named",
            ),
            pytest.param(
                make_struct([("a", np.int32)]),
                make_struct([("a", np.int32), ("b", np.float32)]),
                False,
                id="length",
            ),
            pytest.param(
                make_struct([("a", np.int32)]),
                make_struct([("a", np.float32)]),
                False,
                id="element_type",
            ),
            pytest.param(
                make_sequence(make_tensor(np.float32, [None])),
                make_sequence(make_tensor(np.float32, [3])),
                True,
                id="sequence",
            ),
            pytest.param(
                make_sequence(make_tensor(np.float32, [3])),
                make_sequence(make_tensor(np.float32, [None])),
                False,
                id="sequence_reversed",
            ),
            pytest.param(
                make_sequence(np.int32), make_struct([np.int32]), False, id="sequence_vs_struct"
            ),
            pytest.param(
                make_function(make_tensor(np.float32, [3]), make_tensor(np.float32, [None])),
                make_function(make_tensor(np.float32, [None]), make_tensor(np.float32, [3])),
                True,
                id="function_wider_parameter_narrower_result",
            ),
            pytest.param(
                make_function(make_tensor(np.float32, [None]), np.float32),
                make_function(make_tensor(np.float32, [3]), np.float32),
                False,
                id="function_narrower_parameter",
            ),
            pytest.param(
                make_function(np.float32, make_tensor(np.float32, [3])),
                make_function(np.float32, make_tensor(np.float32, [None])),
                False,
                id="function_wider_result",
            ),
            pytest.param(
                make_function(None, np.int32),
                make_function(np.int32, np.int32),
                False,
                id="no_parameter",
            ),
            pytest.param(
                make_function(np.int32, np.int32),
                make_function(None, np.int32),
                False,
                id="parameter",
            ),
            pytest.param(
                make_function(None, np.int32), make_tensor(np.int32), False, id="not_function"
            ),
            pytest.param(
                computation_types.PlacementType(),
                computation_types.PlacementType(),
                True,
                id="placement_type",
            ),
            pytest.param(
                computation_types.PlacementType(),
                make_tensor(np.int32),
                False,
                id="placement_tensor",
            ),
            pytest.param(
                computation_types.AbstractType("T"),
                computation_types.AbstractType("U"),
                False,
                id="abstract_label",
            ),
            pytest.param(
                computation_types.AbstractType("T"),
                make_tensor(np.int32),
                False,
                id="abstract_tensor",
            ),
        ],
    )
    def test_is_assignable_from(self, target, source, expected):
        assert target.is_assignable_from(source) is expected

    @pytest.mark.parametrize(
        "first, second, expected",
        [
            pytest.param(
                make_tensor(np.float32, [3]),
                make_tensor(np.float32, [None]),
                False,
                id="shape_differs",
            ),
            pytest.param(
                make_struct([("a", np.int32)], container=dict),
                make_struct([("a", np.int32)], container=collections.OrderedDict),
                True,
                id="containers_differ",
            ),
            pytest.param(
                make_struct([("a", np.int32)]),
                make_struct([np.int32]),
                True,
                id="named_and_unnamed",
            ),
            pytest.param(
                make_struct([("a", np.int32)]),
                make_struct([("b", np.int32)]),
                False,
                id="names_differ",
            ),
        ],
    )
    def test_is_equivalent_to(self, first, second, expected):
        assert first.is_equivalent_to(second) is expected
        assert second.is_equivalent_to(first) is expected


class TestCheckAssignableFrom:
    def test_returns_none_when_assignable(self):
        target = make_tensor(np.float32, [None])

        assert target.check_assignable_from(make_tensor(np.float32, [3])) is None

    def test_raises_type_mismatch_error_with_context_when_not_assignable(self):
        target = make_clients(np.float32)
        source = make_server(np.float32)

        with pytest.raises(type_errors.TypeMismatchError) as raised:
            target.check_assignable_from(source, "federated_sum")

        assert isinstance(raised.value, TypeError)
        assert raised.value.expected is target
        assert raised.value.actual is source
        assert raised.value.context == "federated_sum"
        assert str(raised.value) == "federated_sum: expected {float32}@CLIENTS, got float32@SERVER"

    def test_message_has_no_context_when_none_given(self):
        with pytest.raises(type_errors.TypeMismatchError) as raised:
            make_tensor(np.float32, [3]).check_assignable_from(make_tensor(np.float32, [None]))

        assert str(raised.value) == "expected float32[3], got float32[?]"

    def test_message_contains_diff_when_types_are_long(self):
        fields = [f"feature_{i}" for i in range(8)]
        target = make_clients([(name, (np.float32, [None, 28, 28])) for name in fields])
        source = make_clients(
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
