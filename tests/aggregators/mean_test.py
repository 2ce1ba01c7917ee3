"""Tests for tffl/aggregators/mean.py: weighted and unweighted means via inner sums."""

import collections
import doctest

import numpy as np
import pytest

import tffl
from tffl.aggregators import mean

VALUE_TYPE = collections.OrderedDict(a=np.float32, b=(np.float32, [2]))
CLIENTS = [
    collections.OrderedDict(a=1.0, b=[2.0, -1.0]),
    collections.OrderedDict(a=2.0, b=[4.0, 0.0]),
    collections.OrderedDict(a=6.0, b=[0.0, 3.0]),
]


def _assert_struct(result, a, b):
    assert list(result) == ["a", "b"]
    assert result["a"] == np.float32(a)
    np.testing.assert_array_equal(result["b"], np.float32(b))


class TestMeanFactory:
    def test_has_inner_states_and_measurements_when_created(self):
        process = tffl.aggregators.MeanFactory().create(np.float32, np.float32)

        assert process.is_weighted
        assert str(process.initialize.type_signature) == (
            "( -> <value_sum_process=<>,weight_sum_process=<>>@SERVER)"
        )
        assert str(process.next.type_signature) == (
            "(<state=<value_sum_process=<>,weight_sum_process=<>>@SERVER,"
            "value={float32}@CLIENTS,weight={float32}@CLIENTS> -> "
            "<state=<value_sum_process=<>,weight_sum_process=<>>@SERVER,"
            "result=float32@SERVER,measurements=<mean_value=<>,mean_weight=<>>@SERVER>)"
        )

    def test_gives_the_weighted_mean_when_value_is_a_scalar(self):
        process = tffl.aggregators.MeanFactory().create(np.float32, np.float32)

        output = process.next(process.initialize(), [1.0, 2.0, 6.0], [1.0, 2.0, 1.0])

        assert output.result == np.float32(2.75)
        assert output.state == collections.OrderedDict(value_sum_process=(), weight_sum_process=())
        assert output.measurements == collections.OrderedDict(mean_value=(), mean_weight=())

    def test_casts_integer_weights_when_value_is_a_struct(self):
        process = tffl.aggregators.MeanFactory().create(VALUE_TYPE, np.int32)

        result = process.next(process.initialize(), CLIENTS, [1, 2, 1]).result

        _assert_struct(result, 2.75, [2.5, 0.5])

    def test_gives_zeros_when_total_weight_is_zero_and_no_nan_division(self):
        process = tffl.aggregators.MeanFactory(no_nan_division=True).create(VALUE_TYPE, np.float32)

        result = process.next(process.initialize(), CLIENTS, [0.0, 0.0, 0.0]).result

        _assert_struct(result, 0.0, [0.0, 0.0])

    def test_follows_tensorflow_division_when_total_weight_is_zero(self):
        process = tffl.aggregators.MeanFactory().create(np.float32, np.float32)

        result = process.next(process.initialize(), [1.0, -1.0, 0.0], [0.0, 0.0, 0.0]).result

        assert np.isnan(result)

    def test_passes_inner_measurements_when_value_sum_factory_is_clipping(self):
        value_sum = tffl.aggregators.clipping_factory(4.0, tffl.aggregators.SumFactory())
        process = tffl.aggregators.MeanFactory(value_sum_factory=value_sum).create(
            np.float32, np.float32
        )

        output = process.next(process.initialize(), [1.0, 2.0, 6.0], [1.0, 2.0, 1.0])

        # The weighted values 1, 4, 6 are clipped to 1, 4, 4.
        assert output.result == np.float32(2.25)
        assert output.measurements == collections.OrderedDict(
            mean_value=collections.OrderedDict(clipping=(), clipping_norm=4.0, clipped_count=1),
            mean_weight=(),
        )

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            (
                dict(value_sum_factory=tffl.aggregators.MeanFactory()),
                "MeanFactory value_sum_factory: expected an UnweightedAggregationFactory, "
                "got MeanFactory",
            ),
            (
                dict(weight_sum_factory="sum"),
                "MeanFactory weight_sum_factory: expected an UnweightedAggregationFactory, got str",
            ),
        ],
        ids=["weighted-value-sum", "string-weight-sum"],
    )
    def test_raises_type_error_when_an_inner_factory_is_not_unweighted(self, kwargs, message):
        with pytest.raises(TypeError) as raised:
            tffl.aggregators.MeanFactory(**kwargs)
        assert str(raised.value) == message

    def test_raises_type_mismatch_when_value_type_is_integer(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.aggregators.MeanFactory().create(np.int32, np.float32)
        assert str(raised.value) == (
            "MeanFactory.create value_type: expected a float tensor, or a (nested) struct of "
            "them, got int32"
        )

    def test_raises_type_mismatch_when_weight_type_is_a_vector(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.aggregators.MeanFactory().create(np.float32, (np.float32, [2]))
        assert str(raised.value) == (
            "MeanFactory.create weight_type: expected a float or integer scalar tensor, "
            "got float32[2]"
        )


class TestUnweightedMeanFactory:
    def test_has_inner_states_and_measurements_when_created(self):
        process = tffl.aggregators.UnweightedMeanFactory().create(np.float32)

        assert not process.is_weighted
        assert str(process.initialize.type_signature) == (
            "( -> <value_sum_process=<>,count_sum_process=<>>@SERVER)"
        )
        assert str(process.next.type_signature) == (
            "(<state=<value_sum_process=<>,count_sum_process=<>>@SERVER,"
            "value={float32}@CLIENTS> -> "
            "<state=<value_sum_process=<>,count_sum_process=<>>@SERVER,"
            "result=float32@SERVER,measurements=<mean_value=<>,mean_count=<>>@SERVER>)"
        )

    def test_gives_the_mean_when_value_is_a_scalar(self):
        process = tffl.aggregators.UnweightedMeanFactory().create(np.float32)

        output = process.next(process.initialize(), [1.0, 2.0, 6.0])

        assert output.result == np.float32(3.0)
        assert output.measurements == collections.OrderedDict(mean_value=(), mean_count=())

    def test_gives_the_mean_when_value_is_a_struct(self):
        process = tffl.aggregators.UnweightedMeanFactory().create(VALUE_TYPE)

        result = process.next(process.initialize(), CLIENTS).result

        _assert_struct(result, 3.0, [2.0, 2.0 / 3.0])

    def test_raises_type_error_when_count_sum_factory_is_not_a_factory(self):
        with pytest.raises(TypeError) as raised:
            tffl.aggregators.UnweightedMeanFactory(count_sum_factory=object())
        assert str(raised.value) == (
            "UnweightedMeanFactory count_sum_factory: expected an UnweightedAggregationFactory, "
            "got object"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(mean, globs=vars(mean)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
