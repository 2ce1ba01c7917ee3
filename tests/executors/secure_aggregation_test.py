"""Tests for tffl.executors.secure_aggregation: the masking protocol as the executors run it.

Exact sums (bitwidth and modular, scalars and structs, many clients), dropped
clients and the survivor threshold, what the server receives (uniform,
uncorrelated with the values), and where each step runs.
"""

import asyncio
import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.executors import executor_base
from tffl.executors import executor_stacks
from tffl.executors import federating_executor
from tffl.executors import reference_resolving_executor
from tffl.executors import secure_aggregation
from tffl.executors import tensorflow_executor
from tffl.types import computation_types

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType
OD = collections.OrderedDict
Config = secure_aggregation.SecureAggregationConfig


def _bitwidth_sum(member, bitwidth):
    @tffl.federated_computation(F(member, C))
    def secure_total(values):
        return tffl.federated_secure_sum_bitwidth(values, bitwidth)

    return secure_total


def _modular_sum(member, modulus):
    @tffl.federated_computation(F(member, C))
    def modular_total(values):
        return tffl.federated_secure_modular_sum(values, modulus)

    return modular_total


def _max_input_sum(member, max_input):
    @tffl.federated_computation(F(member, C))
    def bounded_total(values):
        return tffl.federated_secure_sum(values, max_input)

    return bounded_total


def _chi_square_p_value(samples, modulus):
    counts = np.bincount(np.asarray(samples, np.int64), minlength=modulus)
    expected = len(samples) / modulus
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    return float(tf.math.igammac((modulus - 1) / 2.0, statistic / 2.0))


class TestExactSums:
    def test_gives_the_true_sum_when_it_needs_more_bits_than_the_values(self):
        secure_total = _bitwidth_sum(np.int32, 8)

        assert str(secure_total.type_signature) == "({int32}@CLIENTS -> int32@SERVER)"
        assert secure_total([255, 255, 255, 255, 255]) == np.int32(1275)

    def test_gives_the_true_sum_when_many_clients_send_random_values(self):
        values = np.random.default_rng(1).integers(0, 2**16, size=(150, 3)).astype(np.int32)
        secure_total = _bitwidth_sum((np.int32, [3]), 16)

        result = secure_total(list(values))

        assert result.dtype == np.int32
        np.testing.assert_array_equal(result, values.sum(axis=0))

    def test_sums_each_leaf_with_its_own_bitwidth_when_the_value_is_a_nested_struct(self):
        member = OD(a=np.int32, b=OD(c=(np.uint32, [2]), d=np.int64))
        secure_total = _bitwidth_sum(member, OD(a=1, b=OD(c=31, d=40)))
        clients = [OD(a=i % 2, b=OD(c=np.uint32([2**31 - 1, i]), d=2**40 - 1)) for i in range(5)]

        result = secure_total(clients)

        assert str(secure_total.type_signature) == (
            "({<a=int32,b=<c=uint32[2],d=int64>>}@CLIENTS -> "
            "<a=int32,b=<c=uint32[2],d=int64>>@SERVER)"
        )
        assert result["a"] == 2
        np.testing.assert_array_equal(result["b"]["c"], np.uint32([5 * (2**31 - 1) % 2**32, 10]))
        assert result["b"]["d"] == 5 * (2**40 - 1)

    @pytest.mark.parametrize(
        "modulus, values",
        [
            pytest.param(5, [1, 3, 4], id="small"),
            pytest.param(2**32, [2**32 - 1, 2**32 - 1, 7], id="2^32"),
            pytest.param(1000003, list(range(0, 1000003, 9091)), id="prime_many_clients"),
        ],
    )
    def test_gives_the_sum_modulo_the_modulus_when_modular(self, modulus, values):
        result = _modular_sum(np.int64, modulus)(values)

        assert result == sum(values) % modulus

    def test_wraps_each_leaf_with_its_own_modulus_when_the_value_is_a_struct(self):
        modular_total = _modular_sum((np.int32, (np.int32, [2])), (7, 100))

        result = modular_total([(6, [99, 50]), (6, [99, 50]), (3, [1, 1])])

        assert result[0] == 1
        np.testing.assert_array_equal(result[1], [99, 1])


