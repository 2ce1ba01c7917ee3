"""Tests for FedAvg: types, rounds, weighting, zeroing of bad clients, optimizer forms."""

import collections
import re

import numpy as np
import pytest
import tensorflow as tf

from tests.learning.algorithms import conftest
import tffl

STATE = (
    "<global_model_weights=<trainable=<float32[4,3],float32[3]>,non_trainable=<>>,"
    "distributor=<>,client_work=<>,aggregator=<value_sum_process=<>,weight_sum_process=<>>,"
    "finalizer=<learning_rate=float32>>@SERVER"
)
METRICS = (
    "<distributor=<>,client_work=<train=<sparse_categorical_accuracy=float32,loss=float32,"
    "num_examples=int64,num_batches=int64>>,aggregator=<mean_value=<>,mean_weight=<>>,"
    "finalizer=<update_non_finite=int32>>@SERVER"
)


def _weights(process, state):
    return process.get_model_weights(state)


class TestTypeSignatures:
    def test_initialize_type_when_keras_model_and_sgd(self, fed_avg):
        assert str(fed_avg.initialize.type_signature) == f"( -> {STATE})"

    def test_next_type_when_keras_model_and_sgd(self, fed_avg):
        assert str(fed_avg.next.type_signature) == (
            f"(<state={STATE},client_data={{<x=float32[?,4],y=int32[?]>*}}@CLIENTS> -> "
            f"<state={STATE},metrics={METRICS}>)"
        )

    def test_get_model_weights_type(self, fed_avg):
        assert str(fed_avg.get_model_weights.type_signature.result) == (
            "<trainable=<float32[4,3],float32[3]>,non_trainable=<>>"
        )

    def test_is_a_learning_process(self, fed_avg):
        assert isinstance(fed_avg, tffl.learning.templates.LearningProcess)


class TestRound:
    def test_new_weights_are_the_example_weighted_mean_when_server_sgd_is_one(self, fed_avg):
        state = conftest.start(fed_avg)
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 30)]
        output = fed_avg.next(state, data)
        # Each client alone, from the same start.
        finals = [_weights(fed_avg, fed_avg.next(state, [d]).state) for d in data]
        expected = [
            (10 * a + 30 * b) / 40 for a, b in zip(finals[0].trainable, finals[1].trainable)
        ]
        for got, want in zip(_weights(fed_avg, output.state).trainable, expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    def test_metrics_count_every_clients_examples(self, fed_avg):
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 7)]
        train = fed_avg.next(conftest.start(fed_avg), data).metrics["client_work"]["train"]
        assert list(train) == ["sparse_categorical_accuracy", "loss", "num_examples", "num_batches"]
        assert (train["num_examples"], train["num_batches"]) == (17, 4)
        assert fed_avg.next(conftest.start(fed_avg), data).metrics["finalizer"] == (
            collections.OrderedDict(update_non_finite=0)
        )

    def test_client_with_nan_weights_is_zeroed_when_its_data_has_nan(self, fed_avg):
        state = conftest.start(fed_avg)
        healthy = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 30)]
        poisoned = conftest.client_dataset(3, 20, poison=True)
        with_poison = fed_avg.next(state, healthy + [poisoned])
        without = fed_avg.next(state, healthy)
        for got, want in zip(
            _weights(fed_avg, with_poison.state).trainable,
            _weights(fed_avg, without.state).trainable,
        ):
            np.testing.assert_allclose(got, want, rtol=1e-6)
            assert np.all(np.isfinite(got))

    def test_uniform_weighting_counts_clients_equally(self):
        process = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
            client_weighting=tffl.learning.ClientWeighting.UNIFORM,
        )
        state = conftest.start(process)
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 30)]
        finals = [_weights(process, process.next(state, [d]).state) for d in data]
        got = _weights(process, process.next(state, data).state)
        for g, a, b in zip(got.trainable, finals[0].trainable, finals[1].trainable):
            np.testing.assert_allclose(g, (a + b) / 2, rtol=1e-5, atol=1e-6)

    def test_unweighted_fed_avg_matches_uniform_weighting(self):
        unweighted = tffl.learning.algorithms.build_unweighted_fed_avg(
            conftest.keras_model_fn, tffl.learning.optimizers.build_sgdm(learning_rate=0.1)
        )
        assert "mean_count" in str(unweighted.next.type_signature.result.metrics)
        state = conftest.start(unweighted)
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 30)]
        finals = [_weights(unweighted, unweighted.next(state, [d]).state) for d in data]
        got = _weights(unweighted, unweighted.next(state, data).state)
        for g, a, b in zip(got.trainable, finals[0].trainable, finals[1].trainable):
            np.testing.assert_allclose(g, (a + b) / 2, rtol=1e-5, atol=1e-6)


