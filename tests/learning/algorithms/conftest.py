"""Small models and client data shared by the algorithm tests."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl

INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 4], tf.float32), y=tf.TensorSpec([None], tf.int32)
)


def keras_model_fn():
    keras_model = tf.keras.Sequential(
        [tf.keras.layers.InputLayer(input_shape=(4,)), tf.keras.layers.Dense(3)]
    )
    return tffl.learning.models.from_keras_model(
        keras_model,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=INPUT_SPEC,
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def client_dataset(seed: int, num_examples: int, batch_size: int = 5, poison: bool = False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_examples, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 1).astype(np.int32)
    if poison:
        x[0, 0] = np.nan
    return tf.data.Dataset.from_tensor_slices(collections.OrderedDict(x=x, y=y)).batch(batch_size)


def fixed_weights(seed: int = 0):
    rng = np.random.default_rng(seed)
    return tffl.learning.models.ModelWeights(
        [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)], []
    )


@pytest.fixture(scope="package")
def fed_avg():
    return tffl.learning.algorithms.build_weighted_fed_avg(
        keras_model_fn, tffl.learning.optimizers.build_sgdm(learning_rate=0.1)
    )


def start(process, weights=None):
    """A state of `process` holding `weights` (default: `fixed_weights()`)."""
    state = process.initialize()
    return process.set_model_weights(state, weights or fixed_weights())
