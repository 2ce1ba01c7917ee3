"""Lowered programs across remote workers: the driver runs the server side, workers the clients.

A computation that lowers (`tffl.compiler.lowering`) runs on a remote context as
follows. Each client loop (one per level of aggregates) becomes one TensorFlow
computation, the shard loop: its inputs are the server values the clients read
and a shard's client inputs (stacked tensors, clients' datasets as padded
tensors), its outputs the shard's partial aggregates. Every worker runs the shard
loop on its contiguous block of clients in one call; the driver merges the
partials in worker order (sums add, weighted means add their totals and weights,
aggregates `merge`, stacked values concatenate). The driver's own work, the
server side before, between and after the client loops, runs as traced TF
functions, the stages (`_Stage`): stage 0 up to the first loop, each later stage
from the merged states of a loop up to the next loop or to the result.
Aggregates of values that need no client work (arguments, broadcasts) reduce on
the driver, where the values already are.

Shard loops and stages are traced once per program and input mode. Each worker
keeps one long-lived session for lowered calls (`WorkerSession`), in which a shard
loop is created once; a round then costs one `Evaluate` request per worker,
carrying the shard's argument and answered with its partials. A shard of the
clients' padded datasets goes as a `Cached` tensor, the same wrapper while the
same datasets are passed again, so a worker is sent it once and then only its key.
Datasets that are not deterministic cannot be materialized; their calls, like
those of computations that do not lower, run on the composing executor stack.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import threading
from typing import Any
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
import weakref

import numpy as np
import tensorflow as tf

from tffl.backends import lowered_execution
from tffl.compiler import client_loops
from tffl.compiler import dataflow
from tffl.compiler import lowering
from tffl.core import tensorflow_computation
from tffl.executors import composing_executor
from tffl.executors import remote_executor
from tffl.executors import tensorflow_executor
from tffl.executors import value_serialization
from tffl.types import computation_types

# Shard loops a worker session holds at most; the least recently used one is dropped.
_FUNCTIONS_KEPT = 64

# Shards of clients' padded datasets by (id(tensor), start, stop), each with a weak
# reference to the tensor it was cut from (a new tensor at a reused id is not mistaken
# for it): a simulation passing the same datasets again (`lowered_execution` then gives
# the same tensors) gets the same wrappers, whose digests are computed once. A shard
# lives no longer than its tensor, and at most `_SHARDS_KEPT` are kept.
_SHARDS: "collections.OrderedDict[tuple, Tuple[weakref.ref, value_serialization.Cached]]" = (
    collections.OrderedDict()
)
_SHARDS_KEPT = 64
_SHARDS_LOCK = threading.Lock()


def _cached_shard(tensor: tf.Tensor, clients: range) -> value_serialization.Cached:
    """The clients' rows of an unchanging tensor, as a `Cached` value kept for the next call."""
    key = (id(tensor), clients.start, clients.stop)
    with _SHARDS_LOCK:
        found = _SHARDS.get(key)
        if found is not None and found[0]() is tensor:
            _SHARDS.move_to_end(key)
            return found[1]
    shard = value_serialization.Cached(tensor[clients.start : clients.stop])
    # The digest, computed here rather than on the event loop that sends the shard.
    shard.key
    with _SHARDS_LOCK:
        for dead in [k for k, (ref, _) in _SHARDS.items() if ref() is None]:
            del _SHARDS[dead]
        _SHARDS[key] = (weakref.ref(tensor), shard)
        while len(_SHARDS) > _SHARDS_KEPT:
            _SHARDS.popitem(last=False)
    return shard


