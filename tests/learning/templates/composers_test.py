"""Tests for tffl/learning/templates/composers.py: four parts composed into a learning process.

The parts: a broadcast, FedAvg client work on a linear regression (SGD 0.1 on
the clients), a weighted mean of the updates and SGD 1.0 on the server.
"""

import collections
import re

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.learning import models
from tffl.learning import optimizers
from tffl.learning import templates

SPEC = (tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 1], tf.float32))


def linear_model():
    return models.FunctionalModel(
        initial_weights=([np.zeros([2, 1], np.float32)], []),
        predict_on_batch_fn=lambda w, x, training: tf.matmul(x, w.trainable[0]),
        loss_fn=lambda output, label: tf.reduce_mean(tf.square(output - label)),
        input_spec=SPEC,
    )


def dataset(x, y, batch_size):
    return tf.data.Dataset.from_tensor_slices(
        (np.array(x, np.float32), np.array(y, np.float32))
    ).batch(batch_size)


# One SGD step each from zero, on the mean squared error: client A
# (2 examples) ends at [0.1, 0.2], client B (1 example) at [0.8, 0.8].
CLIENT_A = dataset([[1.0, 0.0], [0.0, 1.0]], [[1.0], [2.0]], batch_size=2)
CLIENT_B = dataset([[1.0, 1.0]], [[4.0]], batch_size=1)


@tffl.tf_computation
def zero_weights():
    return models.ModelWeights([tf.zeros([2, 1])], [])


@pytest.fixture(scope="module")
def parts():
    weights_type = zero_weights.type_signature.result
    client_work = templates.build_model_delta_client_work(
        linear_model(),
        optimizers.build_sgdm(learning_rate=0.1),
        tffl.learning.ClientWeighting.NUM_EXAMPLES,
    )
    return collections.OrderedDict(
        initial_model_weights_fn=zero_weights,
        model_weights_distributor=templates.build_broadcast_process(weights_type),
        client_work=client_work,
        model_update_aggregator=tffl.aggregators.MeanFactory().create(
            client_work.next.type_signature.result[1].member[0], tffl.TensorType(np.float32)
        ),
        model_finalizer=templates.build_apply_optimizer_finalizer(
            optimizers.build_sgdm(learning_rate=1.0), weights_type
        ),
    )


@pytest.fixture(scope="module")
def process(parts):
    return templates.compose_learning_process(**parts)


@pytest.fixture(scope="module")
def first_round(process):
    return process.next(process.initialize(), [CLIENT_A, CLIENT_B])


class TestComposeLearningProcess:
    def test_state_holds_the_weights_and_each_parts_state_when_initialized(self, process):
        state = process.initialize()

        assert isinstance(process, templates.LearningProcess)
        assert isinstance(state, templates.LearningAlgorithmState)
        np.testing.assert_array_equal(state.global_model_weights.trainable[0], [[0.0], [0.0]])
        assert state.distributor == ()
        assert state.client_work == ()
        assert dict(state.finalizer) == {"learning_rate": np.float32(1.0)}

    def test_weights_move_by_the_weighted_mean_update_when_a_round_runs(self, first_round):
        # Updates [-0.1, -0.2] (weight 2) and [-0.8, -0.8] (weight 1): mean [-1/3, -0.4].
        np.testing.assert_allclose(
            first_round.state.global_model_weights.trainable[0], [[1 / 3], [0.4]], rtol=1e-6
        )

    def test_metrics_hold_each_parts_measurements_when_a_round_runs(self, process, first_round):
        metrics = first_round.metrics

        assert list(metrics) == ["distributor", "client_work", "aggregator", "finalizer"]
        assert str(process.next.type_signature.result[1]) == (
            "<distributor=<>,client_work=<train=<loss=float32,num_examples=int64,"
            "num_batches=int64>>,aggregator=<mean_value=<>,mean_weight=<>>,"
            "finalizer=<update_non_finite=int32>>@SERVER"
        )
        # (2.5 * 2 + 16 * 1) / 3 examples.
        assert dict(metrics["client_work"]["train"]) == {
            "loss": np.float32(7.0),
            "num_examples": 3,
            "num_batches": 2,
        }
        assert dict(metrics["finalizer"]) == {"update_non_finite": 0}

    def test_get_model_weights_returns_what_set_model_weights_stored_when_round_tripped(
        self, process
    ):
        state = process.initialize()
        weights = models.ModelWeights([np.array([[1.0], [2.0]], np.float32)], [])

        new_state = process.set_model_weights(state, weights)

        assert isinstance(new_state, templates.LearningAlgorithmState)
        read = process.get_model_weights(new_state)
        assert isinstance(read, models.ModelWeights)
        np.testing.assert_array_equal(read.trainable[0], [[1.0], [2.0]])
        assert read.non_trainable == []
        assert dict(new_state.finalizer) == dict(state.finalizer)
        assert new_state.aggregator == state.aggregator

    def test_next_starts_from_the_set_weights_when_they_were_replaced(self, process):
        state = process.set_model_weights(
            process.initialize(), models.ModelWeights([np.ones([2, 1], np.float32)], [])
        )

        output = process.next(state, [CLIENT_B])

        # From [1, 1]: prediction 2, gradient 2 * (2 - 4) * [1, 1] = [-4, -4], so the
        # client ends at [1.4, 1.4] and the server applies the update -0.4.
        np.testing.assert_allclose(
            output.state.global_model_weights.trainable[0], [[1.4], [1.4]], rtol=1e-6
        )

    def test_raises_when_the_aggregator_is_for_another_value_type(self, parts):
        other = tffl.aggregators.MeanFactory().create(
            tffl.TensorType(np.float32, [3]), tffl.TensorType(np.float32)
        )

        with pytest.raises(
            tffl.TypeMismatchError,
            match=re.escape(
                "aggregator value (client update): expected float32[3], got <float32[2,1]>"
            ),
        ):
            templates.compose_learning_process(**{**parts, "model_update_aggregator": other})

    @pytest.mark.parametrize(
        "name, wrong_part, message",
        [
            (
                "initial_model_weights_fn",
                lambda parts: lambda: 0,
                "initial_model_weights_fn: expected a tffl computation (tffl.tf_computation or "
                "tffl.federated_computation with declared parameter types), got function",
            ),
            (
                "model_weights_distributor",
                lambda parts: parts["client_work"],
                "distributor: expected DistributionProcess, got ClientWorkProcess",
            ),
            (
                "client_work",
                lambda parts: parts["model_finalizer"],
                "client_work: expected ClientWorkProcess, got FinalizerProcess",
            ),
            (
                "model_update_aggregator",
                lambda parts: 3,
                "aggregator: expected AggregationProcess, got int",
            ),
            (
                "model_finalizer",
                lambda parts: parts["model_weights_distributor"],
                "finalizer: expected FinalizerProcess, got DistributionProcess",
            ),
        ],
        ids=["weights-fn", "distributor", "client-work", "aggregator", "finalizer"],
    )
    def test_raises_when_a_part_is_of_another_kind(self, parts, name, wrong_part, message):
        with pytest.raises(TypeError, match=re.escape(message)):
            templates.compose_learning_process(**{**parts, name: wrong_part(parts)})

    def test_raises_when_the_distributor_is_for_another_value_type(self, parts):
        other = templates.build_broadcast_process(np.float32)

        with pytest.raises(
            tffl.TypeMismatchError,
            match=re.escape(
                "distributor value (model weights): expected float32, "
                "got <trainable=<float32[2,1]>,non_trainable=<>>"
            ),
        ):
            templates.compose_learning_process(**{**parts, "model_weights_distributor": other})
