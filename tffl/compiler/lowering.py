"""Lowering: a whole federated computation as one TensorFlow function over a client axis.

A round of federated learning (broadcast, map over clients, sum or mean or
aggregate, zip) run by the executor stack dispatches each client's work from
Python. Lowered, it is a single `tf.function`: CLIENTS values are tensors with a
leading client axis (clients' datasets are padded tensors, or dataset variants),
and each group of aggregations that can run together is one graph loop over the
clients that accumulates every aggregate of the group in place.

The pass has two steps:

1. `lower` walks the IR symbolically and builds a small dataflow graph of server
   nodes (one value) and client nodes (a value per client), with aggregations as
   the only edges from clients back to the server. Anything it cannot lower
   (secure sums, selects, sequence operators, ...) raises `NotLowerable`, and the
   caller runs the executor stack instead. The rules are a table keyed by
   intrinsic, as the executors' handlers are.
2. `Program.function(mode)` turns that graph into the `tf.function`. Each
   aggregation gets a level: one more than the levels its inputs depend on.
   Evaluating an aggregation runs one loop for all aggregations of its level,
   so a client's work feeding several aggregates (model updates and metrics)
   runs once per round. A client value that aggregations of several levels use
   is stacked in the first of those loops and read back in the later ones.

Aggregates accumulate clients in order, with the arithmetic of the executor
stack (`federated_sum`: zero plus each client; a weighted mean: the sum of
weight times value over the sum of weights, weights in the value's dtype), so
the two paths agree up to how TensorFlow and numpy round the same operations.
Checks the executor stack raises on (weights summing to zero) become a flag
output; the caller reruns such a call on the executor stack for its error.
"""

from __future__ import annotations

import logging
from typing import Any
from typing import Callable
from typing import Dict
from typing import List

import numpy as np
import tensorflow as tf

from tffl.compiler import building_blocks as bb
from tffl.compiler import client_loops
from tffl.compiler import dataflow
from tffl.compiler import intrinsic_defs as defs
from tffl.compiler import tree_transformations
from tffl.types import computation_types
from tffl.types import placements

_log = logging.getLogger(__name__)

_CLIENTS = placements.CLIENTS
_SERVER = placements.SERVER

# How clients' sequences enter the lowered function (`Program.function`).
PADDED = dataflow.PADDED
VARIANTS = dataflow.VARIANTS
NotLowerable = dataflow.NotLowerable
NeedsDatasets = dataflow.NeedsDatasets


class Program:
    """A lowered computation: its dataflow graph and a `tf.function` per input mode."""

    def __init__(self, type_signature, parameter_leaves, result, aggregates, graphs):
        self.type_signature = type_signature
        self.parameter_leaves: List[dataflow.InputLeaf] = parameter_leaves
        self.result = result
        self.aggregates: List[dataflow.Aggregate] = aggregates
        self.graphs = graphs
        self._functions: Dict[str, Callable] = {}
        self.uses_clients = True
        # What a runner derives from this program once (the remote runner's shard loops).
        self.derived: Dict[Any, Any] = {}
        # Per input mode: whether clients' code traced again holds its variables as
        # plain values (`local_variables`); False once such a trace failed.
        self.local_variables: Dict[str, bool] = {}
        self._concrete: Dict[str, Any] = {}
        self._specs: Dict[str, List[tf.TensorSpec]] = {}

    def input_specs(self, mode: str) -> List[tf.TensorSpec]:
        """The flat inputs of `function(mode)`: the client count, then each leaf's tensors."""
        specs = [tf.TensorSpec([], tf.int32, name="num_clients")]
        for leaf in self.parameter_leaves:
            specs.extend(dataflow.leaf_specs(leaf, mode))
        return specs

    def function(self, mode: str) -> Callable:
        """`flat inputs -> (ok, flat outputs)`, traced on its first call."""
        found = self._functions.get(mode)
        if found is None:

            def lowered(*flat):
                evaluator = client_loops.Evaluator.from_flat(self, mode, list(flat))
                outputs = evaluator.outputs(self.result)
                ok = tf.reduce_all(tf.stack([tf.constant(True)] + evaluator.checks))
                return ok, outputs

            found = tf.function(lowered, input_signature=self.input_specs(mode), autograph=False)
            self._functions[mode] = found
        return found

    def trace(self, mode: str):
        """The concrete function of `function(mode)`, traced once (see `traced`)."""
        found = self._concrete.get(mode)
        if found is None:
            found = self._concrete[mode] = traced(
                self, mode, lambda: self.function(mode).get_concrete_function()
            )
            self._specs[mode] = self.input_specs(mode)
        return found

    def call(self, mode: str, flat: List[Any]):
        """Runs the traced `function(mode)` on its flat inputs: `(ok, flat outputs)`.

        Calls the concrete function directly: binding 30 inputs through
        `tf.function`'s signature matching costs about a millisecond a call.

        Raises:
          TypeError: if an input does not fit the function's input signature.
        """
        return call_concrete(self.trace(mode), self._specs[mode], flat, "lowered")


