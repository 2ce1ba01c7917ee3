"""Tests for tffl/learning/templates/finalizers.py: applying the aggregate on the server."""

import re

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.learning import models
from tffl.learning import optimizers
from tffl.learning import templates

F = tffl.FederatedType
S = tffl.SERVER
C = tffl.CLIENTS
STATE = F((), S)
WEIGHTS = models.ModelWeights([np.array([1.0, 2.0], np.float32)], [np.float32(7.0)])


def offset_model():
    """A linear model of two weights with a non-trainable offset."""
    return models.model_from_functional(
        models.FunctionalModel(
            initial_weights=([np.zeros([2], np.float32)], [np.float32(0.0)]),
            predict_on_batch_fn=lambda w, x, training: (
                tf.linalg.matvec(x, w.trainable[0]) + w.non_trainable[0]
            ),
            loss_fn=lambda output, label: tf.reduce_mean(tf.square(output - label)),
            input_spec=(tf.TensorSpec([None, 2]), tf.TensorSpec([None])),
        )
    )


@pytest.fixture(scope="module")
def weights_type():
    return models.weights_type_from_model(offset_model)


@pytest.fixture(scope="module")
def sgd_finalizer(weights_type):
    return templates.build_apply_optimizer_finalizer(
        optimizers.build_sgdm(learning_rate=0.5), weights_type
    )


@tffl.federated_computation()
def empty_state():
    return tffl.federated_value((), S)


class TestBuildApplyOptimizerFinalizer:
    def test_type_signature_takes_weights_and_trainable_update_when_built(self, sgd_finalizer):
        assert str(sgd_finalizer.next.type_signature) == (
            "(<state=<learning_rate=float32>@SERVER,"
            "weights=<trainable=<float32[2]>,non_trainable=<float32>>@SERVER,"
            "update=<float32[2]>@SERVER> -> <state=<learning_rate=float32>@SERVER,"
            "result=<trainable=<float32[2]>,non_trainable=<float32>>@SERVER,"
            "measurements=<update_non_finite=int32>@SERVER>)"
        )
        assert isinstance(sgd_finalizer, templates.FinalizerProcess)

    def test_weights_move_against_the_update_when_the_update_is_finite(self, sgd_finalizer):
        update = [np.array([2.0, -2.0], np.float32)]

        output = sgd_finalizer.next(sgd_finalizer.initialize(), WEIGHTS, update)

        # w - 0.5 * u = [1 - 1, 2 + 1].
        assert isinstance(output.result, models.ModelWeights)
        np.testing.assert_array_equal(output.result.trainable[0], [0.0, 3.0])
        assert output.result.non_trainable[0] == np.float32(7.0)
        assert dict(output.measurements) == {"update_non_finite": 0}
        assert dict(output.state) == {"learning_rate": np.float32(0.5)}

    @pytest.mark.parametrize(
        "update",
        [[np.nan, 1.0], [1.0, np.inf], [-np.inf, np.nan]],
        ids=["nan", "infinity", "both"],
    )
    def test_weights_stay_when_the_update_is_not_finite(self, sgd_finalizer, update):
        output = sgd_finalizer.next(
            sgd_finalizer.initialize(), WEIGHTS, [np.array(update, np.float32)]
        )

        np.testing.assert_array_equal(output.result.trainable[0], [1.0, 2.0])
        assert output.result.non_trainable[0] == np.float32(7.0)
        assert dict(output.measurements) == {"update_non_finite": 1}

    def test_keras_optimizer_function_gives_the_same_step_when_it_is_sgd(self, weights_type):
        finalizer = templates.build_apply_optimizer_finalizer(
            lambda: tf.keras.optimizers.SGD(learning_rate=0.5), weights_type
        )

        output = finalizer.next(
            finalizer.initialize(), WEIGHTS, [np.array([2.0, -2.0], np.float32)]
        )

        np.testing.assert_allclose(output.result.trainable[0], [0.0, 3.0], rtol=1e-6)
        assert output.result.non_trainable[0] == np.float32(7.0)


class TestFinalizerProcess:
    def test_accepts_a_computation_when_weights_and_update_are_at_server(self):
        next_fn = tffl.federated_computation(
            lambda state, weights, update: (state, weights, state),
            STATE,
            F(np.float32, S),
            F(np.float32, S),
        )

        assert templates.FinalizerProcess(empty_state, next_fn).next is next_fn

    @pytest.mark.parametrize(
        "body, types, error, message",
        [
            (
                lambda state, weights, update: (state, tffl.federated_sum(weights), state),
                [F(np.float32, C), F(np.float32, S)],
                tffl.TypeMismatchError,
                "next_fn weights parameter: expected T@SERVER, got {float32}@CLIENTS",
            ),
            (
                lambda state, weights, update: (state, weights, state),
                [F(np.float32, S), F(np.float32, C)],
                tffl.TypeMismatchError,
                "next_fn update parameter: expected T@SERVER, got {float32}@CLIENTS",
            ),
            (
                lambda state, weights, update: (state, update, state),
                [F(np.float32, S), F(np.int32, S)],
                tffl.TypeMismatchError,
                "next_fn result weights: expected float32@SERVER, got int32@SERVER",
            ),
            (
                lambda state, weights, update: (state, tffl.federated_broadcast(weights), state),
                [F(np.float32, S), F(np.float32, S)],
                tffl.TypeMismatchError,
                "next_fn result weights: expected float32@SERVER, got float32@CLIENTS",
            ),
            (
                lambda state, weights: (state, weights, state),
                [F(np.float32, S)],
                TypeError,
                "next_fn: expected parameters <state@SERVER,weights@SERVER,update@SERVER>, "
                "got <state=<>@SERVER,weights=float32@SERVER>",
            ),
        ],
        ids=[
            "weights-at-clients",
            "update-at-clients",
            "result-of-another-type",
            "result-at-clients",
            "no-update-parameter",
        ],
    )
    def test_raises_when_next_fn_has_the_wrong_form(self, body, types, error, message):
        next_fn = tffl.federated_computation(body, STATE, *types)

        with pytest.raises(error, match=re.escape(message)):
            templates.FinalizerProcess(empty_state, next_fn)
