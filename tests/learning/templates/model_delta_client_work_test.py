"""Tests for tffl/learning/templates/model_delta_client_work.py: local training on clients.

The model is a linear regression `y = x @ w` with `w` of shape [2, 1], starting at
zero, trained by SGD with learning rate 0.1 on the mean squared error, so each
step is `w <- w - 0.1 * (2 / n) * X^T (X w - y)` and can be followed by hand.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.learning import models
from tffl.learning import optimizers
from tffl.learning import templates

NUM_EXAMPLES = tffl.learning.ClientWeighting.NUM_EXAMPLES
UNIFORM = tffl.learning.ClientWeighting.UNIFORM
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


# Client A: batches ([1, 0], [0, 1] -> 1, 2) and ([1, 1] -> 4).
#   Step 1 at w = 0: gradient X^T (0 - y) = [-1, -2], so w = [0.1, 0.2].
#   Step 2: prediction 0.3, gradient 2 * (0.3 - 4) * [1, 1] = [-7.4, -7.4], so w = [0.84, 0.94].
#   Losses: 2.5 on 2 examples, then 3.7^2 = 13.69 on 1 example.
CLIENT_A = dataset([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0], [2.0], [4.0]], batch_size=2)
# Client B: one batch ([2, 0] -> 2): gradient 2 * (0 - 2) * [2, 0] = [-8, 0], so w = [0.8, 0].
#   Loss 4 on 1 example.
CLIENT_B = dataset([[2.0, 0.0]], [[2.0]], batch_size=1)
# Client C diverges: inf * 0 is NaN.
CLIENT_C = dataset([[np.inf, 0.0]], [[1.0]], batch_size=1)

ZERO_WEIGHTS = models.ModelWeights([np.zeros([2, 1], np.float32)], [])


def build(**kwargs):
    kwargs = {"client_weighting": NUM_EXAMPLES, **kwargs}
    return templates.build_model_delta_client_work(
        linear_model(), optimizers.build_sgdm(learning_rate=0.1), **kwargs
    )


def run(process, datasets=(CLIENT_A, CLIENT_B)):
    return process.next(process.initialize(), [ZERO_WEIGHTS] * len(datasets), list(datasets))


def updates(output):
    return [result.update[0].ravel().tolist() for result in output.result]


def update_weights(output):
    return [float(result.update_weight) for result in output.result]


@pytest.fixture(scope="module")
def by_examples():
    return build()


@pytest.fixture(scope="module")
def by_examples_output(by_examples):
    return run(by_examples)


class TestBuildModelDeltaClientWork:
    def test_type_signature_sends_updates_and_train_metrics_when_built(self, by_examples):
        assert isinstance(by_examples, templates.ClientWorkProcess)
        assert str(by_examples.next.type_signature) == (
            "(<state=<>@SERVER,weights={<trainable=<float32[2,1]>,non_trainable=<>>}@CLIENTS,"
            "client_data={<float32[?,2],float32[?,1]>*}@CLIENTS> -> <state=<>@SERVER,"
            "result={<update=<float32[2,1]>,update_weight=float32>}@CLIENTS,"
            "measurements=<train=<loss=float32,num_examples=int64,num_batches=int64>>@SERVER>)"
        )

    def test_update_is_initial_minus_final_weights_when_trained_one_epoch(self, by_examples_output):
        np.testing.assert_allclose(
            updates(by_examples_output), [[-0.84, -0.94], [-0.8, 0.0]], rtol=1e-6
        )

    def test_update_weight_is_the_example_count_when_weighting_by_examples(
        self, by_examples_output
    ):
        assert update_weights(by_examples_output) == [3.0, 1.0]

    def test_measurements_are_the_metrics_over_all_clients_when_trained(self, by_examples_output):
        train = by_examples_output.measurements["train"]

        # (2.5 * 2 + 13.69 + 4) / 4 examples.
        np.testing.assert_allclose(train["loss"], 22.69 / 4, rtol=1e-6)
        assert train["num_examples"] == 4
        assert train["num_batches"] == 3
        assert by_examples_output.state == ()

    def test_update_weight_is_one_when_weighting_uniformly(self):
        output = run(build(client_weighting=UNIFORM))

        assert update_weights(output) == [1.0, 1.0]
        np.testing.assert_allclose(updates(output), [[-0.84, -0.94], [-0.8, 0.0]], rtol=1e-6)

    def test_clients_take_twice_the_steps_when_client_epochs_is_two(self):
        output = run(build(client_epochs=2))

        # A, step 3 at [0.84, 0.94]: gradient X^T (X w - y) = [-0.16, -1.06] -> [0.856, 1.046];
        #    step 4: prediction 1.902, gradient 2 * -2.098 * [1, 1] -> [1.2756, 1.4656].
        # B, step 2 at [0.8, 0]: gradient 2 * (1.6 - 2) * [2, 0] = [-1.6, 0] -> [0.96, 0].
        np.testing.assert_allclose(updates(output), [[-1.2756, -1.4656], [-0.96, 0.0]], rtol=1e-5)
        assert update_weights(output) == [6.0, 2.0]
        assert output.measurements["train"]["num_batches"] == 6
        assert output.measurements["train"]["num_examples"] == 8

    def test_clients_stop_after_one_batch_when_max_client_steps_is_one(self):
        output = run(build(max_client_steps=1))

        np.testing.assert_allclose(updates(output), [[-0.1, -0.2], [-0.8, 0.0]], rtol=1e-6)
        assert update_weights(output) == [2.0, 1.0]
        assert output.measurements["train"]["num_batches"] == 2
        assert output.measurements["train"]["num_examples"] == 3
        np.testing.assert_allclose(output.measurements["train"]["loss"], 9.0 / 3, rtol=1e-6)

    def test_proximal_term_pulls_toward_the_initial_weights_when_strength_is_positive(self):
        output = run(build(proximal_strength=1.0))

        # The gradient of (1/2) * ||w - w0||^2 is w - w0: zero on each client's first step.
        # A, step 2: [-7.4, -7.4] + ([0.1, 0.2] - 0) = [-7.3, -7.2] -> w = [0.83, 0.92].
        # B takes one step only, so its update is the same as without the term.
        np.testing.assert_allclose(updates(output), [[-0.83, -0.92], [-0.8, 0.0]], rtol=1e-6)
        # The metrics report the model's loss, not the proximal objective.
        np.testing.assert_allclose(output.measurements["train"]["loss"], 22.69 / 4, rtol=1e-6)

    def test_client_sends_zeros_with_weight_zero_when_its_update_is_not_finite(self, by_examples):
        output = run(by_examples, datasets=(CLIENT_A, CLIENT_C))

        np.testing.assert_allclose(updates(output), [[-0.84, -0.94], [0.0, 0.0]], rtol=1e-6)
        assert update_weights(output) == [3.0, 0.0]

    def test_keras_optimizer_function_gives_the_same_update_when_it_is_sgd(self):
        process = templates.build_model_delta_client_work(
            linear_model(), lambda: tf.keras.optimizers.SGD(learning_rate=0.1), NUM_EXAMPLES
        )

        output = run(process)

        np.testing.assert_allclose(updates(output), [[-0.84, -0.94], [-0.8, 0.0]], rtol=1e-6)

    @pytest.mark.parametrize(
        "arguments, error, message",
        [
            (
                dict(model_fn=3),
                TypeError,
                "model_fn: expected a no-argument function returning a "
                "tffl.learning.models.VariableModel (it must build a new model on each call), "
                "or a FunctionalModel; got int",
            ),
            (
                dict(optimizer=tf.keras.optimizers.SGD(0.1)),
                TypeError,
                "client_optimizer_fn: expected a tffl.learning.optimizers.Optimizer or a "
                "no-argument function returning a tf.keras.optimizers.Optimizer, got SGD",
            ),
            (
                dict(optimizer=lambda: 3),
                TypeError,
                "client_optimizer_fn: expected it to return a tf.keras.optimizers.Optimizer, "
                "got int",
            ),
            (
                dict(client_weighting="uniform"),
                TypeError,
                "client_weighting: expected a tffl.learning.ClientWeighting, got str",
            ),
            (
                dict(proximal_strength=-1.0),
                ValueError,
                "proximal_strength: expected a value >= 0, got -1.0",
            ),
            (
                dict(client_epochs=0),
                ValueError,
                "client_epochs: expected a positive int, got 0",
            ),
            (
                dict(client_epochs=1.5),
                ValueError,
                "client_epochs: expected a positive int, got 1.5",
            ),
            (
                dict(max_client_steps=0),
                ValueError,
                "max_client_steps: expected a positive int or None, got 0",
            ),
        ],
        ids=[
            "model-an-int",
            "keras-optimizer-instance",
            "optimizer-function-returning-int",
            "weighting-a-string",
            "negative-proximal-strength",
            "zero-epochs",
            "fractional-epochs",
            "zero-steps",
        ],
    )
    def test_raises_when_an_argument_is_wrong(self, arguments, error, message):
        arguments = {
            "model_fn": linear_model(),
            "optimizer": optimizers.build_sgdm(learning_rate=0.1),
            "client_weighting": NUM_EXAMPLES,
            **arguments,
        }

        with pytest.raises(error, match=re.escape(message)):
            templates.build_model_delta_client_work(**arguments)