def call_concrete(concrete, specs: List[tf.TensorSpec], flat: List[Any], what: str) -> Any:
    """Calls a concrete function on its flat inputs, each converted to and checked
    against its spec: binding through the function's signature costs more than the run
    of a small function (about a millisecond for 30 inputs).

    Raises:
      TypeError: if an input does not fit its spec, or their numbers differ.
    """
    if len(flat) != len(specs):
        raise TypeError(f"{what}: expected {len(specs)} inputs, got {len(flat)}")
    tensors = []
    for value, spec in zip(flat, specs):
        if isinstance(value, (np.ndarray, np.generic)) and value.dtype == spec.dtype:
            value = tf.constant(value)  # Half the cost of `convert_to_tensor`.
        elif not isinstance(value, tf.Tensor):
            value = tf.convert_to_tensor(value, spec.dtype)
        # Equal dtypes are one object: `is` costs a tenth of `!=`, which decides the rest.
        if (value.dtype is not spec.dtype and value.dtype != spec.dtype) or not _fits(
            value.shape, spec.shape
        ):
            raise TypeError(
                f"{what} input {spec.name or len(tensors)}: expected "
                f"{spec.dtype.name}{spec.shape}, got {value.dtype.name}{value.shape}"
            )
        tensors.append(value)
    return concrete._call_flat(tensors, concrete.captured_inputs)  # noqa: SLF001


def _fits(shape: tf.TensorShape, spec: tf.TensorShape) -> bool:
    """Whether a value of `shape` fits `spec`: `spec.is_compatible_with(shape)` for the
    known shapes of eager values, at a fifth of its cost (it builds a `Dimension` per
    axis)."""
    if shape == spec or spec.rank is None:
        return True
    if shape.rank is None:
        return spec.is_compatible_with(shape)
    dims, spec_dims = shape.as_list(), spec.as_list()
    return len(dims) == len(spec_dims) and all(s is None or s == d for s, d in zip(spec_dims, dims))


def traced(program: Program, mode: str, trace: Callable[[], Any]) -> Any:
    """`trace()` with clients' variables as plain values; with resource variables if that fails.

    Clients' code traced again (padded datasets) holds its variables as
    `local_variables.LocalVariable`s, so clients run side by side. Code that
    assigns a variable where its value cannot be carried (a `tf.cond` branch, a
    `tf.while_loop` of its own) fails that trace; it is then traced with resource
    variables, which are exact, only serial.
    """
    if program.local_variables.get(mode, True):
        try:
            return trace()
        except NeedsDatasets:
            raise
        except Exception as error:  # noqa: BLE001 - the resource-variable trace decides.
            _log.debug("traced again with resource variables: %s: %s", type(error).__name__, error)
            program.local_variables[mode] = False
    return trace()


