"""Tests for tffl/aggregators/sum_factory.py: the plain sum of client values."""

import collections
import doctest

import numpy as np
import pytest

import tffl
from tffl.aggregators import sum_factory

MODEL_WEIGHTS = collections.OrderedDict(
    trainable=[(np.float32, [2, 1]), (np.float32, [1])], non_trainable=[]
)


class TestSumFactory:
    def test_has_empty_state_and_measurements_when_created(self):
        process = tffl.aggregators.SumFactory().create((np.float32, [2]))

        assert isinstance(process, tffl.templates.AggregationProcess)
        assert not process.is_weighted
        assert str(process.initialize.type_signature) == "( -> <>@SERVER)"
        assert str(process.next.type_signature) == (
            "(<state=<>@SERVER,value={float32[2]}@CLIENTS> -> "
            "<state=<>@SERVER,result=float32[2]@SERVER,measurements=<>@SERVER>)"
        )

    def test_sums_three_clients_when_value_is_a_scalar(self):
        process = tffl.aggregators.SumFactory().create(np.float32)

        output = process.next(process.initialize(), [1.0, 2.5, -0.25])

        assert output == tffl.templates.MeasuredProcessOutput((), np.float32(3.25), ())

    def test_sums_leafwise_when_value_is_a_struct_with_integers(self):
        value_type = collections.OrderedDict(a=np.int32, b=(np.float32, [2]))
        process = tffl.aggregators.SumFactory().create(value_type)
        clients = [
            collections.OrderedDict(a=1, b=[0.5, 1.0]),
            collections.OrderedDict(a=2, b=[0.25, 2.0]),
            collections.OrderedDict(a=3, b=[0.125, 4.0]),
        ]

        result = process.next(process.initialize(), clients).result

        assert list(result) == ["a", "b"]
        assert result["a"] == np.int32(6)
        np.testing.assert_array_equal(result["b"], np.float32([0.875, 7.0]))

    def test_sums_model_weights_when_a_struct_is_empty(self):
        process = tffl.aggregators.SumFactory().create(MODEL_WEIGHTS)
        client = collections.OrderedDict(
            trainable=[np.float32([[1.0], [2.0]]), np.float32([0.5])], non_trainable=[]
        )

        result = process.next(process.initialize(), [client, client, client]).result

        np.testing.assert_array_equal(result["trainable"][0], [[3.0], [6.0]])
        np.testing.assert_array_equal(result["trainable"][1], [1.5])
        assert result["non_trainable"] == []

    def test_raises_type_mismatch_when_value_type_is_federated(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.aggregators.SumFactory().create(tffl.FederatedType(np.float32, tffl.CLIENTS))
        assert str(raised.value) == (
            "SumFactory.create value_type: expected a float or integer tensor, or a (nested) "
            "struct of them, got {float32}@CLIENTS"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(sum_factory, globs=vars(sum_factory)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
