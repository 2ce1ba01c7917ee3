"""Tests for tffl.executors.tensorflow_executor."""

import asyncio
import collections
import concurrent.futures

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs
from tffl.executors import tensorflow_executor
from tffl.types import computation_types
from tffl.types import type_errors

F32 = computation_types.TensorType(np.float32)
I32 = computation_types.TensorType(np.int32)
INT_SEQUENCE = computation_types.SequenceType(np.int32)


@tffl.tf_computation(np.float32, np.float32)
def add(a, b):
    return a + b


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


@tffl.tf_computation(np.int32, np.int32)
def accumulate(total, x):
    return total + x


@tffl.tf_computation
def seven():
    return np.float32(7.0)


@tffl.tf_computation(INT_SEQUENCE)
def evens(dataset):
    return dataset.filter(lambda x: x % 2 == 0)


def _run(coroutine_fn):
    return asyncio.run(coroutine_fn())


def _intrinsic(definition, parameter, result):
    return bb.Intrinsic(definition.uri, computation_types.FunctionType(parameter, result))


class TestCompiledFunction:
    def test_calls_the_graph_when_given_a_struct_argument(self):
        compiled = tensorflow_executor.CompiledFunction(add.building_block)

        result = compiled([tf.constant(1.5), tf.constant(2.0)])

        assert result.numpy() == np.float32(3.5)

    def test_calls_the_graph_when_it_has_no_parameter(self):
        compiled = tensorflow_executor.CompiledFunction(seven.building_block)

        assert compiled(None).numpy() == np.float32(7.0)

    def test_passes_datasets_through_variants_when_parameter_and_result_are_sequences(self):
        compiled = tensorflow_executor.CompiledFunction(evens.building_block)

        result = compiled(tf.data.Dataset.range(6).map(lambda x: tf.cast(x, tf.int32)))

        assert isinstance(result, tf.data.Dataset)
        assert [int(x) for x in result] == [0, 2, 4]


class TestFunctionCache:
    def test_compiles_once_when_the_same_block_is_asked_for_twice(self):
        cache = tensorflow_executor.FunctionCache()

        first = cache.get(add.building_block)
        second = cache.get(add.building_block)

        assert first is second
        assert cache.compilations == 1

    def test_reuses_the_entry_when_the_same_source_is_traced_again(self):
        cache = tensorflow_executor.FunctionCache()

        def subtract(a, b):
            return a - b

        first = tffl.tf_computation(subtract, np.float32, np.float32)
        second = tffl.tf_computation(subtract, np.float32, np.float32)

        compiled = cache.get(first.building_block)

        assert second.building_block is not first.building_block
        assert cache.get(second.building_block) is compiled
        assert cache.compilations == 1

    def test_evicts_the_least_recently_used_when_over_capacity(self):
        cache = tensorflow_executor.FunctionCache(capacity=1)

        first = cache.get(add.building_block)
        cache.get(double.building_block)
        again = cache.get(add.building_block)

        assert again is not first
        assert cache.compilations == 3

    def test_never_recompiles_or_retraces_when_called_1000_times(self):
        traces = []

        @tffl.tf_computation(np.float32)
        def scale(x):
            traces.append(x)
            return x * 3.0

        @tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
        def scaled_sum(values):
            return tffl.federated_sum(tffl.federated_map(scale, values))

        assert scaled_sum([1.0, 2.0]) == np.float32(9.0)
        compilations = tensorflow_executor.FUNCTION_CACHE.compilations

        results = [scaled_sum([float(i), 1.0]) for i in range(1000)]

        assert results == [np.float32(3.0 * i + 3.0) for i in range(1000)]
        assert tensorflow_executor.FUNCTION_CACHE.compilations == compilations
        assert len(traces) == 1


