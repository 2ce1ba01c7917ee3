"""Tests for tffl/learning/baselines.py: centralized training and evaluation."""

import collections
import doctest
import math
import re

import numpy as np
import pytest
import tensorflow as tf

from tffl.learning import baselines
from tffl.learning import models
from tffl.learning import optimizers

SPEC = (tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 1], tf.float32))

# Batches ([1, 0], [0, 1] -> 1, 2) and ([1, 1] -> 4), for y = x @ w on the mean squared error.
DATA = tf.data.Dataset.from_tensor_slices(
    (
        np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32),
        np.array([[1.0], [2.0], [4.0]], np.float32),
    )
).batch(2)


def linear_model():
    return models.FunctionalModel(
        initial_weights=([np.zeros([2, 1], np.float32)], []),
        predict_on_batch_fn=lambda w, x, training: tf.matmul(x, w.trainable[0]),
        loss_fn=lambda output, label: tf.reduce_mean(tf.square(output - label)),
        input_spec=SPEC,
    )


def sgd_by_hand(w, epochs, learning_rate=0.1):
    """The same steps in numpy: w <- w - lr * (2 / n) * X^T (X w - y) per batch."""
    w = np.array(w, np.float64)
    for _ in range(epochs):
        for x, y in DATA.as_numpy_iterator():
            w = w - learning_rate * (2.0 / len(x)) * x.T @ (x @ w - y)
    return w


def classifier():
    return models.from_keras_model(
        tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,))]),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=collections.OrderedDict(
            x=tf.TensorSpec([None, 4], tf.float32), y=tf.TensorSpec([None], tf.int32)
        ),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


class TestTrainCentralized:
    def test_weights_are_the_hand_computed_sgd_steps_when_trained_one_epoch(self):
        weights = baselines.train_centralized(
            linear_model(), DATA, optimizers.build_sgdm(learning_rate=0.1)
        )

        # [0.1, 0.2] after the first batch; then 2 * (0.3 - 4) = -7.4 on each weight.
        np.testing.assert_allclose(weights.trainable[0], [[0.84], [0.94]], rtol=1e-6)
        np.testing.assert_allclose(weights.trainable[0], sgd_by_hand([[0.0], [0.0]], 1), rtol=1e-6)
        assert isinstance(weights, models.ModelWeights)
        assert isinstance(weights.trainable[0], np.ndarray)
        assert weights.non_trainable == []

    def test_weights_take_every_pass_when_trained_two_epochs(self):
        weights = baselines.train_centralized(
            linear_model(), DATA, optimizers.build_sgdm(learning_rate=0.1), epochs=2
        )

        np.testing.assert_allclose(weights.trainable[0], [[1.2756], [1.4656]], rtol=1e-5)
        np.testing.assert_allclose(weights.trainable[0], sgd_by_hand([[0.0], [0.0]], 2), rtol=1e-5)

    def test_training_starts_from_initial_weights_when_given(self):
        weights = baselines.train_centralized(
            linear_model(),
            DATA,
            optimizers.build_sgdm(learning_rate=0.1),
            initial_weights=models.ModelWeights([np.ones([2, 1], np.float32)], []),
        )

        # From [1, 1]: gradient [0, -1] -> [1, 1.1]; then 2 * (2.1 - 4) = -3.8 -> [1.38, 1.48].
        np.testing.assert_allclose(weights.trainable[0], [[1.38], [1.48]], rtol=1e-6)

    def test_model_fn_may_build_a_keras_model_when_wrapped(self):
        def model_fn():
            keras_model = tf.keras.Sequential(
                [tf.keras.layers.Dense(1, input_shape=(2,), use_bias=False)]
            )
            return models.from_keras_model(
                keras_model, loss=tf.keras.losses.MeanSquaredError(), input_spec=SPEC
            )

        weights = baselines.train_centralized(
            model_fn,
            DATA,
            optimizers.build_sgdm(learning_rate=0.1),
            initial_weights=models.ModelWeights([np.zeros([2, 1], np.float32)], []),
        )

        np.testing.assert_allclose(weights.trainable[0], [[0.84], [0.94]], rtol=1e-6)

    def test_keras_optimizer_function_gives_the_same_weights_when_it_is_sgd(self):
        weights = baselines.train_centralized(
            linear_model(), DATA, lambda: tf.keras.optimizers.SGD(learning_rate=0.1)
        )

        np.testing.assert_allclose(weights.trainable[0], [[0.84], [0.94]], rtol=1e-6)

    @pytest.mark.parametrize(
        "arguments, error, message",
        [
            (dict(epochs=0), ValueError, "epochs: expected a positive int, got 0"),
            (
                dict(optimizer_fn=3),
                TypeError,
                "optimizer_fn: expected a tffl.learning.optimizers.Optimizer or a "
                "no-argument function returning a tf.keras.optimizers.Optimizer, got int",
            ),
        ],
        ids=["zero-epochs", "optimizer-an-int"],
    )
    def test_raises_naming_its_own_argument_when_an_argument_is_wrong(
        self, arguments, error, message
    ):
        arguments = {"optimizer_fn": optimizers.build_sgdm(learning_rate=0.1), **arguments}

        with pytest.raises(error, match="^" + re.escape(message)):
            baselines.train_centralized(linear_model(), DATA, **arguments)

    def test_raises_when_the_model_is_not_a_model_function(self):
        with pytest.raises(
            TypeError,
            match=re.escape(
                "model_fn: expected a no-argument function returning a "
                "tffl.learning.models.VariableModel (it must build a new model on each call), "
                "or a FunctionalModel; got str"
            ),
        ):
            baselines.train_centralized("model", DATA, optimizers.build_sgdm(learning_rate=0.1))


