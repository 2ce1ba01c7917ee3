"""How a driver combines the partial aggregates of its workers into one result.

Each worker aggregates its shard of clients; these functions combine the
partials, in worker order, the way the federating executor combines clients: sums
start from zero and add in the member's dtype, means divide by the number of
clients, weighted means divide the summed weighted values by the summed weights
(each weight cast to each leaf's dtype first), and secure sums add exact integer
partials (again modulo the modulus). With one worker the results are exactly the
local ones; with several, floating-point sums are grouped by worker (WORKSPACE.md,
"Floating-point order").
"""

from __future__ import annotations

import functools
from typing import Any
from typing import Callable
from typing import List
from typing import Sequence

import numpy as np
import tensorflow as tf

from tffl.core import computation_impl
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.types import computation_types
from tffl.types import type_conversions


def map_leaves(fn: Callable, type_spec: computation_types.Type, *values) -> Any:
    """Applies `fn(leaf_type, *leaves)` leaf-wise across values of one type."""
    if isinstance(type_spec, computation_types.StructType):
        columns = [type_conversions.elements_of(v, type_spec) for v in values]
        return type_conversions.to_container(
            [map_leaves(fn, t, *(c[i] for c in columns)) for i, t in enumerate(type_spec)],
            type_spec,
        )
    return fn(type_spec, *values)


def leaves(value: Any) -> List[Any]:
    """The leaves of a value in its containers, in order."""
    if not type_conversions.is_container(value):
        return [value]
    return [leaf for _, item in type_conversions.container_items(value) for leaf in leaves(item)]


def _sum_leaves(type_spec: computation_types.TensorType, *values) -> np.ndarray:
    dtype = type_spec.dtype.as_numpy_dtype
    total = np.zeros(np.shape(values[0]), dtype)
    for value in values:
        total = total + value
    return np.asarray(total, dtype)


def add(partials: Sequence[Any], member_type: computation_types.Type) -> Any:
    """The sum of partial sums."""
    return map_leaves(_sum_leaves, member_type, *partials)


def mean(partials: Sequence[Any], member_type: computation_types.Type, num_clients: int) -> Any:
    """The mean of `num_clients` clients from their partial sums."""

    def divide(type_spec, *leaves_):
        total = _sum_leaves(type_spec, *leaves_)
        return np.asarray(total / num_clients, type_spec.dtype.as_numpy_dtype)

    return map_leaves(divide, member_type, *partials)


@functools.lru_cache(maxsize=None)
def weighted_partial_sums(
    value_type: computation_types.FederatedType, weight_type: computation_types.FederatedType
) -> computation_impl.ConcreteComputation:
    """What a worker computes for a weighted mean: Σ wᵢxᵢ and, per leaf, Σ wᵢ.

    `(<{T}@CLIENTS,{U}@CLIENTS> -> <T,T'>@SERVER)`, where T' has T's structure with
    a scalar weight sum in each leaf's dtype.
    """
    member = value_type.member

    @tensorflow_computation.tf_computation(member, weight_type.member)
    def weigh(value, weight):
        products = map_leaves(lambda t, x: x * tf.cast(weight, t.dtype), member, value)
        weights = map_leaves(lambda t, x: tf.cast(weight, t.dtype), member, value)
        return products, weights

    @federated_computation.federated_computation(value_type, weight_type)
    def partial_sums(values, weights):
        return intrinsics.federated_sum(intrinsics.federated_map(weigh, [values, weights]))

    return partial_sums


def weighted_mean(partials: Sequence[Any], member_type: computation_types.Type) -> Any:
    """The weighted mean from `weighted_partial_sums` results.

    Raises:
      ValueError: if the weights sum to zero.
    """
    totals = add([p[0] for p in partials], member_type)
    weight_sums = add([p[1] for p in partials], member_type)

    def divide(type_spec, total, weight_sum):
        if weight_sum == 0:
            per_worker = [leaves(p[1])[0].item() for p in partials]
            raise ValueError(
                f"federated_mean: the client weights sum to zero (per-worker sums {per_worker})"
            )
        return np.asarray(total / weight_sum, type_spec.dtype.as_numpy_dtype)

    return map_leaves(divide, member_type, totals, weight_sums)


def secure_sum(
    partials: Sequence[Any],
    member_type: computation_types.Type,
    parameter: Any,
    modular: bool,
) -> Any:
    """The sum of exact partial sums, reduced modulo the modulus for a modular sum.

    Args:
      partials: the workers' sums, each already range-checked and reduced.
      member_type: their type.
      parameter: the modulus (or bitwidth, or largest value), one for all leaves or
        one per leaf.
      modular: whether the sum is modular.
    """
    parameters = [int(p) for p in leaves(parameter)]
    if len(parameters) == 1:
        parameters = parameters * len(leaves(partials[0]))
    bounds = iter(parameters)

    def leaf_sum(type_spec, *leaves_):
        bound = next(bounds)
        total = np.sum(np.stack([np.asarray(x, np.int64) for x in leaves_]), axis=0)
        if modular:
            total = np.mod(total, bound)
        return np.asarray(total, type_spec.dtype.as_numpy_dtype)

    return map_leaves(leaf_sum, member_type, *partials)
