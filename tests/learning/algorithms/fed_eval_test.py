"""Tests for federated evaluation: metrics of the state's model, this round and in total."""

import numpy as np
import pytest

from tests.learning.algorithms import conftest
import tffl


@pytest.fixture(scope="module")
def fed_eval():
    return tffl.learning.algorithms.build_fed_eval(conftest.keras_model_fn)


class TestFedEval:
    def test_metrics_equal_a_centralized_evaluation_of_all_clients(self, fed_eval):
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 7)]
        weights = conftest.fixed_weights()
        output = fed_eval.next(conftest.start(fed_eval, weights), data)
        current = output.metrics["client_work"]["eval"]["current_round_metrics"]
        union = data[0].concatenate(data[1])
        central = tffl.learning.baselines.evaluate_centralized(
            conftest.keras_model_fn, weights, union
        )
        assert list(current) == list(central)
        for name in central:
            assert current[name] == pytest.approx(central[name], rel=1e-6), name

    def test_weights_stay_and_totals_add_up_over_rounds(self, fed_eval):
        state = conftest.start(fed_eval)
        first = fed_eval.next(state, [conftest.client_dataset(1, 10)])
        second = fed_eval.next(first.state, [conftest.client_dataset(2, 6)])
        total = second.metrics["client_work"]["eval"]["total_rounds_metrics"]
        assert (total["num_examples"], total["num_batches"]) == (16, 4)
        for a, b in zip(
            fed_eval.get_model_weights(state).trainable,
            fed_eval.get_model_weights(second.state).trainable,
        ):
            np.testing.assert_array_equal(a, b)

    def test_metrics_structure(self, fed_eval):
        assert str(fed_eval.next.type_signature.result.metrics) == (
            "<distributor=<>,client_work=<eval=<current_round_metrics=<sparse_categorical_accuracy"
            "=float32,loss=float32,num_examples=int64,num_batches=int64>,total_rounds_metrics="
            "<sparse_categorical_accuracy=float32,loss=float32,num_examples=int64,num_batches="
            "int64>>>,aggregator=<>,finalizer=<>>@SERVER"
        )
