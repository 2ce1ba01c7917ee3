"""Tests for tffl_ops/sparsification.py: top-k by magnitude and error feedback."""

import doctest

import numpy as np
import pytest
import tensorflow as tf

from tffl_ops import sparsification


class TestKeptCount:
    @pytest.mark.parametrize(
        "num_elements, k, expected",
        [
            (640, 0.1, 64),
            (4096, 0.1, 410),
            (3, 0.5, 2),
            (10, 0.01, 1),
            (5, 1.0, 5),
            (0, 0.5, 0),
            (10, 3, 3),
            (10, 64, 10),
            (10, np.int64(2), 2),
        ],
        ids=lambda case: repr(case),
    )
    def test_counts_or_rounds_the_fraction_when_k_varies(self, num_elements, k, expected):
        assert sparsification.kept_count(num_elements, k) == expected

    @pytest.mark.parametrize(
        "k, error, message",
        [
            (0, ValueError, "kept_count k: expected a count of at least 1, got 0"),
            (0.0, ValueError, "kept_count k: expected a fraction in (0, 1], got 0.0"),
            (1.5, ValueError, "kept_count k: expected a fraction in (0, 1], got 1.5"),
            (True, TypeError, "kept_count k: expected an int count or a float fraction, got True"),
            ("1", TypeError, "kept_count k: expected an int count or a float fraction, got '1'"),
        ],
    )
    def test_raises_when_k_is_of_the_wrong_kind_or_range(self, k, error, message):
        with pytest.raises(error) as raised:
            sparsification.kept_count(10, k)

        assert str(raised.value) == message


class TestTopK:
    def test_keeps_the_k_largest_magnitudes_exactly_when_value_is_random(self):
        value = np.random.default_rng(0).normal(size=(32, 20)).astype(np.float32)

        kept = sparsification.top_k(tf.constant(value), 0.1)

        flat = value.ravel()
        expected = np.argsort(-np.abs(flat), kind="stable")[:64]
        assert kept.indices.dtype == tf.int32
        assert kept.indices.numpy().tolist() == expected.tolist()
        np.testing.assert_array_equal(kept.values, flat[expected])

    def test_keeps_the_lower_index_when_magnitudes_tie(self):
        kept = sparsification.top_k(tf.constant([1.0, -2.0, 2.0, 0.5]), 1)

        assert kept.indices.numpy().tolist() == [1]
        assert kept.values.numpy().tolist() == [-2.0]

    def test_densify_restores_the_value_when_k_keeps_everything(self):
        value = tf.constant(np.random.default_rng(1).normal(size=(4, 5)), tf.float32)

        restored = sparsification.densify(sparsification.top_k(value, 1.0), [4, 5])

        np.testing.assert_array_equal(restored, value)

    def test_densify_puts_zeros_elsewhere_when_k_is_2(self):
        value = tf.constant([[0.5, -3.0, 0.1], [2.0, 1.0, -0.2]])

        restored = sparsification.densify(sparsification.top_k(value, 2), [2, 3])

        assert restored.numpy().tolist() == [[0.0, -3.0, 0.0], [2.0, 0.0, 0.0]]


class TestErrorFeedback:
    def test_sent_plus_new_residual_equals_value_plus_residual_exactly(self):
        rng = np.random.default_rng(2)
        value = tf.constant(rng.normal(size=100), tf.float32)
        residual = tf.constant(rng.normal(size=100), tf.float32)

        encoded, new_residual = sparsification.top_k_with_error_feedback(value, residual, 0.1)

        sent = sparsification.densify(encoded, [100])
        np.testing.assert_array_equal(sent + new_residual, value + residual)
        assert int(tf.math.count_nonzero(tf.gather(new_residual, encoded.indices))) == 0

    def test_sends_everything_eventually_when_rounds_repeat_a_value(self):
        # Dyadic values: every sum below is exact in float32.
        value = tf.constant([4.0, 2.0, 1.0, 0.5])
        residual = tf.zeros([4])
        total_sent = tf.zeros([4])
        rounds = 9

        for _ in range(rounds):
            encoded, residual = sparsification.top_k_with_error_feedback(value, residual, 1)
            total_sent += sparsification.densify(encoded, [4])

        np.testing.assert_array_equal(total_sent + residual, rounds * value)
        assert total_sent.numpy().tolist() == [32.0, 14.0, 5.0, 4.5]  # the smallest one too

    def test_is_top_k_of_value_when_residual_is_zero(self):
        value = tf.constant([0.1, -5.0, 3.0])

        encoded, residual = sparsification.top_k_with_error_feedback(value, tf.zeros([3]), 1)

        assert encoded.indices.numpy().tolist() == [1]
        np.testing.assert_array_equal(residual, np.float32([0.1, 0.0, 3.0]))


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(sparsification, globs=vars(sparsification)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
