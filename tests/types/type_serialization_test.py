"""Tests for tffl.types.type_serialization."""

import collections
import dataclasses
from typing import Any

import attr
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from tffl.proto import computation_pb2
from tffl.types import computation_types
from tffl.types import containers
from tffl.types import placements
from tffl.types import type_serialization

# Record containers live at module level so that deserialization imports them by name.
Point = collections.namedtuple("Point", ["x", "y"])


@attr.s(auto_attribs=True)
class AttrsPoint:
    x: Any
    y: Any


@dataclasses.dataclass
class DataPoint:
    x: Any
    y: Any


class Outer:
    """Holds a nested record class, to check dotted qualified names."""

    @dataclasses.dataclass
    class Inner:
        a: Any


def _tensor(dtype, shape=()):
    return computation_types.TensorType(dtype, shape)


def _struct(elements, container=None):
    return computation_types.StructType(elements, container=container)


def _round_trip(type_spec):
    wire = type_serialization.serialize_type(type_spec).SerializeToString()
    return type_serialization.deserialize_type(computation_pb2.Type.FromString(wire))


ROUND_TRIP_CASES = [
    pytest.param(_tensor(np.float32), id="scalar"),
    pytest.param(_tensor(np.int32, [10]), id="vector"),
    pytest.param(_tensor(np.float32, [None, 784]), id="unknown_dim"),
    pytest.param(_tensor(np.float32, None), id="unknown_rank"),
    pytest.param(_tensor(np.uint8, [0]), id="empty_vector"),
    pytest.param(_tensor(np.bool_, [2]), id="bool"),
    pytest.param(_tensor(tf.string), id="string"),
    pytest.param(_tensor(np.float16), id="float16"),
    pytest.param(_tensor(np.int64), id="int64"),
    pytest.param(_tensor(np.complex64), id="complex64"),
    pytest.param(_struct([]), id="empty_struct"),
    pytest.param(_struct([("a", np.int32), ("b", np.float32)]), id="named_struct"),
    pytest.param(_struct([np.int32, np.float32]), id="unnamed_struct"),
    pytest.param(_struct([np.int32, ("b", np.float32)]), id="partly_named_struct"),
    pytest.param(_struct([np.int32, np.float32], tuple), id="tuple"),
    pytest.param(_struct([np.int32, np.float32], list), id="list"),
    pytest.param(_struct([("a", np.int32)], dict), id="dict"),
    pytest.param(_struct([("b", np.int32), ("a", np.bool_)], collections.OrderedDict), id="odict"),
    pytest.param(_struct([("x", np.int32), ("y", np.float32)], Point), id="namedtuple"),
    pytest.param(_struct([("x", np.int32), ("y", np.float32)], AttrsPoint), id="attrs"),
    pytest.param(_struct([("x", np.int32), ("y", np.float32)], DataPoint), id="dataclass"),
    pytest.param(_struct([("a", np.int32)], Outer.Inner), id="nested_class"),
    pytest.param(
        _struct(
            [
                ("x", _struct([("x", np.int32), ("y", [np.float32])], Point)),
                ("y", _struct([("a", (np.float32, [3]))], dict)),
            ],
            DataPoint,
        ),
        id="containers_in_containers",
    ),
    pytest.param(computation_types.SequenceType(np.int32), id="sequence"),
    pytest.param(
        computation_types.SequenceType(
            _struct([("x", (np.float32, [None, 784])), ("y", (np.int32, [None]))], dict)
        ),
        id="sequence_of_struct",
    ),
    pytest.param(computation_types.SequenceType(_struct([])), id="sequence_of_empty_struct"),
    pytest.param(computation_types.FunctionType(np.int32, np.float32), id="function"),
    pytest.param(computation_types.FunctionType(None, np.int32), id="function_of_nothing"),
    pytest.param(computation_types.FunctionType(_struct([]), np.int32), id="function_of_empty"),
    pytest.param(computation_types.FederatedType(np.float32, placements.CLIENTS), id="clients"),
    pytest.param(
        computation_types.FederatedType(np.float32, placements.CLIENTS, all_equal=True),
        id="clients_all_equal",
    ),
    pytest.param(computation_types.FederatedType(np.float32, placements.SERVER), id="server"),
    pytest.param(
        computation_types.FederatedType(np.float32, placements.SERVER, all_equal=False),
        id="server_not_all_equal",
    ),
    pytest.param(
        computation_types.FunctionType(
            _struct(
                [
                    ("model", computation_types.FederatedType([np.float32], placements.SERVER)),
                    (
                        "data",
                        computation_types.FederatedType(
                            computation_types.SequenceType(Point(np.float32, np.int32)),
                            placements.CLIENTS,
                        ),
                    ),
                ]
            ),
            computation_types.FederatedType([np.float32], placements.SERVER),
        ),
        id="federated_function",
    ),
    pytest.param(computation_types.PlacementType(), id="placement"),
    pytest.param(computation_types.AbstractType("T"), id="abstract"),
    pytest.param(
        computation_types.FederatedType(computation_types.AbstractType("T"), placements.CLIENTS),
        id="federated_abstract",
    ),
]


