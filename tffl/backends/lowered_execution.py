"""Runs a call as one TensorFlow function when the computation lowers (`tffl.compiler.lowering`).

The local context asks this first. A computation lowers once per process (the
verdict is kept with it); each call then packs its argument into the lowered
function's inputs: SERVER values as tensors, CLIENTS values stacked on a leading
client axis, clients' datasets materialized into padded tensors when they are
deterministic (or passed as dataset variants otherwise). When something does not
fit (no lowering, values of different shapes across clients, zero clients, a
check such as weights summing to zero), the call goes to the executor stack,
which gives the same results and raises the errors users expect.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterator
from typing import List
from typing import Optional
from typing import Tuple
import weakref

import numpy as np
import tensorflow as tf

from tffl.compiler import dataflow
from tffl.compiler import lowering
from tffl.compiler import padded_sequences
from tffl.core import computation_impl
from tffl.executors import tensorflow_executor
from tffl.executors import value_conversions
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions

_log = logging.getLogger(__name__)


class _Entry:
    """What is known about one computation: its program, or why it has none."""

    def __init__(self):
        self.program: Optional[lowering.Program] = None
        self.reason: Optional[str] = None
        self.failed_modes: Dict[str, str] = {}
        self.traced_modes: set = set()


class LoweredRunner:
    """Runs calls through lowered programs; counts what it ran (`lowered_calls`)."""

    def __init__(self, graphs=tensorflow_executor.FUNCTION_CACHE):
        self._graphs = graphs
        self._entries: "weakref.WeakKeyDictionary[Any, _Entry]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self.lowered_calls = 0

    def reason(self, computation) -> Optional[str]:
        """Why `computation` does not lower (None if it does, or was never tried)."""
        entry = self._entries.get(computation)
        return None if entry is None else entry.reason

    def entry(self, computation: computation_impl.ConcreteComputation) -> _Entry:
        with self._lock:
            entry = self._entries.get(computation)
            if entry is None:
                entry = _Entry()
                try:
                    entry.program = lowering.lower(computation.building_block, self._graphs)
                except lowering.NotLowerable as error:
                    entry.reason = str(error)
                self._entries[computation] = entry
            return entry

    async def run_async(self, computation, argument, num_clients: Optional[int]):
        """`run`, for `execution_context.invoke_async` (it runs in the caller's thread)."""
        return self.run(computation, argument, num_clients)

    def run(self, computation, argument, num_clients: Optional[int]) -> Tuple[bool, Any]:
        """`(True, result)` when the call ran lowered, else `(False, None)`.

        `num_clients` counts the clients when no CLIENTS list in the argument does.
        """
        entry = self.entry(computation)
        program = entry.program
        if program is None:
            return False, None
        try:
            packed = Packer(program, argument, num_clients)
        except (lowering.NotLowerable, TypeError, ValueError) as error:
            _log.debug("%s runs on executors: %s", computation, error)
            return False, None
        for mode in packed.modes:
            if mode in entry.failed_modes:
                continue
            if mode not in entry.traced_modes:
                try:
                    program.trace(mode)
                except lowering.NeedsDatasets as error:
                    entry.failed_modes[mode] = str(error)
                    continue
                except Exception as error:  # noqa: BLE001 - the executors run it instead.
                    entry.failed_modes[mode] = entry.reason = f"{type(error).__name__}: {error}"
                    _log.debug("%s does not lower: %s", computation, entry.reason)
                    return False, None
                entry.traced_modes.add(mode)
            ok, outputs = program.call(mode, packed.inputs(mode))
            if not bool(ok):
                return False, None
            self.lowered_calls += 1
            return True, unpack(program, outputs, packed.num_clients)
        return False, None


class Packer:
    """The argument of one call as the lowered function's flat inputs.

    The CLIENTS lists in the argument give the number of clients; `num_clients`
    gives it when there are none.
    """

    def __init__(self, program: lowering.Program, argument: Any, num_clients: Optional[int]):
        self.num_clients: Optional[int] = None
        parts = _Parts(argument, program.type_signature.parameter)
        member_parts: Dict[tuple, List[_Parts]] = {}
        self._common: List[List[Any]] = []
        self._sequences: Dict[int, List[tf.data.Dataset]] = {}
        leaves = program.parameter_leaves
        for position, leaf in enumerate(leaves):
            if leaf.placement == "server":
                leaf_value, _ = parts.at(leaf.outer + leaf.inner)
                self._common.append([value_conversions.to_tensor(leaf_value, leaf.type_spec)])
                continue
            value, outer_type = parts.at(leaf.outer)
            member = (
                outer_type.member
                if isinstance(outer_type, computation_types.FederatedType)
                else outer_type
            )
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"a CLIENTS value must be a list, got {type(value).__name__}")
            if self.num_clients is None:
                self.num_clients = len(value)
            if len(value) != self.num_clients:
                raise ValueError("CLIENTS values disagree on the number of clients")
            members = value
            if leaf.inner:
                # Each client's value walked once for all of its leaves.
                clients_parts = member_parts.get(leaf.outer)
                if clients_parts is None:
                    clients_parts = member_parts[leaf.outer] = [_Parts(v, member) for v in value]
                members = [p.at(leaf.inner)[0] for p in clients_parts]
            if isinstance(leaf.type_spec, computation_types.SequenceType):
                self._sequences[position] = [
                    value_conversions.to_dataset(m, leaf.type_spec) for m in members
                ]
                self._common.append([])
            else:
                self._common.append([_stack(members, leaf.type_spec)])
        if self.num_clients is None:
            self.num_clients = num_clients
        if program.uses_clients and not self.num_clients:
            raise ValueError("no clients")
        self.has_sequences = bool(self._sequences)
        self._padded: Dict[int, padded_sequences.PaddedSequences] = {}
        self.modes = [lowering.VARIANTS]
        if self._sequences:
            for position, datasets in self._sequences.items():
                padded = padded_sequences.materialize(datasets, leaves[position].type_spec)
                if padded is None:
                    break
                self._padded[position] = padded
            else:
                self.modes = [lowering.PADDED, lowering.VARIANTS]

    def inputs(self, mode: str) -> List[Any]:
        """The flat inputs of `program.function(mode)`."""
        flat: List[Any] = [_count_tensor(self.num_clients or 0)]
        for position in range(len(self._common)):
            flat.extend(self._leaf_inputs(mode, position))
        return flat

    def client_inputs(self, mode: str, positions: List[int]) -> List[Any]:
        """The inputs of the CLIENTS leaves at `positions`: each with a leading client axis."""
        return [value for p in positions for value in self._leaf_inputs(mode, p)]

    def unchanging_client_inputs(self, mode: str, positions: List[int]) -> List[bool]:
        """For each of `client_inputs(mode, positions)`: whether it is a dataset's padded tensor.

        Those are the same tensors, never changed, each time the same datasets are
        passed again.
        """
        return [
            mode == lowering.PADDED and p in self._padded
            for p in positions
            for _ in self._leaf_inputs(mode, p)
        ]

    def _leaf_inputs(self, mode: str, position: int) -> List[Any]:
        if position not in self._sequences:
            return self._common[position]
        if mode == lowering.VARIANTS:
            datasets = self._sequences[position]
            return [tf.stack([tf.data.experimental.to_variant(d) for d in datasets])]
        return _padded_tensors(self._padded[position])