def lower(computation: bb.BuildingBlock, graphs) -> Program:
    """The lowered program of a computation (a Lambda or TensorFlow block).

    Args:
      computation: the computation's building block.
      graphs: `graphs.get(block)` returns a callable `flat_call(list) -> list` form of
        a TensorFlow block (the executors' compiled-function cache).

    Raises:
      dataflow.NotLowerable: if some part has no lowering.
    """
    type_signature = computation.type_signature
    if not _is_federated(type_signature):
        raise dataflow.NotLowerable("the computation has no federated values")
    builder = _Builder()
    leaves: List[dataflow.InputLeaf] = []
    if isinstance(computation, bb.Lambda):
        env = {}
        if computation.parameter_name is not None:
            env[computation.parameter_name] = builder.parameter(
                computation.parameter_type, (), leaves
            )
        result = builder.evaluate(computation.result, env)
    else:
        raise dataflow.NotLowerable(f"a {type(computation).__name__} at the top")
    result = builder.output(result, type_signature.result)
    aggregates = builder.finish(result)
    program = Program(type_signature, leaves, result, aggregates, graphs)
    program.uses_clients = builder.uses_clients or _mentions_clients(type_signature)
    return program


def _mentions_clients(type_spec) -> bool:
    if isinstance(type_spec, computation_types.FederatedType):
        return type_spec.placement == _CLIENTS
    if isinstance(type_spec, computation_types.StructType):
        return any(_mentions_clients(t) for t in type_spec)
    if isinstance(type_spec, computation_types.FunctionType):
        return _mentions_clients(type_spec.parameter) or _mentions_clients(type_spec.result)
    return False


def _is_federated(type_spec) -> bool:
    if isinstance(type_spec, computation_types.FederatedType):
        return True
    if isinstance(type_spec, computation_types.StructType):
        return any(_is_federated(t) for t in type_spec)
    if isinstance(type_spec, computation_types.FunctionType):
        return _is_federated(type_spec.parameter) or _is_federated(type_spec.result)
    return False


