"""The TensorFlow executor: runs serialized TF computations and sequence operators eagerly.

Each distinct TensorFlow block is imported and pruned into a callable once per
process (the cache is keyed by the block's content hash), never per call. Calls
run on a thread pool so that clients' TensorFlow work overlaps (TensorFlow
releases the GIL inside ops).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
from typing import Any
from typing import Callable
from typing import List
from typing import Optional

import tensorflow as tf
from tensorflow.core.framework import graph_pb2
from tensorflow.python.eager import context as eager_context

from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs
from tffl.compiler import lowering
from tffl.core import computation_impl
from tffl.executors import executor_base
from tffl.executors import value_conversions
from tffl.proto import computation_pb2
from tffl.types import computation_types
from tffl.types import type_errors


class CompiledFunction:
    """A TensorFlow block imported once and callable on executor representations."""

    def __init__(self, block: bb.TensorFlow):
        self.type_signature = block.type_signature
        proto = block.proto
        self._parameter_type = self.type_signature.parameter
        self._result_type = self.type_signature.result
        input_names = _binding_names(proto.parameter) if proto.HasField("parameter") else []
        output_names = _binding_names(proto.result)
        graph_def = graph_pb2.GraphDef.FromString(proto.graph_def)

        # Imported inside a tf.function, the graph is optimized and its control flow
        # lowered like any traced function: several times faster than a pruned
        # `wrap_function` for graphs with loops. Its library functions go into the
        # eager context first, callees before callers, since function bodies call
        # one another by name.
        context = eager_context.context()
        for function in reversed(graph_def.library.function):
            if not context.has_function(function.signature.name):
                context.add_function_def(function)

        def imported(*flat):
            return tf.graph_util.import_graph_def(
                graph_def,
                input_map=dict(zip(input_names, flat)),
                return_elements=output_names,
                name="",
            )

        self._specs = _placeholder_specs(graph_def, input_names)
        self._fn = tf.function(imported, autograph=False).get_concrete_function(*self._specs)
        self._has_outputs = bool(output_names)
        self._name = f"the TensorFlow block of type {self.type_signature}"

    def flat_call(self, flat_inputs: List[Any]) -> List[tf.Tensor]:
        """Calls the function on its flat inputs (tensors, or values that convert to them).

        The concrete function is called directly: matching inputs to its signature costs
        more than a small block's whole run.

        Raises:
          TypeError: if an input does not fit the graph's placeholder.
        """
        if not self._has_outputs:
            return []
        outputs = lowering.call_concrete(self._fn, self._specs, flat_inputs, self._name)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def __call__(self, argument: Any) -> Any:
        flat_inputs = []
        if self._parameter_type is not None:
            flat_inputs = [
                tf.data.experimental.to_variant(leaf) if isinstance(leaf, tf.data.Dataset) else leaf
                for leaf in value_conversions.flatten(argument, self._parameter_type)
            ]
        outputs = iter(self.flat_call(flat_inputs))
        return _unflatten_outputs(outputs, self._result_type)


def _placeholder_specs(graph_def, names: List[str]) -> List[tf.TensorSpec]:
    """The TensorSpecs of the graph's inputs `names` (its placeholders' dtypes and shapes)."""
    nodes = {node.name: node for node in graph_def.node}
    specs = []
    for name in names:
        node = nodes[name.split(":")[0]]
        shape = tf.TensorShape(node.attr["shape"].shape) if "shape" in node.attr else None
        specs.append(tf.TensorSpec(shape, tf.as_dtype(node.attr["dtype"].type)))
    return specs


def _unflatten_outputs(outputs, type_spec):
    if isinstance(type_spec, computation_types.StructType):
        return [_unflatten_outputs(outputs, t) for t in type_spec]
    if isinstance(type_spec, computation_types.SequenceType):
        return tf.data.experimental.from_variant(
            next(outputs), structure=value_conversions.dataset_spec(type_spec)
        )
    return next(outputs)


def _binding_names(binding: computation_pb2.TensorFlowBinding) -> List[str]:
    kind = binding.WhichOneof("kind")
    if kind == "tensor":
        return [binding.tensor.tensor_name]
    if kind == "sequence":
        return [binding.sequence.variant_tensor_name]
    if kind == "struct":
        return [name for element in binding.struct.element for name in _binding_names(element)]
    return []


class FunctionCache:
    """Compiled TensorFlow blocks by content hash, shared by all executors of a process."""

    def __init__(self, capacity: int = 1024):
        self._capacity = capacity
        self._entries: "collections.OrderedDict[str, CompiledFunction]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self.compilations = 0

    def get(self, block: bb.TensorFlow) -> CompiledFunction:
        key = block.content_hash()
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        compiled = CompiledFunction(block)
        with self._lock:
            self.compilations += 1
            self._entries[key] = compiled
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return compiled


FUNCTION_CACHE = FunctionCache()


class TensorFlowValue(executor_base.ExecutorValue):
    """A tensor, struct (list), dataset, compiled function or sequence operator."""

    __slots__ = ("_value", "_type")

    def __init__(self, value: Any, type_spec: computation_types.Type):
        self._value = value
        self._type = type_spec

    @property
    def type_signature(self):
        return self._type

    @property
    def internal(self) -> Any:
        return self._value

    async def compute(self) -> Any:
        if isinstance(self._type, computation_types.FunctionType):
            raise TypeError(f"a function of type {self._type} has no value to compute")
        return value_conversions.to_python(self._value, self._type)


class _SequenceOperator:
    def __init__(self, definition: intrinsic_defs.IntrinsicDef):
        self.definition = definition


SEQUENCE_INTRINSICS = (
    intrinsic_defs.SEQUENCE_MAP,
    intrinsic_defs.SEQUENCE_REDUCE,
    intrinsic_defs.SEQUENCE_SUM,
)


class TensorFlowExecutor(executor_base.Executor):
    """Runs TensorFlow computations and the sequence intrinsics on eager values."""

    def __init__(
        self,
        pool: Optional[concurrent.futures.Executor] = None,
        cache: FunctionCache = FUNCTION_CACHE,
    ):
        self._pool = pool
        self._cache = cache

    async def _run(self, fn: Callable[[], Any]) -> Any:
        if self._pool is None:
            return fn()
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def create_value(self, value, type_spec):
        type_spec = computation_types.to_type(type_spec)
        if isinstance(value, TensorFlowValue):
            return value
        if isinstance(value, computation_impl.ConcreteComputation):
            value = value.building_block
        if isinstance(value, bb.BuildingBlock):
            return TensorFlowValue(self._embed_block(value), value.type_signature)
        if isinstance(type_spec, computation_types.FunctionType):
            raise TypeError(f"expected a computation of type {type_spec}, got {value!r}")
        return TensorFlowValue(value_conversions.to_eager(value, type_spec), type_spec)

    def _embed_block(self, block: bb.BuildingBlock) -> Any:
        if isinstance(block, bb.TensorFlow):
            return self._cache.get(block)
        if isinstance(block, bb.Literal):
            return tf.constant(block.value, block.type_signature.dtype)
        if isinstance(block, bb.Intrinsic):
            definition = intrinsic_defs.by_uri(block.uri)
            if definition not in SEQUENCE_INTRINSICS:
                raise ValueError(
                    f"the TensorFlow executor runs no federated intrinsic; got {block.uri}"
                )
            return _SequenceOperator(definition)
        if isinstance(block, bb.Struct):
            return [self._embed_block(e) for _, e in block.elements]
        raise TypeError(
            f"the TensorFlow executor cannot run a {type(block).__name__} ({block.compact()})"
        )

    async def create_call(self, fn, arg=None):
        if not isinstance(fn.type_signature, computation_types.FunctionType):
            raise TypeError(f"expected a function value, got a value of type {fn.type_signature}")
        function = fn.internal
        result_type = fn.type_signature.result
        argument = None if arg is None else arg.internal
        if isinstance(function, CompiledFunction):
            result = await self._run(lambda: function(argument))
            return TensorFlowValue(result, result_type)
        if isinstance(function, _SequenceOperator):
            result = await self._run(
                lambda: _SEQUENCE_HANDLERS[function.definition](argument, arg.type_signature)
            )
            return TensorFlowValue(result, result_type)
        raise TypeError(f"expected a function value, got a value of type {fn.type_signature}")

    async def create_struct(self, elements):
        return TensorFlowValue(
            [v.internal for _, v in elements],
            computation_types.StructType([(n, v.type_signature) for n, v in elements]),
        )

    async def create_selection(self, source, index):
        if not isinstance(source.type_signature, computation_types.StructType):
            raise type_errors.TypeMismatchError("a struct", source.type_signature, "selection")
        return TensorFlowValue(source.internal[index], source.type_signature[index])


def _as_dataset_fn(compiled: CompiledFunction, element_type, accumulator_type=None):
    """Adapts a compiled function to the nested structures tf.data passes around."""
    parameter = compiled.type_signature.parameter
    result_type = compiled.type_signature.result

    def call(*structure):
        if accumulator_type is None:
            argument = value_conversions.from_structure(structure[0], element_type)
        else:
            accumulator = value_conversions.unflatten(iter(structure[0]), accumulator_type)
            element = value_conversions.from_structure(structure[1], element_type)
            argument = [accumulator, element]
        flat = value_conversions.flatten(argument, parameter)
        outputs = compiled.flat_call(flat)
        if accumulator_type is not None:
            return tuple(outputs)
        return value_conversions.to_structure(
            value_conversions.unflatten(iter(outputs), result_type), result_type
        )

    return call


def _require_compiled(fn: Any, uri: str) -> CompiledFunction:
    if not isinstance(fn, CompiledFunction):
        raise TypeError(f"{uri}: the function must be a tf_computation in this executor")
    return fn


def _sequence_map(argument, argument_type):
    fn, dataset = argument
    compiled = _require_compiled(fn, "sequence_map")
    element_type = argument_type[1].element

    def mapper(*element):
        return _as_dataset_fn(compiled, element_type)(element[0] if len(element) == 1 else element)

    return dataset.map(mapper)


def _sequence_reduce(argument, argument_type):
    dataset, zero, op = argument
    compiled = _require_compiled(op, "sequence_reduce")
    accumulator_type = argument_type[1]
    element_type = argument_type[0].element
    step = _as_dataset_fn(compiled, element_type, accumulator_type)
    initial = tuple(value_conversions.flatten(zero, accumulator_type))
    flat = dataset.reduce(initial, lambda state, element: step(state, element))
    return value_conversions.unflatten(iter(flat), accumulator_type)


def _sequence_sum(argument, argument_type):
    element_type = argument_type.element
    total = None
    for element in argument:
        leaves = value_conversions.flatten(
            value_conversions.from_structure(element, element_type), element_type
        )
        total = leaves if total is None else [a + b for a, b in zip(total, leaves)]
    if total is None:
        leaf_types = value_conversions.flatten(_leaf_types(element_type), element_type)
        total = [tf.zeros(t.shape, t.dtype) for t in leaf_types]
    return value_conversions.unflatten(iter(total), element_type)


def _leaf_types(type_spec):
    if isinstance(type_spec, computation_types.StructType):
        return [_leaf_types(t) for t in type_spec]
    return type_spec


_SEQUENCE_HANDLERS = {
    intrinsic_defs.SEQUENCE_MAP: _sequence_map,
    intrinsic_defs.SEQUENCE_REDUCE: _sequence_reduce,
    intrinsic_defs.SEQUENCE_SUM: _sequence_sum,
}