class TestSerializeType:
    def test_returns_empty_message_when_type_is_none(self):
        assert type_serialization.serialize_type(None) == computation_pb2.Type()

    def test_tensor_message_uses_dtype_enum_and_minus_one_for_unknown_dims(self):
        proto = type_serialization.serialize_type(_tensor(np.float32, [None, 3]))

        assert proto.tensor.dtype == tf.float32.as_datatype_enum
        assert list(proto.tensor.dims) == [-1, 3]
        assert not proto.tensor.unknown_rank

    def test_tensor_message_marks_unknown_rank(self):
        proto = type_serialization.serialize_type(_tensor(np.int32, None))

        assert proto.tensor.unknown_rank
        assert list(proto.tensor.dims) == []

    @pytest.mark.parametrize(
        "container, kind, qualified_name",
        [
            pytest.param(None, computation_pb2.Container.NONE, "", id="none"),
            pytest.param(tuple, computation_pb2.Container.TUPLE, "", id="tuple"),
            pytest.param(list, computation_pb2.Container.LIST, "", id="list"),
            pytest.param(dict, computation_pb2.Container.DICT, "", id="dict"),
            pytest.param(
                collections.OrderedDict, computation_pb2.Container.ORDERED_DICT, "", id="odict"
            ),
            pytest.param(
                Point, computation_pb2.Container.NAMED_TUPLE, f"{__name__}:Point", id="namedtuple"
            ),
            pytest.param(
                AttrsPoint, computation_pb2.Container.ATTRS, f"{__name__}:AttrsPoint", id="attrs"
            ),
            pytest.param(
                DataPoint,
                computation_pb2.Container.DATACLASS,
                f"{__name__}:DataPoint",
                id="dataclass",
            ),
        ],
    )
    def test_struct_message_records_container_kind_and_name(self, container, kind, qualified_name):
        names = ["x", "y"] if container not in (tuple, list, None) else [None, None]
        struct_type = _struct(list(zip(names, [np.int32, np.float32])), container)

        proto = type_serialization.serialize_type(struct_type)

        assert [e.name for e in proto.struct.element] == [n or "" for n in names]
        assert proto.struct.container.kind == kind
        assert proto.struct.container.qualified_name == qualified_name

    def test_federated_message_records_placement_uri(self):
        proto = type_serialization.serialize_type(
            computation_types.FederatedType(np.int32, placements.CLIENTS)
        )

        assert proto.federated.placement.uri == "clients"
        assert proto.federated.all_equal is False

    def test_function_message_has_no_parameter_when_function_takes_nothing(self):
        proto = type_serialization.serialize_type(computation_types.FunctionType(None, np.int32))

        assert not proto.function.HasField("parameter")

    def test_raises_type_error_when_not_a_type(self):
        with pytest.raises(TypeError) as raised:
            type_serialization.serialize_type("int32")

        assert str(raised.value) == "serialize_type: expected a tffl type, got 'int32'"


