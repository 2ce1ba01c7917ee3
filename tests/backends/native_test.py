"""Tests for tffl.backends.native and tffl.backends.test: TFF's context names."""

import asyncio

import numpy as np
import pytest

import tffl
from tffl.backends import execution_context
from tffl.core import context_stack

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType


@tffl.federated_computation
def client_count():
    ones = tffl.federated_value(np.int32(1), C)
    return tffl.federated_sum(ones)


@tffl.federated_computation(F(np.int32, C))
def secure_total(values):
    return tffl.federated_secure_sum(values, 15)


SYNC = [
    tffl.backends.native.set_sync_local_cpp_execution_context,
    tffl.backends.test.set_sync_test_cpp_execution_context,
]
ASYNC = [
    tffl.backends.native.set_async_local_cpp_execution_context,
    tffl.backends.test.set_async_test_cpp_execution_context,
]
CREATE = [
    tffl.backends.native.create_sync_local_cpp_execution_context,
    tffl.backends.native.create_async_local_cpp_execution_context,
    tffl.backends.test.create_sync_test_cpp_execution_context,
    tffl.backends.test.create_async_test_cpp_execution_context,
]


class TestSetContext:
    def test_a_tff_program_first_line_sets_the_local_context(self, set_context):
        import tffl as tff

        tff.backends.native.set_sync_local_cpp_execution_context()

        context = context_stack.current()
        assert type(context) is execution_context.ExecutionContext
        assert context.num_clients is None
        assert secure_total([15, 1, 0]) == np.int32(16)

    @pytest.mark.parametrize("set_fn", SYNC, ids=lambda f: f.__name__)
    def test_default_num_clients_counts_clients_no_argument_names(self, set_context, set_fn):
        set_fn(default_num_clients=4)

        assert client_count() == np.int32(4)

    @pytest.mark.parametrize("set_fn", ASYNC, ids=lambda f: f.__name__)
    def test_async_contexts_return_coroutines(self, set_context, set_fn):
        set_fn(default_num_clients=3)

        assert type(context_stack.current()) is execution_context.AsyncExecutionContext
        assert asyncio.run(client_count()) == np.int32(3)

    def test_stream_structs_gives_the_same_results(self, set_context):
        tffl.backends.native.set_sync_local_cpp_execution_context(stream_structs=True)

        assert secure_total([1, 2, 3]) == np.int32(6)


class TestArgumentsTffDoesNotHave:
    @pytest.mark.parametrize("create_fn", CREATE, ids=lambda f: f.__name__)
    def test_a_concurrency_limit_is_refused(self, create_fn):
        with pytest.raises(ValueError) as raised:
            create_fn(max_concurrent_computation_calls=2)

        assert str(raised.value) == (
            f"{create_fn.__name__} max_concurrent_computation_calls: tffl's local context "
            "does not limit concurrent calls; expected a value <= 0 (no limit), got 2"
        )

    @pytest.mark.parametrize(
        "kwargs, error, message",
        [
            pytest.param(
                dict(default_num_clients=-1),
                ValueError,
                "default_num_clients: expected an int >= 0, got -1",
                id="negative_clients",
            ),
            pytest.param(
                dict(default_num_clients=2.0),
                TypeError,
                "default_num_clients: expected an int, got 2.0",
                id="float_clients",
            ),
            pytest.param(
                dict(stream_structs=1),
                TypeError,
                "stream_structs: expected a bool, got 1",
                id="int_stream_structs",
            ),
        ],
    )
    def test_bad_arguments_are_refused_naming_the_function(self, kwargs, error, message):
        with pytest.raises(error) as raised:
            tffl.backends.native.create_sync_local_cpp_execution_context(**kwargs)

        assert str(raised.value) == f"create_sync_local_cpp_execution_context {message}"

    def test_functions_carry_tff_names_and_say_what_they_do(self):
        for module in (tffl.backends.native, tffl.backends.test):
            for name in dir(module):
                if name.endswith("_execution_context"):
                    function = getattr(module, name)
                    assert function.__name__ == name
                    action = "Makes the default" if name.startswith("set_") else "Returns"
                    kind = "an asynchronous" if "_async_" in name else "a synchronous"
                    assert function.__doc__.startswith(f"{action}")
                    assert f"{kind} local context" in function.__doc__


class TestDocstringExamples:
    def test_module_example_runs(self, set_context):
        import doctest

        results = doctest.testmod(tffl.backends.native, verbose=False)

        assert (results.failed, results.attempted) == (0, 2)
