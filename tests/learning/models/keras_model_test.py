"""Tests for tffl/learning/models/keras_model.py: `from_keras_model` and its checks."""

import collections
import math
import re

import numpy as np
import pytest
import tensorflow as tf

from tffl.learning import models

INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 4], tf.float32), y=tf.TensorSpec([None], tf.int32)
)
TUPLE_SPEC = (tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int32))
REGRESSION_SPEC = (tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 1], tf.float32))

# Every example gets the logits [0, 1, 0]: class 1 is predicted, and the
# cross-entropy is ln(1 + 2/e) for label 1 and ln(2 + e) for labels 0 and 2.
LOSS_RIGHT = math.log(1.0 + 2.0 / math.e)
LOSS_WRONG = math.log(2.0 + math.e)

FEATURES_2 = np.zeros([2, 4], np.float32)
LABELS_2 = np.array([1, 0], np.int32)
FEATURES_3 = np.zeros([3, 4], np.float32)
LABELS_3 = np.array([1, 1, 2], np.int32)

# Two features, labels for y = x1 + x2 under a kernel of ones: predictions [3, 7].
X = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
Y = np.array([[1.0], [3.0]], np.float32)
MSE_OF_ONES = 10.0  # ((3 - 1)^2 + (7 - 3)^2) / 2


def keras_classifier():
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(
                3,
                input_shape=(4,),
                kernel_initializer="zeros",
                bias_initializer=tf.keras.initializers.Constant([0.0, 1.0, 0.0]),
            )
        ]
    )


def classifier(metrics="default", input_spec=INPUT_SPEC):
    if metrics == "default":
        metrics = [tf.keras.metrics.SparseCategoricalAccuracy()]
    return models.from_keras_model(
        keras_classifier(),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=input_spec,
        metrics=metrics,
    )


def keras_regression(**dense_kwargs):
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(
                1, input_shape=(2,), kernel_initializer="ones", use_bias=False, **dense_kwargs
            )
        ]
    )


def as_numpy(unfinalized):
    return {name: [np.asarray(v) for v in values] for name, values in unfinalized.items()}


def compiled_regression():
    keras_model = keras_regression()
    keras_model.compile(loss="mse")
    return keras_model