class _Builder:
    """Evaluates the IR symbolically into the dataflow graph."""

    def __init__(self):
        # Whether a call needs the number of clients (some value is placed at CLIENTS).
        self.uses_clients = False

    # Parameters ------------------------------------------------------------

    def parameter(self, type_spec, path, leaves: List[dataflow.InputLeaf]):
        if isinstance(type_spec, computation_types.FederatedType):
            if type_spec.placement == _CLIENTS and not type_spec.all_equal:
                positions = []
                for member_path, leaf_type in _leaf_types(type_spec.member, ()):
                    positions.append(len(leaves))
                    leaves.append(dataflow.InputLeaf(path, member_path, "clients", leaf_type))
                return dataflow.ClientInput(type_spec, positions)
            return self._server_input(type_spec, type_spec.member, path, leaves)
        if isinstance(type_spec, computation_types.StructType):
            return dataflow.PyStruct(
                type_spec,
                [self.parameter(t, path + (i,), leaves) for i, t in enumerate(type_spec)],
            )
        if isinstance(type_spec, computation_types.FunctionType):
            raise dataflow.NotLowerable(f"a function-typed parameter ({type_spec})")
        return self._server_input(type_spec, type_spec, path, leaves)

    def _server_input(self, type_spec, member, path, leaves):
        slots = []
        for member_path, leaf_type in _leaf_types(member, ()):
            if not isinstance(leaf_type, computation_types.TensorType):
                raise dataflow.NotLowerable(f"an unplaced or SERVER sequence ({leaf_type})")
            slots.append(len(leaves))
            leaves.append(dataflow.InputLeaf(path, member_path, "server", leaf_type))
        return dataflow.Input(type_spec, slots)

    # Expressions -----------------------------------------------------------

    def evaluate(self, node: bb.BuildingBlock, env: Dict[str, Any]) -> Any:
        if isinstance(node, bb.Reference):
            return env[node.name]
        if isinstance(node, bb.Block):
            inner = dict(env)
            for name, value in node.locals:
                inner[name] = self.evaluate(value, inner)
            return self.evaluate(node.result, inner)
        if isinstance(node, bb.Lambda):
            if tree_transformations.count_free_references(node):
                raise dataflow.NotLowerable("a function that refers to values around it")
            return dataflow.Closure(node)
        if isinstance(node, (bb.TensorFlow, bb.Intrinsic)):
            return node
        if isinstance(node, bb.Literal):
            return dataflow.Constant(node)
        if isinstance(node, bb.Struct):
            return dataflow.PyStruct(
                node.type_signature, [self.evaluate(e, env) for _, e in node.elements]
            )
        if isinstance(node, bb.Selection):
            return self._select(self.evaluate(node.source, env), node.index, node.type_signature)
        if isinstance(node, bb.Call):
            fn = self.evaluate(node.function, env)
            argument = None if node.argument is None else self.evaluate(node.argument, env)
            return self._call(fn, argument, node.type_signature)
        raise dataflow.NotLowerable(f"a {type(node).__name__} ({node.compact()})")

    def _select(self, source, index, type_spec):
        if isinstance(source, dataflow.PyStruct):
            return source.elements[index]
        if isinstance(source, dataflow.ServerNode):
            return dataflow.Select(type_spec, source, index)
        if isinstance(source, dataflow.ClientNode):
            return dataflow.ClientSelect(type_spec, source, index)
        raise dataflow.NotLowerable(f"a selection from {type(source).__name__}")

    def _call(self, fn, argument, result_type):
        if isinstance(fn, bb.Intrinsic):
            self.uses_clients |= _mentions_clients(fn.type_signature)
            definition = defs.by_uri(fn.uri)
            rule = RULES[definition]
            return rule(self, argument, result_type)
        if isinstance(fn, dataflow.Closure) and _is_federated(fn.fn.type_signature):
            env = {}
            if fn.fn.parameter_name is not None:
                env[fn.fn.parameter_name] = argument
            return self.evaluate(fn.fn.result, env)
        if isinstance(fn, (dataflow.Closure, bb.TensorFlow)):
            return dataflow.Call(
                result_type, fn, None if argument is None else self.server(argument)
            )
        raise dataflow.NotLowerable(f"a call of {type(fn).__name__}")

    # Conversions -----------------------------------------------------------

    def server(self, value) -> dataflow.ServerNode:
        """`value` as one server node (a struct of server values becomes a struct node)."""
        if isinstance(value, dataflow.ServerNode):
            return value
        if isinstance(value, dataflow.PyStruct):
            return dataflow.Struct(value.type_spec, [self.server(e) for e in value.elements])
        raise dataflow.NotLowerable(f"a per-client value where one value is needed ({value})")

    def client(self, value) -> dataflow.ClientNode:
        """`value` as a per-client node (a server value is broadcast)."""
        if isinstance(value, dataflow.ClientNode):
            return value
        if isinstance(value, dataflow.ServerNode):
            return dataflow.Broadcast(value.type_spec, value)
        raise dataflow.NotLowerable(f"a {type(value).__name__} where a client value is needed")

    def output(self, value, type_spec):
        """The result as nodes: client values become collect aggregates."""
        if isinstance(value, dataflow.PyStruct):
            return dataflow.PyStruct(
                type_spec, [self.output(v, t) for v, t in zip(value.elements, type_spec)]
            )
        if isinstance(value, dataflow.ClientNode):
            for leaf in dataflow.flatten_types(dataflow.member_type(type_spec)):
                dataflow.known_shape(leaf)  # Stacking needs one known shape.
            return dataflow.Aggregate(type_spec, "collect", value)
        if isinstance(value, dataflow.ServerNode):
            return value
        raise dataflow.NotLowerable(f"a result of kind {type(value).__name__}")

    # Levels ----------------------------------------------------------------

    def finish(self, result) -> List[dataflow.Aggregate]:
        """Levels every aggregate; stacks client values shared between levels."""
        aggregates: List[dataflow.Aggregate] = []
        seen = set()

        def server_deps(node) -> List[dataflow.Aggregate]:
            """The aggregates a server node depends on directly (not through others)."""
            if isinstance(node, dataflow.Aggregate):
                visit_aggregate(node)
                return [node]
            found = []
            for child in dataflow.server_children(node):
                found.extend(server_deps(child))
            return found

        def client_deps(node, into: List[dataflow.Aggregate], maps: List[dataflow.ClientNode]):
            if isinstance(node, dataflow.Broadcast):
                into.extend(server_deps(node.source))
                return
            if isinstance(node, dataflow.Map):
                maps.append(node)
            for child in dataflow.client_children(node):
                client_deps(child, into, maps)

        uses: Dict[int, List[dataflow.Aggregate]] = {}
        maps_by_id: Dict[int, dataflow.ClientNode] = {}

        def visit_aggregate(aggregate: dataflow.Aggregate):
            if id(aggregate) in seen:
                return
            seen.add(id(aggregate))
            deps: List[dataflow.Aggregate] = []
            maps: List[dataflow.ClientNode] = []
            client_deps(aggregate.value, deps, maps)
            for extra in aggregate.extra.values():
                if isinstance(extra, dataflow.ServerNode):
                    deps.extend(server_deps(extra))
                elif isinstance(extra, dataflow.ClientNode):
                    client_deps(extra, deps, maps)
            aggregate.level = 1 + max((d.level for d in deps), default=-1)
            for node in maps:
                uses.setdefault(id(node), []).append(aggregate)
                maps_by_id[id(node)] = node
            aggregates.append(aggregate)

        def visit_result(value):
            if isinstance(value, dataflow.PyStruct):
                for element in value.elements:
                    visit_result(element)
            else:
                server_deps(value)

        visit_result(result)
        for key, users in uses.items():
            levels = {u.level for u in users}
            if len(levels) > 1:
                node = maps_by_id[key]
                shared = dataflow.Aggregate(node.type_spec, "collect", node)
                shared.level = min(levels)
                node.collected_by = shared
                aggregates.append(shared)
        return aggregates


