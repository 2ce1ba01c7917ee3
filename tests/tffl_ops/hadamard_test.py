"""Tests for tffl_ops/hadamard.py: the Walsh–Hadamard transform and random rotations."""

import doctest

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from tffl_ops import hadamard

SEED = tf.constant([5, 9], tf.int64)


class TestWalshHadamardTransform:
    @pytest.mark.parametrize("size", [1, 2, 4, 8, 64])
    def test_equals_sylvester_matrix_over_sqrt_n_when_applied_to_a_vector(self, size):
        vector = np.random.default_rng(size).normal(size=size)

        transformed = hadamard.walsh_hadamard_transform(tf.constant(vector)).numpy()

        expected = scipy.linalg.hadamard(size) @ vector / np.sqrt(size)
        np.testing.assert_allclose(transformed, expected, rtol=1e-12, atol=1e-12)

    def test_is_its_own_inverse_when_applied_twice(self):
        vector = tf.constant(np.random.default_rng(0).normal(size=256), tf.float32)

        twice = hadamard.walsh_hadamard_transform(hadamard.walsh_hadamard_transform(vector))

        np.testing.assert_allclose(twice, vector, atol=1e-5)

    @pytest.mark.parametrize("shape", [[3], [2, 2], []])
    def test_raises_when_input_is_not_a_vector_of_power_of_two_length(self, shape):
        with pytest.raises(ValueError) as raised:
            hadamard.walsh_hadamard_transform(tf.zeros(shape))

        assert str(raised.value) == (
            "walsh_hadamard_transform: expected a vector whose length is a power of two, "
            f"got shape {tf.TensorShape(shape)}"
        )


class TestRotate:
    @pytest.mark.parametrize(
        "shape", [[640], [64, 64], [3, 5], [1], []], ids=["640", "64x64", "3x5", "1", "scalar"]
    )
    def test_round_trip_is_exact_to_1e5_and_preserves_the_norm_when_shape_varies(self, shape):
        value = tf.constant(np.random.default_rng(1).normal(size=shape), tf.float32)

        rotated = hadamard.rotate(value, SEED)
        restored = hadamard.unrotate(rotated, SEED, shape)

        assert rotated.shape == (hadamard.padded_size(int(np.prod(shape))),)
        np.testing.assert_allclose(restored, value, atol=1e-5)
        np.testing.assert_allclose(tf.norm(rotated), tf.norm(value), rtol=1e-6)

    def test_spreads_a_spike_evenly_when_value_has_one_nonzero_element(self):
        value = tf.one_hot(3, 1024) * 10.0

        rotated = hadamard.rotate(value, SEED).numpy()

        np.testing.assert_allclose(np.abs(rotated), np.full(1024, 10.0 / 32.0), rtol=1e-6)

    def test_uses_the_same_signs_when_seed_is_the_same_and_others_when_not(self):
        signs = hadamard.random_signs(64, SEED, tf.float32).numpy()
        again = hadamard.random_signs(64, SEED, tf.float32).numpy()
        other = hadamard.random_signs(64, tf.constant([5, 10], tf.int64), tf.float32).numpy()

        assert set(signs.tolist()) == {-1.0, 1.0}
        np.testing.assert_array_equal(signs, again)
        assert np.any(signs != other)

    @pytest.mark.parametrize("size, padded", [(0, 1), (1, 1), (2, 2), (3, 4), (640, 1024)])
    def test_pads_to_the_next_power_of_two_when_size_varies(self, size, padded):
        assert hadamard.padded_size(size) == padded

    def test_raises_when_shape_is_not_fully_defined(self):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def rotate(value):
            return hadamard.rotate(value, SEED)

        with pytest.raises(ValueError) as raised:
            rotate.get_concrete_function()

        assert "rotate: expected a fully defined shape, got (None,)" in str(raised.value)


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(hadamard, globs=vars(hadamard)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
