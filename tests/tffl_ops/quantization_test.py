"""Tests for tffl_ops/quantization.py: unbiased stochastic uniform quantization."""

import doctest

import numpy as np
import pytest
import tensorflow as tf

from tffl_ops import quantization

SEED = tf.constant([3, 4], tf.int64)


def _round_trip(value, bits, seed=SEED):
    return quantization.dequantize(quantization.quantize(value, bits, seed), bits)


def _vector(size=16, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=size), tf.float32)


class TestQuantize:
    def test_is_unbiased_when_averaged_over_2000_seeds(self):
        value = _vector()
        bits, trials = 2, 2000

        @tf.function
        def decoded(seed):
            return _round_trip(value, bits, seed)

        samples = np.stack([decoded(tf.constant([i, 7], tf.int64)).numpy() for i in range(trials)])
        samples = samples.astype(np.float64)
        x = value.numpy().astype(np.float64)
        step = (x.max() - x.min()) / (2**bits - 1)
        fraction = (x - x.min()) / step - np.floor((x - x.min()) / step)
        sigma = step * np.sqrt(fraction * (1 - fraction))  # a Bernoulli step per element
        error = samples.mean(axis=0) - x

        # Exact levels (sigma 0) are off by float32 rounding only.
        assert np.all(np.abs(error) <= 3 * sigma / np.sqrt(trials) + 1e-6), (error, sigma)
        assert abs(error.mean()) <= 3 * np.sqrt(np.sum(sigma**2)) / len(x) / np.sqrt(trials)
        assert len(np.unique(samples[:, 1])) == 2  # rounded both ways, not always the same

    @pytest.mark.parametrize("bits", [1, 2, 4, 8, 12, 16])
    def test_error_is_below_one_step_when_bits_vary(self, bits):
        value = _vector(1000)
        step = (float(tf.reduce_max(value)) - float(tf.reduce_min(value))) / (2**bits - 1)

        error = np.abs(_round_trip(value, bits).numpy() - value.numpy())

        assert error.max() < step * (1 + 1e-5) + 1e-6

    def test_rounds_to_the_two_neighbouring_levels_when_value_is_between_them(self):
        value = tf.constant([0.0, 0.25, 1.0])  # with 2 bits the levels are 0, 1/3, 2/3, 1

        codes = {
            int(quantization.quantize(value, 2, tf.constant([i, 0])).codes[1]) for i in range(50)
        }

        assert codes == {0, 1}

    def test_codes_and_range_are_exact_when_value_is_on_the_levels(self):
        value = tf.constant([[0.0, 1.0], [3.0, 2.0]])  # with 2 bits the levels are 0, 1, 2, 3

        for seed in range(20):
            quantized = quantization.quantize(value, 2, tf.constant([seed, 0]))

            assert quantized.codes.numpy().tolist() == [[0, 1], [3, 2]]
            assert (float(quantized.minimum), float(quantized.maximum)) == (0.0, 3.0)

    @pytest.mark.parametrize(
        "bits, dtype", [(1, tf.uint8), (8, tf.uint8), (9, tf.int32), (16, tf.int32)]
    )
    def test_codes_are_uint8_up_to_8_bits_and_int32_above(self, bits, dtype):
        quantized = quantization.quantize(_vector(), bits, SEED)

        assert quantized.codes.dtype == dtype
        assert quantization.code_dtype(bits) == dtype
        assert int(tf.reduce_max(tf.cast(quantized.codes, tf.int64))) <= 2**bits - 1

    def test_decodes_exactly_when_tensor_is_constant(self):
        value = tf.fill([3, 2], 2.5)
        quantized = quantization.quantize(value, 8, SEED)

        assert quantized.codes.numpy().tolist() == [[0, 0]] * 3
        np.testing.assert_array_equal(quantization.dequantize(quantized, 8), value)

    def test_gives_the_same_codes_when_seed_is_the_same_and_others_when_not(self):
        value = _vector(100)

        first = quantization.quantize(value, 4, tf.constant([1, 2])).codes.numpy()
        again = quantization.quantize(value, 4, tf.constant([1, 2])).codes.numpy()
        other = quantization.quantize(value, 4, tf.constant([1, 3])).codes.numpy()

        np.testing.assert_array_equal(first, again)
        assert np.any(first != other)

    def test_keeps_dtype_and_shape_when_value_is_float64_or_float16(self):
        for dtype in (tf.float64, tf.float16):
            value = tf.cast(tf.reshape(_vector(12), [3, 4]), dtype)
            quantized = quantization.quantize(value, 8, SEED)
            decoded = quantization.dequantize(quantized, 8)

            assert quantized.minimum.dtype == dtype
            assert decoded.dtype == dtype and decoded.shape == (3, 4)

    def test_gives_empty_codes_and_zero_range_when_tensor_is_empty(self):
        quantized = quantization.quantize(tf.zeros([0, 3]), 8, SEED)

        assert quantized.codes.shape == (0, 3) and quantized.codes.dtype == tf.uint8
        assert (float(quantized.minimum), float(quantized.maximum)) == (0.0, 0.0)

    def test_encoded_bytes_are_a_quarter_plus_8_when_float32_goes_to_8_bits(self):
        quantized = quantization.quantize(tf.zeros([64, 64]), 8, SEED)
        encoded = sum(t.numpy().nbytes for t in quantized)

        assert (encoded, 64 * 64 * 4) == (4104, 16384)

    @pytest.mark.parametrize(
        "bits, error, message",
        [
            (0, ValueError, "quantize bits: expected an integer in [1, 16], got 0"),
            (17, ValueError, "quantize bits: expected an integer in [1, 16], got 17"),
            (True, TypeError, "quantize bits: expected an integer in [1, 16], got True"),
            (8.0, TypeError, "quantize bits: expected an integer in [1, 16], got 8.0"),
        ],
    )
    def test_raises_when_bits_are_out_of_range_or_not_int(self, bits, error, message):
        with pytest.raises(error) as raised:
            quantization.quantize(_vector(), bits, SEED)

        assert str(raised.value) == message

    def test_raises_when_value_is_an_integer_tensor(self):
        with pytest.raises(TypeError) as raised:
            quantization.quantize(tf.constant([1, 2]), 8, SEED)

        assert str(raised.value) == "quantize: expected a floating-point tensor, got int32"


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(quantization, globs=vars(quantization)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
