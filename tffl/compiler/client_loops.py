"""Builds a lowered program's TensorFlow function: server values, and loops over the clients.

Evaluating an aggregate runs one graph loop for every aggregate of its level
(`tffl.compiler.lowering` explains levels); values the clients read from the
server are computed before the loop, outside it. Aggregates of values that need
no client work (arguments, broadcasts) reduce the stacked tensors directly.
Functions run as the imported graphs of their TensorFlow blocks, or, when a
client's argument holds in-memory sequences, as their Python source traced again.
"""

from __future__ import annotations

from typing import Any
from typing import Dict
from typing import List
from typing import Tuple

import tensorflow as tf

from tffl.compiler import building_blocks as bb
from tffl.compiler import dataflow
from tffl.compiler import intrinsic_defs as defs
from tffl.compiler import tensor_sequence
from tffl.types import computation_types


class Evaluator:
    """Builds the lowered function's graph from the dataflow graph (while tracing)."""

    def __init__(self, program, mode: str, num_clients, inputs: List[Any], loops=None):
        """Args:
        program: a `lowering.Program`.
        mode: how clients' sequences come in (`dataflow.PADDED` or `VARIANTS`).
        num_clients: the number of clients (a scalar tensor).
        inputs: for each of the program's parameter leaves, its tensors (see
          `dataflow.leaf_specs`), or None where it is never read.
        loops: `loops(evaluator, level, group) -> states` runs the client loop of
          the aggregates `group` and returns their final states (as `loop_states`
          does); None runs it here, as a graph loop.
        """
        self._program = program
        self._graphs = program.graphs
        self._mode = mode
        self._loops = loops
        self.num_clients = num_clients
        self.checks: List[tf.Tensor] = []
        self._server_values: Dict[int, Any] = {}
        # Calls and aggregates evaluated or restored, in order (`computed`).
        self._computed_keys: Dict[int, None] = {}
        self._collected: Dict[int, List[tf.Tensor]] = {}
        self._inputs = inputs

    @classmethod
    def from_flat(cls, program, mode: str, flat: List[tf.Tensor], loops=None) -> "Evaluator":
        """An evaluator of the flat inputs of `program.function(mode)`."""
        inputs = []
        position = 1
        for leaf in program.parameter_leaves:
            width = len(dataflow.leaf_specs(leaf, mode))
            inputs.append(flat[position : position + width])
            position += width
        return cls(program, mode, flat[0], inputs, loops)

    def preset(self, node: dataflow.ServerNode, value: Any) -> None:
        """Gives a server node its value (a shard's loop gets the driver's values)."""
        self._server_values[id(node)] = value

    def computed(self) -> List[Tuple[str, int, Any]]:
        """What was computed so far, as `(kind, node id, value)`: the values of calls and
        aggregates (`'server'`) and clients' collected values (`'collected'`).

        Inputs, constants and the structs and selections of computed values are left
        out: evaluating them again costs nothing.
        """
        return [("server", key, self._server_values[key]) for key in self._computed_keys] + [
            ("collected", key, value) for key, value in self._collected.items()
        ]

    def restore(self, computed: List[Tuple[str, int, Any]]) -> None:
        """Takes values that another evaluation of the same program `computed`."""
        for kind, key, value in computed:
            if kind == "server":
                self._server_values[key] = value
                self._computed_keys[key] = None
            else:
                self._collected[key] = value

    # Results -------------------------------------------------------------------

    def outputs(self, result) -> List[tf.Tensor]:
        if isinstance(result, dataflow.PyStruct):
            return [t for element in result.elements for t in self.outputs(element)]
        if isinstance(result, dataflow.Aggregate) and result.kind == "collect":
            return self._stacked(result)
        return dataflow.flatten(self.server(result), result.type_spec)

    # Server values -------------------------------------------------------------

    def server(self, node: dataflow.ServerNode) -> Any:
        key = id(node)
        if key not in self._server_values:
            self._server_values[key] = self._server(node)
            if isinstance(node, dataflow.Call):
                self._computed_keys[key] = None
        return self._server_values[key]

    def _server(self, node):
        if isinstance(node, dataflow.Input):
            return dataflow.unflatten(
                [self._inputs[s][0] for s in node.slots], dataflow.member_type(node.type_spec)
            )
        if isinstance(node, dataflow.Constant):
            return tf.constant(node.literal.value, node.literal.type_signature.dtype)
        if isinstance(node, dataflow.View):
            return self.server(node.source)
        if isinstance(node, dataflow.Struct):
            return [self.server(e) for e in node.elements]
        if isinstance(node, dataflow.Select):
            return self.server(node.source)[node.index]
        if isinstance(node, dataflow.Call):
            argument = None if node.argument is None else self.server(node.argument)
            return self.call(node.fn, argument)
        if isinstance(node, dataflow.Aggregate):
            self._run_level(node.level)
            return self._server_values[id(node)]
        raise dataflow.NotLowerable(f"a server node {type(node).__name__}")

    def _stacked(self, aggregate: dataflow.Aggregate) -> List[tf.Tensor]:
        if id(aggregate) not in self._collected:
            self._run_level(aggregate.level)
        return self._collected[id(aggregate)]

    # Client values -------------------------------------------------------------

    def client(self, node: dataflow.ClientNode, index: tf.Tensor, memo: Dict[int, Any]) -> Any:
        key = id(node)
        if key not in memo:
            memo[key] = self._client(node, index, memo)
        return memo[key]

    def _client(self, node, index, memo):
        shared = getattr(node, "collected_by", None)
        if shared is not None and id(shared) in self._collected:
            leaves = [t[index] for t in self._collected[id(shared)]]
            return dataflow.unflatten(leaves, dataflow.member_type(node.type_spec))
        if isinstance(node, dataflow.ClientInput):
            leaves = [self._client_leaf(p, index) for p in node.positions]
            return dataflow.unflatten(leaves, dataflow.member_type(node.type_spec))
        if isinstance(node, dataflow.Broadcast):
            return self._server_values[id(node.source)]
        if isinstance(node, dataflow.Map):
            argument = None if node.argument is None else self.client(node.argument, index, memo)
            return self.call(node.fn, argument)
        if isinstance(node, dataflow.Zip):
            return [self.client(e, index, memo) for e in node.elements]
        if isinstance(node, dataflow.ClientSelect):
            return self.client(node.source, index, memo)[node.index]
        raise dataflow.NotLowerable(f"a client node {type(node).__name__}")

    def _client_leaf(self, position: int, index):
        leaf = self._program.parameter_leaves[position]
        tensors = self._inputs[position]
        if isinstance(leaf.type_spec, computation_types.TensorType):
            return tensors[0][index]
        if self._mode == dataflow.VARIANTS:
            return tensors[0][index]
        leaves = len(dataflow.flatten_types(leaf.type_spec.element))
        elements = tensors[:leaves]
        rest = list(tensors[leaves:-1])
        _, size_specs, _ = tensor_sequence.input_specs(leaf.type_spec)
        sizes = [None if spec is None else rest.pop(0) for spec in size_specs]
        return tensor_sequence.client_sequence(leaf.type_spec, elements, sizes, tensors[-1], index)

    # Loops ---------------------------------------------------------------------

    def _run_level(self, level: int) -> None:
        """One loop over the clients computing every aggregate of `level`."""
        group = [
            a
            for a in self._program.aggregates
            if a.level == level
            and id(a) not in self._server_values
            and id(a) not in self._collected
        ]
        # Server values the clients read are computed outside the loop.
        for aggregate in group:
            for node in _broadcast_sources(aggregate):
                self.server(node)
            zero = aggregate.extra.get("zero")
            if zero is not None:
                self.server(zero)
        direct = [a for a in group if a.kind != "aggregate" and _is_direct(a)]
        for aggregate in direct:
            self._reduce_directly(aggregate)
        group = [a for a in group if a not in direct]
        if not group:
            return
        if self._loops is None:
            final = self.loop_states(group)
        else:
            final = self._loops(self, level, group)
        for aggregate, state in zip(group, final):
            self._finish(aggregate, state)

    @staticmethod
    def needs_loops(program) -> bool:
        """Whether any aggregate of `program` needs a loop over the clients.

        When none does, every aggregate is one reduction of values the caller
        passes in or broadcasts: there is no client work to send anywhere.
        """
        return any(a.kind == "aggregate" or not _is_direct(a) for a in program.aggregates)

    def loop_group(self, level: int) -> List[dataflow.Aggregate]:
        """The aggregates of `level` that need a loop over the clients."""
        return [
            a
            for a in self._program.aggregates
            if a.level == level and (a.kind == "aggregate" or not _is_direct(a))
        ]

    def loop_server_nodes(self, group: List[dataflow.Aggregate]) -> List[dataflow.ServerNode]:
        """The server nodes a loop of `group` reads, each once, in a fixed order."""
        found: Dict[int, dataflow.ServerNode] = {}
        for aggregate in group:
            for node in _broadcast_sources(aggregate):
                found.setdefault(id(node), node)
            zero = aggregate.extra.get("zero")
            if zero is not None:
                found.setdefault(id(zero), zero)
        return list(found.values())

    def loop_states(self, group: List[dataflow.Aggregate]) -> List[Any]:
        """One graph loop over the clients; the final state of each aggregate of `group`.

        States are lists of tensors: a sum's totals, a weighted mean's totals and
        weight sums, an aggregate's accumulator, a collect's stacked values.

        One loop, not several running at once: every client's work holds stateful
        ops (its model's variables), and `tf.function` orders stateful ops, so
        loops side by side would run one after the other anyway.
        """
        initial = [self._initial(a) for a in group]

        def body(index, states):
            memo: Dict[int, Any] = {}
            new_states = []
            for aggregate, state in zip(group, states):
                new_states.append(self._accumulate(aggregate, state, index, memo))
            return index + 1, new_states

        def condition(index, states):
            del states
            return index < self.num_clients

        _, final = tf.while_loop(
            condition,
            body,
            (tf.constant(0), initial),
            shape_invariants=(tf.TensorShape([]), [self._invariant(a) for a in group]),
        )
        return [
            [array.stack() for array in state] if aggregate.kind == "collect" else state
            for aggregate, state in zip(group, final)
        ]

    @staticmethod
    def merges_by_adding(aggregate: dataflow.Aggregate) -> bool:
        """Whether two partial states of `aggregate` merge by adding them leaf by leaf
        (sums and means; not aggregates' accumulators or collects' stacks)."""
        return aggregate.kind not in ("aggregate", "collect")

    def merge(self, aggregate: dataflow.Aggregate, a, b):
        """Two partial states of one aggregate (clients split in two), as one."""
        if self.merges_by_adding(aggregate):
            return tf.nest.map_structure(lambda x, y: x + y, a, b)
        if aggregate.kind == "collect":
            return [tf.concat([x, y], axis=0) for x, y in zip(a, b)]
        zero_type = dataflow.member_type(aggregate.extra["zero"].type_spec)
        merged = self.call(
            aggregate.extra["merge"],
            [dataflow.unflatten(list(a), zero_type), dataflow.unflatten(list(b), zero_type)],
        )
        return dataflow.flatten(merged, zero_type)

    def _reduce_directly(self, aggregate: dataflow.Aggregate) -> None:
        """An aggregate of values already stacked (arguments, broadcasts): one reduction.

        TensorFlow adds the client axis in its own order, not client by client, so
        float results may differ from the executor stack's in the last bits
        (WORKSPACE.md bounds how much).
        """
        member = dataflow.member_type(aggregate.value.type_spec)
        leaves = dataflow.flatten(self._stacked_value(aggregate.value), member)
        kind = aggregate.kind
        if kind == "collect":
            self._collected[id(aggregate)] = leaves
            return
        if kind == "sum":
            result = [tf.reduce_sum(leaf, axis=0) for leaf in leaves]
        elif kind == "mean":
            result = [
                tf.reduce_sum(leaf, axis=0) / tf.cast(self.num_clients, leaf.dtype)
                for leaf in leaves
            ]
        else:
            weight = self._stacked_value(aggregate.extra["weight"])
            result = []
            for leaf in leaves:
                weights = tf.cast(weight, leaf.dtype)
                weight_sum = tf.reduce_sum(weights)
                expanded = tf.reshape(weights, [-1] + [1] * (leaf.shape.rank - 1))
                result.append(tf.reduce_sum(expanded * leaf, axis=0) / weight_sum)
                self.checks.append(tf.not_equal(weight_sum, 0))
        result = [
            tf.ensure_shape(r, dataflow.known_shape(t))
            for r, t in zip(result, dataflow.flatten_types(member))
        ]
        self._server_values[id(aggregate)] = dataflow.unflatten(result, member)
        self._computed_keys[id(aggregate)] = None

    def _stacked_value(self, node: dataflow.ClientNode) -> Any:
        """A client value without client work, with a leading client axis on each leaf."""
        if isinstance(node, dataflow.ClientInput):
            leaves = [self._inputs[p][0] for p in node.positions]
            return dataflow.unflatten(leaves, dataflow.member_type(node.type_spec))
        if isinstance(node, dataflow.Broadcast):
            member = dataflow.member_type(node.type_spec)
            leaves = [
                tf.broadcast_to(
                    leaf[tf.newaxis], tf.concat([[self.num_clients], tf.shape(leaf)], 0)
                )
                for leaf in dataflow.flatten(self._server_values[id(node.source)], member)
            ]
            return dataflow.unflatten(leaves, member)
        if isinstance(node, dataflow.Zip):
            return [self._stacked_value(e) for e in node.elements]
        if isinstance(node, dataflow.ClientSelect):
            return self._stacked_value(node.source)[node.index]
        raise dataflow.NotLowerable(f"a client node {type(node).__name__} without a loop")

    def _initial(self, aggregate: dataflow.Aggregate):
        kind = aggregate.kind
        member = dataflow.member_type(aggregate.value.type_spec)
        if kind == "collect":
            return [
                tf.TensorArray(
                    t.dtype, size=self.num_clients, element_shape=dataflow.known_shape(t)
                )
                for t in dataflow.flatten_types(member)
            ]
        if kind == "aggregate":
            return dataflow.flatten(
                self.server(aggregate.extra["zero"]), aggregate.extra["zero"].type_spec
            )
        zeros = [tf.zeros(dataflow.known_shape(t), t.dtype) for t in dataflow.flatten_types(member)]
        if kind == "weighted_mean":
            return [zeros, [tf.zeros([], t.dtype) for t in dataflow.flatten_types(member)]]
        return zeros

    def _invariant(self, aggregate: dataflow.Aggregate):
        kind = aggregate.kind
        member_types = dataflow.flatten_types(dataflow.member_type(aggregate.value.type_spec))
        if kind == "collect":
            return [tf.TensorShape(None) for _ in member_types]
        if kind == "aggregate":
            zero_type = dataflow.member_type(aggregate.extra["zero"].type_spec)
            return [tf.TensorShape(t.shape) for t in dataflow.flatten_types(zero_type)]
        shapes = [tf.TensorShape(dataflow.known_shape(t)) for t in member_types]
        if kind == "weighted_mean":
            return [shapes, [tf.TensorShape([]) for _ in member_types]]
        return shapes

    def _accumulate(self, aggregate: dataflow.Aggregate, state, index, memo):
        kind = aggregate.kind
        member = dataflow.member_type(aggregate.value.type_spec)
        value = self.client(aggregate.value, index, memo)
        leaves = dataflow.flatten(value, member)
        if kind == "collect":
            return [array.write(index, leaf) for array, leaf in zip(state, leaves)]
        if kind in ("sum", "mean"):
            return [total + leaf for total, leaf in zip(state, leaves)]
        if kind == "weighted_mean":
            weight = self.client(aggregate.extra["weight"], index, memo)
            totals, weight_sums = state
            weights = [tf.cast(weight, leaf.dtype) for leaf in leaves]
            return [
                [total + w * leaf for total, w, leaf in zip(totals, weights, leaves)],
                [s + w for s, w in zip(weight_sums, weights)],
            ]
        zero_type = dataflow.member_type(aggregate.extra["zero"].type_spec)
        accumulator = dataflow.unflatten(list(state), zero_type)
        result = self.call(aggregate.extra["accumulate"], [accumulator, value])
        return dataflow.flatten(result, zero_type)

    def _finish(self, aggregate: dataflow.Aggregate, state) -> None:
        kind = aggregate.kind
        member = dataflow.member_type(aggregate.value.type_spec)
        key = id(aggregate)
        if kind == "collect":
            self._collected[key] = list(state)
            return
        if kind == "sum":
            result = state
        elif kind == "mean":
            result = [total / tf.cast(self.num_clients, total.dtype) for total in state]
        elif kind == "weighted_mean":
            totals, weight_sums = state
            result = [total / s for total, s in zip(totals, weight_sums)]
            self.checks.extend(tf.not_equal(s, 0) for s in weight_sums)
        else:
            zero_type = dataflow.member_type(aggregate.extra["zero"].type_spec)
            accumulator = dataflow.unflatten(list(state), zero_type)
            self._server_values[key] = self.call(aggregate.extra["report"], accumulator)
            self._computed_keys[key] = None
            return
        if kind in ("sum", "mean", "weighted_mean"):
            result = [
                tf.ensure_shape(r, dataflow.known_shape(t))
                for r, t in zip(result, dataflow.flatten_types(member))
            ]
        self._server_values[key] = dataflow.unflatten(list(result), member)
        self._computed_keys[key] = None

    # Functions -----------------------------------------------------------------

    def call(self, fn, argument) -> Any:
        """Calls a TensorFlow block or an unplaced Lambda on concrete values."""
        if isinstance(fn, dataflow.Closure):
            env = {}
            if fn.fn.parameter_name is not None:
                env[fn.fn.parameter_name] = argument
            return self._unplaced(fn.fn.result, env)
        if isinstance(fn, bb.TensorFlow):
            return self._call_tensorflow(fn, argument)
        if isinstance(fn, bb.Intrinsic):
            definition = defs.by_uri(fn.uri)
            handler = _SEQUENCE_HANDLERS.get(definition)
            if handler is None:
                raise dataflow.NotLowerable(f"{fn.uri} inside an unplaced function")
            return handler(self, argument, fn.type_signature)
        raise dataflow.NotLowerable(f"a call of {type(fn).__name__}")

    def _call_tensorflow(self, block: bb.TensorFlow, argument):
        function_type = block.type_signature
        parameter = function_type.parameter
        leaves = [] if parameter is None else dataflow.flatten(argument, parameter)
        leaves = [
            tf.data.experimental.to_variant(leaf) if isinstance(leaf, tf.data.Dataset) else leaf
            for leaf in leaves
        ]
        if any(isinstance(leaf, tensor_sequence.TensorSequence) for leaf in leaves):
            if block.source is None:
                raise dataflow.NeedsDatasets(
                    f"{block.compact()} has no Python source to trace again"
                )
            try:
                flat = block.source(
                    dataflow.to_structure(argument, parameter),
                    local_variables=self._program.local_variables.get(self._mode, True),
                )
            except tensor_sequence.UnsupportedSequenceOperation as error:
                raise dataflow.NeedsDatasets(str(error)) from error
        else:
            flat = self._graphs.get(block).flat_call(leaves)
        return dataflow.unflatten(list(flat), function_type.result)

    def _unplaced(self, node: bb.BuildingBlock, env: Dict[str, Any]) -> Any:
        if isinstance(node, bb.Reference):
            return env[node.name]
        if isinstance(node, bb.Block):
            inner = dict(env)
            for name, value in node.locals:
                inner[name] = self._unplaced(value, inner)
            return self._unplaced(node.result, inner)
        if isinstance(node, bb.Lambda):
            return dataflow.Closure(node)
        if isinstance(node, (bb.TensorFlow, bb.Intrinsic)):
            return node
        if isinstance(node, bb.Literal):
            return tf.constant(node.value, node.type_signature.dtype)
        if isinstance(node, bb.Struct):
            return [self._unplaced(e, env) for _, e in node.elements]
        if isinstance(node, bb.Selection):
            return self._unplaced(node.source, env)[node.index]
        if isinstance(node, bb.Call):
            fn = self._unplaced(node.function, env)
            argument = None if node.argument is None else self._unplaced(node.argument, env)
            return self.call(fn, argument)
        raise dataflow.NotLowerable(
            f"a {type(node).__name__} in an unplaced function ({node.compact()})"
        )


