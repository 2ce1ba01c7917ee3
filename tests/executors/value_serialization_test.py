"""Tests for tffl.executors.value_serialization: typed values to and from `Value` messages."""

import collections
import doctest
import hashlib

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


def _sent(value, type_spec, known_keys=frozenset()):
    """The message as the receiver parses it."""
    proto = value_serialization.serialize_value(value, type_spec, known_keys)
    return executor_pb2.Value.FromString(proto.SerializeToString())


MATRIX = np.arange(6, dtype=np.float32).reshape([2, 3])
MATRIX_TYPE = computation_types.TensorType(np.float32, [2, 3])


class TestCached:
    def test_gives_the_array_back_and_keeps_it_when_sent_with_its_content(self):
        cached = value_serialization.Cached(MATRIX)
        cache = value_serialization.TensorCache(1 << 20)

        value, value_type = value_serialization.deserialize_value(
            _sent(cached, MATRIX_TYPE), cache=cache
        )

        assert isinstance(value, tf.Tensor)
        assert value.numpy().tolist() == MATRIX.tolist()
        assert value_type == MATRIX_TYPE
        assert cached.key in cache
        assert cache.num_bytes == 24

    def test_writes_the_sha256_of_the_tensor_bytes_as_the_key(self):
        cached = value_serialization.Cached(tf.constant(MATRIX))

        proto = value_serialization.serialize_value(cached, MATRIX_TYPE)

        assert proto.cache_key == hashlib.sha256(proto.tensor).digest() == cached.key
        assert proto.tensor == tf.make_tensor_proto(MATRIX).SerializeToString()

    def test_gives_the_kept_array_when_sent_as_its_key_alone(self):
        cached = value_serialization.Cached(MATRIX)
        cache = value_serialization.TensorCache(1 << 20)
        first, _ = value_serialization.deserialize_value(_sent(cached, MATRIX_TYPE), cache=cache)
        key_only = _sent(cached, MATRIX_TYPE, known_keys={cached.key})

        value, _ = value_serialization.deserialize_value(key_only, cache=cache)

        assert key_only.WhichOneof("kind") is None
        assert value is first
        assert (cache.hits, cache.misses) == (1, 0)

    def test_returns_the_keys_it_wrote_in_structs_and_clients_values(self):
        a = value_serialization.Cached(np.int32(1))
        b = value_serialization.Cached(np.array([2, 3], np.int32))
        proto = executor_pb2.Value()

        keys = value_serialization.write_value(
            proto, OD(x=[a, a], y=b), OD(x=F(np.int32, C), y=(np.int32, [2]))
        )

        assert keys == {a.key, b.key}

    def test_gives_a_scalar_back_when_a_kept_tensor_is_0_d(self):
        cached = value_serialization.Cached(np.int64(7))
        cache = value_serialization.TensorCache(1 << 20)
        value_serialization.deserialize_value(_sent(cached, np.int64), cache=cache)

        value, _ = value_serialization.deserialize_value(
            _sent(cached, np.int64, {cached.key}), cache=cache
        )

        assert value == np.int64(7)
        assert type(value) is np.int64

    def test_raises_cache_miss_naming_every_key_missing_when_the_cache_lacks_them(self):
        a = value_serialization.Cached(np.array([1], np.int32))
        b = value_serialization.Cached(np.array([2], np.int32))
        proto = _sent([a, b], F((np.int32, [1]), C), known_keys={a.key, b.key})

        with pytest.raises(value_serialization.CacheMiss) as caught:
            value_serialization.deserialize_value(proto, cache=value_serialization.TensorCache(100))

        assert caught.value.keys == [a.key, b.key]
        assert str(caught.value) == f"not cached: {a.key.hex()}, {b.key.hex()}"

    def test_raises_cache_miss_when_there_is_no_cache(self):
        cached = value_serialization.Cached(MATRIX)

        with pytest.raises(value_serialization.CacheMiss) as caught:
            value_serialization.deserialize_value(_sent(cached, MATRIX_TYPE, {cached.key}))

        assert caught.value.keys == [cached.key]

    def test_raises_and_keeps_nothing_when_the_key_is_not_the_digest(self):
        cached = value_serialization.Cached(MATRIX)
        proto = _sent(cached, MATRIX_TYPE)
        proto.cache_key = hashlib.sha256(b"other").digest()
        cache = value_serialization.TensorCache(1 << 20)

        with pytest.raises(ValueError) as caught:
            value_serialization.deserialize_value(proto, cache=cache)

        assert str(caught.value) == (
            f"cache_key does not match the tensor ({proto.cache_key.hex()})"
        )
        assert len(cache) == 0

    def test_reads_the_content_and_ignores_the_key_when_there_is_no_cache(self):
        cached = value_serialization.Cached(MATRIX)
        proto = _sent(cached, MATRIX_TYPE)
        proto.cache_key = hashlib.sha256(b"other").digest()

        value, _ = value_serialization.deserialize_value(proto)

        assert value.tolist() == MATRIX.tolist()

    def test_raises_when_a_kept_tensor_does_not_fit_the_declared_type(self):
        cached = value_serialization.Cached(MATRIX)
        cache = value_serialization.TensorCache(1 << 20)
        value_serialization.deserialize_value(_sent(cached, MATRIX_TYPE), cache=cache)
        proto = _with_type(_sent(cached, MATRIX_TYPE, {cached.key}), (np.int32, [2, 3]))

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.deserialize_value(proto, cache=cache)

        assert str(caught.value) == "value: expected int32[2,3], got float32[2,3]"

    def test_raises_when_a_non_tensor_value_carries_a_cache_key(self):
        proto = value_serialization.serialize_value((1,), (np.int32,))
        proto.cache_key = b"k"

        with pytest.raises(ValueError) as caught:
            value_serialization.deserialize_value(proto)

        assert str(caught.value) == "a struct value with a cache_key (only tensors have one)"

    def test_raises_when_serialized_as_another_type(self):
        with pytest.raises(type_errors.TypeMismatchError) as caught:
            value_serialization.serialize_value(value_serialization.Cached(MATRIX), np.float32)

        assert str(caught.value) == "value: expected float32, got float32[2,3]"

    def test_raises_when_wrapping_what_is_not_a_tensor(self):
        with pytest.raises(TypeError) as caught:
            value_serialization.Cached([1, 2])

        assert str(caught.value) == "Cached: expected a numpy array or a tf.Tensor, got [1, 2]"


