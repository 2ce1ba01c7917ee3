"""Tests for tffl/learning/models/model_signature.py: model functions and their types."""

import collections
import re

import numpy as np
import pytest
import tensorflow as tf

from tffl.learning import models
from tffl.learning.models import model_signature

INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 4], tf.float32), y=tf.TensorSpec([None], tf.int32)
)
MODEL_FN_MESSAGE = (
    "model_fn: expected a no-argument function returning a tffl.learning.models.VariableModel "
    "(it must build a new model on each call), or a FunctionalModel; got "
)


def keras_model():
    return tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,))])


def classifier():
    return models.from_keras_model(
        keras_model(),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=INPUT_SPEC,
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def linear_functional():
    return models.FunctionalModel(
        initial_weights=([np.full([2, 1], 2.0, np.float32)], []),
        predict_on_batch_fn=lambda w, x, training: tf.matmul(x, w.trainable[0]),
        loss_fn=lambda output, label: tf.reduce_mean(tf.square(output - label)),
        input_spec=(tf.TensorSpec([None, 2]), tf.TensorSpec([None, 1])),
    )


class TestAsModelFn:
    def test_builds_a_new_variable_model_each_call_when_given_a_functional_model(self):
        model_fn = model_signature.as_model_fn(linear_functional())

        first, second = model_fn(), model_fn()

        assert isinstance(first, models.VariableModel)
        assert first.trainable_variables[0] is not second.trainable_variables[0]
        np.testing.assert_array_equal(first.trainable_variables[0], [[2.0], [2.0]])

    def test_returns_the_built_model_when_given_a_model_function(self):
        built = []

        def model_fn():
            built.append(classifier())
            return built[-1]

        model = model_signature.as_model_fn(model_fn)()

        assert model is built[0]

    @pytest.mark.parametrize(
        "make_argument, actual",
        [(classifier, "_KerasModel"), (lambda: 3, "int")],
        ids=["a-variable-model-instance", "an-int"],
    )
    def test_raises_when_not_given_a_model_function(self, make_argument, actual):
        with pytest.raises(TypeError, match=re.escape(MODEL_FN_MESSAGE + actual)):
            model_signature.as_model_fn(make_argument())

    def test_model_fn_raises_when_the_function_returns_a_keras_model(self):
        model_fn = model_signature.as_model_fn(keras_model)

        with pytest.raises(
            TypeError,
            match=re.escape(
                "model_fn: expected it to return a tffl.learning.models.VariableModel "
                "(wrap Keras models with from_keras_model), got Sequential"
            ),
        ):
            model_fn()


class TestInspectModel:
    def test_types_describe_weights_batch_and_metrics_when_given_a_keras_model(self):
        signature = model_signature.inspect_model(classifier)

        assert str(signature.weights_type) == (
            "<trainable=<float32[4,3],float32[3]>,non_trainable=<>>"
        )
        assert signature.weights_type.container is models.ModelWeights
        assert str(signature.batch_type) == "<x=float32[?,4],y=int32[?]>"
        assert str(signature.unfinalized_metrics_type) == (
            "<sparse_categorical_accuracy=<float32,float32>,loss=<float32,float32>,"
            "num_examples=<int64>,num_batches=<int64>>"
        )
        assert list(signature.metric_finalizers) == [
            "sparse_categorical_accuracy",
            "loss",
            "num_examples",
            "num_batches",
        ]

    def test_types_describe_a_tuple_batch_when_given_a_functional_model(self):
        signature = model_signature.inspect_model(model_signature.as_model_fn(linear_functional()))

        assert str(signature.weights_type) == "<trainable=<float32[2,1]>,non_trainable=<>>"
        assert str(signature.batch_type) == "<float32[?,2],float32[?,1]>"
        assert str(signature.unfinalized_metrics_type) == (
            "<loss=<float32,float32>,num_examples=<int64>,num_batches=<int64>>"
        )

    def test_model_is_built_once_in_a_graph_when_inspected(self):
        calls = []

        def model_fn():
            calls.append(tf.executing_eagerly())
            return classifier()

        model_signature.inspect_model(model_fn)

        assert calls == [False]
