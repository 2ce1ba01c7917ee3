"""Tests for tffl/core/autograph_rules.py: tffl's library code is left unconverted,
the user's functions are still converted, wherever tffl calls them from."""

import collections

import numpy as np
import tensorflow as tf
from tensorflow.python.autograph.impl import conversion

import tffl
from tffl.core import autograph_rules
from tffl.learning import models
from tffl.learning.optimizers import optimizer as optimizer_lib
from tffl.learning.templates import model_delta_client_work
from tffl_ops import structure

SPEC = (tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 1], tf.float32))
X = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
Y = np.array([[1.0], [3.0]], np.float32)


def predict(weights, x, training):
    del training
    return tf.matmul(x, weights.trainable[0])


def error_or_double(output, label):
    # A Python `if` on a tensor: it traces only if AutoGraph converts this function.
    error = tf.reduce_mean(output - label)
    if error > 0:
        return error * 2.0
    return -error


def sum_of_errors(output, label):
    return tf.reduce_sum(output - label)


def keras_error_or_double(y_true, y_pred):
    # At module level: a function defined inside converted code is converted with it.
    return error_or_double(y_pred, y_true)


def loss_of_one_batch(make_model, keyed=False):
    """A tf_computation building `make_model()` and returning its loss on (X, Y)
    (as `x` and `y` when `keyed`)."""

    @tffl.tf_computation
    def loss():
        x, y = tf.constant(X), tf.constant(Y)
        batch = collections.OrderedDict(x=x, y=y) if keyed else (x, y)
        return make_model().forward_pass(batch).loss

    return float(loss())


def functional_loss(predict_on_batch_fn, loss_fn):
    """`loss_of_one_batch` of a functional model whose weights are [[1], [1]]."""

    def make_model():
        return models.model_from_functional(
            models.FunctionalModel(
                initial_weights=([np.ones([2, 1], np.float32)], []),
                predict_on_batch_fn=predict_on_batch_fn,
                loss_fn=loss_fn,
                input_spec=SPEC,
            )
        )

    return loss_of_one_batch(make_model)


def keras_loss(keras_model, loss):
    """`loss_of_one_batch` of `from_keras_model(keras_model, loss)`."""

    def make_model():
        return models.from_keras_model(
            keras_model(), loss=loss, input_spec=collections.OrderedDict(x=SPEC[0], y=SPEC[1])
        )

    return loss_of_one_batch(make_model, keyed=True)


class TestRules:
    def test_are_in_place_once_tffl_is_imported(self):
        assert autograph_rules.install()
        assert autograph_rules.install()  # Again: nothing more is added.

    def test_leave_tffl_library_functions_unconverted(self):
        for fn in (structure.map_structure, optimizer_lib.check_specs, models.from_keras_model):
            assert conversion.is_allowlisted(fn), fn

    def test_convert_the_module_whose_loops_rely_on_autograph(self):
        assert not conversion.is_allowlisted(model_delta_client_work.train_on_dataset)

    def test_convert_functions_of_other_modules(self):
        assert not conversion.is_allowlisted(error_or_double)


class TestUserFunctions:
    def test_functional_model_loss_with_python_control_flow_is_converted(self):
        # Predictions [3, 7], labels [1, 3]: mean error 3 > 0, doubled.
        assert functional_loss(predict, error_or_double) == 6.0

    def test_functional_model_predict_with_python_control_flow_is_converted(self):
        def clipped_predict(weights, x, training):
            del training
            out = tf.matmul(x, weights.trainable[0])
            if tf.reduce_max(out) > 5.0:
                out = tf.minimum(out, 5.0)
            return out

        # Predictions [3, 7] clipped to [3, 5]; labels [1, 3].
        assert functional_loss(clipped_predict, sum_of_errors) == 4.0

    def test_keras_model_loss_function_with_python_control_flow_is_converted(self):
        def dense():
            return tf.keras.Sequential(
                [
                    tf.keras.Input([2]),
                    tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="ones"),
                ]
            )

        assert keras_loss(dense, keras_error_or_double) == 6.0

    def test_keras_model_call_with_python_control_flow_is_converted(self):
        # x @ [[1], [1]] = [3, 7], clipped to [3, 5]; labels [1, 3]: errors 2 and 2.
        assert keras_loss(ClippingModel, tf.keras.losses.MeanAbsoluteError()) == 2.0


class ClippingModel(tf.keras.Model):
    """x @ ones, clipped at 5 by a Python `if` on a tensor (Keras converts `call`)."""

    def __init__(self):
        super().__init__()
        self.dense = tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")

    def call(self, x, training=None):
        out = self.dense(x)
        if tf.reduce_max(out) > 5.0:
            out = tf.minimum(out, 5.0)
        return out