def _leaf_types(type_spec, path):
    """`(path, leaf type)` for each tensor or sequence leaf of an unplaced type."""
    if isinstance(type_spec, computation_types.StructType):
        found = []
        for index, element in enumerate(type_spec):
            found.extend(_leaf_types(element, path + (index,)))
        return found
    if isinstance(type_spec, (computation_types.TensorType, computation_types.SequenceType)):
        return [(path, type_spec)]
    raise dataflow.NotLowerable(f"a value of type {type_spec} inside a federated value")


# ---------------------------------------------------------------------------- rules


def _arguments(argument, count: int) -> List[Any]:
    if not isinstance(argument, dataflow.PyStruct) or len(argument.elements) != count:
        raise dataflow.NotLowerable("an intrinsic argument that is not a struct")
    return argument.elements


def _map(builder: _Builder, argument, result_type):
    fn, value = _arguments(argument, 2)
    if not isinstance(fn, (dataflow.Closure, bb.TensorFlow)):
        raise dataflow.NotLowerable(f"a map of {type(fn).__name__}")
    if isinstance(result_type, computation_types.FederatedType) and (
        result_type.placement == _SERVER or result_type.all_equal
    ):
        return dataflow.Call(result_type, fn, builder.server(value))
    return dataflow.Map(result_type, fn, builder.client(value))


def _broadcast(builder, argument, result_type):
    return dataflow.View(result_type, builder.server(argument))