class TestTensorCache:
    def _put(self, cache, name, size):
        array = np.zeros([size], np.uint8)
        return cache.put(name, array, computation_types.TensorType(np.uint8, [size]))

    def test_drops_the_least_recently_used_when_over_its_bytes(self):
        cache = value_serialization.TensorCache(max_bytes=100)
        self._put(cache, b"a", 40)
        self._put(cache, b"b", 40)
        cache.get(b"a")

        self._put(cache, b"c", 40)

        assert [k in cache for k in (b"a", b"b", b"c")] == [True, False, True]
        assert cache.num_bytes == 80

    def test_keeps_nothing_larger_than_its_bytes(self):
        cache = value_serialization.TensorCache(max_bytes=100)
        self._put(cache, b"a", 40)

        self._put(cache, b"big", 101)

        assert b"big" not in cache
        assert b"a" in cache

    def test_counts_hits_and_misses(self):
        cache = value_serialization.TensorCache(max_bytes=100)
        kept = self._put(cache, b"a", 4)

        found = [cache.get(b"a"), cache.get(b"b"), cache.get(b"a")]

        assert found[0][0] is kept and found[1] is None
        assert (cache.hits, cache.misses) == (2, 1)

    def test_keeps_numeric_tensors_as_eager_tensors_converted_once(self):
        cache = value_serialization.TensorCache(max_bytes=100)

        kept = self._put(cache, b"a", 4)

        assert isinstance(kept, tf.Tensor)
        assert kept.numpy().tolist() == [0, 0, 0, 0]
        assert cache.get(b"a")[0] is kept

    def test_keeps_strings_and_scalars_as_read_only_arrays(self):
        cache = value_serialization.TensorCache(max_bytes=100)
        words = np.array([b"ab", b"c"], dtype=object)
        scalar = np.array(7, np.int32)

        kept = [
            cache.put(b"w", words, computation_types.TensorType(tf.string, [2])),
            cache.put(b"s", scalar, computation_types.TensorType(np.int32)),
        ]

        assert kept[0] is words and kept[1] is scalar
        assert not words.flags.writeable and not scalar.flags.writeable
        assert cache.num_bytes == 2 * 8 + 3 + 4  # Two references, three bytes, one int32.

    def test_forgets_everything_but_its_counters_when_cleared(self):
        cache = value_serialization.TensorCache(max_bytes=100)
        self._put(cache, b"a", 4)
        cache.get(b"a")

        cache.clear()

        assert (len(cache), cache.num_bytes, cache.hits) == (0, 0, 1)


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        globs = vars(value_serialization)
        for test in doctest.DocTestFinder().find(value_serialization, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
