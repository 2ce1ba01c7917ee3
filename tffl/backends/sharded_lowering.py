"""Lowered programs across remote workers: the driver runs the server side, workers the clients.

A computation that lowers (`tffl.compiler.lowering`) runs on a remote context as
follows. The driver evaluates the program's server nodes itself, eagerly. Each
client loop (one per level of aggregates) becomes one TensorFlow computation, the
shard loop: its inputs are the server values the clients read and a shard's
client inputs (stacked tensors, clients' datasets as padded tensors), its outputs
the shard's partial aggregates. Every worker runs the shard loop on its
contiguous block of clients in one call; the driver merges the partials in
worker order (sums add, weighted means add their totals and weights, aggregates
`merge`, stacked values concatenate) and finishes them. Aggregates of values that
need no client work (arguments, broadcasts) reduce on the driver, where the
values already are.

A shard loop is traced once per program, input mode and level. Each worker keeps
one long-lived session for lowered calls (`WorkerSession`), in which a shard loop
is created once; a round then costs one `Evaluate` request per worker, carrying
the shard's argument and answered with its partials. A shard of the clients'
padded datasets goes as a `Cached` tensor, the same wrapper while the same datasets
are passed again, so a worker is sent it once and then only its key. Datasets that are not
deterministic cannot be materialized; their calls, like those of computations
that do not lower, run on the composing executor stack.
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
        loop = asyncio.get_running_loop()
        noted = len(served)
        evaluation = _Evaluation(self, program, mode, packed, list(sessions), served, loop)
        try:
            ok, outputs = await asyncio.to_thread(evaluation.run)
        except lowering.NotLowerable as error:
            entry.failed_modes[mode] = str(error)
            ok = False
        if not ok:
            del served[noted:]  # The executor stack runs the call, and notes its own.
            return False, None
        self.lowered_calls += 1
        return True, lowered_execution.unpack(
            outputs, program.type_signature.result, packed.num_clients
        )

    def shard_loop(self, program, mode: str, level: int, evaluator) -> _ShardLoop:
        """The program's shard loop of `level`, traced on first use (kept with the program)."""
        key = ("shard_loop", mode, level)
        with self._lock:
            found = program.derived.get(key)
        if found is None:
            group = evaluator.loop_group(level)
            found = _ShardLoop(program, mode, group, evaluator.loop_server_nodes(group))
            with self._lock:
                program.derived[key] = found
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


class _Evaluation:
    """One call: the driver's eager evaluation, with client loops sent to the workers."""

    def __init__(self, runner, program, mode, packed, sessions, served, loop):
        self._runner = runner
        self._program = program
        self._mode = mode
        self._packed = packed
        self._loop = loop
        num_clients = packed.num_clients or 0
        sizes = composing_executor.shard_sizes(num_clients, len(sessions))
        self._shards: List[Tuple[range, WorkerSession]] = []
        start = 0
        for session, size in zip(sessions, sizes):
            if size:
                self._shards.append((range(start, start + size), session))
                served.append(session.address)
                start += size

    def run(self) -> Tuple[bool, List[tf.Tensor]]:
        flat = self._packed.inputs(self._mode)
        evaluator = client_loops.Evaluator.from_flat(
            self._program, self._mode, [tf.convert_to_tensor(v) for v in flat], self._loops
        )
        outputs = evaluator.outputs(self._program.result)
        ok = all(bool(check) for check in evaluator.checks)
        return ok, outputs

    def _loops(self, evaluator, level: int, group) -> List[Any]:
        shard_loop = self._runner.shard_loop(self._program, self._mode, level, evaluator)
        if [id(a) for a in shard_loop.group] != [id(a) for a in group]:
            raise lowering.NotLowerable("a client loop that differs between calls")
        server_values = [
            np.asarray(leaf)
            for node in shard_loop.server_nodes
            for leaf in dataflow.flatten(evaluator.server(node), node.type_spec)
        ]
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
        partials = asyncio.run_coroutine_threadsafe(_gather(calls), self._loop).result()
        states = [
            tf.nest.pack_sequence_as(shard_loop.structure, [tf.constant(v) for v in partial])
            for partial in partials
        ]
        merged = states[0]
        for state in states[1:]:
            merged = [
                evaluator.merge(aggregate, a, b)
                for aggregate, a, b in zip(shard_loop.group, merged, state)
            ]
        return merged


async def _gather(calls):
    return await asyncio.gather(*calls)
