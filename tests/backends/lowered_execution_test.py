"""How a lowered call packs its argument, counts its clients and unpacks its result."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.backends import lowered_execution
from tffl.compiler import lowering
from tffl.core import context_stack

Totals = collections.namedtuple("Totals", ["total", "count"])


class _CountingDict(dict):
    """A dict that counts the reads of each key."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads = collections.Counter()

    def __getitem__(self, key):
        self.reads[key] += 1
        return super().__getitem__(key)


def _scaled_sum():
    server = tffl.FederatedType(
        tffl.StructType([("scale", np.float32), ("shift", tffl.TensorType(np.float32, [2]))]),
        tffl.SERVER,
    )

    @tffl.tf_computation(np.float32, np.float32, tffl.TensorType(np.float32, [2]))
    def scaled(value, scale, shift):
        return value * scale + tf.reduce_sum(shift)

    @tffl.federated_computation(server, tffl.FederatedType(np.float32, tffl.CLIENTS))
    def program(params, values):
        scale = tffl.federated_broadcast(params.scale)
        shift = tffl.federated_broadcast(params.shift)
        return tffl.federated_sum(
            tffl.federated_map(scaled, tffl.federated_zip([values, scale, shift]))
        )

    return program


def _program(computation):
    runner = lowered_execution.LoweredRunner()
    program = runner.entry(computation).program
    assert program is not None
    return runner, program


class TestPacker:
    def test_reads_each_container_of_the_argument_once(self):
        _, program = _program(_scaled_sum())
        params = _CountingDict(scale=np.float32(2.0), shift=np.float32([0.5, 0.25]))

        packed = lowered_execution.Packer(program, [params, [1.0, 2.0, 3.0]], None)

        assert params.reads == {"scale": 1, "shift": 1}
        assert packed.num_clients == 3

    def test_reads_each_clients_value_once_for_all_its_leaves(self):
        member = tffl.StructType([("a", np.float32), ("b", np.float32)])

        @tffl.federated_computation(tffl.FederatedType(member, tffl.CLIENTS))
        def program(values):
            return tffl.federated_sum(values)

        _, lowered = _program(program)
        values = [_CountingDict(a=np.float32(k), b=np.float32(10 * k)) for k in (1, 2)]

        packed = lowered_execution.Packer(lowered, values, None)

        assert [v.reads for v in values] == [{"a": 1, "b": 1}] * 2
        assert packed.num_clients == 2

    def test_the_clients_lists_count_the_clients_over_the_default(self):
        _, program = _program(_scaled_sum())

        packed = lowered_execution.Packer(program, [(2.0, [0.0, 0.0]), [1.0, 2.0]], 5)

        assert packed.num_clients == 2

    def test_clients_lists_of_different_lengths_do_not_pack(self):
        @tffl.federated_computation(
            tffl.FederatedType(np.float32, tffl.CLIENTS),
            tffl.FederatedType(np.float32, tffl.CLIENTS),
        )
        def program(a, b):
            return tffl.federated_sum(tffl.federated_zip([a, b]))

        _, lowered = _program(program)

        with pytest.raises(ValueError, match="CLIENTS values disagree on the number of clients"):
            lowered_execution.Packer(lowered, [[1.0, 2.0], [1.0]], None)

    def test_the_default_counts_the_clients_when_no_list_does(self):
        @tffl.federated_computation
        def program():
            return tffl.federated_sum(tffl.federated_value(np.int32(1), tffl.CLIENTS))

        _, lowered = _program(program)

        assert lowered_execution.Packer(lowered, None, 4).num_clients == 4


class TestCalls:
    def test_a_context_default_yields_to_the_clients_in_the_argument(self):
        context = tffl.backends.local.create_context(num_clients=3)
        program = _scaled_sum()

        with context_stack.install(context):
            got = program((2.0, [0.5, 0.25]), [1.0, 2.0, 3.0, 4.0, 5.0])

        assert got == np.float32(2.0 * 15.0 + 5 * 0.75)
        assert context.lowered.lowered_calls == 1

    def test_results_come_in_the_declared_containers_and_the_unpacking_is_kept(self):
        result_type = tffl.StructType(
            [("total", np.float32), ("count", np.int32)], container=Totals
        )

        @tffl.tf_computation(np.float32)
        def one(value):
            return Totals(value, tf.constant(1))

        @tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
        def program(values):
            return tffl.federated_sum(tffl.federated_map(one, values))

        assert program.type_signature.result.member == result_type
        context = tffl.backends.local.create_context()
        with context_stack.install(context):
            first = program([1.5, 2.5])
            unpack = context.lowered.entry(program).program.derived["unpack"]
            second = program([4.0])

        assert first == Totals(np.float32(4.0), np.int32(2))
        assert type(first) is Totals and type(first.count) is np.int32
        assert second == Totals(np.float32(4.0), np.int32(1))
        assert context.lowered.entry(program).program.derived["unpack"] is unpack
        assert context.lowered.lowered_calls == 2

    def test_clients_results_come_as_a_list_per_client(self):
        @tffl.tf_computation(np.float32)
        def pair(value):
            return value * 2.0, tf.cast(value, tf.int32)

        @tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
        def program(values):
            return tffl.federated_map(pair, values)

        context = tffl.backends.local.create_context()
        with context_stack.install(context):
            got = program([1.0, 3.0])

        assert got == [(np.float32(2.0), np.int32(1)), (np.float32(6.0), np.int32(3))]
        assert [type(v) for v in got[1]] == [np.float32, np.int32]
        assert context.lowered.lowered_calls == 1


class TestCallConcrete:
    @staticmethod
    def _concrete():
        specs = [tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([], tf.int32)]
        function = tf.function(lambda x, n: tf.reduce_sum(x) * tf.cast(n, tf.float32))
        return function.get_concrete_function(*specs), specs

    def test_calls_on_arrays_and_tensors_of_the_specs(self):
        concrete, specs = self._concrete()

        got = lowering.call_concrete(
            concrete, specs, [np.ones([3, 2], np.float32), tf.constant(2)], "test"
        )

        assert float(got) == 12.0

    @pytest.mark.parametrize(
        "flat, message",
        [
            pytest.param(
                [tf.ones([3, 3]), tf.constant(2)],
                "test input 0: expected float32(None, 2), got float32(3, 3)",
                id="shape",
            ),
            pytest.param(
                [tf.ones([2]), tf.constant(2)],
                "test input 0: expected float32(None, 2), got float32(2,)",
                id="rank",
            ),
            pytest.param(
                [tf.ones([1, 2]), tf.constant(2.0)],
                "test input 1: expected int32(), got float32()",
                id="dtype",
            ),
            pytest.param([tf.ones([1, 2])], "test: expected 2 inputs, got 1", id="count"),
        ],
    )
    def test_raises_naming_the_input_when_it_does_not_fit(self, flat, message):
        concrete, specs = self._concrete()

        with pytest.raises(TypeError) as raised:
            lowering.call_concrete(concrete, specs, flat, "test")

        assert str(raised.value) == message