def _aggregate_rule(kind):
    def rule(builder, argument, result_type):
        return dataflow.Aggregate(result_type, kind, builder.client(argument))

    return rule


def _weighted_mean(builder, argument, result_type):
    value, weight = _arguments(argument, 2)
    return dataflow.Aggregate(
        result_type, "weighted_mean", builder.client(value), weight=builder.client(weight)
    )


def _federated_aggregate(builder, argument, result_type):
    # One loop accumulates every client in order; `merge` joins shards' accumulators.
    value, zero, accumulate, merge, report = _arguments(argument, 5)
    for fn in (accumulate, merge, report):
        if not isinstance(fn, (dataflow.Closure, bb.TensorFlow)):
            raise dataflow.NotLowerable(f"an aggregate with a {type(fn).__name__} function")
    return dataflow.Aggregate(
        result_type,
        "aggregate",
        builder.client(value),
        zero=builder.server(zero),
        accumulate=accumulate,
        merge=merge,
        report=report,
    )


def _zip_at_clients(builder, argument, result_type):
    if not isinstance(argument, dataflow.PyStruct):
        raise dataflow.NotLowerable("a zip of a value that is not a struct")
    if result_type.all_equal:
        return dataflow.View(result_type, builder.server(argument))
    return dataflow.Zip(result_type, [builder.client(e) for e in argument.elements])


def _zip_at_server(builder, argument, result_type):
    return dataflow.View(result_type, builder.server(argument))


def _value(builder, argument, result_type):
    return dataflow.View(result_type, builder.server(argument))


def _eval_at_server(builder, argument, result_type):
    return dataflow.Call(result_type, argument, None)


def _eval_at_clients(builder, argument, result_type):
    if not isinstance(argument, (dataflow.Closure, bb.TensorFlow)):
        raise dataflow.NotLowerable(f"an eval of {type(argument).__name__}")
    return dataflow.Map(result_type, argument, None)


def _not_lowered(reason: str):
    def rule(builder, argument, result_type):
        raise dataflow.NotLowerable(reason)

    return rule


# Every intrinsic and its lowering (or why it has none).
RULES = {
    defs.FEDERATED_BROADCAST: _broadcast,
    defs.FEDERATED_MAP: _map,
    defs.FEDERATED_APPLY: _map,
    defs.FEDERATED_SUM: _aggregate_rule("sum"),
    defs.FEDERATED_MEAN: _aggregate_rule("mean"),
    defs.FEDERATED_WEIGHTED_MEAN: _weighted_mean,
    defs.FEDERATED_AGGREGATE: _federated_aggregate,
    defs.FEDERATED_ZIP_AT_CLIENTS: _zip_at_clients,
    defs.FEDERATED_ZIP_AT_SERVER: _zip_at_server,
    defs.FEDERATED_VALUE_AT_CLIENTS: _value,
    defs.FEDERATED_VALUE_AT_SERVER: _value,
    defs.FEDERATED_EVAL_AT_CLIENTS: _eval_at_clients,
    defs.FEDERATED_EVAL_AT_SERVER: _eval_at_server,
    defs.FEDERATED_SELECT: _not_lowered(
        "federated_select (clients' selections are sequences of varying length)"
    ),
    defs.FEDERATED_SECURE_SUM: _not_lowered(
        "secure sums (masking and dropouts run in the executor stack)"
    ),
    defs.FEDERATED_SECURE_SUM_BITWIDTH: _not_lowered(
        "secure sums (masking and dropouts run in the executor stack)"
    ),
    defs.FEDERATED_SECURE_MODULAR_SUM: _not_lowered(
        "secure sums (masking and dropouts run in the executor stack)"
    ),
    defs.SEQUENCE_MAP: _not_lowered("sequence operators"),
    defs.SEQUENCE_REDUCE: _not_lowered("sequence operators"),
    defs.SEQUENCE_SUM: _not_lowered("sequence operators"),
}