class TestMaxInputSums:
    """`federated_secure_sum(value, max_input)`: values in `[0, max_input]`, summed exactly."""

    def test_gives_the_true_sum_when_values_reach_max_input(self):
        bounded_total = _max_input_sum(np.int32, 100)

        assert str(bounded_total.type_signature) == "({int32}@CLIENTS -> int32@SERVER)"
        assert bounded_total([100, 100, 0, 57]) == np.int32(257)

    def test_sums_each_leaf_below_its_own_max_input_when_the_value_is_a_struct(self):
        bounded_total = _max_input_sum(OD(a=np.int32, b=(np.int64, [2])), OD(a=1, b=2**40))

        result = bounded_total([OD(a=1, b=[2**40, 3]), OD(a=0, b=[2**40, 4]), OD(a=1, b=[0, 5])])

        assert result["a"] == 2
        assert result["b"].dtype == np.int64
        np.testing.assert_array_equal(result["b"], [2**41, 12])

    def test_uses_one_max_input_for_every_leaf_when_given_one(self):
        bounded_total = _max_input_sum((np.int32, np.int32), 7)

        assert bounded_total([(7, 1), (7, 2), (0, 3)]) == (14, 6)

    def test_raises_naming_the_client_when_a_value_exceeds_max_input(self):
        with pytest.raises(ValueError) as raised:
            _max_input_sum(np.int32, 100)([3, 101, 5])

        assert str(raised.value) == (
            "federated_secure_sum: client 1 has values outside [0, 101): min 101, max 101"
        )

    def test_raises_naming_the_client_when_a_value_is_negative(self):
        with pytest.raises(ValueError) as raised:
            _max_input_sum(np.int32, 100)([3, 5, -1])

        assert str(raised.value) == (
            "federated_secure_sum: client 2 has values outside [0, 101): min -1, max -1"
        )

    def test_gives_the_survivors_sum_when_clients_drop(self, set_context):
        set_context(secure_aggregation=Config(dropped_clients={1}))

        assert _max_input_sum(np.int32, 10)([4, 10, 6, 10]) == 20


class TestDropouts:
    def test_gives_the_survivors_sum_when_a_set_of_clients_drops(self, set_context):
        set_context(secure_aggregation=Config(dropped_clients={0, 4, 7}))

        result = _bitwidth_sum((np.int32, [2]), 10)([[i, 2 * i] for i in range(10)])

        survivors = [i for i in range(10) if i not in (0, 4, 7)]
        np.testing.assert_array_equal(result, [sum(survivors), 2 * sum(survivors)])

    def test_gives_the_survivors_sum_when_a_function_picks_the_dropouts(self, set_context):
        calls = []

        def last_two(num_clients):
            calls.append(num_clients)
            return [num_clients - 2, num_clients - 1]

        set_context(secure_aggregation=Config(dropped_clients=last_two, min_survivors=3))
        modular_total = _modular_sum(OD(x=np.int32, y=np.int32), OD(x=11, y=2**20))

        result = modular_total([OD(x=i, y=1000 * i) for i in range(6)])

        assert calls == [6]
        assert result == OD(x=6 % 11, y=6000)

    def test_ignores_a_dropped_clients_out_of_range_value_when_it_never_arrives(self, set_context):
        set_context(secure_aggregation=Config(dropped_clients=[1]))

        assert _bitwidth_sum(np.int32, 4)([3, 99, 5]) == 8

    @pytest.mark.parametrize(
        "min_survivors, dropped, message",
        [
            pytest.param(
                0.5,
                range(8),
                "federated_secure_sum_bitwidth: 2 of 10 clients survived, below the threshold of 5",
                id="fraction",
            ),
            pytest.param(
                9,
                [3, 4],
                "federated_secure_sum_bitwidth: 8 of 10 clients survived, below the threshold of 9",
                id="count",
            ),
            pytest.param(
                1,
                range(10),
                "federated_secure_sum_bitwidth: 0 of 10 clients survived, below the threshold of 1",
                id="none_survive",
            ),
        ],
    )
    def test_raises_when_fewer_clients_survive_than_the_threshold(
        self, set_context, min_survivors, dropped, message
    ):
        set_context(secure_aggregation=Config(dropped_clients=dropped, min_survivors=min_survivors))

        with pytest.raises(secure_aggregation.SecureAggregationError) as raised:
            _bitwidth_sum(np.int32, 4)(list(range(10)))

        assert str(raised.value) == message

    def test_raises_when_a_dropped_index_is_not_a_client(self, set_context):
        set_context(secure_aggregation=Config(dropped_clients=lambda n: [n]))

        with pytest.raises(ValueError) as raised:
            _bitwidth_sum(np.int32, 4)([1, 2, 3])

        assert str(raised.value) == (
            "SecureAggregationConfig dropped_clients: client index 3 is outside [0, 3)"
        )


