"""Tests for FedProx: FedAvg plus the proximal term."""

import re

import numpy as np
import pytest

from tests.learning.algorithms import conftest
import tffl


def _build(strength):
    return tffl.learning.algorithms.build_fed_prox(
        conftest.keras_model_fn,
        proximal_strength=strength,
        client_optimizer_fn=tffl.learning.optimizers.build_sgdm(learning_rate=0.2),
    )


def _distance(process, state, new_state):
    before = process.get_model_weights(state).trainable
    after = process.get_model_weights(new_state).trainable
    return np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after, before)))


class TestFedProx:
    def test_zero_strength_is_fed_avg(self, fed_avg):
        prox = _build(0.0)
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 20)]
        fed_avg_fast = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn, tffl.learning.optimizers.build_sgdm(learning_rate=0.2)
        )
        got = prox.get_model_weights(prox.next(conftest.start(prox), data).state)
        want = fed_avg_fast.get_model_weights(
            fed_avg_fast.next(conftest.start(fed_avg_fast), data).state
        )
        for g, w in zip(got.trainable, want.trainable):
            np.testing.assert_array_equal(g, w)

    def test_stronger_proximal_term_keeps_the_model_closer(self):
        data = [conftest.client_dataset(1, 40), conftest.client_dataset(2, 40)]
        distances = []
        for strength in (0.0, 1.0, 4.0):
            process = _build(strength)
            state = conftest.start(process)
            distances.append(_distance(process, state, process.next(state, data).state))
        assert distances[0] > distances[1] > distances[2] > 0

    @pytest.mark.parametrize("strength", [-1.0, True, "0.1"])
    def test_a_strength_that_is_not_a_number_at_least_zero_is_refused(self, strength):
        with pytest.raises(
            ValueError,
            match=re.escape(f"proximal_strength: expected a number >= 0, got {strength!r}"),
        ):
            _build(strength)
        with pytest.raises(ValueError, match="proximal_strength"):
            tffl.learning.algorithms.build_unweighted_fed_prox(
                conftest.keras_model_fn, strength, tffl.learning.optimizers.build_sgdm(0.2)
            )


class TestWeightedAndUnweighted:
    """TFF's names: `build_weighted_fed_prox` and `build_unweighted_fed_prox`."""

    def test_fed_prox_is_the_weighted_variant(self):
        algorithms = tffl.learning.algorithms
        assert algorithms.build_fed_prox is algorithms.build_weighted_fed_prox

    def test_unweighted_with_zero_strength_is_unweighted_fed_avg(self):
        optimizer = tffl.learning.optimizers.build_sgdm(learning_rate=0.2)
        prox = tffl.learning.algorithms.build_unweighted_fed_prox(
            conftest.keras_model_fn, proximal_strength=0.0, client_optimizer_fn=optimizer
        )
        fed_avg = tffl.learning.algorithms.build_unweighted_fed_avg(
            conftest.keras_model_fn, client_optimizer_fn=optimizer
        )
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 40)]
        got = prox.get_model_weights(prox.next(conftest.start(prox), data).state)
        want = fed_avg.get_model_weights(fed_avg.next(conftest.start(fed_avg), data).state)
        for g, w in zip(got.trainable, want.trainable):
            np.testing.assert_array_equal(g, w)

    def test_unweighted_counts_each_client_once(self):
        """With one step per client, the round's update is the plain mean of the clients'."""
        optimizer = tffl.learning.optimizers.build_sgdm(learning_rate=0.2)
        data = [conftest.client_dataset(1, 5), conftest.client_dataset(2, 15, batch_size=15)]
        updates = []
        for client in data:
            single = tffl.learning.algorithms.build_weighted_fed_prox(
                conftest.keras_model_fn, 1.0, optimizer
            )
            after = single.get_model_weights(single.next(conftest.start(single), [client]).state)
            updates.append(after.trainable)
        unweighted = tffl.learning.algorithms.build_unweighted_fed_prox(
            conftest.keras_model_fn, 1.0, optimizer
        )
        got = unweighted.get_model_weights(unweighted.next(conftest.start(unweighted), data).state)
        for index, leaf in enumerate(got.trainable):
            want = (updates[0][index] + updates[1][index]) / 2
            np.testing.assert_allclose(leaf, want, rtol=1e-6, atol=1e-6)