class TestFromKerasModel:
    @pytest.mark.parametrize(
        "input_spec, batch",
        [
            (INPUT_SPEC, collections.OrderedDict(x=FEATURES_2, y=LABELS_2)),
            (INPUT_SPEC, {"x": FEATURES_2, "y": LABELS_2}),
            (TUPLE_SPEC, (FEATURES_2, LABELS_2)),
            (TUPLE_SPEC, [FEATURES_2, LABELS_2]),
        ],
        ids=["ordered-dict", "dict", "tuple", "list"],
    )
    def test_forward_pass_returns_loss_predictions_and_count_when_batch_has_any_form(
        self, input_spec, batch
    ):
        model = classifier(input_spec=input_spec)

        output = model.forward_pass(batch)

        np.testing.assert_allclose(output.loss, (LOSS_RIGHT + LOSS_WRONG) / 2, rtol=1e-6)
        np.testing.assert_array_equal(output.predictions, [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
        assert int(output.num_examples) == 2

    def test_predict_on_batch_returns_the_keras_output_when_given_features_only(self):
        model = classifier()

        predictions = model.predict_on_batch(FEATURES_3, training=False)

        np.testing.assert_array_equal(predictions, [[0.0, 1.0, 0.0]] * 3)

    def test_variables_are_the_keras_models_when_wrapped(self):
        keras_model = keras_classifier()
        model = models.from_keras_model(
            keras_model,
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            input_spec=INPUT_SPEC,
        )

        assert model.trainable_variables == keras_model.trainable_variables
        assert model.non_trainable_variables == []
        assert model.input_spec is INPUT_SPEC

    def test_metrics_are_reported_user_metrics_first_when_built(self):
        model = classifier(
            metrics=[
                tf.keras.metrics.SparseCategoricalAccuracy(),
                tf.keras.metrics.SparseTopKCategoricalAccuracy(k=2),
            ]
        )

        assert list(model.report_local_unfinalized_metrics()) == [
            "sparse_categorical_accuracy",
            "sparse_top_k_categorical_accuracy",
            "loss",
            "num_examples",
            "num_batches",
        ]
        assert list(model.metric_finalizers()) == list(model.report_local_unfinalized_metrics())

    def test_unfinalized_metrics_are_totals_and_counts_when_after_two_batches(self):
        model = classifier()

        model.forward_pass((FEATURES_2, LABELS_2))
        model.forward_pass((FEATURES_3, LABELS_3))

        unfinalized = as_numpy(model.report_local_unfinalized_metrics())
        assert list(unfinalized) == [
            "sparse_categorical_accuracy",
            "loss",
            "num_examples",
            "num_batches",
        ]
        # Correct: 1 of the first batch, 2 of the second.
        np.testing.assert_array_equal(unfinalized["sparse_categorical_accuracy"], [3.0, 5.0])
        # The loss total weights each batch's mean loss by its example count.
        np.testing.assert_allclose(
            unfinalized["loss"], [3 * LOSS_RIGHT + 2 * LOSS_WRONG, 5.0], rtol=1e-6
        )
        assert unfinalized["num_examples"] == [5]
        assert unfinalized["num_batches"] == [2]
        assert unfinalized["num_examples"][0].dtype == np.int64

    def test_finalizers_give_the_keras_metric_results_when_applied_to_the_reports(self):
        model = classifier()
        model.forward_pass((FEATURES_2, LABELS_2))
        model.forward_pass((FEATURES_3, LABELS_3))
        unfinalized = model.report_local_unfinalized_metrics()

        finalized = {
            name: np.asarray(finalize(unfinalized[name]))
            for name, finalize in model.metric_finalizers().items()
        }

        expected_accuracy = tf.keras.metrics.SparseCategoricalAccuracy()
        expected_accuracy.update_state(LABELS_2, [[0.0, 1.0, 0.0]] * 2)
        expected_accuracy.update_state(LABELS_3, [[0.0, 1.0, 0.0]] * 3)
        assert finalized["sparse_categorical_accuracy"] == np.float32(
            expected_accuracy.result().numpy()
        )
        np.testing.assert_allclose(finalized["sparse_categorical_accuracy"], 0.6, rtol=1e-6)
        np.testing.assert_allclose(
            finalized["loss"], (3 * LOSS_RIGHT + 2 * LOSS_WRONG) / 5, rtol=1e-6
        )
        assert finalized["num_examples"] == 5
        assert finalized["num_batches"] == 2

    def test_reset_metrics_zeroes_every_metric_when_after_a_batch(self):
        model = classifier()
        model.forward_pass((FEATURES_3, LABELS_3))

        model.reset_metrics()

        assert as_numpy(model.report_local_unfinalized_metrics()) == {
            "sparse_categorical_accuracy": [0.0, 0.0],
            "loss": [0.0, 0.0],
            "num_examples": [0],
            "num_batches": [0],
        }

    def test_loss_is_the_weighted_sum_when_multi_output_with_loss_weights(self):
        inputs = tf.keras.Input(shape=(2,))
        ones = tf.keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(inputs)
        zeros = tf.keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False)(inputs)
        model = models.from_keras_model(
            tf.keras.Model(inputs, [ones, zeros]),
            loss=[tf.keras.losses.MeanSquaredError(), tf.keras.losses.MeanAbsoluteError()],
            input_spec=(
                tf.TensorSpec([None, 2], tf.float32),
                (tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([None, 1], tf.float32)),
            ),
            loss_weights=[0.5, 2.0],
        )
        second_labels = np.array([[1.0], [-2.0]], np.float32)

        output = model.forward_pass((X, (Y, second_labels)))

        # 0.5 * MSE([3, 7], [1, 3]) + 2.0 * MAE([0, 0], [1, -2]) = 0.5 * 10 + 2.0 * 1.5.
        assert float(output.loss) == 8.0

    def test_loss_weights_default_to_one_when_multi_output_without_weights(self):
        inputs = tf.keras.Input(shape=(2,))
        ones = tf.keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(inputs)
        model = models.from_keras_model(
            tf.keras.Model(inputs, [ones, ones]),
            loss=[tf.keras.losses.MeanSquaredError(), tf.keras.losses.MeanSquaredError()],
            input_spec=(
                tf.TensorSpec([None, 2], tf.float32),
                (tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([None, 1], tf.float32)),
            ),
        )

        output = model.forward_pass((X, (Y, Y)))

        assert float(output.loss) == 2 * MSE_OF_ONES

    def test_regularization_losses_are_added_when_layers_declare_them(self):
        model = models.from_keras_model(
            keras_regression(kernel_regularizer=tf.keras.regularizers.L2(0.25)),
            loss=tf.keras.losses.MeanSquaredError(),
            input_spec=REGRESSION_SPEC,
        )

        output = model.forward_pass((X, Y))

        # 10 + 0.25 * (1^2 + 1^2).
        assert float(output.loss) == 10.5
        np.testing.assert_array_equal(model.report_local_unfinalized_metrics()["loss"], [21.0, 2.0])

    def test_loss_may_be_a_plain_function_when_it_takes_labels_and_predictions(self):
        model = models.from_keras_model(
            keras_regression(),
            loss=lambda y_true, y_pred: tf.reduce_sum(y_pred - y_true),
            input_spec=REGRESSION_SPEC,
        )

        assert float(model.forward_pass((X, Y)).loss) == 6.0  # (3 - 1) + (7 - 3)

    @pytest.mark.parametrize(
        "batch, error, message",
        [
            (
                [X, Y, Y],
                ValueError,
                "batch: expected (x, y) or a mapping with keys 'x' and 'y', got list",
            ),
            (
                {"features": X, "y": Y},
                ValueError,
                "batch: expected a mapping with keys 'x' and 'y', got keys ['features', 'y']",
            ),
        ],
        ids=["three-elements", "mapping-without-x"],
    )
    def test_forward_pass_raises_when_batch_has_another_form(self, batch, error, message):
        model = models.from_keras_model(
            keras_regression(), loss=tf.keras.losses.MeanSquaredError(), input_spec=REGRESSION_SPEC
        )

        with pytest.raises(error, match=re.escape(message)):
            model.forward_pass(batch)

    @pytest.mark.parametrize(
        "arguments, error, message",
        [
            (
                dict(keras_model=object()),
                TypeError,
                "keras_model: expected a tf.keras.Model, got object",
            ),
            (
                dict(keras_model=compiled_regression),
                ValueError,
                "keras_model: expected an uncompiled Keras model (give the loss and metrics to "
                "from_keras_model), got a compiled one",
            ),
            (
                dict(input_spec=(REGRESSION_SPEC[0], REGRESSION_SPEC[1], REGRESSION_SPEC[1])),
                ValueError,
                "input_spec: expected (x, y) or a mapping with keys 'x' and 'y', got tuple",
            ),
            (
                dict(input_spec={"x": REGRESSION_SPEC[0]}),
                ValueError,
                "input_spec: expected a mapping with keys 'x' and 'y', got keys ['x']",
            ),
            (
                dict(input_spec=(REGRESSION_SPEC[0], np.zeros([2, 1], np.float32))),
                TypeError,
                "input_spec: expected tf.TensorSpec leaves, got ndarray",
            ),
            (
                dict(loss="mse"),
                TypeError,
                "loss[0]: expected a Keras loss or a function (y_true, y_pred), got str",
            ),
            (
                dict(loss=[tf.keras.losses.MeanSquaredError(), 2]),
                TypeError,
                "loss[1]: expected a Keras loss or a function (y_true, y_pred), got int",
            ),
            (
                dict(loss_weights=[1.0, 2.0]),
                ValueError,
                "loss_weights: expected 1 weights (one per loss), got 2",
            ),
            (
                dict(metrics=[tf.keras.metrics.Mean(name="loss")]),
                ValueError,
                "metrics: expected distinct names, got ['loss'] more than once "
                "(loss, num_examples and num_batches are always reported)",
            ),
            (
                dict(metrics=[tf.keras.metrics.Mean(name="a"), tf.keras.metrics.Sum(name="a")]),
                ValueError,
                "metrics: expected distinct names, got ['a'] more than once "
                "(loss, num_examples and num_batches are always reported)",
            ),
            (
                dict(metrics=["accuracy"]),
                TypeError,
                "metrics[0]: expected a tf.keras.metrics.Metric or a no-argument function "
                "returning one, got str",
            ),
            (
                dict(metrics=[tf.keras.metrics.MeanAbsoluteError(), lambda: 3]),
                TypeError,
                "metrics[1]: expected a tf.keras.metrics.Metric or a no-argument function "
                "returning one, got int",
            ),
        ],
        ids=[
            "not-a-keras-model",
            "compiled-model",
            "input-spec-of-three",
            "input-spec-mapping-without-y",
            "input-spec-leaf-not-a-spec",
            "loss-a-string",
            "second-loss-not-callable",
            "loss-weights-too-many",
            "metric-named-loss",
            "two-metrics-of-one-name",
            "metric-a-string",
            "metric-function-returning-int",
        ],
    )
    def test_raises_when_an_argument_is_wrong(self, arguments, error, message):
        arguments = {
            "keras_model": keras_regression,
            "loss": tf.keras.losses.MeanSquaredError(),
            "input_spec": REGRESSION_SPEC,
            **arguments,
        }
        if callable(arguments["keras_model"]):
            arguments["keras_model"] = arguments["keras_model"]()

        with pytest.raises(error, match=re.escape(message)):
            models.from_keras_model(**arguments)

    def test_loss_is_weighted_when_a_single_loss_has_a_weight(self):
        model = models.from_keras_model(
            keras_regression(),
            loss=[tf.keras.losses.MeanSquaredError()],
            input_spec=REGRESSION_SPEC,
            loss_weights=[0.5],
        )

        assert float(model.forward_pass((X, Y)).loss) == 0.5 * MSE_OF_ONES

    def test_raises_when_losses_outnumber_the_outputs(self):
        with pytest.raises(
            ValueError,
            match=re.escape("loss: expected 1 losses (one per output of keras_model), got 2"),
        ):
            models.from_keras_model(
                keras_regression(),
                loss=[tf.keras.losses.MeanSquaredError(), tf.keras.losses.MeanAbsoluteError()],
                input_spec=REGRESSION_SPEC,
            )
