"""Tests for tffl.backends.local: the default context, end to end."""

import collections
import gc

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.backends import execution_context
from tffl.core import context_stack
from tffl.testing import reference_programs

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType


@tffl.tf_computation(np.float32)
def square(x):
    return x * x


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS line in /proc/self/status")


class TestCreateContext:
    def test_gives_a_synchronous_context_by_default(self):
        context = tffl.backends.local.create_context(num_clients=3, max_concurrency=2)

        assert type(context) is execution_context.ExecutionContext
        assert context.num_clients == 3
        assert context.factory.max_concurrency == 2

    def test_gives_an_asynchronous_context_when_asked(self):
        context = tffl.backends.local.create_context(asynchronous=True)

        assert type(context) is execution_context.AsyncExecutionContext

    def test_raises_when_max_concurrency_is_not_positive(self):
        with pytest.raises(ValueError) as caught:
            tffl.backends.local.create_context(max_concurrency=0)

        assert str(caught.value) == "max_concurrency: expected a positive int, got 0"


class TestSetContext:
    def test_installs_the_context_as_the_default(self, set_context):
        set_context(num_clients=5)

        assert context_stack.current().num_clients == 5

    @pytest.mark.parametrize("max_concurrency", [1, 3])
    def test_gives_exact_results_with_20_clients_when_concurrency_is_limited(
        self, set_context, max_concurrency
    ):
        set_context(max_concurrency=max_concurrency)

        @tffl.federated_computation(F(np.float32, C))
        def squares(values):
            squared = tffl.federated_map(square, values)
            return squared, tffl.federated_sum(squared)

        per_client, total = squares([float(i) for i in range(20)])

        assert per_client == [float(i * i) for i in range(20)]
        assert total == np.float32(2470.0)


class TestReferencePrograms:
    def test_mean_program_gives_the_mean_in_celsius(self):
        mean_celsius = reference_programs.build_mean_program()

        result = mean_celsius([68.5, 70.3, 69.8])

        assert str(mean_celsius.type_signature) == "({float32}@CLIENTS -> float32@SERVER)"
        assert result == np.float32(20.851852)

    @pytest.mark.parametrize(
        "readings, threshold, expected",
        [
            pytest.param([1.0, 5.0, 3.0, 7.0], 4.0, 0.5, id="half_above"),
            pytest.param([1.0, 2.0], 4.0, 0.0, id="none_above"),
            pytest.param([5.0, 6.0, 7.0], 4.0, 1.0, id="all_above"),
            pytest.param([4.0, 4.5, 3.0, 9.0, 1.0], 4.0, 0.4, id="equal_is_not_above"),
        ],
    )
    def test_threshold_program_gives_the_fraction_above(self, readings, threshold, expected):
        fraction_above = reference_programs.build_threshold_program()

        assert str(fraction_above.type_signature) == (
            "(<readings={float32}@CLIENTS,threshold=float32@SERVER> -> float32@SERVER)"
        )
        assert fraction_above(readings, threshold) == np.float32(expected)


def _client_batches(rng, projection, num_examples, batch_size=10):
    x = rng.normal(size=(num_examples, 784)).astype(np.float32)
    y = np.argmax(x @ projection, axis=1).astype(np.int32)
    return [
        collections.OrderedDict(x=x[i : i + batch_size], y=y[i : i + batch_size])
        for i in range(0, num_examples, batch_size)
    ]


def _plain_tf_round(model, client_data, learning_rate):
    """One FedAvg round written directly in TensorFlow, to check the tffl round against."""
    trained, weights = [], []
    for batches in client_data:
        w, b = tf.constant(model["w"]), tf.constant(model["b"])
        for batch in batches:
            with tf.GradientTape() as tape:
                tape.watch([w, b])
                logits = tf.matmul(batch["x"], w) + b
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch["y"], logits=logits)
                )
            grad_w, grad_b = tape.gradient(loss, [w, b])
            w, b = w - learning_rate * grad_w, b - learning_rate * grad_b
        trained.append((w.numpy(), b.numpy()))
        weights.append(sum(len(batch["y"]) for batch in batches))
    total = float(sum(weights))
    return collections.OrderedDict(
        w=sum(n * w for n, (w, _) in zip(weights, trained)) / total,
        b=sum(n * b for n, (_, b) in zip(weights, trained)) / total,
    )