class _ShardLoop:
    """A level's client loop as a TensorFlow block, and how to feed and read it."""

    def __init__(self, program: lowering.Program, mode: str, group, server_nodes):
        self.group = group
        self.server_nodes = server_nodes
        leaves = program.parameter_leaves
        self.client_positions = [i for i, leaf in enumerate(leaves) if leaf.placement == "clients"]
        server_specs = [
            tf.TensorSpec(t.shape, t.dtype)
            for node in server_nodes
            for t in dataflow.flatten_types(dataflow.member_type(node.type_spec))
        ]
        widths = [len(dataflow.leaf_specs(leaves[i], mode)) for i in self.client_positions]
        client_specs = [
            spec for i in self.client_positions for spec in dataflow.leaf_specs(leaves[i], mode)
        ]
        structure: List[Any] = []

        def shard_loop(num_clients, *flat):
            server_flat = iter(flat[: len(server_specs)])
            rest = list(flat[len(server_specs) :])
            inputs: List[Optional[List[tf.Tensor]]] = [None] * len(leaves)
            for position, width in zip(self.client_positions, widths):
                inputs[position], rest = rest[:width], rest[width:]
            evaluator = client_loops.Evaluator(program, mode, num_clients, inputs)
            for node in server_nodes:
                member = dataflow.member_type(node.type_spec)
                values = [next(server_flat) for _ in dataflow.flatten_types(member)]
                evaluator.preset(node, dataflow.unflatten(values, member))
            states = evaluator.loop_states(group)
            structure.append(states)
            return tf.nest.flatten(states)

        specs = [tf.TensorSpec([], tf.int32)] + server_specs + client_specs
        concrete = lowering.traced(
            program,
            mode,
            lambda: tf.function(shard_loop, autograph=False).get_concrete_function(*specs),
        )
        parameter_type = computation_types.StructType(
            [(None, computation_types.TensorType(s.dtype, s.shape)) for s in specs]
        )
        result_type = computation_types.StructType(
            [(None, computation_types.TensorType(o.dtype, o.shape)) for o in concrete.outputs]
        )
        self.block = tensorflow_computation.block_from_function(
            concrete, parameter_type, result_type, "client_loop"
        )
        self.key = hashlib.sha256(self.block.proto.SerializeToString()).digest()
        self.structure = structure[-1]
        # Each aggregate's span of the flat outputs.
        self.spans: List[Tuple[int, int]] = []
        for state in self.structure:
            start = self.spans[-1][1] if self.spans else 0
            self.spans.append((start, start + len(tf.nest.flatten(state))))
        self.output_specs = [tf.TensorSpec(o.shape, o.dtype) for o in concrete.outputs]


class WorkerSession:
    """A worker's long-lived session for lowered calls, and the shard loops created in it.

    Args:
      executor: the session (not yet opened; it opens on first use).
    """

    def __init__(self, executor: remote_executor.RemoteExecutor):
        self.executor = executor
        self.address = executor.address
        self._functions: "collections.OrderedDict[bytes, remote_executor.RemoteValue]" = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    @property
    def broken(self) -> bool:
        """Whether the session ended (its worker was lost, or restarted)."""
        return self.executor.broken

    async def evaluate(self, shard_loop: _ShardLoop, argument: List[Any]) -> List[Any]:
        """The shard loop's flat outputs on `argument`, in one round trip once it is created."""
        fn = await self._function(shard_loop)
        return list(await self.executor.evaluate(fn, argument))

    async def _function(self, shard_loop: _ShardLoop) -> remote_executor.RemoteValue:
        key = shard_loop.key
        with self._lock:
            fn = self._functions.get(key)
            if fn is not None:
                self._functions.move_to_end(key)
                return fn
        created = await self.executor.create_value(
            shard_loop.block, shard_loop.block.type_signature
        )
        with self._lock:
            fn = self._functions.setdefault(key, created)
            dropped = [] if fn is created else [created]  # Another call created it too.
            while len(self._functions) > _FUNCTIONS_KEPT:
                dropped.append(self._functions.popitem(last=False)[1])
        if dropped:
            await self.executor.dispose(dropped)
        return fn

    def close(self) -> None:
        self.executor.close()


