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

    def test_negative_strength_is_refused(self):
        with pytest.raises(
            ValueError, match=re.escape("proximal_strength: expected a number >= 0, got -1.0")
        ):
            _build(-1.0)
