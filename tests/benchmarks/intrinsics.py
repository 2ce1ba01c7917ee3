"""W1 and W2: single intrinsics, tffl against one tf.function doing the same arithmetic.

W1: `federated_mean` of `{float32}@CLIENTS`, called with a Python list of N floats;
the baseline is `tf.reduce_mean` of a float32[N] tensor built beforehand.
W2: broadcast of a `float32[1e6]@SERVER` vector to 10 clients, +1 on each,
`federated_sum`; the baseline adds `x + 1` ten times in one tf.function.
"""

from __future__ import annotations

from typing import Callable
from typing import Tuple

import numpy as np
import tensorflow as tf

from tests.benchmarks import measure
import tffl

W2_CLIENTS = 10
W2_SIZE = 1_000_000


@tffl.federated_computation(tffl.FederatedType(tf.float32, tffl.CLIENTS))
def federated_mean(values):
    return tffl.federated_mean(values)


@tf.function
def reduce_mean(values):
    return tf.reduce_mean(values)


def w1_functions(num_clients: int) -> Tuple[Callable[[], object], Callable[[], object]]:
    """`(tffl, baseline)` no-argument calls of W1 with N = `num_clients`."""
    values = [float(i % 7) for i in range(num_clients)]
    tensor = tf.constant(values, tf.float32)
    return (lambda: federated_mean(values)), (lambda: reduce_mean(tensor))


def w1_check(num_clients: int) -> float:
    """|tffl - baseline| of W1's result."""
    tffl_fn, baseline_fn = w1_functions(num_clients)
    return abs(float(tffl_fn()) - float(baseline_fn()))


@tffl.tf_computation(tffl.TensorType(tf.float32, [W2_SIZE]))
def add_one(x):
    return x + 1.0


@tffl.federated_computation(tffl.FederatedType(tffl.TensorType(tf.float32, [W2_SIZE]), tffl.SERVER))
def broadcast_add_sum(x):
    return tffl.federated_sum(tffl.federated_map(add_one, tffl.federated_broadcast(x)))


@tf.function
def add_one_sum(x):
    # Client order, from zero, as tffl sums.
    total = tf.zeros_like(x)
    for _ in range(W2_CLIENTS):
        total = total + (x + 1.0)
    return total


def w2_functions(context) -> Tuple[Callable[[], object], Callable[[], object]]:
    """`(tffl, baseline)` no-argument calls of W2; tffl runs in `context` (10 clients)."""
    vector = np.linspace(0.0, 1.0, W2_SIZE, dtype=np.float32)
    tensor = tf.constant(vector)
    return measure.called_in(context, lambda: broadcast_add_sum(vector)), (
        lambda: add_one_sum(tensor)
    )


def w2_check(context) -> float:
    """The largest |tffl - baseline| of W2's result."""
    tffl_fn, baseline_fn = w2_functions(context)
    return float(np.max(np.abs(np.asarray(tffl_fn()) - baseline_fn().numpy())))