class TestDeserializeType:
    def test_gives_one_object_for_equal_messages_keeping_the_latest(self, monkeypatch):
        monkeypatch.setattr(type_serialization, "_READ", collections.OrderedDict())
        monkeypatch.setattr(type_serialization, "_READ_KEPT", 2)
        messages = [
            type_serialization.serialize_type(computation_types.TensorType(np.float32, [n]))
            for n in (1, 2, 3)
        ]
        first = type_serialization.deserialize_type(messages[0])

        again = type_serialization.deserialize_type(
            computation_pb2.Type.FromString(messages[0].SerializeToString())
        )
        type_serialization.deserialize_type(messages[1])
        type_serialization.deserialize_type(messages[2])

        assert again is first
        assert first == computation_types.TensorType(np.float32, [1])
        assert [str(t) for t in type_serialization._READ.values()] == [
            "float32[2]",
            "float32[3]",
        ]
        assert type_serialization.deserialize_type(messages[0]) is not first

    def test_returns_none_when_message_is_empty(self):
        assert type_serialization.deserialize_type(computation_pb2.Type()) is None

    @pytest.mark.parametrize("type_spec", ROUND_TRIP_CASES)
    def test_round_trip_gives_equal_type_with_same_notation(self, type_spec):
        deserialized = _round_trip(type_spec)

        assert deserialized == type_spec
        assert hash(deserialized) == hash(type_spec)
        assert str(deserialized) == str(type_spec)
        assert repr(deserialized) == repr(type_spec)

    @pytest.mark.parametrize(
        "container",
        [
            pytest.param(Point, id="namedtuple"),
            pytest.param(AttrsPoint, id="attrs"),
            pytest.param(DataPoint, id="dataclass"),
        ],
    )
    def test_imports_the_same_class_when_record_class_is_importable(self, container):
        struct_type = _struct([("x", np.int32), ("y", np.float32)], container)

        assert _round_trip(struct_type).container is container

    def test_rebuilds_namedtuple_with_same_fields_when_class_is_local(self):
        LocalPoint = collections.namedtuple("LocalPoint", ["x", "y"])
        struct_type = _struct([("x", np.int32), ("y", np.float32)], LocalPoint)

        deserialized = _round_trip(struct_type)

        assert deserialized.container is not LocalPoint
        assert deserialized.container.__name__ == "LocalPoint"
        assert deserialized.container._fields == ("x", "y")
        assert deserialized.container(1, 2.0) == LocalPoint(1, 2.0)
        assert str(deserialized) == str(struct_type)
        assert deserialized.is_equivalent_to(struct_type)

    def test_rebuilt_namedtuples_are_equal_when_deserialized_twice(self):
        LocalPoint = collections.namedtuple("LocalPoint", ["x", "y"])
        struct_type = _struct([("x", np.int32), ("y", np.float32)], LocalPoint)

        assert _round_trip(struct_type) == _round_trip(struct_type)

    @pytest.mark.parametrize("decorate", [dataclasses.dataclass, attr.s(auto_attribs=True)])
    def test_returns_ordered_dict_container_when_record_class_is_local(self, decorate):
        @decorate
        class LocalPoint:
            x: Any
            y: Any

        struct_type = _struct([("x", np.int32), ("y", np.float32)], LocalPoint)

        deserialized = _round_trip(struct_type)

        assert deserialized == _struct(
            [("x", np.int32), ("y", np.float32)], collections.OrderedDict
        )
        assert str(deserialized) == str(struct_type)

    @pytest.mark.parametrize(
        "kind, qualified_name, names, expected_container",
        [
            pytest.param(
                computation_pb2.Container.NAMED_TUPLE,
                "no_such_module:Pair",
                ["a", "b"],
                "namedtuple Pair(a, b)",
                id="namedtuple_module_missing",
            ),
            pytest.param(
                computation_pb2.Container.NAMED_TUPLE,
                f"{__name__}:Point",
                ["a", "b"],
                "namedtuple Point(a, b)",
                id="namedtuple_fields_changed",
            ),
            pytest.param(
                computation_pb2.Container.NAMED_TUPLE,
                "",
                ["a", "b"],
                "namedtuple Struct(a, b)",
                id="namedtuple_without_name",
            ),
            pytest.param(
                computation_pb2.Container.NAMED_TUPLE,
                "no_such_module:Pair",
                ["a", ""],
                tuple,
                id="namedtuple_partly_named",
            ),
            pytest.param(
                computation_pb2.Container.DATACLASS,
                f"{__name__}:NoSuchClass",
                ["a", "b"],
                collections.OrderedDict,
                id="dataclass_class_missing",
            ),
            pytest.param(
                computation_pb2.Container.ATTRS,
                "collections:OrderedDict",
                ["a", "b"],
                collections.OrderedDict,
                id="attrs_name_is_not_a_record",
            ),
            pytest.param(
                computation_pb2.Container.ATTRS,
                "collections:namedtuple",
                ["a", "b"],
                collections.OrderedDict,
                id="attrs_name_is_not_a_class",
            ),
            pytest.param(
                computation_pb2.Container.DATACLASS,
                f"{__name__}:DataPoint",
                ["", ""],
                tuple,
                id="dataclass_unnamed",
            ),
        ],
    )
    def test_falls_back_when_record_class_cannot_be_found(
        self, kind, qualified_name, names, expected_container
    ):
        element = type_serialization.serialize_type(_tensor(np.int32))
        proto = computation_pb2.Type()
        for name in names:
            proto.struct.element.add(name=name, value=element)
        proto.struct.container.kind = kind
        proto.struct.container.qualified_name = qualified_name

        container = type_serialization.deserialize_type(proto).container

        if isinstance(expected_container, str):
            assert containers.is_named_tuple_class(container)
            assert f"namedtuple {container.__name__}({', '.join(container._fields)})" == (
                expected_container
            )
        else:
            assert container is expected_container

    def test_raises_value_error_when_dtype_enum_is_unknown(self):
        proto = computation_pb2.Type()
        proto.tensor.dtype = 9999

        with pytest.raises(ValueError) as raised:
            type_serialization.deserialize_type(proto)

        assert str(raised.value) == "deserialize_type: unknown dtype enum 9999"

    def test_raises_value_error_when_placement_uri_is_unknown(self):
        proto = type_serialization.serialize_type(
            computation_types.FederatedType(np.int32, placements.CLIENTS)
        )
        proto.federated.placement.uri = "nowhere"

        with pytest.raises(ValueError) as raised:
            type_serialization.deserialize_type(proto)

        assert str(raised.value) == (
            "expected a placement uri, one of ['clients', 'server'], got 'nowhere'"
        )