class TestWhatTheServerReceives:
    def _observed(self, set_context, values, bitwidth, dropped=()):
        seen = []
        set_context(
            secure_aggregation=Config(
                dropped_clients=dropped, observe_masked=lambda i, v: seen.append((i, v))
            )
        )
        result = _bitwidth_sum((np.int32, [len(values[0])]), bitwidth)(values)
        return result, seen

    def test_receives_one_masked_value_per_survivor_when_clients_drop(self, set_context):
        result, seen = self._observed(set_context, [[5, 5]] * 4, 3, dropped=[2])

        assert [index for index, _ in seen] == [0, 1, 3]
        assert all(masked.dtype == np.int64 and masked.shape == (2,) for _, masked in seen)
        np.testing.assert_array_equal(result, [15, 15])

    def test_masked_values_are_uniform_when_a_client_sends_a_constant(self, set_context):
        # Bitwidth 2 over 4 clients: modulus 2**4. Every element has its own mask.
        _, seen = self._observed(set_context, [[3] * 4000] * 4, 2)

        for _, masked in seen:
            assert _chi_square_p_value(masked, 16) > 1e-6

    def test_masked_values_are_uncorrelated_with_the_values_when_values_vary(self, set_context):
        values = np.random.default_rng(2).integers(0, 2**8, size=(3, 5000))

        result, seen = self._observed(set_context, list(values.astype(np.int32)), 8)

        np.testing.assert_array_equal(result, values.sum(axis=0))
        for index, masked in seen:
            # Six standard errors: fails only if masking leaks the values.
            assert abs(np.corrcoef(values[index], masked)[0, 1]) < 6 / np.sqrt(5000)

    def test_masks_differ_when_the_same_sum_runs_twice(self, set_context):
        _, first = self._observed(set_context, [[1, 2, 3]] * 3, 4)
        _, second = self._observed(set_context, [[1, 2, 3]] * 3, 4)

        assert not np.array_equal(first[0][1], second[0][1])


class _RecordingExecutor(executor_base.Executor):
    """Passes everything to an inner executor, recording each call's function type."""

    def __init__(self, inner, calls):
        self._inner, self._calls = inner, calls

    async def create_value(self, value, type_spec):
        return await self._inner.create_value(value, type_spec)

    async def create_call(self, fn, arg=None):
        self._calls.append(str(fn.type_signature))
        return await self._inner.create_call(fn, arg)

    async def create_struct(self, elements):
        return await self._inner.create_struct(elements)

    async def create_selection(self, source, index):
        return await self._inner.create_selection(source, index)