# Eager tensors of recently materialized datasets: a simulation that passes the same
# datasets again (`padded_sequences.materialize` then returns the same arrays) does
# not copy them into new tensors every round.
_TENSORS: "collections.OrderedDict[int, Tuple[Any, List[tf.Tensor]]]" = collections.OrderedDict()
_TENSORS_KEPT = 4


def _padded_tensors(padded: padded_sequences.PaddedSequences) -> List[tf.Tensor]:
    found = _TENSORS.get(id(padded))
    if found is not None and found[0] is padded:
        return found[1]
    arrays = [*padded.elements, *(s for s in padded.sizes if s is not None), padded.counts]
    tensors = [tf.constant(a) for a in arrays]
    _TENSORS[id(padded)] = (padded, tensors)
    while len(_TENSORS) > _TENSORS_KEPT:
        _TENSORS.popitem(last=False)
    return tensors


@functools.lru_cache(maxsize=256)
def _count_tensor(count: int) -> tf.Tensor:
    """The number of clients as the lowered function's first input (kept: it never changes)."""
    with tf.init_scope():  # Eager, even when first asked for inside a trace.
        return tf.constant(count, tf.int32)


class _Parts:
    """The parts of one value at paths (indices through structs, and through placements),
    each container's elements read once however many paths pass through it."""

    def __init__(self, value: Any, type_spec):
        self._found: Dict[tuple, Tuple[Any, Any]] = {(): (value, type_spec)}
        self._elements: Dict[tuple, Tuple[List[Any], Any]] = {}

    def at(self, path: tuple) -> Tuple[Any, Any]:
        """The part at `path` and its type."""
        found = self._found.get(path)
        if found is None:
            parent = path[:-1]
            elements = self._elements.get(parent)
            if elements is None:
                value, type_spec = self.at(parent)
                if isinstance(type_spec, computation_types.FederatedType):
                    type_spec = type_spec.member
                elements = type_conversions.elements_of(value, type_spec), type_spec
                self._elements[parent] = elements
            values, struct_type = elements
            found = self._found[path] = (values[path[-1]], struct_type[path[-1]])
        return found


