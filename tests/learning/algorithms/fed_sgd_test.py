"""Tests for FedSGD: one server step on the example-weighted mean gradient."""

import numpy as np
import pytest
import tensorflow as tf

from tests.learning.algorithms import conftest
import tffl


@pytest.fixture(scope="module")
def fed_sgd():
    return tffl.learning.algorithms.build_fed_sgd(conftest.keras_model_fn)


def _mean_loss_gradient(weights, datasets):
    """The gradient of the mean loss over every example of every client."""
    model = conftest.keras_model_fn()
    weights.assign_weights_to(model)
    batches = [b for d in datasets for b in d]
    x = tf.concat([b["x"] for b in batches], 0)
    y = tf.concat([b["y"] for b in batches], 0)
    with tf.GradientTape() as tape:
        loss = model.forward_pass({"x": x, "y": y}).loss
    return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


class TestFedSgd:
    def test_server_steps_on_the_mean_gradient_over_all_examples(self, fed_sgd):
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 23, batch_size=4)]
        start = conftest.fixed_weights()
        output = fed_sgd.next(conftest.start(fed_sgd, start), data)
        got = fed_sgd.get_model_weights(output.state)
        for new, old, gradient in zip(
            got.trainable, start.trainable, _mean_loss_gradient(start, data)
        ):
            np.testing.assert_allclose(new, old - 0.1 * gradient, rtol=1e-5, atol=1e-6)

    def test_clients_do_not_change_the_model_they_report_on(self, fed_sgd):
        data = [conftest.client_dataset(1, 10)]
        train = fed_sgd.next(conftest.start(fed_sgd), data).metrics["client_work"]["train"]
        model = conftest.keras_model_fn()
        conftest.fixed_weights().assign_weights_to(model)
        batch = next(iter(conftest.client_dataset(1, 10, batch_size=10)))
        assert train["loss"] == pytest.approx(float(model.forward_pass(batch).loss), rel=1e-6)
        assert (train["num_examples"], train["num_batches"]) == (10, 2)

    def test_server_state_has_the_default_learning_rate(self, fed_sgd):
        state = fed_sgd.initialize()
        assert float(state.finalizer["learning_rate"]) == pytest.approx(0.1)