class TestTensorFlowExecutor:
    @pytest.fixture(params=["inline", "thread_pool"])
    def executor(self, request):
        if request.param == "inline":
            yield tensorflow_executor.TensorFlowExecutor()
            return
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        yield tensorflow_executor.TensorFlowExecutor(pool)
        pool.shutdown()

    def test_computes_a_tensor_when_given_a_python_value(self, executor):
        async def run():
            value = await executor.create_value([1, 2], computation_types.TensorType(np.int32, [2]))
            return value.type_signature, await value.compute()

        type_signature, value = _run(run)

        assert str(type_signature) == "int32[2]"
        assert value.tolist() == [1, 2]

    def test_calls_a_computation_when_given_a_struct_of_values(self, executor):
        async def run():
            fn = await executor.create_value(add, add.type_signature)
            a = await executor.create_value(1.5, F32)
            b = await executor.create_value(2.0, F32)
            arg = await executor.create_struct([("a", a), ("b", b)])
            result = await executor.create_call(fn, arg)
            return arg.type_signature, result.type_signature, await result.compute()

        arg_type, result_type, value = _run(run)

        assert str(arg_type) == "<a=float32,b=float32>"
        assert str(result_type) == "float32"
        assert value == np.float32(3.5)

    def test_calls_a_computation_without_argument_when_it_has_no_parameter(self, executor):
        async def run():
            fn = await executor.create_value(seven, seven.type_signature)
            return await (await executor.create_call(fn)).compute()

        assert _run(run) == np.float32(7.0)

    def test_selects_by_index_when_given_a_struct(self, executor):
        async def run():
            struct = await executor.create_value(
                collections.OrderedDict(a=1, b=2.5),
                computation_types.to_type(collections.OrderedDict(a=np.int32, b=np.float32)),
            )
            selected = await executor.create_selection(struct, 1)
            return selected.type_signature, await selected.compute(), await struct.compute()

        selected_type, selected, whole = _run(run)

        assert str(selected_type) == "float32"
        assert selected == np.float32(2.5)
        assert whole == collections.OrderedDict(a=1, b=2.5)

    def test_embeds_a_constant_when_given_a_literal(self, executor):
        async def run():
            literal = bb.Literal(np.int32(7))
            value = await executor.create_value(literal, literal.type_signature)
            return await value.compute()

        assert _run(run) == np.int32(7)

    def test_embeds_each_element_when_given_a_struct_of_blocks(self, executor):
        block = bb.Struct([("fn", double.building_block), ("k", bb.Literal(np.int32(4)))])

        async def run():
            struct = await executor.create_value(block, block.type_signature)
            fn = await executor.create_selection(struct, 0)
            k = await executor.create_selection(struct, 1)
            return await (await executor.create_call(fn, k)).compute()

        assert _run(run) == np.int32(8)

    def test_returns_the_same_value_when_given_one_of_its_values(self, executor):
        async def run():
            value = await executor.create_value(1.0, F32)
            return value, await executor.create_value(value, F32)

        value, again = _run(run)

        assert again is value

    @pytest.mark.parametrize(
        "definition, make_arg, parameter, result, expected",
        [
            pytest.param(
                intrinsic_defs.SEQUENCE_SUM,
                lambda: [1, 2, 3, 4],
                INT_SEQUENCE,
                I32,
                10,
                id="sequence_sum_of_list",
            ),
            pytest.param(
                intrinsic_defs.SEQUENCE_SUM,
                lambda: tf.data.Dataset.from_tensor_slices(np.array([5, 6], np.int32)),
                INT_SEQUENCE,
                I32,
                11,
                id="sequence_sum_of_dataset",
            ),
            pytest.param(
                intrinsic_defs.SEQUENCE_SUM,
                lambda: [],
                INT_SEQUENCE,
                I32,
                0,
                id="sequence_sum_of_nothing",
            ),
        ],
    )
    def test_runs_sequence_sum_when_given_a_sequence(
        self, executor, definition, make_arg, parameter, result, expected
    ):
        intrinsic = _intrinsic(definition, parameter, result)

        async def run():
            fn = await executor.create_value(intrinsic, intrinsic.type_signature)
            arg = await executor.create_value(make_arg(), parameter)
            return await (await executor.create_call(fn, arg)).compute()

        assert _run(run) == expected

    def test_runs_sequence_map_inside_tf_data_when_the_function_is_a_tf_computation(self, executor):
        parameter = computation_types.StructType([double.type_signature, INT_SEQUENCE])
        intrinsic = _intrinsic(intrinsic_defs.SEQUENCE_MAP, parameter, INT_SEQUENCE)

        async def run():
            fn = await executor.create_value(intrinsic, intrinsic.type_signature)
            mapper = await executor.create_value(double, double.type_signature)
            data = await executor.create_value([1, 2, 3], INT_SEQUENCE)
            arg = await executor.create_struct([(None, mapper), (None, data)])
            result = await executor.create_call(fn, arg)
            return result.type_signature, await result.compute()

        result_type, value = _run(run)

        assert str(result_type) == "int32*"
        assert value == [2, 4, 6]

    def test_runs_sequence_reduce_inside_tf_data_when_the_op_is_a_tf_computation(self, executor):
        parameter = computation_types.StructType([INT_SEQUENCE, I32, accumulate.type_signature])
        intrinsic = _intrinsic(intrinsic_defs.SEQUENCE_REDUCE, parameter, I32)

        async def run():
            fn = await executor.create_value(intrinsic, intrinsic.type_signature)
            data = await executor.create_value([1, 2, 3, 4], INT_SEQUENCE)
            zero = await executor.create_value(100, I32)
            op = await executor.create_value(accumulate, accumulate.type_signature)
            arg = await executor.create_struct([(None, data), (None, zero), (None, op)])
            return await (await executor.create_call(fn, arg)).compute()

        assert _run(run) == np.int32(110)

    def test_raises_when_given_a_federated_intrinsic(self, executor):
        intrinsic = _intrinsic(
            intrinsic_defs.FEDERATED_SUM,
            tffl.FederatedType(np.float32, tffl.CLIENTS),
            tffl.FederatedType(np.float32, tffl.SERVER),
        )

        with pytest.raises(ValueError) as caught:
            _run(lambda: executor.create_value(intrinsic, intrinsic.type_signature))

        assert str(caught.value) == (
            "the TensorFlow executor runs no federated intrinsic; got federated_sum"
        )

    def test_raises_when_given_a_lambda(self, executor):
        reference = bb.Reference("x", F32)
        block = bb.Lambda("x", F32, reference)

        with pytest.raises(TypeError) as caught:
            _run(lambda: executor.create_value(block, block.type_signature))

        assert str(caught.value) == "the TensorFlow executor cannot run a Lambda ((x -> x))"

    def test_raises_when_a_python_value_is_given_for_a_function_type(self, executor):
        with pytest.raises(TypeError) as caught:
            _run(lambda: executor.create_value(3, add.type_signature))

        assert str(caught.value) == (
            "expected a computation of type (<a=float32,b=float32> -> float32), got 3"
        )

    def test_raises_when_calling_a_value_that_is_not_a_function(self, executor):
        async def run():
            value = await executor.create_value(1.0, F32)
            return await executor.create_call(value)

        with pytest.raises(TypeError) as caught:
            _run(run)

        assert str(caught.value) == "expected a function value, got a value of type float32"

    def test_raises_when_selecting_from_a_tensor(self, executor):
        async def run():
            value = await executor.create_value(1.0, F32)
            return await executor.create_selection(value, 0)

        with pytest.raises(type_errors.TypeMismatchError) as caught:
            _run(run)

        assert str(caught.value) == "selection: expected a struct, got float32"

    def test_raises_when_computing_a_function(self, executor):
        async def run():
            fn = await executor.create_value(add, add.type_signature)
            return await fn.compute()

        with pytest.raises(TypeError) as caught:
            _run(run)

        assert str(caught.value) == (
            "a function of type (<a=float32,b=float32> -> float32) has no value to compute"
        )

    def test_raises_when_sequence_map_is_given_something_other_than_a_tf_computation(
        self, executor
    ):
        parameter = computation_types.StructType(
            [computation_types.FunctionType(I32, I32), INT_SEQUENCE]
        )
        intrinsic = _intrinsic(intrinsic_defs.SEQUENCE_MAP, parameter, INT_SEQUENCE)

        async def run():
            fn = await executor.create_value(intrinsic, intrinsic.type_signature)
            literal = await executor.create_value(bb.Literal(np.int32(1)), I32)
            data = await executor.create_value([1], INT_SEQUENCE)
            arg = await executor.create_struct([(None, literal), (None, data)])
            return await executor.create_call(fn, arg)

        with pytest.raises(TypeError) as caught:
            _run(run)

        assert str(caught.value) == (
            "sequence_map: the function must be a tf_computation in this executor"
        )