class TestEvaluateCentralized:
    def test_loss_is_the_example_weighted_mean_when_evaluated(self):
        metrics = baselines.evaluate_centralized(
            linear_model(), models.ModelWeights([np.ones([2, 1], np.float32)], []), DATA
        )

        # Predictions [1, 1, 2] for labels [1, 2, 4]: squared errors 0, 1 and 4.
        assert list(metrics) == ["loss", "num_examples", "num_batches"]
        np.testing.assert_allclose(metrics["loss"], 5.0 / 3.0, rtol=1e-6)
        assert metrics["num_examples"] == 3
        assert metrics["num_batches"] == 2

    def test_metrics_are_finalized_keras_metrics_when_the_model_has_them(self):
        data = tf.data.Dataset.from_tensor_slices(
            collections.OrderedDict(x=np.zeros([3, 4], np.float32), y=np.array([1, 0, 1], np.int32))
        ).batch(2)
        # A zero kernel and the bias [0, 1, 0]: every example gets the logits [0, 1, 0].
        weights = models.ModelWeights(
            [np.zeros([4, 3], np.float32), np.array([0.0, 1.0, 0.0], np.float32)], []
        )

        metrics = baselines.evaluate_centralized(classifier, weights, data)

        loss_right, loss_wrong = math.log(1.0 + 2.0 / math.e), math.log(2.0 + math.e)
        np.testing.assert_allclose(metrics["sparse_categorical_accuracy"], 2.0 / 3.0, rtol=1e-6)
        np.testing.assert_allclose(metrics["loss"], (2 * loss_right + loss_wrong) / 3, rtol=1e-6)
        assert metrics["num_examples"] == 3

    def test_evaluation_leaves_the_weights_alone_when_run(self):
        weights = models.ModelWeights([np.ones([2, 1], np.float32)], [])

        baselines.evaluate_centralized(linear_model(), weights, DATA)

        np.testing.assert_array_equal(weights.trainable[0], [[1.0], [1.0]])


class TestDocstringExamples:
    def test_docstring_examples_pass(self):
        results = doctest.testmod(baselines, verbose=False, report=True)

        assert results.failed == 0
        assert results.attempted > 0
