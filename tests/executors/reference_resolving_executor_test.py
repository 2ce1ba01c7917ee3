"""Tests for tffl.executors.reference_resolving_executor."""

import asyncio
import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs
from tffl.executors import executor_base
from tffl.executors import reference_resolving_executor
from tffl.executors import tensorflow_executor
from tffl.types import computation_types

F32 = computation_types.TensorType(np.float32)
I32 = computation_types.TensorType(np.int32)
INT_SEQUENCE = computation_types.SequenceType(np.int32)


@tffl.tf_computation(np.float32, np.float32)
def add(a, b):
    return a + b


@tffl.tf_computation(np.int32, np.int32)
def multiply(x, k):
    return x * k


@tffl.tf_computation(np.int32, np.int32)
def accumulate(total, x):
    return total + x


def _run(coroutine_fn):
    return asyncio.run(coroutine_fn())


def _executor():
    return reference_resolving_executor.ReferenceResolvingExecutor(
        tensorflow_executor.TensorFlowExecutor()
    )


def _add_call(a, b):
    return bb.Call(add.building_block, bb.Struct([("a", a), ("b", b)]))


class _Recorded(executor_base.ExecutorValue):
    def __init__(self, value, type_spec):
        self.value = value
        self._type = type_spec

    @property
    def type_signature(self):
        return self._type

    async def compute(self):
        return self.value


class _RecordingExecutor(executor_base.Executor):
    """A target that records what it is asked to embed and call."""

    def __init__(self):
        self.embedded = []
        self.calls = []

    async def create_value(self, value, type_spec):
        if isinstance(value, bb.BuildingBlock):
            self.embedded.append(value.compact())
            return _Recorded(value, value.type_signature)
        return _Recorded(value, computation_types.to_type(type_spec))

    async def create_call(self, fn, arg=None):
        self.calls.append((fn.value.compact(), arg.value.compact()))
        return _Recorded("called", fn.type_signature.result)

    async def create_struct(self, elements):
        raise NotImplementedError

    async def create_selection(self, source, index):
        raise NotImplementedError


class TestReferenceResolvingExecutor:
    def test_evaluates_locals_and_references_when_calling_a_lambda(self):
        x = bb.Reference("x", F32)
        doubled = bb.Reference("doubled", F32)
        block = bb.Lambda(
            "x",
            F32,
            bb.Block(
                [("doubled", _add_call(x, x))],
                bb.Struct(
                    [("doubled", doubled), ("plus_one", _add_call(doubled, bb.Literal(1.0, F32)))]
                ),
            ),
        )
        executor = _executor()

        async def run():
            fn = await executor.create_value(block, block.type_signature)
            arg = await executor.create_value(3.0, F32)
            result = await executor.create_call(fn, arg)
            return result.type_signature, await result.compute()

        result_type, value = _run(run)

        assert str(result_type) == "<doubled=float32,plus_one=float32>"
        assert value == collections.OrderedDict(doubled=6.0, plus_one=7.0)

    def test_keeps_the_scope_of_a_closure_when_a_lambda_returns_a_lambda(self):
        x = bb.Reference("x", F32)
        y = bb.Reference("y", F32)
        curried = bb.Lambda("x", F32, bb.Lambda("y", F32, _add_call(x, y)))
        executor = _executor()

        async def run():
            outer = await executor.create_value(curried, curried.type_signature)
            add_ten = await executor.create_call(outer, await executor.create_value(10.0, F32))
            first = await executor.create_call(add_ten, await executor.create_value(1.0, F32))
            second = await executor.create_call(add_ten, await executor.create_value(2.5, F32))
            return await first.compute(), await second.compute()

        assert _run(run) == (np.float32(11.0), np.float32(12.5))

    def test_calls_a_lambda_without_argument_when_it_has_no_parameter(self):
        block = bb.Lambda(None, None, bb.Literal(np.int32(4)))
        executor = _executor()

        async def run():
            fn = await executor.create_value(block, block.type_signature)
            return await (await executor.create_call(fn)).compute()

        assert _run(run) == np.int32(4)

    def test_returns_the_element_itself_when_selecting_from_a_struct_it_built(self):
        executor = _executor()

        async def run():
            a = await executor.create_value(1.0, F32)
            b = await executor.create_value(2, I32)
            struct = await executor.create_struct([("a", a), ("b", b)])
            selected = await executor.create_selection(struct, 1)
            return b, selected, struct.type_signature, await struct.compute()

        b, selected, struct_type, value = _run(run)

        assert selected is b
        assert str(struct_type) == "<a=float32,b=int32>"
        assert value == collections.OrderedDict(a=1.0, b=2)

    def test_selects_in_the_target_when_the_struct_lives_there(self):
        struct_type = computation_types.to_type(collections.OrderedDict(a=np.int32, b=np.float32))
        executor = _executor()

        async def run():
            struct = await executor.create_value(collections.OrderedDict(a=1, b=2.5), struct_type)
            selected = await executor.create_selection(struct, 1)
            return selected.type_signature, await selected.compute()

        selected_type, value = _run(run)

        assert str(selected_type) == "float32"
        assert value == np.float32(2.5)

    def test_evaluates_a_selection_block_when_the_source_is_a_struct_block(self):
        block = bb.Selection(
            bb.Struct([("a", bb.Literal(np.int32(1))), ("b", bb.Literal(np.int32(2)))]), name="b"
        )
        executor = _executor()

        async def run():
            value = await executor.create_value(block, block.type_signature)
            return await value.compute()

        assert _run(run) == np.int32(2)

    def test_closes_captured_values_into_literals_when_a_closure_goes_to_the_target(self):
        k = bb.Reference("k", F32)
        x = bb.Reference("x", F32)
        make_adder = bb.Lambda("k", F32, bb.Lambda("x", F32, _add_call(x, k)))
        intrinsic = bb.Intrinsic(
            intrinsic_defs.FEDERATED_MAP.uri,
            computation_types.FunctionType(
                computation_types.FunctionType(F32, F32),
                tffl.FederatedType(np.float32, tffl.CLIENTS),
            ),
        )
        target = _RecordingExecutor()
        executor = reference_resolving_executor.ReferenceResolvingExecutor(target)

        async def run():
            adder_factory = await executor.create_value(make_adder, make_adder.type_signature)
            adder = await executor.create_call(adder_factory, await executor.create_value(2.0, F32))
            fn = await executor.create_value(intrinsic, intrinsic.type_signature)
            return await executor.create_call(fn, adder)

        _run(run)

        assert target.embedded == ["federated_map", "(let k=2.0 in (x -> add(<a=x,b=k>)))"]
        assert target.calls == [
            ("federated_map", "(let k=2.0 in (x -> add(<a=x,b=k>)))"),
        ]

    def test_raises_when_a_reference_is_unbound(self):
        block = bb.Lambda("x", F32, bb.Reference("missing", F32))
        executor = _executor()

        async def run():
            fn = await executor.create_value(block, block.type_signature)
            return await executor.create_call(fn, await executor.create_value(1.0, F32))

        with pytest.raises(NameError) as caught:
            _run(run)

        assert str(caught.value) == "unbound reference 'missing'"

    def test_raises_when_selecting_from_a_function(self):
        block = bb.Lambda("x", F32, bb.Reference("x", F32))
        executor = _executor()

        async def run():
            fn = await executor.create_value(block, block.type_signature)
            return await executor.create_selection(fn, 0)

        with pytest.raises(TypeError) as caught:
            _run(run)

        assert str(caught.value) == "cannot select from a function"

    def test_raises_when_computing_a_closure(self):
        block = bb.Lambda("x", F32, bb.Reference("x", F32))
        executor = _executor()

        async def run():
            fn = await executor.create_value(block, block.type_signature)
            return await fn.compute()

        with pytest.raises(TypeError) as caught:
            _run(run)

        assert (
            str(caught.value) == "a function of type (float32 -> float32) has no value to compute"
        )


