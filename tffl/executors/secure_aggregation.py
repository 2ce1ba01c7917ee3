"""Secure sums in the federating executor: pairwise masking, dropouts and a survivor threshold.

`federated_secure_sum`, `federated_secure_sum_bitwidth` and
`federated_secure_modular_sum` run the masking protocol of
`tffl_ops.secure_aggregation` (Bonawitz et al. 2017):

1. Key agreement (simulated): a fresh random key per sum seeds one secret per
   client; each client is handed only its own self seed and its row of pair seeds.
2. Each client, in its own child executor and as a TensorFlow computation,
   checks its value's range and masks every leaf modulo that leaf's modulus.
3. The clients listed by `SecureAggregationConfig.dropped_clients` drop out here:
   their seeds are in their partners' masks, but their masked values never reach
   the server. Too few survivors fail the sum (`SecureAggregationError`).
4. The server child sums the survivors' masked values, removes the masks shared
   with dropped clients and the survivors' self masks, and casts to the value's
   dtype: the result is the sum over the survivors.

The federating executor passes each masked value from the client to the server
and never computes an unmasked client value, except to name the offending
minimum and maximum when a client's value is out of range and the sum fails.
What the simulation does not do (there is no key agreement between processes,
the seeds the server rebuilds are derived by this process) is described in
`tffl_ops.secure_aggregation`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from typing import Any
from typing import Awaitable
from typing import Callable
from typing import Collection
from typing import Iterable
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union

import numpy as np
import tensorflow as tf

from tffl.core import tensorflow_computation
from tffl.executors import executor_base
from tffl.types import computation_types
from tffl.types import type_conversions
from tffl_ops import secure_aggregation as masking
from tffl_ops import structure

DroppedClients = Union[Collection[int], Callable[[int], Iterable[int]]]
PerClient = Callable[[Callable[[int, executor_base.Executor], Awaitable[Any]]], Awaitable[List]]

_SEEDS_SPEC = tf.TensorSpec([None, 2], tf.int64)
_INDICES_SPEC = tf.TensorSpec([None], tf.int64)
_pair_seeds = tf.function(masking.pair_seeds, input_signature=[_SEEDS_SPEC, _INDICES_SPEC])


class SecureAggregationError(RuntimeError):
    """A secure sum could not finish: too few clients survived to unmask it."""


@dataclasses.dataclass(frozen=True)
class SecureAggregationConfig:
    """How the local executors run secure sums: which clients drop out, how many must stay.

    Attributes:
      dropped_clients: the clients that drop out of every secure sum after the key
        agreement (their masked values never reach the server, so the result is
        the sum over the others): a collection of client indices, or a function of
        the number of clients returning one, called once per secure sum.
      min_survivors: the fewest clients whose masked values must reach the
        server; below it the sum fails with `SecureAggregationError`. An int is a
        count (at least 1); a float in (0, 1] a fraction of the clients, rounded up.
      observe_masked: if given, called as `observe_masked(client_index, masked)`
        with every masked value the server receives (int64 leaves in the value's
        containers): what the server sees, for audits and tests.

    >>> SecureAggregationConfig(dropped_clients={3}, min_survivors=0.5).threshold(10)
    5
    """

    dropped_clients: DroppedClients = ()
    min_survivors: Union[int, float] = 0.5
    observe_masked: Optional[Callable[[int, Any], None]] = None

    def __post_init__(self):
        dropped = self.dropped_clients
        if not callable(dropped):
            indices = list(dropped)
            if not all(_is_index(i) for i in indices):
                raise TypeError(
                    "SecureAggregationConfig dropped_clients: expected client indices (ints) "
                    f"or a function of the number of clients, got {dropped!r}"
                )
            object.__setattr__(self, "dropped_clients", frozenset(int(i) for i in indices))
        count = self.min_survivors
        is_count = _is_index(count) and count >= 1
        is_fraction = isinstance(count, (float, np.floating)) and 0.0 < count <= 1.0
        if not (is_count or is_fraction):
            raise ValueError(
                "SecureAggregationConfig min_survivors: expected a count (int >= 1) or a "
                f"fraction (float in (0, 1]), got {count!r}"
            )
        if self.observe_masked is not None and not callable(self.observe_masked):
            raise TypeError(
                "SecureAggregationConfig observe_masked: expected a function, got "
                f"{type(self.observe_masked).__name__}"
            )

    def threshold(self, num_clients: int) -> int:
        """The fewest survivors a sum over `num_clients` clients needs."""
        if isinstance(self.min_survivors, (float, np.floating)):
            return max(1, math.ceil(self.min_survivors * num_clients))
        return int(self.min_survivors)

    def dropouts(self, num_clients: int) -> List[int]:
        """The sorted indices of the clients that drop out of a sum over `num_clients`.

        Raises:
          ValueError: if an index is not a client's.
        """
        dropped = self.dropped_clients
        indices = list(dropped(num_clients) if callable(dropped) else dropped)
        for index in indices:
            if not _is_index(index) or not 0 <= index < num_clients:
                raise ValueError(
                    f"SecureAggregationConfig dropped_clients: client index {index!r} is "
                    f"outside [0, {num_clients})"
                )
        return sorted({int(i) for i in indices})


def _is_index(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


# What a secure sum's parameter is: a bitwidth, a modulus, or the largest value.
BITWIDTH = "bitwidth"
MODULUS = "modulus"
MAX_INPUT = "max_input"
KINDS = (BITWIDTH, MODULUS, MAX_INPUT)
# The kind of parameter each secure-sum intrinsic takes, by the intrinsic's URI.
KIND_OF_INTRINSIC = {
    "federated_secure_sum": MAX_INPUT,
    "federated_secure_sum_bitwidth": BITWIDTH,
    "federated_secure_modular_sum": MODULUS,
}


def moduli_and_bounds(
    label: str, parameters: Sequence[int], num_clients: int, kind: str
) -> Tuple[List[int], List[int]]:
    """Each leaf's modulus and the bound its values must stay below.

    A bitwidth `b` bounds values by `2**b`; the sum of `n` of them needs
    `ceil(log2(n))` more bits, so the modulus `2**(b + ceil(log2(n)))` returns
    the exact sum. A largest value `m` bounds values by `m + 1` and is summed as
    the bitwidth that holds it, `m.bit_length()`. A modulus bounds values and is
    used as it is.

    >>> moduli_and_bounds("s", [8, 0], 5, BITWIDTH)
    ([2048, 8], [256, 1])
    >>> moduli_and_bounds("s", [100], 5, MAX_INPUT)
    ([1024], [101])

    Raises:
      ValueError: naming `label`, for a negative bitwidth or largest value, a
        sum that needs a modulus above `2**62`, or an unsupported modulus.
    """
    if kind not in KINDS:
        raise ValueError(f"{label}: expected a parameter kind in {KINDS}, got {kind!r}")
    moduli, bounds = [], []
    extra_bits = max(num_clients - 1, 0).bit_length()
    name = "a bitwidth" if kind == BITWIDTH else "a max_input"
    for parameter in parameters:
        if kind == MODULUS:
            try:
                moduli.append(masking.check_modulus(parameter))
            except ValueError as error:
                raise ValueError(f"{label}: {error}") from None
            bounds.append(parameter)
            continue
        if parameter < 0:
            raise ValueError(f"{label}: expected {name} >= 0, got {parameter}")
        bits = parameter if kind == BITWIDTH else parameter.bit_length()
        if 2 ** (bits + extra_bits) > masking.MAX_MODULUS:
            raise ValueError(
                f"{label}: {name} of {parameter} over {num_clients} clients needs a "
                f"modulus of 2**{bits + extra_bits}, above the largest, 2**62"
            )
        moduli.append(2 ** (bits + extra_bits))
        bounds.append(2**parameter if kind == BITWIDTH else parameter + 1)
    return moduli, bounds


def tensor_types(type_spec: computation_types.Type) -> List[computation_types.TensorType]:
    """The tensor types of a tensor or (nested) struct type, depth first: one per leaf."""
    if isinstance(type_spec, computation_types.StructType):
        return [leaf for element in type_spec for leaf in tensor_types(element)]
    return [type_spec]


def _pack(type_spec: computation_types.Type, leaves) -> Any:
    """Leaves (an iterator) in the containers of `type_spec`."""
    if isinstance(type_spec, computation_types.StructType):
        return type_conversions.to_container([_pack(t, leaves) for t in type_spec], type_spec)
    return next(leaves)


def _is_flat(leaf_type: computation_types.TensorType) -> bool:
    return leaf_type.shape is not None and None not in leaf_type.shape


def mask_groups(
    leaf_types: Sequence[computation_types.TensorType], parameters: Sequence[int]
) -> Tuple[int, ...]:
    """The group of each leaf: leaves of known shape with one parameter are masked as one vector.

    Masking a group costs one loop over the clients however many leaves it holds,
    so a model's weights with one bitwidth make one group. A leaf of unknown shape
    is a group of its own.

    >>> from tffl.types import computation_types as ct
    >>> mask_groups([ct.TensorType('int32', [2]), ct.TensorType('int32', [None]),
    ...              ct.TensorType('int32', [3]), ct.TensorType('int32')], [8, 8, 8, 1])
    (0, 1, 0, 2)
    """
    keys = {}
    groups = []
    for index, (leaf_type, parameter) in enumerate(zip(leaf_types, parameters)):
        key = ("flat", parameter) if _is_flat(leaf_type) else ("alone", index)
        groups.append(keys.setdefault(key, len(keys)))
    return tuple(groups)


def _members(groups: Sequence[int], group: int) -> List[int]:
    return [leaf for leaf, g in enumerate(groups) if g == group]


@functools.lru_cache(maxsize=None)
def _client_masking(value_type: computation_types.Type, groups: Tuple[int, ...]):
    """`(<value=T,...> -> <<int64 per group>,bool[L]>)`: masked groups and range checks."""
    leaf_types = tensor_types(value_type)
    group_count = max(groups, default=-1) + 1

    @tf.autograph.experimental.do_not_convert
    def mask(value, pair_seeds, self_seed, client_index, moduli, bounds):
        leaves = [tf.cast(leaf, tf.int64) for leaf in structure.flatten(value)]
        in_range = [
            tf.reduce_all(tf.logical_and(leaf >= 0, leaf < bounds[index]))
            for index, leaf in enumerate(leaves)
        ]
        masked = []
        for group in range(group_count):
            members = _members(groups, group)
            if _is_flat(leaf_types[members[0]]):
                vector = tf.concat([tf.reshape(leaves[m], [-1]) for m in members], axis=0)
            else:
                vector = leaves[members[0]]
            masked.append(
                masking.mask(
                    vector,
                    client_index,
                    masking.fold_in(pair_seeds, group),
                    moduli[group],
                    masking.fold_in(self_seed, group),
                )
            )
        checks = tf.stack(in_range) if in_range else tf.zeros([0], tf.bool)
        return tuple(masked), checks

    int64 = tf.int64
    return tensorflow_computation.tf_computation(
        mask,
        value_type,
        computation_types.TensorType(int64, [None, 2]),
        computation_types.TensorType(int64, [2]),
        computation_types.TensorType(int64),
        computation_types.TensorType(int64, [group_count]),
        computation_types.TensorType(int64, [len(leaf_types)]),
    )


def _leaf_size(leaf_type: computation_types.TensorType) -> int:
    return int(np.prod(leaf_type.shape, dtype=np.int64))


@functools.lru_cache(maxsize=None)
def _server_unmasking(value_type: computation_types.Type, groups: Tuple[int, ...]):
    """`(<masked=<int64[?,...] per group>,...> -> T)`: the survivors' sum in T's dtypes."""
    leaf_types = tensor_types(value_type)
    group_count = max(groups, default=-1) + 1
    int64 = tf.int64
    stacked = []
    for group in range(group_count):
        first = leaf_types[_members(groups, group)[0]]
        if _is_flat(first):
            size = sum(_leaf_size(leaf_types[m]) for m in _members(groups, group))
            stacked.append(computation_types.TensorType(int64, [None, size]))
        else:
            shape = (None,) if first.shape is None else (None,) + tuple(first.shape)
            stacked.append(computation_types.TensorType(int64, shape if first.shape else None))
    stacked_type = computation_types.StructType(stacked, container=tuple)

    @tf.autograph.experimental.do_not_convert
    def unmask(masked, survivors, dropped, dropped_seeds, survivor_self_seeds, moduli):
        leaves: List[Any] = [None] * len(leaf_types)
        for group in range(group_count):
            modulus = moduli[group]
            total = masking.modular_sum(masked[group], modulus)
            total = masking.unmask_dropouts(
                total, survivors, dropped, masking.fold_in(dropped_seeds, group), modulus
            )
            total = masking.remove_self_masks(
                total, masking.fold_in(survivor_self_seeds, group), modulus
            )
            members = _members(groups, group)
            if _is_flat(leaf_types[members[0]]):
                parts = tf.split(total, [_leaf_size(leaf_types[m]) for m in members])
                for member, part in zip(members, parts):
                    leaves[member] = tf.reshape(part, leaf_types[member].shape)
            else:
                leaves[members[0]] = total
        cast = [tf.cast(leaf, t.dtype) for leaf, t in zip(leaves, leaf_types)]
        return _pack(value_type, iter(cast))

    return tensorflow_computation.tf_computation(
        unmask,
        stacked_type,
        computation_types.TensorType(int64, [None]),
        computation_types.TensorType(int64, [None]),
        computation_types.TensorType(int64, [None, None, 2]),
        computation_types.TensorType(int64, [None, 2]),
        computation_types.TensorType(int64, [group_count]),
    )


def _masked_leaves(masked_groups, leaf_types, groups) -> List[np.ndarray]:
    """A client's masked groups cut back into leaves: what the server holds, leaf by leaf."""
    leaves: List[Any] = [None] * len(leaf_types)
    for group, vector in enumerate(masked_groups):
        members = _members(groups, group)
        if not _is_flat(leaf_types[members[0]]):
            leaves[members[0]] = vector
            continue
        offsets = np.cumsum([0] + [_leaf_size(leaf_types[m]) for m in members])
        for member, start, stop in zip(members, offsets[:-1], offsets[1:]):
            leaves[member] = np.reshape(vector[start:stop], leaf_types[member].shape)
    return leaves