class ShardedLoweredRunner:
    """Runs lowered programs over workers; counts the calls it ran (`lowered_calls`)."""

    def __init__(self, graphs=tensorflow_executor.FUNCTION_CACHE):
        self._local = lowered_execution.LoweredRunner(graphs)
        self._lock = threading.Lock()
        self.lowered_calls = 0

    def reason(self, computation) -> Optional[str]:
        """Why `computation` does not lower (None if it does, or was never tried)."""
        return self._local.reason(computation)

    def for_workers(self, sessions: Sequence[WorkerSession], served: List[str]) -> "_Bound":
        """This runner over the given workers (one call's attempt), noting in `served`
        the addresses of those given clients."""
        return _Bound(self, list(sessions), served)

    async def run(
        self,
        sessions: Sequence[WorkerSession],
        served: List[str],
        computation,
        argument,
        num_clients,
    ) -> Tuple[bool, Any]:
        """`(True, result)` when the call ran lowered on the workers, else `(False, None)`."""
        entry = self._local.entry(computation)
        program = entry.program
        if program is None:
            return False, None
        if not client_loops.Evaluator.needs_loops(program):
            # Every aggregate reduces values the driver holds: the local function does it.
            done, result = self._local.run(computation, argument, num_clients)
            self.lowered_calls += int(done)
            return done, result
        try:
            packed = lowered_execution.Packer(program, argument, num_clients)
        except (lowering.NotLowerable, TypeError, ValueError):
            return False, None
        mode = packed.modes[0]
        if packed.has_sequences and mode != lowering.PADDED:
            return False, None  # Datasets as variants cannot cross to a worker.
        if mode in entry.failed_modes:
            return False, None
        noted = len(served)
        evaluation = _Evaluation(self, program, mode, packed, list(sessions), served)
        try:
            ok, outputs = await evaluation.run()
        except lowering.NotLowerable as error:
            entry.failed_modes[mode] = str(error)
            ok = False
        if not ok:
            del served[noted:]  # The executor stack runs the call, and notes its own.
            return False, None
        self.lowered_calls += 1
        return True, lowered_execution.unpack(program, outputs, packed.num_clients)

    def shard_loop(self, program, mode: str, level: int) -> _ShardLoop:
        """The program's shard loop of `level`, traced on first use (kept with the program)."""
        key = ("shard_loop", mode, level)
        with self._lock:
            found = program.derived.get(key)
        if found is None:
            evaluator = client_loops.Evaluator(program, mode, None, [])
            group = evaluator.loop_group(level)
            found = _ShardLoop(program, mode, group, evaluator.loop_server_nodes(group))
            with self._lock:
                found = program.derived.setdefault(key, found)
        return found

    def stage(self, program, mode: str, index: int, traced_only: bool = False):
        """The program's driver stage `index`, traced on first use (kept with the program;
        stage `index - 1` must exist), or None if `traced_only` and it is not traced yet."""
        key = ("stage", mode, index)
        with self._lock:
            found = program.derived.get(key)
        if found is None and not traced_only:
            previous = None
            if index:
                with self._lock:
                    previous = program.derived[("stage", mode, index - 1)]
            found = _Stage(self, program, mode, previous)
            with self._lock:
                found = program.derived.setdefault(key, found)
        return found


class _Bound:
    """A runner bound to one attempt's workers: what `invoke_async` calls."""

    def __init__(self, runner: ShardedLoweredRunner, sessions: List[WorkerSession], served):
        self._runner = runner
        self._sessions = sessions
        self._served = served

    async def run_async(self, computation, argument, num_clients) -> Tuple[bool, Any]:
        return await self._runner.run(
            self._sessions, self._served, computation, argument, num_clients
        )


class _Stop(Exception):
    """Ends a stage's trace at the client loop that the workers run next."""

    def __init__(self, level: int, values: List[tf.Tensor]):
        super().__init__(level)
        self.level = level
        self.values = values


