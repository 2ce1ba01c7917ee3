"""Tests for tffl.executors.federating_executor: driven directly through its async interface."""

import asyncio

import numpy as np
import pytest

from tests.executors.federating_setup import C
from tests.executors.federating_setup import F
from tests.executors.federating_setup import S
from tests.executors.federating_setup import add
from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs
from tffl.executors import federating_executor
from tffl.executors import reference_resolving_executor
from tffl.executors import tensorflow_executor
from tffl.types import computation_types
from tffl.types import type_errors


def _stack(num_clients=None):
    def leaf(index=None):
        del index
        return reference_resolving_executor.ReferenceResolvingExecutor(
            tensorflow_executor.TensorFlowExecutor()
        )

    return federating_executor.FederatingExecutor(leaf(), leaf, num_clients=num_clients)


class TestFederatingExecutor:
    CLIENT_FLOATS = F(np.float32, C)

    def test_places_one_member_per_client_when_given_a_clients_list(self):
        executor = _stack()

        async def run():
            value = await executor.create_value([1.0, 2.0, 3.0], self.CLIENT_FLOATS)
            return value.type_signature, await value.compute()

        value_type, value = asyncio.run(run())

        assert str(value_type) == "{float32}@CLIENTS"
        assert value == [1.0, 2.0, 3.0]
        assert executor.num_clients == 3

    def test_runs_an_intrinsic_when_calling_its_block(self):
        intrinsic = bb.Intrinsic(
            intrinsic_defs.FEDERATED_SUM.uri,
            computation_types.FunctionType(self.CLIENT_FLOATS, F(np.float32, S)),
        )
        executor = _stack()

        async def run():
            fn = await executor.create_value(intrinsic, intrinsic.type_signature)
            arg = await executor.create_value([1.0, 2.0, 3.5], self.CLIENT_FLOATS)
            return await (await executor.create_call(fn, arg)).compute()

        assert asyncio.run(run()) == np.float32(6.5)

    def test_runs_an_unplaced_function_at_the_server(self):
        executor = _stack()

        async def run():
            fn = await executor.create_value(add, add.type_signature)
            a = await executor.create_value(1.0, np.float32)
            b = await executor.create_value(2.0, np.float32)
            arg = await executor.create_struct([("a", a), ("b", b)])
            selected = await executor.create_selection(arg, 1)
            result = await executor.create_call(fn, arg)
            return await result.compute(), await selected.compute()

        assert asyncio.run(run()) == (np.float32(3.0), np.float32(2.0))

    def test_raises_when_a_clients_value_has_another_number_of_clients(self):
        executor = _stack()

        async def run():
            await executor.create_value([1.0, 2.0, 3.0], self.CLIENT_FLOATS)
            await executor.create_value([1.0, 2.0], self.CLIENT_FLOATS)

        with pytest.raises(ValueError) as caught:
            asyncio.run(run())

        assert str(caught.value) == (
            "expected 3 clients for a value of type {float32}@CLIENTS, got 2"
        )

    def test_raises_when_num_clients_was_given_and_the_list_disagrees(self):
        executor = _stack(num_clients=4)

        with pytest.raises(ValueError) as caught:
            asyncio.run(executor.create_value([1.0], self.CLIENT_FLOATS))

        assert str(caught.value) == (
            "expected 4 clients for a value of type {float32}@CLIENTS, got 1"
        )

    @pytest.mark.parametrize(
        "value, message",
        [
            pytest.param(
                1.0,
                "argument: expected {float32}@CLIENTS, got float "
                "(a CLIENTS value is a list, one per client)",
                id="scalar",
            ),
            pytest.param(
                [1.0, "two"],
                "argument of client 1: expected float32, got string",
                id="bad_member",
            ),
        ],
    )
    def test_raises_when_a_clients_value_does_not_fit(self, value, message):
        executor = _stack()

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            asyncio.run(executor.create_value(value, self.CLIENT_FLOATS))

        assert str(caught.value) == message

    def test_raises_when_selecting_from_a_federated_value(self):
        executor = _stack()

        async def run():
            value = await executor.create_value([(1.0,)], F((np.float32,), C))
            return await executor.create_selection(value, 0)

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            asyncio.run(run())

        assert str(caught.value) == "selection: expected a struct, got {<float32>}@CLIENTS"

    def test_has_a_handler_for_every_intrinsic(self):
        assert set(federating_executor.HANDLERS) == set(intrinsic_defs.ALL)
