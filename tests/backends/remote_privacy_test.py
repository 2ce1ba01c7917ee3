"""Privacy, secure aggregation and compression run unchanged on two remote workers.

Everything they embed is standard TensorFlow, so the same computations that run
locally serialize, run on `tffl-worker`s, and give the local results.
"""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.backends import remote
from tffl.core import context_stack
from tffl.executors import executor_errors

F, C, S = tffl.FederatedType, tffl.CLIENTS, tffl.SERVER


@pytest.fixture(scope="module")
def two_workers(remote_workers):
    return remote.create_context([w.address for w in remote_workers[:2]])


def _both(context, fn, *args):
    """`fn(*args)` locally, then on the workers."""
    local = fn(*args)
    with context_stack.install(context):
        return local, fn(*args)


def _run_process(process, values, *extra):
    output = process.next(process.initialize(), values, *extra)
    return output.result, output.measurements


class TestSecureSumsOnWorkers:
    def test_masked_sums_equal_the_local_ones_exactly(self, two_workers):
        @tffl.federated_computation(F(np.int32, C))
        def sums(values):
            return (
                tffl.federated_secure_sum_bitwidth(values, 8),
                tffl.federated_secure_modular_sum(values, 256),
                tffl.federated_secure_sum(values, 255),
            )

        values = [200, 7, 99, 255, 0, 31, 64]
        local, on_workers = _both(two_workers, sums, values)
        assert local == on_workers == (656, 656 % 256, 656)

    def test_a_value_over_max_input_fails_on_its_worker_naming_the_client(self, two_workers):
        @tffl.federated_computation(F(np.int32, C))
        def bounded(values):
            return tffl.federated_secure_sum(values, 100)

        with context_stack.install(two_workers):
            with pytest.raises(executor_errors.FatalError) as caught:
                bounded([1, 2, 3, 101])

        message = str(caught.value)
        assert message.startswith("worker 127.0.0.1:")
        assert message.endswith(
            ": federated_secure_sum: client 1 has values outside [0, 101): min 101, max 101 "
            "(the worker's clients 0 to 1 are clients 2 to 3 of the call)"
        )

    def test_secure_sum_factory_gives_the_local_float_mean(self, two_workers):
        factory = tffl.aggregators.UnweightedMeanFactory(
            value_sum_factory=tffl.aggregators.SecureSumFactory(upper_bound_threshold=1.0)
        )
        process = factory.create(tffl.TensorType(np.float32, [3]))
        values = [np.array([0.5, -0.25, 2.0], np.float32), np.array([0.25, 0.5, -0.75], np.float32)]
        local, on_workers = _both(two_workers, _run_process, process, values)
        np.testing.assert_allclose(on_workers[0], local[0], rtol=1e-6)
        np.testing.assert_allclose(local[0], [0.375, 0.125, 0.125], atol=1e-6)


class TestDifferentialPrivacyOnWorkers:
    def test_clipped_mean_without_noise_equals_the_local_one(self, two_workers):
        factory = tffl.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
            noise_multiplier=0.0, clients_per_round=3, clip=1.0
        )
        process = factory.create(tffl.TensorType(np.float32, [2]))
        values = [
            np.array([3.0, 4.0], np.float32),  # norm 5, clipped to [0.6, 0.8]
            np.array([0.5, 0.0], np.float32),
            np.array([0.0, -0.5], np.float32),
        ]
        local, on_workers = _both(two_workers, _run_process, process, values)
        np.testing.assert_allclose(local[0], [1.1 / 3, 0.3 / 3], rtol=1e-6)
        np.testing.assert_allclose(on_workers[0], local[0], rtol=1e-6)

    def test_noised_mean_runs_and_differs_from_the_clipped_mean(self, two_workers):
        factory = tffl.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
            noise_multiplier=1.0, clients_per_round=2, clip=1.0
        )
        process = factory.create(tffl.TensorType(np.float32, [1000]))
        values = [np.zeros(1000, np.float32), np.zeros(1000, np.float32)]
        with context_stack.install(two_workers):
            result, _ = _run_process(process, values)
        # Noise of standard deviation 1 * 1 / 2 on each coordinate.
        assert 0.45 < float(np.std(result)) < 0.55


class TestCompressionOnWorkers:
    def test_quantized_sum_equals_the_local_one(self, two_workers):
        process = tffl.aggregators.EncodedSumFactory.quantize_uniform(bits=8).create(
            tffl.TensorType(np.float32, [64])
        )
        rng = np.random.default_rng(3)
        values = [rng.normal(size=64).astype(np.float32) for _ in range(4)]
        local, on_workers = _both(two_workers, _run_process, process, values)
        np.testing.assert_allclose(on_workers[0], local[0], rtol=1e-5, atol=1e-6)
        assert on_workers[1] == local[1]


class TestLearningOnWorkers:
    @pytest.mark.parametrize(
        "aggregator",
        [
            tffl.learning.compression_aggregator,
            lambda: tffl.learning.dp_aggregator(noise_multiplier=0.5, clients_per_round=10),
        ],
        ids=["quantized", "dp"],
    )
    def test_fed_avg_round_runs_with_the_aggregator(self, two_workers, aggregator):
        spec = collections.OrderedDict(x=tf.TensorSpec([None, 2]), y=tf.TensorSpec([None, 1]))
        model = tffl.learning.models.FunctionalModel(
            initial_weights=([np.zeros([2, 1], np.float32)], []),
            predict_on_batch_fn=lambda w, x, training: tf.matmul(x, w.trainable[0]),
            loss_fn=lambda output, label: tf.reduce_mean(tf.square(output - label)),
            input_spec=spec,
        )
        process = tffl.learning.algorithms.build_unweighted_fed_avg(
            model,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
            model_aggregator=aggregator(),
        )
        data = [
            tf.data.Dataset.from_tensor_slices(
                collections.OrderedDict(
                    x=np.full((4, 2), i + 1.0, np.float32), y=np.full((4, 1), 1.0, np.float32)
                )
            ).batch(2)
            for i in range(3)
        ]
        with context_stack.install(two_workers):
            output = process.next(process.initialize(), data)
        weights = process.get_model_weights(output.state)
        assert output.metrics["client_work"]["train"]["num_examples"] == 12
        assert np.all(np.isfinite(weights.trainable[0]))