class _Stage:
    """The driver's part of a call up to a client loop, or from one on, as one TF function.

    A call runs as stages and client loops in turn: stage 0, loop 0 on the workers,
    stage 1, and so on; the last stage gives the result. Stage `k` takes the call's
    flat inputs, every tensor value stage `k - 1` computed (`carried`, so that no
    server value is computed twice, random ones included) and the states of loop
    `k - 1` (the shards' partial states, merged). It finishes those, then evaluates
    on until the next client loop, whose server values it returns with what it
    carries on.

    Its outputs are `[ok] + outputs` for the last stage, else `[ok] + the loop's
    server values + carried values`; `ok` is false when a check failed (weights
    summing to zero).
    """

    def __init__(self, runner, program, mode: str, previous: "Optional[_Stage]"):
        inputs = program.input_specs(mode)
        carried_in = [] if previous is None else previous.carried
        carried_specs = [] if previous is None else previous.carried_specs
        loop_in = None if previous is None else previous.loop
        merged_specs = [] if loop_in is None else loop_in.output_specs
        found: dict = {}

        def stage(*flat):
            flat = list(flat)
            given, flat = flat[: len(inputs)], flat[len(inputs) :]
            carried_flat, merged = flat[: len(carried_specs)], flat[len(carried_specs) :]
            loops_seen = []

            def loops(evaluator, level, group):
                loops_seen.append(level)
                if loop_in is not None and len(loops_seen) == 1:
                    return tf.nest.pack_sequence_as(loop_in.structure, merged)
                if [id(a) for a in evaluator.loop_group(level)] != [id(a) for a in group]:
                    raise lowering.NotLowerable("a client loop over part of its level")
                nodes = evaluator.loop_server_nodes(group)
                values = [
                    leaf
                    for node in nodes
                    for leaf in dataflow.flatten(evaluator.server(node), node.type_spec)
                ]
                raise _Stop(level, values)

            evaluator = client_loops.Evaluator.from_flat(program, mode, given, loops)
            evaluator.restore(_unflatten_carried(carried_in, carried_flat))
            try:
                outputs = evaluator.outputs(program.result)
            except _Stop as stop:
                found["level"] = stop.level
                carried = [
                    (kind, key, value)
                    for kind, key, value in evaluator.computed()
                    if all(isinstance(t, tf.Tensor) for t in tf.nest.flatten(value))
                ]
                found["carried"] = [
                    (kind, key, tf.nest.map_structure(lambda _: None, value))
                    for kind, key, value in carried
                ]
                found["num_values"] = len(stop.values)
                outputs = stop.values + [t for _, _, v in carried for t in tf.nest.flatten(v)]
            found["checks"] = len(evaluator.checks)
            ok = tf.reduce_all(tf.stack([tf.constant(True)] + evaluator.checks))
            return [ok] + list(outputs)

        specs = inputs + carried_specs + merged_specs
        self._specs = specs
        self._concrete = tf.function(stage, autograph=False).get_concrete_function(*specs)
        # The next client loop (None for the last stage), and what goes on to the next stage.
        self.loop: Optional[_ShardLoop] = None
        self.num_values = found.get("num_values", 0)
        self.carried: List[Tuple[str, int, Any]] = found.get("carried", [])
        self.carried_specs: List[tf.TensorSpec] = []
        if "level" in found:
            self.loop = runner.shard_loop(program, mode, found["level"])
            self.carried_specs = [
                tf.TensorSpec(t.shape, t.dtype)
                for t in self._concrete.outputs[1 + self.num_values :]
            ]
        # A stage before a client loop that checks nothing and only passes inputs on
        # (stage 0 of a round that broadcasts parts of its state) is not called.
        self._passed = None
        if self.loop is not None and not found["checks"]:
            self._passed = _passed_inputs(self._concrete, len(specs))

    def call(self, flat: List[Any]) -> Tuple[bool, List[Any], List[Any]]:
        """`(ok, loop's server values or the result, carried values)`."""
        if self._passed is not None:
            if len(flat) != len(self._specs):
                raise TypeError(
                    f"driver stage: expected {len(self._specs)} inputs, got {len(flat)}"
                )
            ok, outputs = True, [flat[i] for i in self._passed]
        else:
            outputs = lowering.call_concrete(self._concrete, self._specs, flat, "driver stage")
            ok, outputs = bool(outputs[0]), outputs[1:]
        if self.loop is None:
            return ok, outputs, []
        return ok, outputs[: self.num_values], outputs[self.num_values :]


def _passed_inputs(concrete, num_inputs: int) -> Optional[List[int]]:
    """For each output of a stage after `ok`, the position of the input it is (through
    identities); None when some output is computed."""
    positions = {t.name: i for i, t in enumerate(concrete.graph.inputs[:num_inputs])}
    passed = []
    for output in concrete.outputs[1:]:
        while output.op.type == "Identity":
            output = output.op.inputs[0]
        if output.name not in positions:
            return None
        passed.append(positions[output.name])
    return passed


