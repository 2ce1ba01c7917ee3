"""Tests for tffl_ops/clipping.py: global norms, clipping and zeroing of structures."""

import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf

from tffl_ops import clipping

NAN = float("nan")
INF = float("inf")


def _value(first, second):
    return collections.OrderedDict(
        a=tf.constant(first, tf.float32), b=[tf.constant(second, tf.float32)]
    )


class TestGlobalNorms:
    @pytest.mark.parametrize(
        "order, expected",
        [("l1", 19.0), ("l2", 13.0), ("inf", 12.0)],
    )
    def test_treats_all_leaves_as_one_vector_when_structure_is_nested(self, order, expected):
        value = _value([3.0, -4.0], [[12.0]])
        norm = {
            "l1": clipping.global_l1_norm,
            "l2": clipping.global_l2_norm,
            "inf": clipping.global_inf_norm,
        }[order](value)

        assert norm.dtype == tf.float32
        assert float(norm) == expected

    @pytest.mark.parametrize("order, expected", [(1.0, 19.0), (2.0, 13.0), (np.inf, 12.0)])
    def test_dispatches_on_order_when_given_global_norm(self, order, expected):
        assert float(clipping.global_norm(_value([3.0, -4.0], [[12.0]]), order)) == expected

    def test_casts_to_float32_when_leaves_are_integers_or_float64(self):
        value = [tf.constant([3], tf.int32), tf.constant(4.0, tf.float64)]

        norm = clipping.global_l2_norm(value)

        assert norm.dtype == tf.float32
        assert float(norm) == 5.0

    @pytest.mark.parametrize(
        "fn", [clipping.global_l1_norm, clipping.global_l2_norm, clipping.global_inf_norm]
    )
    def test_gives_zero_when_structure_has_no_elements(self, fn):
        assert float(fn([(), tf.zeros([0], tf.float32)])) == 0.0

    def test_raises_value_error_when_order_is_unsupported(self):
        with pytest.raises(ValueError) as raised:
            clipping.global_norm([tf.constant(1.0)], 3.0)
        assert str(raised.value) == "global_norm: expected order 1.0, 2.0 or inf, got 3.0"


class TestClipByGlobalL2Norm:
    def test_scales_by_clip_over_norm_when_norm_exceeds_clip(self):
        clipped, norm = clipping.clip_by_global_l2_norm(_value([3.0, 4.0], [[0.0]]), 2.0)

        scale = np.float32(2.0) / np.float32(5.0)
        np.testing.assert_array_equal(clipped["a"], np.float32([3.0, 4.0]) * scale)
        np.testing.assert_array_equal(clipped["b"][0], [[0.0]])
        assert float(norm) == 5.0

    def test_keeps_value_bit_for_bit_when_norm_is_within_clip(self):
        value = _value([0.1, 0.2], [[-0.3]])

        clipped, _ = clipping.clip_by_global_l2_norm(value, 2.0)

        np.testing.assert_array_equal(clipped["a"], np.float32([0.1, 0.2]))
        np.testing.assert_array_equal(clipped["b"][0], np.float32([[-0.3]]))

    def test_keeps_zeros_when_value_is_zero(self):
        clipped, norm = clipping.clip_by_global_l2_norm([tf.zeros([2])], 0.0)

        np.testing.assert_array_equal(clipped[0], [0.0, 0.0])
        assert float(norm) == 0.0

    def test_keeps_each_dtype_when_leaves_mix_float_dtypes(self):
        value = [tf.constant([6.0], tf.float64), tf.constant([8.0], tf.float16)]

        clipped, _ = clipping.clip_by_global_l2_norm(value, 5.0)

        assert [leaf.dtype for leaf in clipped] == [tf.float64, tf.float16]
        assert [leaf.numpy().tolist() for leaf in clipped] == [[3.0], [4.0]]

    def test_raises_type_error_when_a_leaf_is_an_integer(self):
        with pytest.raises(TypeError) as raised:
            clipping.clip_by_global_l2_norm([tf.constant([1])], 1.0)
        assert str(raised.value) == (
            "clip_by_global_l2_norm: expected floating-point leaves, got <dtype: 'int32'>"
        )


class TestAnyNonFinite:
    @pytest.mark.parametrize(
        "first, second, expected",
        [
            ([1.0, 2.0], [[3.0]], False),
            ([1.0, NAN], [[3.0]], True),
            ([1.0, 2.0], [[-INF]], True),
        ],
        ids=["finite", "nan", "infinity"],
    )
    def test_detects_nan_and_infinity_when_structure_is_nested(self, first, second, expected):
        assert bool(clipping.any_non_finite(_value(first, second))) is expected

    def test_gives_false_when_leaves_are_integers_or_absent(self):
        assert bool(clipping.any_non_finite([tf.constant([1]), ()])) is False


class TestZeroIf:
    def test_gives_exact_zeros_when_condition_holds_and_value_is_not_finite(self):
        zeroed = clipping.zero_if(tf.constant(True), _value([NAN, INF], [[2.0]]))

        np.testing.assert_array_equal(zeroed["a"], [0.0, 0.0])
        np.testing.assert_array_equal(zeroed["b"][0], [[0.0]])

    def test_keeps_value_when_condition_does_not_hold(self):
        zeroed = clipping.zero_if(tf.constant(False), _value([1.5, NAN], [[2.0]]))

        np.testing.assert_array_equal(zeroed["a"], [1.5, NAN])
        np.testing.assert_array_equal(zeroed["b"][0], [[2.0]])


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(clipping, globs=vars(clipping)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
