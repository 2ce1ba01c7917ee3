"""Tests for tffl/aggregators/encoded.py: sums of values that clients send encoded."""

import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.aggregators import encoded

agg = tffl.aggregators
Encoded = agg.EncodedSumFactory
# The shapes of the digits MLP: 64 -> 64 -> 10.
MLP = [(np.float32, [64, 64]), (np.float32, [64]), (np.float32, [64, 10]), (np.float32, [10])]


def _normal(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _step(values, bits):
    """The quantization step of each client's tensor."""
    return [(v.max() - v.min()) / (2**bits - 1) for v in values]


class TestTypeSignatures:
    def test_has_round_state_and_byte_measurements_when_value_is_a_vector(self):
        process = Encoded.quantize_uniform(8).create((np.float32, [1000]))

        assert not process.is_weighted
        assert str(process.initialize.type_signature) == "( -> <round=int64>@SERVER)"
        assert str(process.next.type_signature) == (
            "(<state=<round=int64>@SERVER,value={float32[1000]}@CLIENTS> -> "
            "<state=<round=int64>@SERVER,result=float32[1000]@SERVER,"
            "measurements=<encoded_bytes_per_client=int64,raw_bytes_per_client=int64>@SERVER>)"
        )

    def test_keeps_the_struct_when_value_is_nested(self):
        value_type = collections.OrderedDict(a=(np.float32, [2, 3]), b=[np.float64])

        process = Encoded.top_k(0.5).create(value_type)

        assert str(process.next.type_signature.result[1]) == "<a=float32[2,3],b=<float64>>@SERVER"

    def test_increments_the_round_when_next_runs(self):
        process = Encoded.quantize_uniform(8).create(np.float32)
        state = process.initialize()

        for expected in (1, 2, 3):
            state = process.next(state, [1.0, 2.0]).state
            assert state == collections.OrderedDict(round=expected)


class TestByteAccounting:
    @pytest.mark.parametrize(
        "factory, value_type, encoded_bytes, raw_bytes",
        [
            # 4096 uint8 codes + float32 minimum and maximum.
            (Encoded.quantize_uniform(8), (np.float32, [64, 64]), 4104, 16384),
            # Four tensors: 4810 codes + 4 * 8 bytes of range.
            (Encoded.quantize_uniform(8), MLP, 4842, 19240),
            (Encoded.quantize_uniform(2), MLP, 4842, 19240),  # codes are not bit-packed
            (Encoded.quantize_uniform(12), MLP, 19272, 19240),  # int32 codes
            # float64 ranges: 8 + 16 bytes.
            (Encoded.quantize_uniform(8), (np.float64, [100]), 116, 800),
            # Padded to 4096, 64, 1024 and 16 codes, ranges, one int64[2] seed.
            (
                Encoded.quantize_uniform(8, hadamard=True),
                MLP,
                4096 + 64 + 1024 + 16 + 32 + 16,
                19240,
            ),
            # 410, 6, 64 and 1 kept: an int32 index and a float32 value each.
            (Encoded.top_k(0.1), MLP, 3848, 19240),
            # Tensors of at most 64 elements travel plain.
            (Encoded.quantize_uniform(8, threshold=64), MLP, 4096 + 8 + 256 + 640 + 8 + 40, 19240),
            # TFF's default threshold leaves every tensor of this model plain.
            (Encoded.quantize_above_threshold(8), MLP, 19240, 19240),
        ],
        ids=[
            "8_bits_64x64",
            "8_bits_mlp",
            "2_bits_mlp",
            "12_bits_mlp",
            "8_bits_float64",
            "hadamard_mlp",
            "top_10_percent_mlp",
            "threshold_64",
            "tff_threshold",
        ],
    )
    def test_reports_bytes_per_client_when_encoding_varies(
        self, factory, value_type, encoded_bytes, raw_bytes
    ):
        process = factory.create(value_type)
        if isinstance(value_type, list):
            value = [np.zeros(shape, dtype) for dtype, shape in value_type]
        else:
            value = np.zeros(value_type[1], value_type[0])

        measurements = process.next(process.initialize(), [value, value]).measurements

        assert measurements == collections.OrderedDict(
            encoded_bytes_per_client=encoded_bytes, raw_bytes_per_client=raw_bytes
        )
        assert isinstance(measurements["encoded_bytes_per_client"], np.int64)

    def test_shrinks_float32_by_nearly_4_when_quantized_to_8_bits(self):
        process = Encoded.quantize_uniform(8).create(MLP)
        values = [np.zeros(shape, dtype) for dtype, shape in MLP]

        output = process.next(process.initialize(), [values])

        ratio = (
            output.measurements["raw_bytes_per_client"]
            / (output.measurements["encoded_bytes_per_client"])
        )
        assert 3.97 < ratio < 3.98  # 19240 / 4842


class TestQuantizedSum:
    def test_is_within_one_step_per_client_when_bits_are_8(self):
        clients = [_normal(1000, seed) for seed in range(5)]
        process = Encoded.quantize_uniform(8).create((np.float32, [1000]))

        result = process.next(process.initialize(), clients).result

        error = np.abs(result - np.sum(clients, axis=0))
        assert error.max() <= sum(_step(clients, 8)) * (1 + 1e-5)
        assert error.max() > 0  # it is quantized

    def test_is_unbiased_when_averaged_over_300_rounds(self):
        clients = [_normal(8, seed) for seed in range(3)]
        process = Encoded.quantize_uniform(1).create((np.float32, [8]))
        state = process.initialize()
        results = []

        for _ in range(300):
            output = process.next(state, clients)
            state, results = output.state, results + [output.result]

        exact = np.sum(clients, axis=0, dtype=np.float64)
        # One bit per element: each client's error has a standard deviation of at most
        # half its range; 4 standard deviations of the mean over 300 rounds bound it.
        bound = 4 * np.sqrt(sum(s**2 / 4 for s in _step(clients, 1))) / np.sqrt(300)
        error = np.mean(np.array(results, np.float64), axis=0) - exact
        assert np.all(np.abs(error) < bound), (error, bound)
        # Repeated seeds would repeat results; a few of 300 coincide by chance.
        assert len({r.tobytes() for r in results}) > 280

    def test_is_reproducible_when_state_and_seed_are_the_same(self):
        clients = [_normal(100, seed) for seed in range(3)]
        process = Encoded.quantize_uniform(4).create((np.float32, [100]))
        other_seed = Encoded.quantize_uniform(4, seed=1).create((np.float32, [100]))

        first = process.next(process.initialize(), clients).result
        again = process.next(process.initialize(), clients).result
        other = other_seed.next(other_seed.initialize(), clients).result

        np.testing.assert_array_equal(first, again)
        assert np.any(first != other)

    def test_rounds_each_client_differently_when_values_differ(self):
        # A client alone, and the same client next to another: its rounding is the same
        # only if its seed does not depend on the other client.
        a, b = _normal(200, 0), _normal(200, 1)
        process = Encoded.quantize_uniform(2).create((np.float32, [200]))
        state = process.initialize()

        alone_a = process.next(state, [a]).result
        alone_b = process.next(state, [b]).result
        together = process.next(state, [a, b]).result

        np.testing.assert_allclose(together, alone_a + alone_b, atol=1e-5)

    def test_equals_the_plain_sum_when_every_tensor_is_below_the_threshold(self):
        clients = [[_normal(shape, seed) for _, shape in MLP] for seed in range(3)]
        encoded_process = Encoded.quantize_above_threshold(8).create(MLP)
        plain_process = agg.SumFactory().create(MLP)

        got = encoded_process.next(encoded_process.initialize(), clients).result
        want = plain_process.next(plain_process.initialize(), clients).result

        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)

    def test_is_close_in_l2_when_rotated_first(self):
        clients = [_normal((64, 10), seed) for seed in range(4)]
        process = Encoded.quantize_uniform(8, hadamard=True).create((np.float32, [64, 10]))

        result = process.next(process.initialize(), clients).result

        # Rotated coordinates are about N(0, 640/1024) here, so a step is about
        # 5/255 and the expected L2 error about sqrt(4 * 1024 / 6) * 5/255 = 0.5.
        exact = np.sum(clients, axis=0)
        error = np.linalg.norm(result - exact)
        assert 0 < error < 0.02 * np.linalg.norm(exact), (error, np.linalg.norm(exact))

    def test_spike_costs_less_error_when_rotated_first(self):
        spike = np.zeros(1024, np.float32)
        spike[:4] = [100.0, 0.5, -0.3, 0.2]
        errors = {}

        for hadamard in (False, True):
            process = Encoded.quantize_uniform(4, hadamard=hadamard).create((np.float32, [1024]))
            result = process.next(process.initialize(), [spike]).result
            errors[hadamard] = np.linalg.norm(result - spike)

        assert errors[True] < errors[False] / 3, errors


