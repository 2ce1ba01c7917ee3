"""The digits setup the learning tests train on: models, batches and a seeded round loop.

20 training clients hold two digits each (the pathological split of the FedAvg
paper), 10 are sampled per round, and the test images belong to held-out clients.
"""

import collections
from typing import Any
from typing import List
from typing import NamedTuple

import numpy as np
import tensorflow as tf

import tffl

CLIENTS_PER_ROUND = 10
INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 64], tf.float32), y=tf.TensorSpec([None], tf.int32)
)


def _model(hidden_units):
    layers = [tf.keras.layers.InputLayer(input_shape=(64,))]
    if hidden_units:
        layers.append(
            tf.keras.layers.Dense(
                hidden_units,
                activation="relu",
                kernel_initializer=tf.keras.initializers.GlorotUniform(1),
            )
        )
    layers.append(
        tf.keras.layers.Dense(10, kernel_initializer=tf.keras.initializers.GlorotUniform(2))
    )
    return tffl.learning.models.from_keras_model(
        tf.keras.Sequential(layers),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=INPUT_SPEC,
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def mlp_model_fn():
    """64 → 64 relu → 10, seeded."""
    return _model(64)


def linear_model_fn():
    """Softmax regression: 650 weights, so DP noise (one draw per weight) costs little."""
    return _model(0)


def batches(dataset, seed=0, batch_size=8):
    """Digits elements as shuffled `{'x': float32[?,64], 'y': int32[?]}` batches."""
    return (
        dataset.shuffle(100, seed=seed)
        .batch(batch_size)
        .map(lambda e: collections.OrderedDict(x=tf.reshape(e["pixels"], [-1, 64]), y=e["label"]))
    )


class TrainingRun(NamedTuple):
    losses: List[float]
    accuracies: List[float]
    last_metrics: Any
    state: Any


def train(process, digits, rounds, evaluate_every=None, model_fn=mlp_model_fn, after_round=None):
    """Runs `rounds` rounds on seeded samples of `digits = (train, test)`.

    Test accuracy is measured every `evaluate_every` rounds (and never when None);
    `after_round(round_number)`, when given, is called after each round.
    """
    train_data, test_data = digits
    test_batches = batches(test_data.create_tf_dataset_from_all_clients(), batch_size=64)
    rng = np.random.default_rng(0)
    state = process.initialize()
    losses, accuracies, output = [], [], None
    for round_number in range(1, rounds + 1):
        sampled = rng.choice(len(train_data.client_ids), CLIENTS_PER_ROUND, replace=False)
        data = [
            batches(train_data.create_tf_dataset_for_client(train_data.client_ids[i]), round_number)
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
    return TrainingRun(losses, accuracies, output.metrics if output else None, state)
