"""Convergence on real data offline: scikit-learn's handwritten digits, split non-IID.

20 training clients hold two digits each (the pathological split of the FedAvg
paper); the test images belong to held-out clients. Everything is seeded, so each
run trains the same models, except for DP noise: tensorflow-privacy draws it
unseeded, so the DP test's bounds leave room for its spread.
"""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl

ROUNDS = 50
CLIENTS_PER_ROUND = 10
INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 64], tf.float32), y=tf.TensorSpec([None], tf.int32)
)


def mlp_model_fn():
    keras_model = tf.keras.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(64,)),
            tf.keras.layers.Dense(
                64, activation="relu", kernel_initializer=tf.keras.initializers.GlorotUniform(1)
            ),
            tf.keras.layers.Dense(10, kernel_initializer=tf.keras.initializers.GlorotUniform(2)),
        ]
    )
    return tffl.learning.models.from_keras_model(
        keras_model,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=INPUT_SPEC,
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def linear_model_fn():
    """Softmax regression: 650 weights, so DP noise (one draw per weight) costs little."""
    keras_model = tf.keras.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(64,)),
            tf.keras.layers.Dense(10, kernel_initializer=tf.keras.initializers.GlorotUniform(2)),
        ]
    )
    return tffl.learning.models.from_keras_model(
        keras_model,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=INPUT_SPEC,
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def _batches(dataset, seed=0, batch_size=8):
    return (
        dataset.shuffle(100, seed=seed)
        .batch(batch_size)
        .map(lambda e: collections.OrderedDict(x=tf.reshape(e["pixels"], [-1, 64]), y=e["label"]))
    )


@pytest.fixture(scope="module")
def digits():
    return tffl.simulation.datasets.digits.load_data()


def _train(process, digits, rounds, evaluate_every=None, model_fn=mlp_model_fn, after_round=None):
    """Runs `rounds` rounds on seeded samples; returns training losses and test accuracies.

    `after_round(round_number)`, when given, is called after each round.
    """
    train, test = digits
    test_batches = _batches(test.create_tf_dataset_from_all_clients(), batch_size=64)
    rng = np.random.default_rng(0)
    state = process.initialize()
    losses, accuracies = [], []
    for round_number in range(1, rounds + 1):
        sampled = rng.choice(len(train.client_ids), CLIENTS_PER_ROUND, replace=False)
        data = [
            _batches(train.create_tf_dataset_for_client(train.client_ids[i]), round_number)
            for i in sampled
        ]
        output = process.next(state, data)
        state = output.state
        losses.append(float(output.metrics["client_work"]["train"]["loss"]))
        if after_round:
            after_round(round_number)
        if evaluate_every and round_number % evaluate_every == 0:
            metrics = tffl.learning.baselines.evaluate_centralized(
                model_fn, process.get_model_weights(state), test_batches
            )
            accuracies.append(float(metrics["sparse_categorical_accuracy"]))
    return losses, accuracies


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