# Random nested types for the round-trip property.
_DTYPES = [np.float32, np.int32, np.int64, np.bool_, tf.string, np.float64, np.uint8]
_NAMES = ["a", "b", "x", "y", "model", "data"]

_shapes = st.one_of(st.none(), st.lists(st.one_of(st.none(), st.integers(0, 1000)), max_size=3))
_tensors = st.builds(computation_types.TensorType, st.sampled_from(_DTYPES), _shapes)


@st.composite
def _structs(draw, elements):
    types = draw(st.lists(elements, max_size=3))
    names = draw(
        st.lists(
            st.one_of(st.none(), st.sampled_from(_NAMES)), min_size=len(types), max_size=len(types)
        )
    )
    seen = set()
    for i, name in enumerate(names):
        if name in seen:
            names[i] = None
        seen.add(name)
    if types and all(names):
        container = draw(st.sampled_from([None, dict, collections.OrderedDict, tuple, list]))
    else:
        container = draw(st.sampled_from([None, tuple, list]))
    return computation_types.StructType(list(zip(names, types)), container=container)


# Tensors and structs of tensors: what a sequence may hold.
_data = st.recursive(_tensors, _structs, max_leaves=6)
_sequences = st.builds(computation_types.SequenceType, _data)
# What a federated value may hold.
_members = st.one_of(_data, _sequences, _structs(st.one_of(_data, _sequences)))
_federated = st.builds(
    computation_types.FederatedType,
    _members,
    st.sampled_from([placements.CLIENTS, placements.SERVER]),
    st.one_of(st.none(), st.booleans()),
)
_leaves = st.one_of(
    _members,
    _federated,
    st.just(computation_types.PlacementType()),
    st.builds(computation_types.AbstractType, st.sampled_from(["T", "U"])),
)


def _functions(children):
    return st.builds(computation_types.FunctionType, st.one_of(st.none(), children), children)


_types = st.recursive(
    _leaves, lambda children: st.one_of(_structs(children), _functions(children)), max_leaves=8
)


class TestRoundTripProperty:
    @settings(max_examples=100, deadline=None, database=None)
    @given(_types)
    def test_round_trip_gives_equal_type_with_same_notation(self, type_spec):
        deserialized = _round_trip(type_spec)

        assert deserialized == type_spec
        assert str(deserialized) == str(type_spec)
