"""Tests for tffl/learning/models/functional.py: `FunctionalModel` and `model_from_functional`."""

import collections
import re

import numpy as np
import pytest
import tensorflow as tf

from tffl.learning import models

REGRESSION_SPEC = (tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 1], tf.float32))
X = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
Y = np.array([[1.0], [3.0]], np.float32)


def predict(weights, x, training):
    return tf.matmul(x, weights.trainable[0]) + weights.non_trainable[0]


def mean_squared_error(output, label):
    return tf.reduce_mean(tf.square(output - label))


def offset_model(input_spec=REGRESSION_SPEC, predict_on_batch_fn=predict):
    """y = x @ [[1], [1]] + 3, the offset non-trainable."""
    return models.FunctionalModel(
        initial_weights=([np.ones([2, 1], np.float32)], [np.float32(3.0)]),
        predict_on_batch_fn=predict_on_batch_fn,
        loss_fn=mean_squared_error,
        input_spec=input_spec,
    )


class TestFunctionalModel:
    def test_initial_weights_are_model_weights_of_arrays_when_given_lists(self):
        model = models.FunctionalModel(
            initial_weights=([[[1.0], [2.0]]], [3]),
            predict_on_batch_fn=predict,
            loss_fn=mean_squared_error,
            input_spec=REGRESSION_SPEC,
        )

        assert isinstance(model.initial_weights, models.ModelWeights)
        np.testing.assert_array_equal(model.initial_weights.trainable[0], [[1.0], [2.0]])
        assert isinstance(model.initial_weights.non_trainable[0], np.ndarray)
        assert model.predict_on_batch is predict
        assert model.loss is mean_squared_error
        assert model.input_spec is REGRESSION_SPEC

    @pytest.mark.parametrize(
        "arguments, error, message",
        [
            (
                dict(initial_weights=[np.zeros([2, 1])]),
                TypeError,
                "initial_weights: expected (trainable, non_trainable), got list",
            ),
            (
                dict(initial_weights=np.zeros([2, 1])),
                TypeError,
                "initial_weights: expected (trainable, non_trainable), got ndarray",
            ),
            (
                dict(predict_on_batch_fn=3),
                TypeError,
                "predict_on_batch_fn: expected a function, got int",
            ),
            (dict(loss_fn=None), TypeError, "loss_fn: expected a function, got NoneType"),
            (
                dict(input_spec=REGRESSION_SPEC[0]),
                ValueError,
                "input_spec: expected (x, y) or a mapping with keys 'x' and 'y', got TensorSpec",
            ),
            (
                dict(input_spec={"x": REGRESSION_SPEC[0], "label": REGRESSION_SPEC[1]}),
                ValueError,
                "input_spec: expected a mapping with keys 'x' and 'y', got keys ['label', 'x']",
            ),
        ],
        ids=[
            "weights-of-one-part",
            "weights-an-array",
            "predict-not-callable",
            "loss-not-callable",
            "spec-one-tensor",
            "spec-mapping-without-y",
        ],
    )
    def test_raises_when_an_argument_is_wrong(self, arguments, error, message):
        arguments = {
            "initial_weights": ([np.ones([2, 1], np.float32)], []),
            "predict_on_batch_fn": predict,
            "loss_fn": mean_squared_error,
            "input_spec": REGRESSION_SPEC,
            **arguments,
        }

        with pytest.raises(error, match=re.escape(message)):
            models.FunctionalModel(**arguments)


class TestModelFromFunctional:
    def test_variables_start_at_the_initial_weights_when_built(self):
        model = models.model_from_functional(offset_model())

        np.testing.assert_array_equal(model.trainable_variables[0], [[1.0], [1.0]])
        assert model.non_trainable_variables[0].numpy() == 3.0
        assert model.trainable_variables[0].trainable
        assert not model.non_trainable_variables[0].trainable
        assert model.input_spec is REGRESSION_SPEC

    def test_each_model_has_its_own_variables_when_built_twice(self):
        functional = offset_model()
        first = models.model_from_functional(functional)
        second = models.model_from_functional(functional)

        first.trainable_variables[0].assign([[5.0], [5.0]])

        np.testing.assert_array_equal(second.trainable_variables[0], [[1.0], [1.0]])
        np.testing.assert_array_equal(functional.initial_weights.trainable[0], [[1.0], [1.0]])

    @pytest.mark.parametrize(
        "input_spec, batch",
        [
            (REGRESSION_SPEC, (X, Y)),
            (collections.OrderedDict(x=REGRESSION_SPEC[0], y=REGRESSION_SPEC[1]), {"x": X, "y": Y}),
        ],
        ids=["tuple", "mapping"],
    )
    def test_forward_pass_applies_the_functions_when_batch_has_either_form(self, input_spec, batch):
        model = models.model_from_functional(offset_model(input_spec=input_spec))

        output = model.forward_pass(batch)

        # Predictions [1 + 2 + 3, 3 + 4 + 3] = [6, 10]; squared errors 25 and 49.
        np.testing.assert_array_equal(output.predictions, [[6.0], [10.0]])
        assert float(output.loss) == 37.0
        assert int(output.num_examples) == 2

    @pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
    def test_training_flag_reaches_predict_on_batch_fn_when_given(self, training):
        seen = []

        def recording_predict(weights, x, training):
            seen.append(training)
            return predict(weights, x, training)

        model = models.model_from_functional(offset_model(predict_on_batch_fn=recording_predict))

        model.forward_pass((X, Y), training=training)
        model.predict_on_batch(X, training=training)

        assert seen == [training, training]

    def test_metrics_include_the_constructed_metrics_when_given_constructors(self):
        model = models.model_from_functional(
            offset_model(), metric_constructors=[tf.keras.metrics.MeanAbsoluteError]
        )

        model.forward_pass((X, Y))

        unfinalized = model.report_local_unfinalized_metrics()
        assert {name: [float(v) for v in values] for name, values in unfinalized.items()} == {
            "mean_absolute_error": [12.0, 2.0],  # |6 - 1| + |10 - 3|
            "loss": [74.0, 2.0],
            "num_examples": [2.0],
            "num_batches": [1.0],
        }
        assert model.metric_finalizers()["mean_absolute_error"](
            unfinalized["mean_absolute_error"]
        ).numpy() == np.float32(6.0)
        assert len(model.local_variables) == 6

    def test_reset_metrics_zeroes_the_metrics_when_after_a_batch(self):
        model = models.model_from_functional(offset_model())
        model.forward_pass((X, Y))

        model.reset_metrics()

        unfinalized = model.report_local_unfinalized_metrics()
        assert [float(v) for values in unfinalized.values() for v in values] == [0.0] * 4

    def test_raises_when_not_given_a_functional_model(self):
        with pytest.raises(
            TypeError,
            match=re.escape(
                "functional_model: expected a tffl.learning.models.FunctionalModel, got Sequential"
            ),
        ):
            models.model_from_functional(tf.keras.Sequential([tf.keras.layers.Dense(1)]))