class TestWhereEachStepRuns:
    def test_masks_on_each_client_and_unmasks_on_the_server(self):
        server_calls, client_calls = [], collections.defaultdict(list)

        def leaf(calls):
            return _RecordingExecutor(
                reference_resolving_executor.ReferenceResolvingExecutor(
                    tensorflow_executor.TensorFlowExecutor()
                ),
                calls,
            )

        executor = reference_resolving_executor.ReferenceResolvingExecutor(
            federating_executor.FederatingExecutor(
                leaf(server_calls), lambda index: leaf(client_calls[index])
            )
        )
        member = ((np.int32, [2]), np.int32)
        secure_total = _bitwidth_sum(member, 8)

        async def run():
            fn = await executor.create_value(secure_total, secure_total.type_signature)
            value = await executor.create_value([([1, 2], 3)] * 3, F(member, C))
            return await (await executor.create_call(fn, value)).compute()

        total = asyncio.run(run())

        np.testing.assert_array_equal(total[0], [3, 6])
        assert total[1] == 9
        # Both leaves share a bitwidth, so each client masks one vector of 3 elements.
        masking = (
            "(<value=<int32[2],int32>,pair_seeds=int64[?,2],self_seed=int64[2],"
            "client_index=int64,moduli=int64[1],bounds=int64[2]> -> <<int64[3]>,bool[2]>)"
        )
        assert dict(client_calls) == {0: [masking], 1: [masking], 2: [masking]}
        assert server_calls == [
            "(<masked=<int64[?,3]>,survivors=int64[?],dropped=int64[?],"
            "dropped_seeds=int64[?,?,2],survivor_self_seeds=int64[?,2],moduli=int64[1]> -> "
            "<int32[2],int32>)"
        ]


class TestMaskGroups:
    def test_groups_leaves_by_parameter_when_their_shapes_are_known(self):
        leaves = [
            computation_types.TensorType(np.int32, [2]),
            computation_types.TensorType(np.int32, [None]),
            computation_types.TensorType(np.int32),
            computation_types.TensorType(np.int32, [3]),
        ]

        assert secure_aggregation.mask_groups(leaves, [8, 8, 4, 8]) == (0, 1, 2, 0)

    def test_sums_a_leaf_of_unknown_shape_in_its_own_group(self):
        @tffl.federated_computation(F(((np.int32, [None]), (np.int32, [2])), C))
        def secure_total(values):
            return tffl.federated_secure_sum_bitwidth(values, 4)

        result = secure_total([([1, 2, 3], [4, 5]), ([1, 1, 1], [1, 1])])

        np.testing.assert_array_equal(result[0], [2, 3, 4])
        np.testing.assert_array_equal(result[1], [5, 6])


class TestModuliAndBounds:
    def test_adds_the_bits_the_sum_needs_when_given_bitwidths(self):
        assert secure_aggregation.moduli_and_bounds(
            "s", [8, 0], 5, secure_aggregation.BITWIDTH
        ) == (
            [2**11, 2**3],
            [2**8, 1],
        )

    def test_sums_a_max_input_as_the_bitwidth_that_holds_it(self):
        assert secure_aggregation.moduli_and_bounds(
            "s", [255, 256, 0], 4, secure_aggregation.MAX_INPUT
        ) == ([2**10, 2**11, 2**2], [256, 257, 1])

    def test_needs_no_extra_bits_when_there_is_one_client(self):
        assert secure_aggregation.moduli_and_bounds("s", [8], 1, secure_aggregation.BITWIDTH) == (
            [256],
            [256],
        )

    @pytest.mark.parametrize(
        "parameters, kind, message",
        [
            pytest.param(
                [61],
                secure_aggregation.BITWIDTH,
                "federated_secure_sum_bitwidth: a bitwidth of 61 over 3 clients needs a "
                "modulus of 2**63, above the largest, 2**62",
                id="bitwidth_too_large",
            ),
            pytest.param(
                [-1],
                secure_aggregation.BITWIDTH,
                "federated_secure_sum_bitwidth: expected a bitwidth >= 0, got -1",
                id="negative_bitwidth",
            ),
            pytest.param(
                [0],
                secure_aggregation.MODULUS,
                "federated_secure_sum_bitwidth: expected a modulus in [1, 2**32] or a power "
                "of two up to 2**62, got 0",
                id="zero_modulus",
            ),
            pytest.param(
                [-1],
                secure_aggregation.MAX_INPUT,
                "federated_secure_sum_bitwidth: expected a max_input >= 0, got -1",
                id="negative_max_input",
            ),
            pytest.param(
                [2**61],
                secure_aggregation.MAX_INPUT,
                "federated_secure_sum_bitwidth: a max_input of 2305843009213693952 over 3 "
                "clients needs a modulus of 2**64, above the largest, 2**62",
                id="max_input_too_large",
            ),
            pytest.param(
                [8],
                "bits",
                "federated_secure_sum_bitwidth: expected a parameter kind in "
                "('bitwidth', 'modulus', 'max_input'), got 'bits'",
                id="unknown_kind",
            ),
        ],
    )
    def test_raises_naming_the_intrinsic_when_a_parameter_is_unsupported(
        self, parameters, kind, message
    ):
        with pytest.raises(ValueError) as raised:
            secure_aggregation.moduli_and_bounds(
                "federated_secure_sum_bitwidth", parameters, 3, kind
            )

        assert str(raised.value) == message

    def test_raises_through_the_intrinsic_when_the_bitwidth_is_too_large(self):
        with pytest.raises(ValueError) as raised:
            _bitwidth_sum(np.int64, 62)([1, 2])

        assert str(raised.value) == (
            "federated_secure_sum_bitwidth: a bitwidth of 62 over 2 clients needs a "
            "modulus of 2**63, above the largest, 2**62"
        )