class TestPythonSequenceOperators:
    """sequence_map/sequence_reduce whose function is a closure run element by element."""

    def test_maps_element_by_element_when_the_function_is_a_lambda(self):
        x = bb.Reference("x", I32)
        lambda_fn = bb.Lambda(
            "x", I32, bb.Call(multiply.building_block, bb.Struct([("x", x), ("k", x)]))
        )
        intrinsic = bb.Intrinsic(
            intrinsic_defs.SEQUENCE_MAP.uri,
            computation_types.FunctionType(
                computation_types.StructType([lambda_fn.type_signature, INT_SEQUENCE]),
                INT_SEQUENCE,
            ),
        )
        block = bb.Lambda(
            "s",
            INT_SEQUENCE,
            bb.Call(intrinsic, bb.Struct([lambda_fn, bb.Reference("s", INT_SEQUENCE)])),
        )
        executor = _executor()

        async def run():
            fn = await executor.create_value(block, block.type_signature)
            data = await executor.create_value([1, 2, 3], INT_SEQUENCE)
            return await (await executor.create_call(fn, data)).compute()

        assert _run(run) == [1, 4, 9]

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param([1, 2, 3], id="list"),
            pytest.param(
                tf.data.Dataset.range(1, 4).map(lambda x: tf.cast(x, tf.int32)), id="dataset"
            ),
        ],
    )
    def test_maps_with_a_captured_value_when_a_python_lambda_closes_over_a_parameter(self, data):
        @tffl.federated_computation(INT_SEQUENCE, np.int32)
        def scale(values, k):
            return tffl.sequence_map(lambda x: multiply(x, k), values)

        assert scale(data, 10) == [10, 20, 30]

    def test_maps_each_client_with_a_captured_value_when_the_sequence_is_federated(self):
        @tffl.federated_computation(
            tffl.FederatedType(INT_SEQUENCE, tffl.CLIENTS),
            tffl.FederatedType(np.int32, tffl.SERVER),
        )
        def scale(values, k):
            return tffl.federated_map(
                lambda pair: tffl.sequence_map(lambda x: multiply(x, pair[1]), pair[0]),
                [values, tffl.federated_broadcast(k)],
            )

        assert str(scale.type_signature) == (
            "(<values={int32*}@CLIENTS,k=int32@SERVER> -> {int32*}@CLIENTS)"
        )
        assert scale([[1, 2], [3], []], 10) == [[10, 20], [30], []]

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param([1, 2, 3], id="list"),
            pytest.param(
                tf.data.Dataset.range(1, 4).map(lambda x: tf.cast(x, tf.int32)), id="dataset"
            ),
        ],
    )
    def test_reduces_with_a_captured_value_when_a_python_lambda_closes_over_a_parameter(self, data):
        @tffl.federated_computation(INT_SEQUENCE, np.int32)
        def weighted_total(values, k):
            return tffl.sequence_reduce(
                values, np.int32(0), lambda total, x: accumulate(total, multiply(x, k))
            )

        assert weighted_total(data, 10) == np.int32(60)