class TestOptimizerForms:
    def test_keras_and_tffl_sgd_clients_give_the_same_first_round(self):
        keras_process = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn, lambda: tf.keras.optimizers.SGD(learning_rate=0.1)
        )
        tffl_process = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn, tffl.learning.optimizers.build_sgdm(learning_rate=0.1)
        )
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 13)]
        keras_out = keras_process.next(conftest.start(keras_process), data)
        tffl_out = tffl_process.next(conftest.start(tffl_process), data)
        for got, want in zip(
            _weights(keras_process, keras_out.state).trainable,
            _weights(tffl_process, tffl_out.state).trainable,
        ):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        assert (
            keras_out.metrics["client_work"]["train"]["loss"]
            == tffl_out.metrics["client_work"]["train"]["loss"]
        )

    def test_keras_server_optimizer_keeps_its_slots_in_the_state(self):
        process = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
            server_optimizer_fn=lambda: tf.keras.optimizers.SGD(learning_rate=1.0, momentum=0.5),
        )
        state = conftest.start(process)
        data = [conftest.client_dataset(1, 10)]
        first = process.next(state, data).state
        second = process.next(first, data).state
        assert not np.array_equal(
            _weights(process, first).trainable[1], _weights(process, second).trainable[1]
        )

    def test_client_epochs_and_step_cap_set_the_number_of_batches(self):
        process = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
            client_epochs=3,
            max_client_steps=5,
        )
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 30)]
        train = process.next(conftest.start(process), data).metrics["client_work"]["train"]
        # 2 batches x 3 epochs = 6, capped at 5; 6 batches x 3 = 18, capped at 5.
        assert train["num_batches"] == 10


class TestModelAggregator:
    def test_clipping_aggregator_bounds_the_server_step(self):
        process = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=1.0),
            model_aggregator=tffl.aggregators.clipping_factory(
                0.01, tffl.aggregators.MeanFactory()
            ),
        )
        state = conftest.start(process)
        output = process.next(state, [conftest.client_dataset(1, 30)])
        before, after = _weights(process, state), _weights(process, output.state)
        step = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after.trainable, before.trainable)))
        assert step == pytest.approx(0.01, rel=1e-4)
        assert output.metrics["aggregator"]["clipped_count"] == 1

    def test_weighted_fed_avg_weights_uniformly_when_the_aggregator_is_unweighted(self):
        process = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
            model_aggregator=tffl.aggregators.UnweightedMeanFactory(),
        )
        state = conftest.start(process)
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 30)]

        finals = [_weights(process, process.next(state, [d]).state) for d in data]
        output = process.next(state, data)

        assert "aggregator=<value_sum_process=<>,count_sum_process=<>>" in str(
            process.initialize.type_signature
        )
        for g, a, b in zip(
            _weights(process, output.state).trainable, finals[0].trainable, finals[1].trainable
        ):
            np.testing.assert_allclose(g, (a + b) / 2, rtol=1e-5, atol=1e-6)


class TestErrors:
    def test_keras_optimizer_instance_is_refused(self):
        with pytest.raises(TypeError, match=re.escape("client_optimizer_fn: expected")):
            tffl.learning.algorithms.build_weighted_fed_avg(
                conftest.keras_model_fn, tf.keras.optimizers.SGD(0.1)
            )

    def test_model_instance_is_refused(self):
        with pytest.raises(TypeError, match="model_fn: expected a no-argument function"):
            tffl.learning.algorithms.build_weighted_fed_avg(
                conftest.keras_model_fn(), tffl.learning.optimizers.build_sgdm(0.1)
            )

    def test_bad_client_epochs_are_refused(self):
        with pytest.raises(
            ValueError, match=re.escape("client_epochs: expected a positive int, got 0")
        ):
            tffl.learning.algorithms.build_weighted_fed_avg(
                conftest.keras_model_fn, tffl.learning.optimizers.build_sgdm(0.1), client_epochs=0
            )

    def test_data_of_another_type_is_refused(self, fed_avg):
        wrong = tf.data.Dataset.from_tensor_slices(
            collections.OrderedDict(x=np.zeros((2, 5), np.float32), y=np.zeros(2, np.int32))
        ).batch(2)
        with pytest.raises(TypeError, match=re.escape("float32[?,4]")):
            fed_avg.next(conftest.start(fed_avg), [wrong])
