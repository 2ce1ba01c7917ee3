"""How far the lowered path's float results may drift from the executor stack's.

The executor stack adds clients one by one in client order (numpy). The lowered
path adds them in the same order inside its client loops, but reduces values that
need no client work (arguments, broadcasts) with one `tf.reduce_sum` over the
client axis, whose order is TensorFlow's. Each order's rounding error is at most
(N - 1) · u · Σ|x| for N terms, u = 2^-24 for float32; so the two results differ
by at most twice that, and a mean by that over N. WORKSPACE.md states the bound.
"""

import numpy as np
import pytest

import tffl
from tffl.core import context_stack

_U = 2.0**-24


def _both(computation, *args):
    lowered = tffl.backends.local.create_context()
    plain = tffl.backends.local.create_context(lowering=False)
    with context_stack.install(lowered):
        got = computation(*args)
    with context_stack.install(plain):
        expected = computation(*args)
    assert lowered.lowered.lowered_calls == 1
    return got, expected


@tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
def _sum(values):
    return tffl.federated_sum(values)


@tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
def _mean(values):
    return tffl.federated_mean(values)


@tffl.federated_computation(
    tffl.FederatedType(np.float32, tffl.CLIENTS), tffl.FederatedType(np.float32, tffl.CLIENTS)
)
def _weighted_mean(values, weights):
    return tffl.federated_mean(values, weight=weights)


def _values(seed, count):
    rng = np.random.default_rng(seed)
    # Magnitudes over six decades make the order matter.
    return (rng.normal(size=count) * 10.0 ** rng.integers(-3, 3, size=count)).astype(np.float32)


@pytest.mark.parametrize("count", [10, 1000, 20000])
@pytest.mark.parametrize("seed", [0, 1])
def test_sum_differs_by_at_most_the_two_orders_rounding(count, seed):
    values = _values(seed, count)

    got, expected = _both(_sum, list(values))

    bound = 2 * (count - 1) * _U * float(np.sum(np.abs(values)))
    assert abs(float(got) - float(expected)) <= bound


@pytest.mark.parametrize("count", [10, 1000, 20000])
def test_mean_differs_by_at_most_the_bound_over_n(count):
    values = _values(2, count)

    got, expected = _both(_mean, list(values))

    # The division by N rounds once more on each side.
    bound = 2 * (count - 1) * _U * float(np.sum(np.abs(values))) / count
    bound += 2 * _U * abs(float(expected))
    assert abs(float(got) - float(expected)) <= bound


def test_weighted_mean_differs_by_at_most_the_bound():
    values = _values(3, 5000)
    weights = np.random.default_rng(4).integers(1, 50, size=5000).astype(np.float32)

    got, expected = _both(_weighted_mean, list(values), list(weights))

    weighted = values * weights
    total = float(np.sum(weights))
    bound = 2 * (len(values) - 1) * _U * float(np.sum(np.abs(weighted))) / total
    bound += 4 * _U * abs(float(expected))
    assert abs(float(got) - float(expected)) <= bound


def test_sums_of_integers_and_exact_floats_are_equal():
    values = [float(i % 13) - 6.0 for i in range(3000)]

    got, expected = _both(_sum, values)

    assert got == expected == np.float32(sum(values))