def _iterable(sequence, element_type):
    """A client's sequence as something with `reduce` and `map`: itself, or its dataset."""
    if isinstance(sequence, (tensor_sequence.TensorSequence, tf.data.Dataset)):
        return sequence
    return tf.data.experimental.from_variant(
        sequence, structure=tensor_sequence.element_spec(element_type)
    )


def _sequence_reduce(evaluator: Evaluator, argument, function_type):
    sequence, zero, op = argument
    element_type = function_type.parameter[0].element
    state_type = function_type.parameter[1]

    def step(state, element):
        state = dataflow.unflatten(list(state), state_type)
        result = evaluator.call(op, [state, dataflow.from_structure(element, element_type)])
        return tuple(dataflow.flatten(result, state_type))

    initial = tuple(dataflow.flatten(zero, state_type))
    final = _iterable(sequence, element_type).reduce(initial, step)
    return dataflow.unflatten(list(final), state_type)


def _sequence_sum(evaluator: Evaluator, argument, function_type):
    element_type = function_type.parameter.element

    def step(state, element):
        leaves = dataflow.flatten(dataflow.from_structure(element, element_type), element_type)
        return tuple(total + leaf for total, leaf in zip(state, leaves))

    initial = tuple(
        tf.zeros(dataflow.known_shape(t), t.dtype) for t in dataflow.flatten_types(element_type)
    )
    final = _iterable(argument, element_type).reduce(initial, step)
    return dataflow.unflatten(list(final), element_type)


