"""Tests for tffl.backends.execution_context."""

import asyncio
import collections
import dataclasses
import gc
import warnings

import attr
import numpy as np
import pytest

import tffl
from tffl.backends import execution_context
from tffl.executors import executor_stacks
from tffl.types import computation_types
from tffl.types import type_errors

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType
OD = collections.OrderedDict

Point = collections.namedtuple("Point", ["x", "y"])


@attr.s(auto_attribs=True, eq=True)
class AttrsPoint:
    x: int
    y: float


@dataclasses.dataclass
class DataPoint:
    x: int
    y: float


@tffl.tf_computation(np.float32)
def add_one(x):
    return x + 1.0


@tffl.tf_computation(computation_types.TensorType(np.float32, [3]))
def total(x):
    return x[0] + x[1] + x[2]


@tffl.tf_computation(np.float32, np.float32)
def add(a, b):
    return a + b


@tffl.federated_computation(F(np.float32, C))
def client_mean(values):
    return tffl.federated_mean(values)


@tffl.federated_computation(F(np.float32, C), F(np.float32, C))
def pairwise_sums(a, b):
    return tffl.federated_map(add, tffl.federated_zip(OD(a=a, b=b)))


class TestInferNumClients:
    @pytest.mark.parametrize(
        "value, type_spec, expected",
        [
            pytest.param(None, None, None, id="no_parameter"),
            pytest.param(1.0, F(np.float32, S), None, id="server_value"),
            pytest.param([1.0, 2.0, 3.0], F(np.float32, C), 3, id="clients_list"),
            pytest.param(1.0, F(np.float32, C, all_equal=True), None, id="all_equal"),
            pytest.param(
                OD(a=[1.0, 2.0], b=5.0),
                computation_types.StructType([("a", F(np.float32, C)), ("b", F(np.float32, S))]),
                2,
                id="nested_in_struct",
            ),
            pytest.param(
                ([1.0, 2.0], [3.0, 4.0]),
                computation_types.StructType([F(np.float32, C), F(np.float32, C)]),
                2,
                id="two_lists_agree",
            ),
            pytest.param(7.0, F(np.float32, C), None, id="not_a_list"),
        ],
    )
    def test_counts_clients_lists_when_present(self, value, type_spec, expected):
        assert execution_context.infer_num_clients(value, type_spec) == expected

    def test_raises_naming_both_counts_when_clients_lists_disagree(self):
        type_spec = computation_types.StructType([F(np.float32, C), F(np.float32, C)])

        with pytest.raises(ValueError) as caught:
            execution_context.infer_num_clients(([1.0, 2.0], [1.0, 2.0, 3.0]), type_spec)

        assert str(caught.value) == (
            "CLIENTS values in the arguments disagree on the number of clients: [2, 3]"
        )


class TestInvokeAsync:
    def test_gives_the_result_when_awaited_with_a_factory(self):
        factory = executor_stacks.LocalExecutorFactory(max_concurrency=2)
        try:
            result = asyncio.run(
                execution_context.invoke_async(factory, None, client_mean, [1.0, 2.0, 6.0])
            )
        finally:
            factory.close()

        assert result == np.float32(3.0)

    def test_uses_the_default_number_of_clients_when_the_arguments_have_none(self):
        @tffl.federated_computation(F(np.float32, S))
        def broadcast(value):
            return tffl.federated_sum(tffl.federated_broadcast(value))

        factory = executor_stacks.LocalExecutorFactory()
        try:
            result = asyncio.run(execution_context.invoke_async(factory, 4, broadcast, 1.5))
        finally:
            factory.close()

        assert result == np.float32(6.0)


