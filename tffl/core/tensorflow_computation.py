"""`tf_computation`: traces Python + TensorFlow into a serialized, self-contained graph.

The function is traced once per parameter type with `tf.function` (autograph and
automatic control dependencies), on flat placeholders; datasets enter as scalar
`tf.variant`s. Variables created inside get anonymous resource handles built in the
traced graph, so each call starts from fresh, initialised variables and concurrent
calls never share state (functional semantics). Eager tensors the function closes
over are folded into constants; captured variables and Python callbacks are refused,
because the graph must run unchanged on a worker in another process.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import types
from typing import Any
from typing import Callable
from typing import List
from typing import Optional
from typing import Tuple

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context as eager_context
from tensorflow.python.framework import ops
from tensorflow.python.ops import gen_resource_variable_ops
from tensorflow.python.ops import resource_variable_ops

from tffl.compiler import building_blocks as bb
from tffl.compiler import local_variables as local_variables_lib
from tffl.core import autograph_rules
from tffl.core import computation_impl
from tffl.core import parameter_binding
from tffl.proto import computation_pb2
from tffl.types import computation_types
from tffl.types import type_conversions

_PYTHON_CALLBACK_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})

autograph_rules.install()


class TracingError(ValueError):
    """A function cannot become a self-contained TensorFlow graph."""


def type_to_spec(type_spec: computation_types.Type):
    """The TensorFlow TypeSpec structure for a tensor, struct or sequence type."""
    if isinstance(type_spec, computation_types.TensorType):
        return tf.TensorSpec(type_spec.shape, type_spec.dtype)
    if isinstance(type_spec, computation_types.StructType):
        return type_conversions.to_container([type_to_spec(t) for t in type_spec], type_spec)
    if isinstance(type_spec, computation_types.SequenceType):
        return tf.data.DatasetSpec(type_to_spec(type_spec.element))
    raise TypeError(
        f"tf_computation: expected tensors, structs or sequences, got {type_spec} "
        "(federated and function types belong in federated computations)"
    )


def _flat_input_specs(type_spec, prefix: str) -> List[tf.TensorSpec]:
    if type_spec is None:
        return []
    if isinstance(type_spec, computation_types.TensorType):
        return [tf.TensorSpec(type_spec.shape, type_spec.dtype, name=prefix)]
    if isinstance(type_spec, computation_types.SequenceType):
        type_to_spec(type_spec)  # Validates the element type.
        return [tf.TensorSpec([], tf.variant, name=prefix)]
    if isinstance(type_spec, computation_types.StructType):
        specs = []
        for index, element in enumerate(type_spec):
            specs.extend(_flat_input_specs(element, f"{prefix}_{index}"))
        return specs
    type_to_spec(type_spec)  # Raises the error for other kinds.
    return []


def _pack_parameter(type_spec, flat) -> Any:
    """Builds the user's parameter value from the flat graph inputs."""
    if isinstance(type_spec, computation_types.TensorType):
        return next(flat)
    if isinstance(type_spec, computation_types.SequenceType):
        return tf.data.experimental.from_variant(
            next(flat), structure=type_to_spec(type_spec.element)
        )
    return type_conversions.to_container([_pack_parameter(t, flat) for t in type_spec], type_spec)


def _flatten_result(value: Any) -> Tuple[computation_types.Type, List[tf.Tensor]]:
    """The result type and the flat list of graph outputs of a returned value."""
    if isinstance(value, tf.data.Dataset):
        element = computation_types.to_type(value.element_spec)
        return computation_types.SequenceType(element), [tf.data.experimental.to_variant(value)]
    if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray, np.generic, int, float, bool, str)):
        tensor = tf.convert_to_tensor(value)
        return computation_types.TensorType(tensor.dtype, tensor.shape), [tensor]
    if value is None:
        raise TracingError("tf_computation: the function returned None; return a value")
    if not type_conversions.is_container(value):
        raise TracingError(
            f"tf_computation: expected the function to return tensors, datasets or "
            f"containers of them, got {value!r} of type {type(value).__name__}"
        )
    flat: List[tf.Tensor] = []
    elements = []
    for name, element in type_conversions.container_items(value):
        element_type, element_flat = _flatten_result(element)
        elements.append((name, element_type))
        flat.extend(element_flat)
    return computation_types.StructType(elements, container=type(value)), flat


def _binding(type_spec, names) -> computation_pb2.TensorFlowBinding:
    binding = computation_pb2.TensorFlowBinding()
    if isinstance(type_spec, computation_types.TensorType):
        binding.tensor.tensor_name = next(names)
    elif isinstance(type_spec, computation_types.SequenceType):
        binding.sequence.variant_tensor_name = next(names)
    else:
        binding.struct.SetInParent()
        for element in type_spec:
            binding.struct.element.append(_binding(element, names))
    return binding