class TestSecureAggregationConfig:
    def test_defaults_to_no_dropouts_and_half_the_clients(self):
        config = Config()

        assert config.dropouts(4) == []
        assert [config.threshold(n) for n in (1, 2, 3, 10)] == [1, 1, 2, 5]

    def test_keeps_dropped_clients_as_a_frozenset_when_given_a_list(self):
        config = Config(dropped_clients=[3, 1, 3])

        assert config.dropped_clients == frozenset({1, 3})
        assert config.dropouts(5) == [1, 3]

    def test_is_frozen(self):
        with pytest.raises(AttributeError):
            Config().min_survivors = 3

    @pytest.mark.parametrize(
        "kwargs, error, message",
        [
            pytest.param(
                dict(min_survivors=0),
                ValueError,
                "SecureAggregationConfig min_survivors: expected a count (int >= 1) or a "
                "fraction (float in (0, 1]), got 0",
                id="zero_count",
            ),
            pytest.param(
                dict(min_survivors=1.5),
                ValueError,
                "SecureAggregationConfig min_survivors: expected a count (int >= 1) or a "
                "fraction (float in (0, 1]), got 1.5",
                id="fraction_above_one",
            ),
            pytest.param(
                dict(min_survivors=True),
                ValueError,
                "SecureAggregationConfig min_survivors: expected a count (int >= 1) or a "
                "fraction (float in (0, 1]), got True",
                id="bool",
            ),
            pytest.param(
                dict(dropped_clients=["a"]),
                TypeError,
                "SecureAggregationConfig dropped_clients: expected client indices (ints) or "
                "a function of the number of clients, got ['a']",
                id="not_indices",
            ),
            pytest.param(
                dict(observe_masked=3),
                TypeError,
                "SecureAggregationConfig observe_masked: expected a function, got int",
                id="observer_not_callable",
            ),
        ],
    )
    def test_raises_when_a_setting_is_invalid(self, kwargs, error, message):
        with pytest.raises(error) as raised:
            Config(**kwargs)

        assert str(raised.value) == message

    def test_local_executor_factory_refuses_another_kind_of_config(self):
        with pytest.raises(TypeError) as raised:
            executor_stacks.LocalExecutorFactory(secure_aggregation={"min_survivors": 2})

        assert str(raised.value) == (
            "secure_aggregation: expected a SecureAggregationConfig, got dict"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        globs = vars(secure_aggregation)
        for test in doctest.DocTestFinder().find(secure_aggregation, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
