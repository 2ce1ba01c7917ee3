"""Convergence on real data offline: scikit-learn's handwritten digits, split non-IID.

20 training clients hold two digits each (the pathological split of the FedAvg
paper); the test images belong to held-out clients. Everything is seeded, so each
run trains the same models, except for DP noise: tensorflow-privacy draws it
unseeded, so the DP test's bounds leave room for its spread.
"""

import numpy as np
import pytest

from tests.learning import digits_setup
import tffl

ROUNDS = 50
CLIENTS_PER_ROUND = digits_setup.CLIENTS_PER_ROUND
mlp_model_fn = digits_setup.mlp_model_fn
linear_model_fn = digits_setup.linear_model_fn
_batches = digits_setup.batches


@pytest.fixture(scope="module")
def digits():
    return tffl.simulation.datasets.digits.load_data()


def _train(process, digits, rounds, evaluate_every=None, model_fn=mlp_model_fn, after_round=None):
    run = digits_setup.train(process, digits, rounds, evaluate_every, model_fn, after_round)
    return run.losses, run.accuracies


def _smoothed(losses, window):
    return [float(np.mean(losses[i : i + window])) for i in range(0, len(losses), window)]


class TestConvergenceOnDigits:
    def test_weighted_fed_avg_reaches_90_percent_within_50_rounds(self, digits):
        process = tffl.learning.algorithms.build_weighted_fed_avg(
            mlp_model_fn, tffl.learning.optimizers.build_sgdm(learning_rate=0.2), client_epochs=2
        )
        losses, accuracies = _train(process, digits, ROUNDS, evaluate_every=10)
        assert max(accuracies) >= 0.90, accuracies
        assert accuracies[-1] >= 0.90, accuracies
        assert _smoothed(losses, 10) == sorted(_smoothed(losses, 10), reverse=True)

    def test_dp_fed_avg_with_noise_one_half_reaches_80_percent_within_50_rounds(self, digits):
        # DP-FedAvg (McMahan et al., 2018): clip each update to 0.5, add Gaussian noise of
        # stddev 0.5 * 0.5 to the sum, average over 10; server momentum smooths the noise.
        process = tffl.learning.algorithms.build_unweighted_fed_avg(
            linear_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.2),
            server_optimizer_fn=tffl.learning.optimizers.build_sgdm(
                learning_rate=1.0, momentum=0.9
            ),
            model_aggregator=tffl.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
                noise_multiplier=0.5, clients_per_round=CLIENTS_PER_ROUND, clip=0.5
            ),
        )
        tracker = tffl.learning.privacy.EpsilonTracker(
            0.5, CLIENTS_PER_ROUND, population=20, delta=1e-3
        )

        _, accuracies = _train(
            process,
            digits,
            50,
            evaluate_every=10,
            model_fn=linear_model_fn,
            after_round=tracker.after_round,
        )

        # Over 13 runs: the best of rounds 30, 40 and 50 was at least 0.85, round 50 at least 0.838.
        assert max(accuracies[-3:]) >= 0.80, accuracies
        assert accuracies[-1] >= 0.75, accuracies
        epsilons = [epsilon for _, epsilon in tracker.history]
        assert len(epsilons) == 50 and all(a < b for a, b in zip(epsilons, epsilons[1:]))

    def test_fed_sgd_improves_monotonically_in_smoothed_loss(self, digits):
        process = tffl.learning.algorithms.build_fed_sgd(
            mlp_model_fn, server_optimizer_fn=tffl.learning.optimizers.build_sgdm(1.0)
        )
        losses, _ = _train(process, digits, 40)
        smoothed = _smoothed(losses, 10)
        assert all(a > b for a, b in zip(smoothed, smoothed[1:])), smoothed

    def test_fed_prox_improves_monotonically_in_smoothed_loss(self, digits):
        process = tffl.learning.algorithms.build_fed_prox(
            mlp_model_fn,
            proximal_strength=0.01,
            client_optimizer_fn=tffl.learning.optimizers.build_sgdm(learning_rate=0.2),
        )
        losses, _ = _train(process, digits, 40)
        smoothed = _smoothed(losses, 10)
        assert all(a > b for a, b in zip(smoothed, smoothed[1:])), smoothed

    def test_centralized_baseline_of_the_same_model_fn_bounds_federated_accuracy(self, digits):
        train, test = digits
        weights = tffl.learning.baselines.train_centralized(
            mlp_model_fn,
            _batches(train.create_tf_dataset_from_all_clients(), batch_size=16),
            tffl.learning.optimizers.build_sgdm(learning_rate=0.2),
            epochs=20,
        )
        metrics = tffl.learning.baselines.evaluate_centralized(
            mlp_model_fn, weights, _batches(test.create_tf_dataset_from_all_clients(), 0, 64)
        )
        assert metrics["sparse_categorical_accuracy"] >= 0.93