@pytest.fixture(scope="module")
def client_data():
    """Three clients with 30, 20 and 40 examples whose labels are a function of x."""
    rng = np.random.default_rng(1234)
    projection = rng.normal(size=(784, 10)).astype(np.float32)
    return [_client_batches(rng, projection, n) for n in (30, 20, 40)]


@pytest.fixture(scope="module")
def total_loss():
    """The summed cross-entropy of a model over a client's batches."""

    @tffl.tf_computation(
        reference_programs.MODEL_TYPE, tffl.SequenceType(reference_programs.BATCH_TYPE)
    )
    def total_loss(model, batches):
        def add_batch_loss(total, batch):
            logits = tf.matmul(batch["x"], model["w"]) + model["b"]
            return total + tf.reduce_sum(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch["y"], logits=logits)
            )

        return batches.reduce(np.float32(0.0), add_batch_loss)

    return total_loss


class TestFedAvgRound:
    @staticmethod
    def _zero_model():
        return collections.OrderedDict(
            w=np.zeros([784, 10], np.float32), b=np.zeros([10], np.float32)
        )

    def test_matches_a_plain_tensorflow_round(self, client_data):
        fedavg_round = reference_programs.build_fedavg_round()
        model = self._zero_model()

        result = fedavg_round(model, client_data)
        expected = _plain_tf_round(model, client_data, reference_programs.LEARNING_RATE)

        assert str(fedavg_round.type_signature) == (
            "(<model=<w=float32[784,10],b=float32[10]>@SERVER,"
            "data={<x=float32[?,784],y=int32[?]>*}@CLIENTS> -> "
            "<w=float32[784,10],b=float32[10]>@SERVER)"
        )
        assert type(result) is collections.OrderedDict
        assert list(result) == ["w", "b"]
        np.testing.assert_allclose(result["w"], expected["w"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(result["b"], expected["b"], rtol=1e-5, atol=1e-7)

    def test_accepts_datasets_as_client_data_when_batched_the_same(self, client_data):
        fedavg_round = reference_programs.build_fedavg_round()
        datasets = [
            tf.data.Dataset.from_tensor_slices(
                collections.OrderedDict(
                    x=np.concatenate([b["x"] for b in batches]),
                    y=np.concatenate([b["y"] for b in batches]),
                )
            ).batch(10)
            for batches in client_data
        ]

        from_lists = fedavg_round(self._zero_model(), client_data)
        from_datasets = fedavg_round(self._zero_model(), datasets)

        np.testing.assert_array_equal(from_datasets["w"], from_lists["w"])
        np.testing.assert_array_equal(from_datasets["b"], from_lists["b"])

    def test_total_loss_falls_every_round_over_5_rounds(self, client_data, total_loss):
        fedavg_round = reference_programs.build_fedavg_round()
        model = self._zero_model()

        def loss(model):
            return sum(float(total_loss(model, batches)) for batches in client_data)

        losses = [loss(model)]
        for _ in range(5):
            model = fedavg_round(model, client_data)
            losses.append(loss(model))

        # The zero model predicts uniformly: ln(10) per example, 90 examples.
        assert losses[0] == pytest.approx(90 * np.log(10), rel=1e-6)
        assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
        assert losses[-1] < losses[0] / 4


class TestRepeatedCalls:
    def test_memory_stays_flat_when_called_1000_times(self):
        @tffl.federated_computation(F(np.float32, C))
        def mean_square(values):
            return tffl.federated_mean(tffl.federated_map(square, values))

        def call(i):
            return mean_square([float(i), float(i + 1), 2.0])

        for i in range(100):
            call(i)
        gc.collect()
        after_100 = _rss_kib()
        for i in range(900):
            assert call(i) == np.float32((i * i + (i + 1) * (i + 1) + 4.0) / 3.0)
        gc.collect()
        after_1000 = _rss_kib()

        assert after_1000 <= after_100 * 1.10, (after_100, after_1000)
