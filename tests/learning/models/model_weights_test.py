"""Tests for tffl/learning/models/model_weights.py: `ModelWeights` and its type."""

import re

import numpy as np
import pytest
import tensorflow as tf

from tffl.learning import models
from tffl.types import computation_types

REGRESSION_SPEC = (tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 1], tf.float32))


def dense_model():
    return tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,))])


def normalized_model():
    return tf.keras.Sequential(
        [tf.keras.layers.Dense(3, input_shape=(4,)), tf.keras.layers.BatchNormalization()]
    )


def functional_with_offset():
    """A linear model with a non-trainable scalar offset."""
    return models.FunctionalModel(
        initial_weights=([np.ones([2, 1], np.float32)], [np.float32(3.0)]),
        predict_on_batch_fn=lambda w, x, training: (
            tf.matmul(x, w.trainable[0]) + w.non_trainable[0]
        ),
        loss_fn=lambda output, label: tf.reduce_mean(tf.square(output - label)),
        input_spec=REGRESSION_SPEC,
    )


class TestModelWeights:
    def test_from_model_lists_the_variables_when_given_a_keras_model(self):
        keras_model = normalized_model()

        weights = models.ModelWeights.from_model(keras_model)

        assert weights.trainable == keras_model.trainable_variables
        assert weights.non_trainable == keras_model.non_trainable_variables
        assert [len(weights.trainable), len(weights.non_trainable)] == [4, 2]

    def test_from_model_lists_the_variables_when_given_a_variable_model(self):
        model = models.model_from_functional(functional_with_offset())

        weights = models.ModelWeights.from_model(model)

        assert weights.trainable == model.trainable_variables
        assert weights.non_trainable == model.non_trainable_variables

    def test_from_model_raises_when_given_neither_model_kind(self):
        with pytest.raises(
            TypeError,
            match=re.escape(
                "expected a tffl.learning.models.VariableModel or a tf.keras.Model, got int"
            ),
        ):
            models.ModelWeights.from_model(3)

    def test_assign_weights_to_sets_every_variable_when_counts_match(self):
        keras_model = dense_model()
        kernel = np.arange(12, dtype=np.float32).reshape([4, 3])

        models.ModelWeights([kernel, np.array([1.0, 2.0, 3.0], np.float32)], []).assign_weights_to(
            keras_model
        )

        np.testing.assert_array_equal(keras_model.layers[0].kernel, kernel)
        np.testing.assert_array_equal(keras_model.layers[0].bias, [1.0, 2.0, 3.0])

    def test_assign_weights_to_sets_non_trainable_variables_when_given(self):
        model = models.model_from_functional(functional_with_offset())

        models.ModelWeights([np.zeros([2, 1], np.float32)], [np.float32(-1.0)]).assign_weights_to(
            model
        )

        assert model.non_trainable_variables[0].numpy() == -1.0
        np.testing.assert_array_equal(model.trainable_variables[0], [[0.0], [0.0]])

    @pytest.mark.parametrize(
        "weights, message",
        [
            (
                models.ModelWeights([np.zeros([4, 3], np.float32)], []),
                "trainable weights: expected 2 tensors for the model, got 1",
            ),
            (
                models.ModelWeights([np.zeros([4, 3]), np.zeros([3]), np.zeros([3])], []),
                "trainable weights: expected 2 tensors for the model, got 3",
            ),
            (
                models.ModelWeights([np.zeros([4, 3]), np.zeros([3])], [np.zeros([3])]),
                "non_trainable weights: expected 0 tensors for the model, got 1",
            ),
        ],
        ids=["too-few-trainable", "too-many-trainable", "extra-non-trainable"],
    )
    def test_assign_weights_to_raises_when_the_count_differs(self, weights, message):
        with pytest.raises(ValueError, match=re.escape(message)):
            weights.assign_weights_to(dense_model())

    def test_convert_variables_to_arrays_reads_current_values_when_given_variables(self):
        model = models.model_from_functional(functional_with_offset())

        arrays = models.ModelWeights.from_model(model).convert_variables_to_arrays()
        model.non_trainable_variables[0].assign(5.0)

        assert isinstance(arrays, models.ModelWeights)
        assert all(isinstance(a, np.ndarray) for a in arrays.trainable + arrays.non_trainable)
        np.testing.assert_array_equal(arrays.trainable[0], [[1.0], [1.0]])
        assert arrays.non_trainable[0] == 3.0


class TestWeightsTypeFromModel:
    @pytest.mark.parametrize(
        "model_fn, expected",
        [
            (dense_model, "<trainable=<float32[4,3],float32[3]>,non_trainable=<>>"),
            (
                normalized_model,
                "<trainable=<float32[4,3],float32[3],float32[3],float32[3]>,"
                "non_trainable=<float32[3],float32[3]>>",
            ),
            (
                lambda: models.model_from_functional(functional_with_offset()),
                "<trainable=<float32[2,1]>,non_trainable=<float32>>",
            ),
        ],
        ids=["dense", "batch-normalization", "functional-with-offset"],
    )
    def test_type_lists_each_variable_when_model_is_built(self, model_fn, expected):
        assert str(models.weights_type_from_model(model_fn)) == expected

    def test_containers_are_model_weights_of_lists_when_converted(self):
        weights_type = models.weights_type_from_model(dense_model)

        assert weights_type.container is models.ModelWeights
        assert weights_type.trainable.container is list
        assert weights_type.non_trainable.container is list
        assert weights_type.trainable[0] == computation_types.TensorType(np.float32, [4, 3])

    def test_model_fn_runs_in_a_graph_when_inspected(self):
        calls = []

        def model_fn():
            calls.append(tf.executing_eagerly())
            return dense_model()

        models.weights_type_from_model(model_fn)

        assert calls == [False]

    def test_raises_when_model_fn_returns_no_model(self):
        with pytest.raises(
            TypeError,
            match=re.escape(
                "expected a tffl.learning.models.VariableModel or a tf.keras.Model, got str"
            ),
        ):
            models.weights_type_from_model(lambda: "model")
