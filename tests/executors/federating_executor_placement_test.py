"""Tests for tffl.executors.federating_executor: placing, mapping and zipping, and sequences.

Each intrinsic is run through a federated computation on the local context (a
reference-resolving executor over the federating executor).
"""

import numpy as np
import pytest
import tensorflow as tf

from tests.executors.federating_setup import OD
from tests.executors.federating_setup import C
from tests.executors.federating_setup import F
from tests.executors.federating_setup import Reading
from tests.executors.federating_setup import S
from tests.executors.federating_setup import add
import tffl
from tffl.types import computation_types


@tffl.tf_computation(np.float32)
def add_one(x):
    return x + 1.0


@tffl.tf_computation
def seven():
    return np.float32(7.0)


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


@tffl.tf_computation(np.int32, np.int32)
def accumulate(total, x):
    return total + x


def _int_dataset(*values):
    return tf.data.Dataset.from_tensor_slices(np.array(values, np.int32))


class TestFederatedZip:
    def test_zips_nested_named_structs_into_one_struct_per_client(self):
        @tffl.federated_computation(F(np.float32, C), F(np.int32, C), F(np.float32, C))
        def zipped(celsius, count, weight):
            return tffl.federated_zip(
                OD(reading=Reading(celsius=celsius, count=count), weight=weight)
            )

        result = zipped([20.5, 21.0], [3, 4], [0.25, 0.75])

        assert str(zipped.type_signature) == (
            "(<celsius={float32}@CLIENTS,count={int32}@CLIENTS,weight={float32}@CLIENTS> -> "
            "{<reading=<celsius=float32,count=int32>,weight=float32>}@CLIENTS)"
        )
        assert result == [
            OD(reading=Reading(celsius=20.5, count=3), weight=0.25),
            OD(reading=Reading(celsius=21.0, count=4), weight=0.75),
        ]
        assert type(result[0]["reading"]) is Reading

    def test_zips_into_one_server_struct_when_the_values_are_at_the_server(self):
        @tffl.federated_computation(F(np.float32, S), F(np.int32, S))
        def zipped(celsius, count):
            return tffl.federated_zip(Reading(celsius=celsius, count=count))

        assert str(zipped.type_signature) == (
            "(<celsius=float32@SERVER,count=int32@SERVER> -> <celsius=float32,count=int32>@SERVER)"
        )
        assert zipped(20.5, 3) == Reading(celsius=20.5, count=3)

    def test_zips_implicitly_when_federated_map_is_given_a_list(self):
        @tffl.federated_computation(F(np.float32, C), F(np.float32, C))
        def sums(a, b):
            return tffl.federated_map(add, [a, b])

        assert sums([1.0, 2.0], [10.0, 20.0]) == [11.0, 22.0]


class TestFederatedValue:
    def test_gives_one_value_when_placed_at_clients(self, set_context):
        set_context(num_clients=3)

        @tffl.federated_computation
        def placed():
            return tffl.federated_value(np.float32(2.5), C)

        assert str(placed.type_signature) == "( -> float32@CLIENTS)"
        assert placed() == np.float32(2.5)

    def test_every_client_holds_the_value_when_placed_at_clients(self, set_context):
        set_context(num_clients=3)

        @tffl.federated_computation
        def total():
            return tffl.federated_sum(tffl.federated_value(np.float32(2.5), C))

        assert total() == np.float32(7.5)

    def test_gives_the_value_when_placed_at_the_server(self):
        @tffl.federated_computation
        def placed():
            return tffl.federated_value(OD(a=np.int32(3), b=np.float32(0.5)), S)

        assert str(placed.type_signature) == "( -> <a=int32,b=float32>@SERVER)"
        assert placed() == OD(a=3, b=0.5)

    def test_raises_when_placed_at_clients_and_the_number_of_clients_is_unknown(self):
        @tffl.federated_computation
        def placed():
            return tffl.federated_value(np.float32(2.5), C)

        with pytest.raises(ValueError) as caught:
            placed()

        assert str(caught.value) == (
            "the number of clients is unknown: pass a CLIENTS value or set num_clients on the "
            "context (tffl.backends.local.set_context(num_clients=N))"
        )