def _stack(members: List[Any], type_spec: computation_types.TensorType) -> tf.Tensor:
    """Clients' values of one tensor type as one tensor with a leading client axis."""
    try:
        array = np.asarray(members)
    except (TypeError, ValueError) as error:  # Ragged: shapes differ between clients.
        raise lowering.NotLowerable(f"clients' values of different shapes: {error}") from error
    if array.dtype == object:
        raise lowering.NotLowerable("clients' values of different shapes")
    shape = None if type_spec.shape is None else [len(members), *type_spec.shape]
    return value_conversions.to_tensor(array, computation_types.TensorType(type_spec.dtype, shape))


def unpack(program: lowering.Program, outputs, num_clients: int) -> Any:
    """The program's flat outputs as its result's Python value, in the containers its
    type declares (how to build them is worked out on the first call, and kept)."""
    build = program.derived.get("unpack")
    if build is None:
        build = program.derived["unpack"] = _output_builder(program.type_signature.result)
    return build(iter(outputs), num_clients)


def _output_builder(type_spec) -> Callable[[Iterator[tf.Tensor], int], Any]:
    """A function of an iterator over flat outputs and the number of clients that
    builds the Python value of `type_spec` from them."""
    if isinstance(type_spec, computation_types.StructType):
        make = type_conversions.container_maker(type_spec)
        parts = [_output_builder(t) for t in type_spec]
        return lambda leaves, num_clients: make([p(leaves, num_clients) for p in parts])
    if isinstance(type_spec, computation_types.FederatedType):
        member = _member_builder(type_spec.member)
        count = len(dataflow.flatten_types(type_spec.member))
        if type_spec.placement == placements.CLIENTS and not type_spec.all_equal:

            def clients(leaves, num_clients):
                arrays = [next(leaves).numpy() for _ in range(count)]
                return [member(iter([a[k] for a in arrays])) for k in range(num_clients)]

            return clients
        return lambda leaves, _: member(iter([next(leaves).numpy() for _ in range(count)]))
    return lambda leaves, _: _python(next(leaves).numpy())


def _member_builder(type_spec) -> Callable[[Iterator[Any]], Any]:
    """A function of an iterator over numpy leaves that builds a value of `type_spec`."""
    if isinstance(type_spec, computation_types.StructType):
        make = type_conversions.container_maker(type_spec)
        parts = [_member_builder(t) for t in type_spec]
        return lambda leaves: make([p(leaves) for p in parts])
    return lambda leaves: _python(next(leaves))


def _python(value) -> Any:
    """A numpy value as the executors give it: 0-d ones as numpy scalars."""
    array = np.asarray(value)
    return array[()] if array.ndim == 0 else array