class TestTopKSum:
    def test_sums_the_k_largest_of_each_client_exactly_when_k_fraction_is_a_tenth(self):
        clients = [_normal((20, 5), seed) for seed in range(3)]
        process = Encoded.top_k(0.1).create((np.float32, [20, 5]))

        result = process.next(process.initialize(), clients).result

        expected = np.zeros((20, 5), np.float32)
        for client in clients:
            kept = np.argsort(-np.abs(client.ravel()), kind="stable")[:10]
            sparse = np.zeros(100, np.float32)
            sparse[kept] = client.ravel()[kept]
            expected += sparse.reshape(20, 5)
        np.testing.assert_array_equal(result, expected)


class TestInsideAMean:
    def test_averages_by_weight_when_used_as_the_value_sum_of_a_mean_factory(self):
        process = agg.MeanFactory(Encoded.quantize_uniform(8)).create((np.float32, [2]), np.float32)

        output = process.next(process.initialize(), [[1.0, 3.0], [3.0, 1.0]], [1.0, 3.0])

        np.testing.assert_allclose(output.result, [2.5, 1.5], atol=4 / 255)
        assert output.measurements["mean_value"] == collections.OrderedDict(
            encoded_bytes_per_client=10, raw_bytes_per_client=8
        )


class TestErrors:
    @pytest.mark.parametrize(
        "value_type, expected",
        [
            (np.int32, "a float tensor, or a (nested) struct of them"),
            (
                (np.float32, [None]),
                "a float tensor with a fully defined shape, or a (nested) struct of them",
            ),
        ],
        ids=["int32", "unknown_dimension"],
    )
    def test_raises_when_value_type_is_not_a_static_float_tensor(self, value_type, expected):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            Encoded.quantize_uniform(8).create(value_type)

        assert str(raised.value).startswith(
            f"EncodedSumFactory.create value_type: expected {expected}"
        )

    def test_raises_when_encoder_fn_returns_no_encoding(self):
        with pytest.raises(TypeError) as raised:
            Encoded(lambda spec: "quantize").create((np.float32, [3]))

        assert str(raised.value) == (
            "EncodedSumFactory encoder_fn: expected a TensorEncoding, got str for float32[3]"
        )

    @pytest.mark.parametrize(
        "build, error, message",
        [
            (
                lambda: Encoded(None),
                TypeError,
                "EncodedSumFactory encoder_fn: expected a callable, got NoneType",
            ),
            (
                lambda: Encoded(encoded.PlainEncoding, seed=1.5),
                TypeError,
                "EncodedSumFactory seed: expected an int, got 1.5",
            ),
            (
                lambda: Encoded.quantize_uniform(bits=0),
                ValueError,
                "UniformQuantizationEncoding bits: expected an integer in [1, 16], got 0",
            ),
            (
                lambda: Encoded.quantize_uniform(threshold=-1),
                ValueError,
                "EncodedSumFactory threshold: expected an int >= 0, got -1",
            ),
            (
                lambda: Encoded.top_k(k_fraction=1),
                TypeError,
                "EncodedSumFactory.top_k k_fraction: expected a float in (0, 1], got 1",
            ),
            (
                lambda: Encoded.top_k(k_fraction=1.5),
                ValueError,
                "kept_count k: expected a fraction in (0, 1], got 1.5",
            ),
        ],
        ids=["encoder_fn", "seed", "bits", "threshold", "int_fraction", "large_fraction"],
    )
    def test_raises_when_an_argument_is_of_the_wrong_kind(self, build, error, message):
        with pytest.raises(error) as raised:
            build()

        assert str(raised.value) == message


class TestEncodings:
    def test_are_frozen_values_when_compared(self):
        assert encoded.UniformQuantizationEncoding(8) == encoded.UniformQuantizationEncoding(8)
        assert encoded.TopKEncoding(0.1) != encoded.TopKEncoding(0.2)
        assert encoded.UniformQuantizationEncoding(8, hadamard=True).decode_needs_seed
        assert not encoded.UniformQuantizationEncoding(8).decode_needs_seed

    def test_round_trip_exactly_when_plain(self):
        value = tf.constant([1.5, -2.0])
        spec = tf.TensorSpec([2], tf.float32)
        plain = encoded.PlainEncoding()

        decoded = plain.decode(plain.encode(value, tf.constant([0, 0], tf.int64)), None, spec)

        np.testing.assert_array_equal(decoded, value)


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(encoded, globs=vars(encoded)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