class TestExecutionContext:
    @pytest.mark.parametrize(
        "value, type_spec",
        [
            pytest.param(Point(1, 2.5), Point(np.int32, np.float32), id="namedtuple"),
            pytest.param(OD(x=1, y=2.5), OD(x=np.int32, y=np.float32), id="ordered_dict"),
            pytest.param({"x": 1, "y": 2.5}, {"x": np.int32, "y": np.float32}, id="dict"),
            pytest.param(AttrsPoint(1, 2.5), AttrsPoint(np.int32, np.float32), id="attrs"),
            pytest.param(DataPoint(1, 2.5), DataPoint(np.int32, np.float32), id="dataclass"),
            pytest.param((1, 2.5), (np.int32, np.float32), id="tuple"),
        ],
    )
    def test_returns_the_users_container_when_a_struct_round_trips(self, value, type_spec):
        struct_type = tffl.to_type(type_spec)
        expected_type = type(value)

        @tffl.tf_computation(struct_type)
        def identity(point):
            return point

        @tffl.federated_computation(F(struct_type, C))
        def clients_identity(points):
            return points

        result = identity(value)
        clients_result = clients_identity([value, value])

        assert type(result) is expected_type
        assert result == value
        assert clients_result == [value, value]
        assert all(type(r) is expected_type for r in clients_result)

    def test_returns_a_namedtuple_when_clients_values_are_zipped_into_one(self):
        @tffl.federated_computation(F(np.float32, C), F(np.int32, C))
        def zipped(x, y):
            return tffl.federated_zip(Point(x=x, y=y))

        result = zipped([1.0, 2.0], [3, 4])

        assert result == [Point(x=1.0, y=3), Point(x=2.0, y=4)]
        assert all(type(r) is Point for r in result)

    def test_returns_a_list_for_clients_and_one_value_for_all_equal_and_server(self, set_context):
        set_context(num_clients=2)

        @tffl.federated_computation(F(np.float32, S), F(np.float32, C))
        def placed(server_value, client_values):
            return OD(
                server=server_value,
                clients=client_values,
                all_equal=tffl.federated_broadcast(server_value),
            )

        result = placed(1.5, [2.0, 3.0])

        assert str(placed.type_signature.result) == (
            "<server=float32@SERVER,clients={float32}@CLIENTS,all_equal=float32@CLIENTS>"
        )
        assert result == OD(server=1.5, clients=[2.0, 3.0], all_equal=1.5)
        assert type(result["server"]) is np.float32
        assert type(result["clients"]) is list
        assert type(result["all_equal"]) is np.float32

    @pytest.mark.parametrize(
        "call, error, message",
        [
            pytest.param(
                lambda: add_one("hello"),
                type_errors.TypeMismatchError,
                "argument: expected float32, got string",
                id="string_for_float32",
            ),
            pytest.param(
                lambda: total([1.0, 2.0]),
                type_errors.TypeMismatchError,
                "argument: expected float32[3], got float32[2]",
                id="wrong_shape",
            ),
            pytest.param(
                lambda: add_one(1.0, 2.0),
                TypeError,
                "expected one argument of type float32, got 2",
                id="too_many_for_one",
            ),
            pytest.param(
                lambda: add(1.0, 2.0, 3.0),
                TypeError,
                "expected 2 arguments for <a=float32,b=float32>, got 3",
                id="too_many_for_two",
            ),
            pytest.param(
                lambda: add_one(),
                TypeError,
                "expected an argument of type float32, got none",
                id="none_given",
            ),
            pytest.param(
                lambda: pairwise_sums([1.0, 2.0], [1.0, 2.0, 3.0]),
                ValueError,
                "CLIENTS values in the arguments disagree on the number of clients: [2, 3]",
                id="zip_lengths_disagree",
            ),
            pytest.param(
                lambda: client_mean(1.0),
                type_errors.TypeMismatchError,
                "argument: expected {float32}@CLIENTS, got float "
                "(a CLIENTS value is a list, one per client)",
                id="scalar_for_clients",
            ),
            pytest.param(
                lambda: client_mean(np.array([1.0, 2.0], np.float32)),
                type_errors.TypeMismatchError,
                "argument: expected {float32}@CLIENTS, got ndarray "
                "(a CLIENTS value is a list, one per client)",
                id="array_for_clients",
            ),
            pytest.param(
                lambda: client_mean([1.0, "two", 3.0]),
                type_errors.TypeMismatchError,
                "argument of client 1: expected float32, got string",
                id="bad_client_member",
            ),
        ],
    )
    def test_raises_naming_expected_and_given_when_called_with_wrong_arguments(
        self, call, error, message
    ):
        with pytest.raises(error) as caught:
            call()

        assert str(caught.value) == message

    def test_raises_with_advice_when_called_synchronously_inside_an_event_loop(self):
        async def call_synchronously():
            return client_mean([1.0, 2.0])

        with pytest.raises(RuntimeError) as caught:
            asyncio.run(call_synchronously())

        assert str(caught.value) == (
            "a tffl computation was called synchronously inside a running event loop; "
            "use tffl.backends.local.set_context(asynchronous=True) and await the call"
        )

    def test_closes_its_event_loop_when_the_context_is_dropped(self):
        context = execution_context.ExecutionContext(executor_stacks.LocalExecutorFactory())

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert context.invoke(client_mean, [1.0, 3.0]) == np.float32(2.0)
            del context
            gc.collect()

        assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


class TestAsyncExecutionContext:
    def test_gives_the_result_when_the_call_is_awaited(self, set_context):
        set_context(asynchronous=True)

        async def main():
            return await client_mean([1.0, 2.0, 6.0])

        assert asyncio.run(main()) == np.float32(3.0)

    def test_runs_calls_concurrently_when_gathered(self, set_context):
        set_context(asynchronous=True)

        async def main():
            return await asyncio.gather(client_mean([1.0, 2.0]), client_mean([3.0, 5.0]))

        assert asyncio.run(main()) == [np.float32(1.5), np.float32(4.0)]

    def test_returns_a_coroutine_when_called(self):
        context = execution_context.AsyncExecutionContext(executor_stacks.LocalExecutorFactory())

        coroutine = context.invoke(client_mean, [2.0, 4.0])

        assert asyncio.iscoroutine(coroutine)
        assert asyncio.run(coroutine) == np.float32(3.0)
