"""Tests for tffl.executors.composing_executor, driving real worker processes.

The conformance suite runs one program per intrinsic on the local context and on
remote contexts of 1 and 3 workers, and expects identical results.
"""

import collections

import grpc
import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import intrinsic_defs
from tffl.core import context_stack
from tffl.executors import composing_executor
from tffl.executors import executor_errors
from tffl.executors import hierarchical_aggregation
from tffl.testing import intrinsic_programs

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType
OD = collections.OrderedDict


def _remote(remote_workers, count=3, **kwargs):
    return tffl.backends.remote.create_context(
        [w.address for w in remote_workers[:count]], **kwargs
    )


def assert_identical(actual, expected):
    """Equal values of equal Python and numpy types, container by container."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_identical(a, e)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_identical(actual[key], expected[key])
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype
        assert actual.tolist() == expected.tolist()
    else:
        assert actual == expected


class TestConformance:
    @pytest.mark.parametrize("num_workers", [1, 3])
    @pytest.mark.parametrize("case", intrinsic_programs.all_cases(), ids=lambda c: c.name)
    def test_gives_the_local_result_when_run_on_workers(self, remote_workers, case, num_workers):
        local = tffl.backends.local.create_context(num_clients=case.num_clients)
        remote = _remote(remote_workers, num_workers, num_clients=case.num_clients)

        with context_stack.install(local):
            expected = intrinsic_programs.call(case)
        with context_stack.install(remote):
            actual = intrinsic_programs.call(case)

        assert_identical(actual, expected)

    def test_has_a_handler_for_every_intrinsic(self):
        assert set(composing_executor.HANDLERS) == set(intrinsic_defs.ALL)

    def test_has_a_program_for_every_intrinsic(self):
        assert set(intrinsic_programs.cases()) == set(intrinsic_defs.ALL)


class TestShardSizes:
    @pytest.mark.parametrize(
        "num_clients, num_workers, sizes",
        [
            pytest.param(10, 3, [4, 3, 3], id="uneven"),
            pytest.param(9, 3, [3, 3, 3], id="even"),
            pytest.param(2, 3, [1, 1, 0], id="fewer_clients_than_workers"),
            pytest.param(0, 2, [0, 0], id="no_clients"),
        ],
    )
    def test_gives_contiguous_sizes_differing_by_at_most_one(self, num_clients, num_workers, sizes):
        assert composing_executor.shard_sizes(num_clients, num_workers) == sizes


@tffl.tf_computation(np.int32)
def identity(x):
    return x


class TestSharding:
    def test_keeps_client_order_across_workers(self, remote_workers):
        @tffl.federated_computation(F(np.int32, C))
        def same(values):
            return tffl.federated_map(identity, values)

        with context_stack.install(_remote(remote_workers)):
            assert same(list(range(10))) == list(range(10))

    def test_leaves_a_worker_out_when_it_would_have_no_clients(self, remote_workers):
        @tffl.federated_computation(F(np.int32, C))
        def total(values):
            return tffl.federated_sum(values)

        # The composing stack's sharding: lowered, a sum of arguments is one reduction
        # on the driver and no worker serves.
        context = _remote(remote_workers, lowering=False)
        with context_stack.install(context):
            assert total([5, 6]) == np.int32(11)

        assert context.pool.last_served == tuple(w.address for w in remote_workers[:2])

    def test_raises_when_the_number_of_clients_is_unknown(self, remote_workers):
        @tffl.federated_computation(F(np.float32, S))
        def broadcast(value):
            return tffl.federated_broadcast(value)

        with context_stack.install(_remote(remote_workers)):
            with pytest.raises(ValueError) as caught:
                broadcast(1.0)

        assert str(caught.value) == (
            "the number of clients is unknown: pass a CLIENTS value or set num_clients on the "
            "context (tffl.backends.remote.set_context(..., num_clients=N))"
        )


_DIGITS = tffl.to_type((np.int32, np.int64))


@tffl.tf_computation(_DIGITS, np.int32)
def append_digit(state, digit):
    return state[0] + 1, state[1] * 10 + tf.cast(digit, tf.int64)


@tffl.tf_computation(_DIGITS, _DIGITS)
def concatenate(a, b):
    return a[0] + b[0], a[1] * tf.cast(10 ** tf.cast(b[0], tf.float64), tf.int64) + b[1]


@tffl.tf_computation(_DIGITS)
def digits(state):
    return state[1]


class TestHierarchicalAggregation:
    def test_merges_the_workers_accumulators_in_worker_order(self, remote_workers):
        @tffl.federated_computation(F(np.int32, C))
        def joined(values):
            zero = (np.int32(0), np.int64(0))
            return tffl.federated_aggregate(values, zero, append_digit, concatenate, digits)

        with context_stack.install(_remote(remote_workers)):
            result = joined([1, 2, 3, 4, 5, 6, 7])

        # Shards [1,2,3], [4,5], [6,7]; a merge out of order would mix the digits.
        assert result == np.int64(1234567)

    def test_raises_when_the_weights_sum_to_zero(self, remote_workers):
        @tffl.federated_computation(F(np.float32, C), F(np.float32, C))
        def weighted(values, weights):
            return tffl.federated_mean(values, weight=weights)

        with context_stack.install(_remote(remote_workers)):
            with pytest.raises(ValueError) as caught:
                weighted([1.0, 2.0, 3.0], [1.0, -1.0, 0.0])

        assert str(caught.value) == (
            "federated_mean: the client weights sum to zero (per-worker sums [1.0, -1.0, 0.0])"
        )

    def test_adds_partial_sums_in_worker_order(self):
        member = tffl.to_type(OD(a=np.float32, b=(np.int32, [2])))
        partials = [OD(a=0.5, b=np.array([1, 2])), OD(a=0.25, b=np.array([3, 4]))]

        total = hierarchical_aggregation.add(partials, member)

        assert total["a"] == np.float32(0.75)
        assert total["b"].tolist() == [4, 6]

    def test_reduces_modular_partials_again(self):
        total = hierarchical_aggregation.secure_sum(
            [np.int32(4), np.int32(3)], tffl.to_type(np.int32), 5, modular=True
        )

        assert total == np.int32(2)


class TestWorkerErrors:
    def test_passes_the_worker_message_on_when_a_worker_refuses(self, remote_workers):
        case = intrinsic_programs.cases()[intrinsic_defs.FEDERATED_SELECT][0]
        program = case.build()

        with context_stack.install(_remote(remote_workers, 1)):
            with pytest.raises(executor_errors.FatalError) as caught:
                program([[0], [1, 5]], [10.0, 11.0, 12.0, 13.0, 14.0])

        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert str(caught.value) == (
            f"worker {remote_workers[0].address}: federated_select: client 1 asked for key 5, "
            "outside [0, 5)"
        )

    def test_says_which_clients_of_the_call_a_worker_means_when_there_are_shards(
        self, remote_workers
    ):
        case = intrinsic_programs.cases()[intrinsic_defs.FEDERATED_SELECT][0]
        program = case.build()

        with context_stack.install(_remote(remote_workers)):
            with pytest.raises(executor_errors.FatalError) as caught:
                program([[0], [1], [2], [3], [4], [1, 5]], [10.0, 11.0, 12.0, 13.0, 14.0])

        assert str(caught.value) == (
            f"worker {remote_workers[2].address}: federated_select: client 1 asked for key 5, "
            "outside [0, 5) (the worker's clients 0 to 1 are clients 4 to 5 of the call)"
        )