def _variable_creator(graphs: List[tf.Graph]):
    """A creator that builds each variable in the traced graph, fresh on every call."""

    def creator(next_creator, **kwargs):
        del next_creator
        graph = graphs[-1]
        # Keras creates weights under `init_scope`, outside the traced graph; build
        # them inside it regardless, so they never become captured eager state.
        with graph.as_default():
            initial_value = kwargs.get("initial_value")
            if callable(initial_value):
                initial_value = initial_value()
            initial_value = tf.convert_to_tensor(initial_value, dtype=kwargs.get("dtype"))
            name = kwargs.get("name") or "Variable"
            trainable = kwargs.get("trainable")
            with tf.name_scope(name) as scope:
                handle = gen_resource_variable_ops.var_handle_op(
                    dtype=initial_value.dtype,
                    shape=initial_value.shape,
                    shared_name=eager_context.anonymous_name(),
                    name="handle",
                )
                variable = resource_variable_ops.BaseResourceVariable(
                    trainable=True if trainable is None else trainable,
                    shape=initial_value.shape,
                    dtype=initial_value.dtype,
                    handle=handle,
                    unique_id=f"{scope}{ops.uid()}",
                    handle_name=scope,
                    in_graph_mode=True,
                )
                variable.assign(initial_value)
        return variable

    return creator


def _fold_captures(concrete_fn, graph_def) -> int:
    """Turns captured eager tensors into constants; refuses captured resources."""
    graph = concrete_fn.graph
    by_name = {}
    for external, internal in zip(graph.external_captures, graph.internal_captures):
        if internal.dtype in (tf.resource, tf.variant):
            raise TracingError(
                "tf_computation: the function captures a variable or resource created "
                "outside it; create variables inside the function or pass values as "
                "parameters (the graph must run on a remote worker)"
            )
        by_name[internal.op.name] = np.asarray(external)
    for node in graph_def.node:
        value = by_name.get(node.name)
        if value is not None:
            node.op = "Const"
            node.ClearField("attr")
            node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    return len(by_name)


def _check_no_python_callbacks(graph_def, name: str) -> None:
    node_lists = [graph_def.node] + [f.node_def for f in graph_def.library.function]
    for nodes in node_lists:
        for node in nodes:
            if node.op in _PYTHON_CALLBACK_OPS:
                raise TracingError(
                    f"tf_computation {name}: uses {node.op} (tf.py_function or "
                    "tf.numpy_function); Python callbacks cannot be serialized, and a "
                    "computation must run unchanged on a remote worker"
                )


def _referenced_functions(nodes, library_names) -> List[str]:
    found = []
    for node in nodes:
        if node.op in library_names:
            found.append(node.op)
        for key in sorted(node.attr):
            attr = node.attr[key]
            if attr.HasField("func"):
                found.append(attr.func.name)
            found.extend(fn.name for fn in attr.list.func)
    return [name for name in found if name in library_names]


def _rename_functions(graph_def, mapping) -> None:
    def rename(nodes):
        for node in nodes:
            node.op = mapping.get(node.op, node.op)
            for attr in node.attr.values():
                if attr.HasField("func") and attr.func.name in mapping:
                    attr.func.name = mapping[attr.func.name]
                for fn in attr.list.func:
                    fn.name = mapping.get(fn.name, fn.name)

    rename(graph_def.node)
    for function in graph_def.library.function:
        function.signature.name = mapping[function.signature.name]
        rename(function.node_def)
    for gradient in graph_def.library.gradient:
        gradient.function_name = mapping.get(gradient.function_name, gradient.function_name)
        gradient.gradient_func = mapping.get(gradient.gradient_func, gradient.gradient_func)


def _canonicalize_function_names(graph_def) -> None:
    """Names and orders library functions by content, so equal sources give equal bytes.

    TensorFlow names traced functions with a process-wide counter, so two traces of
    one source differ in those names and in the library's order. Functions are
    ordered by first use, then named after a digest of the whole graph: equal
    graphs get equal names, and different graphs never clash when imported into
    the one function library of an eager context.
    """
    functions = {f.signature.name: f for f in graph_def.library.function}
    if not functions:
        return
    order: List[str] = []
    queue = _referenced_functions(graph_def.node, functions)
    while queue:
        name = queue.pop(0)
        if name in order:
            continue
        order.append(name)
        queue.extend(_referenced_functions(functions[name].node_def, functions))
    order.extend(sorted(set(functions) - set(order)))
    copies = [type(functions[n]).FromString(functions[n].SerializeToString()) for n in order]
    del graph_def.library.function[:]
    graph_def.library.function.extend(copies)
    positional = {name: f"tffl_fn_{i}" for i, name in enumerate(order)}
    _rename_functions(graph_def, positional)
    digest = hashlib.sha256(graph_def.SerializeToString(deterministic=True)).hexdigest()[:16]
    _rename_functions(
        graph_def, {f"tffl_fn_{i}": f"tffl_fn_{digest}_{i}" for i in range(len(order))}
    )