class TestFederatedEval:
    def test_gives_one_result_per_client_when_evaluated_at_clients(self, set_context):
        set_context(num_clients=3)

        @tffl.federated_computation
        def evaluated():
            return tffl.federated_eval(seven, C)

        assert str(evaluated.type_signature) == "( -> {float32}@CLIENTS)"
        assert evaluated() == [7.0, 7.0, 7.0]

    def test_evaluates_independently_on_each_client_when_evaluated_at_clients(self, set_context):
        set_context(num_clients=4)

        @tffl.tf_computation
        def draw():
            return tf.random.uniform([], maxval=1_000_000, dtype=tf.int32)

        @tffl.federated_computation
        def evaluated():
            return tffl.federated_eval(draw, C)

        assert len(set(int(v) for v in evaluated())) > 1

    def test_gives_the_result_when_evaluated_at_the_server(self):
        @tffl.federated_computation
        def evaluated():
            return tffl.federated_eval(seven, S)

        assert str(evaluated.type_signature) == "( -> float32@SERVER)"
        assert evaluated() == np.float32(7.0)


class TestFederatedSelect:
    SERVER_TYPE = computation_types.TensorType(np.float32, [5])

    def _program(self):
        @tffl.tf_computation(self.SERVER_TYPE, np.int32)
        def pick(values, key):
            return values[key]

        @tffl.federated_computation(
            F(computation_types.TensorType(np.int32, [None]), C), F(self.SERVER_TYPE, S)
        )
        def select(keys, values):
            max_key = tffl.federated_value(np.int32(5), S)
            return tffl.federated_select(keys, max_key, values, pick)

        return select

    def test_sends_each_client_the_values_its_keys_select(self):
        select = self._program()

        result = select([[0, 2], [4], [1, 1]], [10.0, 11.0, 12.0, 13.0, 14.0])

        assert str(select.type_signature) == (
            "(<keys={int32[?]}@CLIENTS,values=float32[5]@SERVER> -> {float32*}@CLIENTS)"
        )
        assert result == [[10.0, 12.0], [14.0], [11.0, 11.0]]

    def test_sends_an_empty_sequence_when_a_client_has_no_keys(self):
        select = self._program()

        assert select([[3], []], [10.0, 11.0, 12.0, 13.0, 14.0]) == [[13.0], []]

    def test_raises_naming_the_client_when_a_key_is_out_of_range(self):
        select = self._program()

        with pytest.raises(ValueError) as caught:
            select([[0], [1, 5]], [10.0, 11.0, 12.0, 13.0, 14.0])

        assert str(caught.value) == "federated_select: client 1 asked for key 5, outside [0, 5)"


class TestFederatedBroadcast:
    @pytest.mark.parametrize("num_clients", [1, 1000])
    def test_every_client_receives_the_value_when_broadcast(self, set_context, num_clients):
        set_context(num_clients=num_clients)

        @tffl.federated_computation(F(np.float32, S))
        def broadcast_then_sum(value):
            return tffl.federated_sum(tffl.federated_broadcast(value))

        assert broadcast_then_sum(2.5) == np.float32(2.5 * num_clients)

    @pytest.mark.parametrize("num_clients", [1, 1000])
    def test_gives_one_value_per_client_when_mapped_after_a_broadcast(
        self, set_context, num_clients
    ):
        set_context(num_clients=num_clients)

        @tffl.federated_computation(F(np.float32, S))
        def broadcast_plus_one(value):
            return tffl.federated_map(add_one, tffl.federated_broadcast(value))

        result = broadcast_plus_one(2.0)

        assert str(broadcast_plus_one.type_signature) == "(float32@SERVER -> {float32}@CLIENTS)"
        assert isinstance(result, list)
        assert result == [np.float32(3.0)] * num_clients

    def test_gives_one_value_per_client_when_1000_clients_combine_it_with_their_own(self):
        @tffl.federated_computation(F(np.float32, C), F(np.float32, S))
        def shifted(values, offset):
            return tffl.federated_map(add, [values, tffl.federated_broadcast(offset)])

        result = shifted([float(i) for i in range(1000)], 0.5)

        assert str(shifted.type_signature) == (
            "(<values={float32}@CLIENTS,offset=float32@SERVER> -> {float32}@CLIENTS)"
        )
        assert result == [i + 0.5 for i in range(1000)]

    def test_raises_when_the_number_of_clients_is_unknown(self):
        @tffl.federated_computation(F(np.float32, S))
        def broadcast(value):
            return tffl.federated_broadcast(value)

        with pytest.raises(ValueError, match="the number of clients is unknown"):
            broadcast(1.0)


