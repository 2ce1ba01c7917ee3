"""Tests for tffl/aggregators/factory.py: the factory interfaces and the type checks."""

import collections
import doctest

import numpy as np
import pytest

import tffl
from tffl.aggregators import factory

NUMERIC = "expected a float or integer tensor, or a (nested) struct of them"
FLOATS = "expected a float tensor, or a (nested) struct of them"
MODEL_WEIGHTS = collections.OrderedDict(
    trainable=[(np.float32, [64, 32]), (np.float32, [32])], non_trainable=[]
)


class TestFactoryInterfaces:
    @pytest.mark.parametrize(
        "cls", [factory.UnweightedAggregationFactory, factory.WeightedAggregationFactory]
    )
    def test_cannot_be_instantiated_when_create_is_not_implemented(self, cls):
        with pytest.raises(TypeError):
            cls()

    def test_aggregation_factory_is_the_union_of_both_kinds(self):
        assert factory.AggregationFactory.__args__ == (
            factory.UnweightedAggregationFactory,
            factory.WeightedAggregationFactory,
        )


class TestCheckValueType:
    @pytest.mark.parametrize(
        "spec, floats_only, expected",
        [
            (np.float32, True, "float32"),
            ((np.float64, [3]), True, "float64[3]"),
            (MODEL_WEIGHTS, True, "<trainable=<float32[64,32],float32[32]>,non_trainable=<>>"),
            ([np.int32, (np.int64, [2])], False, "<int32,int64[2]>"),
            (tffl.StructType([]), True, "<>"),
        ],
        ids=["scalar", "vector", "model-weights", "integers", "empty-struct"],
    )
    def test_gives_the_type_when_spec_is_accepted(self, spec, floats_only, expected):
        checked = factory.check_value_type(spec, "create value_type", floats_only)

        assert str(checked) == expected

    @pytest.mark.parametrize(
        "spec, floats_only, message",
        [
            (
                tffl.FederatedType(np.float32, tffl.CLIENTS),
                False,
                f"create value_type: {NUMERIC}, got {{float32}}@CLIENTS",
            ),
            (np.int32, True, f"create value_type: {FLOATS}, got int32"),
            ([np.float32, np.bool_], False, f"create value_type: {NUMERIC}, got <float32,bool>"),
            (tffl.SequenceType(np.float32), False, f"create value_type: {NUMERIC}, got float32*"),
            (None, False, f"create value_type: {NUMERIC}, got None"),
            ("not a dtype", False, f"create value_type: {NUMERIC}, got 'not a dtype'"),
        ],
        ids=["federated", "integer-when-floats-only", "bool", "sequence", "none", "not-a-type"],
    )
    def test_raises_type_mismatch_when_spec_is_not_numeric_tensors(
        self, spec, floats_only, message
    ):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            factory.check_value_type(spec, "create value_type", floats_only)
        assert str(raised.value) == message


class TestCheckWeightType:
    @pytest.mark.parametrize("spec", [np.float32, np.int32, np.float64])
    def test_gives_the_type_when_weight_is_a_numeric_scalar(self, spec):
        assert factory.check_weight_type(spec, "weight") == tffl.TensorType(spec)

    @pytest.mark.parametrize(
        "spec, actual",
        [((np.float32, [2]), "float32[2]"), (np.bool_, "bool"), ([np.float32], "<float32>")],
        ids=["vector", "bool", "struct"],
    )
    def test_raises_type_mismatch_when_weight_is_not_a_numeric_scalar(self, spec, actual):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            factory.check_weight_type(spec, "weight")
        assert str(raised.value) == (
            f"weight: expected a float or integer scalar tensor, got {actual}"
        )


class TestCheckUnweightedFactory:
    def test_raises_type_error_when_factory_is_weighted(self):
        with pytest.raises(TypeError) as raised:
            factory.check_unweighted_factory(tffl.aggregators.MeanFactory(), "inner")
        assert (
            str(raised.value) == "inner: expected an UnweightedAggregationFactory, got MeanFactory"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(factory, globs={**vars(factory), "np": np}):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