def trace(
    fn: Callable, parameter_type: Optional[computation_types.Type], name: str
) -> bb.TensorFlow:
    """Traces `fn` at `parameter_type` into a TensorFlow building block.

    Raises:
      TracingError: if the function uses Python callbacks, captures variables, or
        returns something that is not tensors/datasets in containers.
    """
    flat_specs = _flat_input_specs(parameter_type, "arg")
    graphs: List[tf.Graph] = []
    result_holder = []

    def flat_fn(*flat_args):
        graphs.append(ops.get_default_graph())
        value = None
        if parameter_type is not None:
            value = _pack_parameter(parameter_type, iter(flat_args))
        result = parameter_binding.call_with_parameter(
            _autographed(fn), parameter_type, value, _select_element
        )
        result_type, flat_results = _flatten_result(result)
        result_holder.append(result_type)
        return flat_results

    traced = tf.function(flat_fn, autograph=False)
    with tf.variable_creator_scope(_variable_creator(graphs)):
        concrete_fn = traced.get_concrete_function(*flat_specs)
    block = block_from_function(concrete_fn, parameter_type, result_holder[-1], name)
    return bb.TensorFlow(block.proto, block.type_signature, _Source(fn, block.type_signature, name))


def block_from_function(
    concrete_fn, parameter_type: Optional[computation_types.Type], result_type, name: str
) -> bb.TensorFlow:
    """A TensorFlow block of a traced concrete function with flat inputs and outputs.

    The function's inputs are the leaves of `parameter_type` in order (a sequence as
    one variant), its outputs those of `result_type`. Captured eager tensors become
    constants; library functions are named by content.

    Raises:
      TracingError: if the graph captures resources or calls back into Python.
    """
    graph_def = concrete_fn.graph.as_graph_def()
    captured = _fold_captures(concrete_fn, graph_def)
    _check_no_python_callbacks(graph_def, name)
    _canonicalize_function_names(graph_def)
    inputs = concrete_fn.inputs[: len(concrete_fn.inputs) - captured]
    proto = computation_pb2.TensorFlow(
        graph_def=graph_def.SerializeToString(deterministic=True), name=name
    )
    if parameter_type is not None:
        proto.parameter.CopyFrom(_binding(parameter_type, iter(t.name for t in inputs)))
    proto.result.CopyFrom(_binding(result_type, iter(t.name for t in concrete_fn.outputs)))
    return bb.TensorFlow(proto, computation_types.FunctionType(parameter_type, result_type))


class _Source:
    """Traces the user's function again into the graph being built (`bb.TensorFlow.source`).

    Called inside a `tf.function` that is tracing, with the argument as the user's
    structures (sequences may be in-memory stand-ins for datasets). Variables the
    function creates are built in that graph, fresh on every call, as in `trace`;
    with `local_variables`, they are `local_variables.LocalVariable`s, plain values
    of that graph, instead of resource variables.
    Returns the flat result tensors, in the order of the block's result binding.
    """

    __slots__ = ("_fn", "_type", "_name")

    def __init__(self, fn: Callable, type_signature: computation_types.FunctionType, name: str):
        self._fn = fn
        self._type = type_signature
        self._name = name

    def __call__(self, argument: Any, local_variables: bool = False) -> List[tf.Tensor]:
        graph = ops.get_default_graph()
        if local_variables:
            scope = local_variables_lib.Scope(graph)
            creator, context = scope.creator, scope
        else:
            creator, context = _variable_creator([graph]), contextlib.nullcontext()
        with context, tf.variable_creator_scope(creator):
            result = parameter_binding.call_with_parameter(
                _autographed(self._fn), self._type.parameter, argument, _select_element
            )
        result_type, flat = _flatten_result(result)
        if not self._type.result.is_assignable_from(result_type):
            raise TracingError(
                f"tf_computation {self._name}: traced again, it returned {result_type}, "
                f"not {self._type.result}"
            )
        return flat


def _autographed(fn: Callable) -> Callable:
    """The user's function with Python control flow on tensors converted to TF."""
    try:
        if inspect.ismethod(fn):
            # A converted bound method would lose its `self`: convert the function, rebind.
            return types.MethodType(tf.autograph.to_graph(fn.__func__), fn.__self__)
        return tf.autograph.to_graph(fn)
    except Exception:  # noqa: BLE001 - conversion is best effort, as in tf.function.
        return fn


def _select_element(value, index):
    return type_conversions.container_items(value)[index][1]


def tf_computation(*args):
    """Decorates a Python function of TensorFlow code as a tffl computation.

    Forms: `@tf_computation(type, ...)`, bare `@tf_computation` (polymorphic: traced
    once per argument type on first call) and the call `tf_computation(fn, type, ...)`.
    Several parameter types make a named struct parameter.

    >>> @tf_computation(np.float32)
    ... def to_celsius(f):
    ...     return (f - 32.0) * 5.0 / 9.0
    >>> str(to_celsius.type_signature)
    '(float32 -> float32)'
    """
    return computation_impl.decorator(args, trace)