async def _call_with(executor, computation, named_values: Sequence[Tuple[str, Any, Any]]):
    """Calls `computation` in `executor`; the argument is built from (name, value, type)."""
    fn = await executor.create_value(computation.building_block, computation.type_signature)
    elements = []
    for name, value, type_spec in named_values:
        if not isinstance(value, executor_base.ExecutorValue):
            value = await executor.create_value(value, type_spec)
        elements.append((name, value))
    return await executor.create_call(fn, await executor.create_struct(elements))


async def secure_sum(
    config: SecureAggregationConfig,
    label: str,
    members: Sequence[executor_base.ExecutorValue],
    member_type: computation_types.Type,
    parameters: Sequence[int],
    kind: str,
    per_client: PerClient,
    server: executor_base.Executor,
) -> executor_base.ExecutorValue:
    """Runs one secure sum; returns the sum over the survivors as a value of `server`.

    Args:
      config: dropouts and the survivor threshold.
      label: the intrinsic's name, to start error messages.
      members: each client's value, a value of that client's executor.
      member_type: the values' type `T`, integer tensors or a struct of them.
      parameters: one bitwidth, modulus or largest value per leaf of `T`.
      kind: which of these they are: `BITWIDTH`, `MODULUS` or `MAX_INPUT`.
      per_client: runs `work(index, executor)` for every client, concurrently.
      server: the server's executor.

    Raises:
      ValueError: if there are no clients, a parameter is unsupported, or a
        survivor's value is out of range.
      SecureAggregationError: if fewer clients survive than the threshold.
    """
    num_clients = len(members)
    if not num_clients:
        raise ValueError(f"{label} over zero clients")
    moduli, bounds = moduli_and_bounds(label, parameters, num_clients, kind)
    dropped = config.dropouts(num_clients)
    survivors = sorted(set(range(num_clients)) - set(dropped))
    threshold = config.threshold(num_clients)
    if len(survivors) < threshold:
        raise SecureAggregationError(
            f"{label}: {len(survivors)} of {num_clients} clients survived, "
            f"below the threshold of {threshold}"
        )

    # The simulated key agreement: one fresh random key per sum.
    round_key = np.frombuffer(os.urandom(16), np.int64)
    secrets = masking.client_secrets(round_key, num_clients)
    self_seeds = masking.self_seeds(secrets).numpy()
    bounds_array = np.asarray(bounds, np.int64)
    leaf_types = tensor_types(member_type)
    groups = mask_groups(leaf_types, parameters)
    group_moduli = np.asarray(
        [moduli[_members(groups, g)[0]] for g in range(max(groups, default=-1) + 1)], np.int64
    )
    client_fn = _client_masking(member_type, groups)
    seeds_type = client_fn.type_signature.parameter
    dropped_set = set(dropped)

    async def mask_on_client(index, executor):
        if index in dropped_set:
            return None
        row = _pair_seeds(secrets, tf.constant([index], tf.int64))[0].numpy()
        arguments = [
            ("value", members[index], None),
            ("pair_seeds", row, seeds_type[1]),
            ("self_seed", self_seeds[index], seeds_type[2]),
            ("client_index", np.int64(index), seeds_type[3]),
            ("moduli", group_moduli, seeds_type[4]),
            ("bounds", bounds_array, seeds_type[5]),
        ]
        return await (await _call_with(executor, client_fn, arguments)).compute()

    received = await per_client(mask_on_client)
    for index in survivors:
        _, in_range = received[index]
        if not np.all(in_range):
            await _raise_out_of_range(label, index, members[index], bounds, in_range)
    if config.observe_masked is not None:
        for index in survivors:
            leaves = _masked_leaves(received[index][0], leaf_types, groups)
            config.observe_masked(index, _pack(member_type, iter(leaves)))

    server_fn = _server_unmasking(member_type, groups)
    server_types = server_fn.type_signature.parameter
    stacked = tuple(
        np.stack([received[i][0][group] for i in survivors]) for group in range(len(group_moduli))
    )
    dropped_seeds = _pair_seeds(secrets, tf.constant(dropped, tf.int64, [len(dropped)])).numpy()
    arguments = [
        ("masked", stacked, server_types[0]),
        ("survivors", np.asarray(survivors, np.int64), server_types[1]),
        ("dropped", np.asarray(dropped, np.int64), server_types[2]),
        ("dropped_seeds", dropped_seeds, server_types[3]),
        ("survivor_self_seeds", self_seeds[survivors], server_types[4]),
        ("moduli", group_moduli, server_types[5]),
    ]
    return await _call_with(server, server_fn, arguments)


async def _raise_out_of_range(label, index, member, bounds, in_range):
    # The sum is abandoned: this client's value is read only to say what was wrong.
    value = await member.compute()
    leaves = structure.flatten(value)
    leaf = int(np.argmin(in_range))
    array = np.asarray(leaves[leaf])
    raise ValueError(
        f"{label}: client {index} has values outside [0, {bounds[leaf]}): "
        f"min {array.min()}, max {array.max()}"
    )
