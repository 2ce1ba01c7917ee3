"""Tests for tffl.executors.value_serialization: typed values to and from `Value` messages."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import building_blocks as bb
from tffl.executors import value_serialization
from tffl.proto import executor_pb2
from tffl.types import computation_types
from tffl.types import type_errors
from tffl.types import type_serialization

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType
OD = collections.OrderedDict
Reading = collections.namedtuple("Reading", ["celsius", "count"])
INTS = computation_types.SequenceType(np.int32)


def _round_trip(value, type_spec, num_clients=None):
    proto = value_serialization.serialize_value(value, type_spec)
    received = executor_pb2.Value.FromString(proto.SerializeToString())
    decoded, decoded_type = value_serialization.deserialize_value(received, num_clients)
    return value_serialization.materialize(decoded, decoded_type), decoded_type


def _with_type(proto, type_spec):
    proto.type.CopyFrom(type_serialization.serialize_type(computation_types.to_type(type_spec)))
    return proto


@tffl.tf_computation(np.float32)
def add_one(x):
    return x + 1.0


class TestRoundTrip:
    @pytest.mark.parametrize(
        "value, type_spec, expected",
        [
            pytest.param(2.5, np.float32, np.float32(2.5), id="float32_scalar"),
            pytest.param(7, np.int64, np.int64(7), id="int64_scalar"),
            pytest.param(True, np.bool_, np.bool_(True), id="bool_scalar"),
            pytest.param(b"abc", tf.string, b"abc", id="string_scalar"),
        ],
    )
    def test_gives_the_scalar_back_when_given_a_scalar(self, value, type_spec, expected):
        result, result_type = _round_trip(value, type_spec)

        assert result == expected
        assert type(result) is type(expected)
        assert result_type == computation_types.to_type(type_spec)

    def test_gives_the_array_back_when_given_a_matrix(self):
        value = np.arange(6, dtype=np.float32).reshape([2, 3])

        result, _ = _round_trip(value, computation_types.TensorType(np.float32, [2, 3]))

        assert result.dtype == np.float32
        assert result.tolist() == value.tolist()

    def test_gives_bytes_back_when_given_a_string_array(self):
        result, _ = _round_trip(
            np.array([b"a", b"bc"], object), computation_types.TensorType(tf.string, [2])
        )

        assert result.tolist() == [b"a", b"bc"]

    def test_keeps_the_container_when_given_a_namedtuple_struct(self):
        result, _ = _round_trip(Reading(1.5, 2), Reading(np.float32, np.int32))

        assert result == Reading(np.float32(1.5), np.int32(2))
        assert type(result) is Reading

    def test_keeps_names_when_given_a_nested_ordered_dict(self):
        value = OD(a=1, b=OD(c=[1.0, 2.0]))

        result, _ = _round_trip(value, OD(a=np.int32, b=OD(c=(np.float32, [2]))))

        assert list(result) == ["a", "b"]
        assert result["b"]["c"].tolist() == [1.0, 2.0]

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param([1, 2, 3], id="list"),
            pytest.param(
                tf.data.Dataset.from_tensor_slices(np.array([1, 2, 3], np.int32)), id="ds"
            ),
        ],
    )
    def test_gives_the_elements_back_when_given_a_sequence(self, value):
        result, _ = _round_trip(value, INTS)

        assert result == [1, 2, 3]

    def test_gives_each_batch_back_when_batches_differ_in_size(self):
        batch_type = computation_types.TensorType(np.float32, [None, 2])
        batches = [np.zeros([2, 2], np.float32), np.ones([1, 2], np.float32)]

        result, _ = _round_trip(batches, computation_types.SequenceType(batch_type))

        assert [b.tolist() for b in result] == [[[0.0, 0.0], [0.0, 0.0]], [[1.0, 1.0]]]

    def test_gives_one_member_per_client_when_given_a_clients_list(self):
        result, result_type = _round_trip([[1], [], [2, 3]], F(INTS, C), num_clients=3)

        assert result == [[1], [], [2, 3]]
        assert str(result_type) == "{int32*}@CLIENTS"

    @pytest.mark.parametrize(
        "type_spec",
        [
            pytest.param(F(np.float32, S), id="server"),
            pytest.param(F(np.float32, C, all_equal=True), id="all_equal_clients"),
        ],
    )
    def test_gives_one_value_when_placed_once(self, type_spec):
        result, _ = _round_trip(4.0, type_spec, num_clients=5)

        assert result == np.float32(4.0)

    def test_gives_an_equal_block_when_given_a_computation(self):
        result, result_type = _round_trip(add_one, add_one.type_signature)

        assert isinstance(result, bb.TensorFlow)
        assert result.content_hash() == add_one.building_block.content_hash()
        assert str(result_type) == "(float32 -> float32)"


class TestSerializeRaises:
    def test_raises_when_a_float_is_given_for_an_int(self):
        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.serialize_value(1.5, np.int32)

        assert str(caught.value) == "argument: expected int32, got float32"

    def test_raises_when_a_clients_value_is_not_a_list(self):
        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.serialize_value(1.0, F(np.float32, C))

        assert str(caught.value) == (
            "value: expected {float32}@CLIENTS, got float32 (a CLIENTS value is a list, one per "
            "client)"
        )

    def test_raises_when_a_dataset_calls_back_into_python(self):
        dataset = tf.data.Dataset.from_generator(
            lambda: iter([1]), output_signature=tf.TensorSpec([], tf.int32)
        )

        with pytest.raises(ValueError, match="cannot run in another process"):
            value_serialization.serialize_value(dataset, INTS)


class TestDeserializeRaises:
    def test_raises_when_the_value_has_no_type(self):
        proto = value_serialization.serialize_value(1.0, np.float32)
        proto.ClearField("type")

        with pytest.raises(ValueError, match="the value has no type"):
            value_serialization.deserialize_value(proto)

    def test_raises_naming_both_types_when_the_tensor_does_not_fit_its_type(self):
        proto = _with_type(value_serialization.serialize_value(1.0, np.float32), np.int32)

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.deserialize_value(proto)

        assert str(caught.value) == "value: expected int32, got float32"

    def test_raises_when_the_kind_does_not_fit_the_type(self):
        proto = _with_type(value_serialization.serialize_value(1.0, np.float32), (np.float32,))

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.deserialize_value(proto)

        assert str(caught.value) == "value: expected <float32>, got a tensor value"

    def test_raises_when_a_struct_has_another_number_of_elements(self):
        proto = value_serialization.serialize_value((1, 2), (np.int32, np.int32))
        proto.struct.element.pop()

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.deserialize_value(proto)

        assert str(caught.value) == "value: expected <int32,int32>, got a struct of 1 elements"

    def test_raises_when_an_element_name_differs_from_the_type(self):
        proto = value_serialization.serialize_value(OD(a=1), OD(a=np.int32))
        proto.struct.element[0].name = "b"

        with pytest.raises(type_errors.TypeMismatchError, match="an element named 'b'"):
            value_serialization.deserialize_value(proto)

    def test_raises_when_a_clients_value_has_another_number_of_clients(self):
        proto = value_serialization.serialize_value([1, 2], F(np.int32, C))

        with pytest.raises(ValueError) as caught:
            value_serialization.deserialize_value(proto, num_clients=3)

        assert str(caught.value) == "expected 3 clients for a value of type {int32}@CLIENTS, got 2"

    def test_raises_when_a_server_value_has_two_members(self):
        proto = _with_type(
            value_serialization.serialize_value([1, 2], F(np.int32, C)), F(np.int32, S)
        )

        with pytest.raises(type_errors.TypeMismatchError, match="2 members"):
            value_serialization.deserialize_value(proto)

    def test_raises_when_the_dataset_elements_do_not_fit_the_type(self):
        proto = _with_type(
            value_serialization.serialize_value([1, 2], INTS),
            computation_types.SequenceType(np.float32),
        )

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.deserialize_value(proto)

        assert str(caught.value) == "sequence: expected float32*, got a dataset of <int32>"

    @pytest.mark.parametrize(
        "field, data, message",
        [
            pytest.param("tensor", b"\xff\xff\xff", "not a TensorProto", id="tensor"),
            pytest.param("graph", b"\xff\xff\xff", "not a GraphDef", id="sequence"),
        ],
    )
    def test_raises_when_the_bytes_are_garbage(self, field, data, message):
        if field == "tensor":
            proto = _with_type(executor_pb2.Value(tensor=data), np.int32)
        else:
            proto = _with_type(executor_pb2.Value(), INTS)
            proto.sequence.graph = data

        with pytest.raises(ValueError, match=message):
            value_serialization.deserialize_value(proto)

    def test_raises_when_the_computation_does_not_have_the_declared_type(self):
        proto = _with_type(
            value_serialization.serialize_value(add_one, add_one.type_signature),
            computation_types.FunctionType(np.int32, np.int32),
        )

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.deserialize_value(proto)

        assert str(caught.value) == (
            "computation: expected (int32 -> int32), got (float32 -> float32)"
        )