def _sequence_map(evaluator: Evaluator, argument, function_type):
    fn, sequence = argument
    element_type = function_type.parameter[1].element
    result_type = function_type.result.element

    def mapper(*element):
        element = element[0] if len(element) == 1 else element
        result = evaluator.call(fn, dataflow.from_structure(element, element_type))
        return dataflow.to_structure(result, result_type)

    return _iterable(sequence, element_type).map(mapper)


_SEQUENCE_HANDLERS = {
    defs.SEQUENCE_MAP: _sequence_map,
    defs.SEQUENCE_REDUCE: _sequence_reduce,
    defs.SEQUENCE_SUM: _sequence_sum,
}


def _is_direct(aggregate: dataflow.Aggregate) -> bool:
    """Whether an aggregate's client values need no client work (only stacked tensors)."""

    def direct(node) -> bool:
        if isinstance(node, dataflow.ClientInput):
            return all(
                isinstance(t, computation_types.TensorType)
                for t in dataflow.flatten_types(dataflow.member_type(node.type_spec))
            )
        if isinstance(node, dataflow.Broadcast):
            return True
        if isinstance(node, (dataflow.Zip, dataflow.ClientSelect)):
            return all(direct(child) for child in dataflow.client_children(node))
        return False

    weight = aggregate.extra.get("weight")
    return direct(aggregate.value) and (weight is None or direct(weight))


def _broadcast_sources(aggregate: dataflow.Aggregate) -> List[dataflow.ServerNode]:
    found = []

    def visit(node):
        if isinstance(node, dataflow.Broadcast):
            found.append(node.source)
            return
        for child in dataflow.client_children(node):
            visit(child)

    visit(aggregate.value)
    weight = aggregate.extra.get("weight")
    if weight is not None:
        visit(weight)
    return found