def _unflatten_carried(carried, flat: List[tf.Tensor]) -> List[Tuple[str, int, Any]]:
    leaves = iter(flat)
    return [
        (kind, key, tf.nest.map_structure(lambda _: next(leaves), structure))
        for kind, key, structure in carried
    ]


def _merged(program, mode: str, loop: _ShardLoop, partials: List[List[Any]]) -> List[Any]:
    """The loop's states merged across the shards' flat partial states, in worker order.

    This runs eagerly, on the numpy values the workers sent: sums add as written,
    `((s0 + s1) + s2)`. Inside a graph, Grappler would collapse the chain into one
    `AddN`, whose order of addition is its own. States of sums and means add leaf by
    leaf on the flat lists; only aggregates' and collects' are given their structure.
    """
    merged = list(partials[0])
    evaluator = None
    with np.errstate(over="ignore"):  # Integers wrap around, as in TensorFlow.
        for partial in partials[1:]:
            for aggregate, structure, (start, stop) in zip(loop.group, loop.structure, loop.spans):
                if client_loops.Evaluator.merges_by_adding(aggregate):
                    merged[start:stop] = [
                        a + b for a, b in zip(merged[start:stop], partial[start:stop])
                    ]
                    continue
                if evaluator is None:
                    evaluator = client_loops.Evaluator(program, mode, None, [])
                state = evaluator.merge(
                    aggregate,
                    tf.nest.pack_sequence_as(structure, merged[start:stop]),
                    tf.nest.pack_sequence_as(structure, partial[start:stop]),
                )
                merged[start:stop] = tf.nest.flatten(state)
    return merged


class _Evaluation:
    """One call: the driver's stages, with client loops sent to the workers in between."""

    def __init__(self, runner, program, mode, packed, sessions, served):
        self._runner = runner
        self._program = program
        self._mode = mode
        self._packed = packed
        num_clients = packed.num_clients or 0
        sizes = composing_executor.shard_sizes(num_clients, len(sessions))
        self._shards: List[Tuple[range, WorkerSession]] = []
        start = 0
        for session, size in zip(sessions, sizes):
            if size:
                self._shards.append((range(start, start + size), session))
                served.append(session.address)
                start += size

    async def run(self) -> Tuple[bool, List[tf.Tensor]]:
        """`(ok, flat outputs)`; not ok when a check failed (the executor stack runs it)."""
        inputs = self._packed.inputs(self._mode)
        carried: List[tf.Tensor] = []
        merged: List[Any] = []
        index = 0
        while True:
            stage = self._runner.stage(self._program, self._mode, index, traced_only=True)
            if stage is None:
                # Traced on a thread (seconds, once), so the caller's event loop goes on.
                stage = await asyncio.to_thread(
                    self._runner.stage, self._program, self._mode, index
                )
            ok, values, carried = stage.call(inputs + carried + merged)
            if not ok or stage.loop is None:
                return ok, values
            merged = await self._run_loop(stage.loop, values)
            index += 1
            if index > len(self._program.aggregates):
                raise lowering.NotLowerable("driver stages that do not reach the result")

    async def _run_loop(self, shard_loop: _ShardLoop, server_values) -> List[Any]:
        """The client loop's states, flat: the shards' partial states merged."""
        server_values = [np.asarray(v) for v in server_values]
        positions = shard_loop.client_positions
        client_values = self._packed.client_inputs(self._mode, positions)
        unchanging = self._packed.unchanging_client_inputs(self._mode, positions)
        calls = [
            session.evaluate(
                shard_loop,
                [np.int32(len(clients))]
                + server_values
                + [
                    _cached_shard(v, clients) if fixed else v[clients.start : clients.stop]
                    for v, fixed in zip(client_values, unchanging)
                ],
            )
            for clients, session in self._shards
        ]
        partials = await asyncio.gather(*calls)
        return _merged(self._program, self._mode, shard_loop, partials)