class TestFederatedMap:
    def test_maps_each_client_when_the_value_is_at_clients(self):
        @tffl.federated_computation(F(np.float32, C))
        def plus_one(values):
            return tffl.federated_map(add_one, values)

        assert str(plus_one.type_signature) == "({float32}@CLIENTS -> {float32}@CLIENTS)"
        assert plus_one([1.0, 2.5, -3.0]) == [2.0, 3.5, -2.0]

    def test_gives_one_value_per_client_when_the_value_is_all_equal_at_clients(self, set_context):
        set_context(num_clients=3)

        @tffl.federated_computation
        def plus_one():
            return tffl.federated_map(add_one, tffl.federated_value(np.float32(2.0), C))

        assert str(plus_one.type_signature) == "( -> {float32}@CLIENTS)"
        assert plus_one() == [np.float32(3.0)] * 3

    def test_applies_once_when_the_value_is_at_the_server(self):
        @tffl.federated_computation(F(np.float32, S))
        def plus_one(value):
            return tffl.federated_map(add_one, value)

        assert str(plus_one) == "(value -> federated_apply(<add_one,value>))"
        assert plus_one(2.0) == np.float32(3.0)

    def test_maps_a_python_function_when_it_calls_a_computation(self):
        @tffl.federated_computation(F(np.float32, C))
        def plus_two(values):
            return tffl.federated_map(lambda v: add_one(add_one(v)), values)

        assert plus_two([1.0, 2.0]) == [3.0, 4.0]


class TestSequenceIntrinsics:
    INT_SEQUENCE = computation_types.SequenceType(np.int32)

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param([1, 2, 3, 4], id="list"),
            pytest.param(_int_dataset(1, 2, 3, 4), id="dataset"),
        ],
    )
    def test_runs_each_operator_when_the_sequence_is_unplaced(self, data):
        @tffl.federated_computation(self.INT_SEQUENCE)
        def operators(values):
            return (
                tffl.sequence_map(double, values),
                tffl.sequence_reduce(values, np.int32(0), accumulate),
                tffl.sequence_sum(values),
            )

        assert str(operators.type_signature) == "(int32* -> <int32*,int32,int32>)"
        assert operators(data) == ([2, 4, 6, 8], 10, 10)

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param([[1, 2], [3], [4, 5, 6]], id="lists"),
            pytest.param(
                [_int_dataset(1, 2), _int_dataset(3), _int_dataset(4, 5, 6)], id="datasets"
            ),
        ],
    )
    def test_runs_each_operator_per_client_when_the_sequence_is_federated(self, data):
        @tffl.federated_computation(F(self.INT_SEQUENCE, C))
        def operators(values):
            return (
                tffl.sequence_map(double, values),
                tffl.sequence_reduce(values, np.int32(0), accumulate),
                tffl.sequence_sum(values),
            )

        assert str(operators.type_signature) == (
            "({int32*}@CLIENTS -> <{int32*}@CLIENTS,{int32}@CLIENTS,{int32}@CLIENTS>)"
        )
        assert operators(data) == ([[2, 4], [6], [8, 10, 12]], [3, 3, 15], [3, 3, 15])

    def test_gives_the_zero_when_the_sequence_is_empty(self):
        @tffl.federated_computation(self.INT_SEQUENCE)
        def totals(values):
            return (
                tffl.sequence_reduce(values, np.int32(5), accumulate),
                tffl.sequence_sum(values),
            )

        assert totals([]) == (5, 0)

    def test_sums_member_by_member_when_elements_are_namedtuples(self):
        @tffl.federated_computation(computation_types.SequenceType(Reading(np.float32, np.int32)))
        def total(values):
            return tffl.sequence_sum(values)

        assert total([Reading(1.5, 1), Reading(2.0, 2)]) == Reading(celsius=3.5, count=3)
