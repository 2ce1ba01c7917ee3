"""Tests for tffl/learning/model_update_aggregator.py: the DP aggregator of model updates."""

import doctest

import numpy as np
import pytest

from tests.learning.algorithms import conftest
import tffl
from tffl.learning import model_update_aggregator

VECTOR = (np.float32, [2])


class TestDpAggregator:
    def test_is_adaptive_dp_behind_adaptive_zeroing_when_zeroing(self):
        aggregator = tffl.learning.dp_aggregator(noise_multiplier=0.0, clients_per_round=10)

        process = aggregator.create(VECTOR)

        assert isinstance(aggregator, tffl.aggregators.UnweightedAggregationFactory)
        assert str(process.next.type_signature.result.measurements) == (
            "<zeroing=<dp_query_metrics=<clip=float32>,dp=<>>,zeroing_norm=float32,"
            "zeroed_count=int32>@SERVER"
        )
        state = process.initialize()
        assert list(state) == ["zeroing_norm", "inner_agg", "zeroed_count_agg"]
        # TFF's defaults: zeroing at 2 * 10 + 1 (max norm), clipping from 0.1 toward the
        # median; all ten norms are above 0.1, so the clip grows by exp(0.2 * 0.5).
        output = process.next(state, [[3.0, 4.0]] * 10)
        assert output.measurements["zeroing_norm"] == np.float32(21.0)
        np.testing.assert_allclose(
            output.measurements["zeroing"]["dp_query_metrics"]["clip"], 0.1 * np.exp(0.1), rtol=1e-6
        )

    def test_zeroes_a_non_finite_or_huge_update_before_clipping(self):
        process = tffl.learning.dp_aggregator(0.0, 3).create(VECTOR)
        clients = [[0.03, 0.04], [np.nan, 0.0], [30.0, 0.0]]

        output = process.next(process.initialize(), clients)

        assert output.measurements["zeroed_count"] == 2
        np.testing.assert_allclose(output.result, np.float32([0.03, 0.04]) / 3, rtol=1e-6)

    def test_is_the_dp_factory_alone_without_zeroing(self):
        aggregator = tffl.learning.dp_aggregator(0.5, 10, zeroing=False)

        process = aggregator.create(VECTOR)

        assert isinstance(aggregator, tffl.aggregators.DifferentiallyPrivateFactory)
        assert str(process.next.type_signature.result.measurements) == (
            "<dp_query_metrics=<clip=float32>,dp=<>>@SERVER"
        )

    def test_raises_value_error_naming_the_value_when_noise_is_negative(self):
        with pytest.raises(ValueError) as raised:
            tffl.learning.dp_aggregator(noise_multiplier=-1.0, clients_per_round=10)
        assert str(raised.value) == (
            "DifferentiallyPrivateFactory.gaussian_adaptive noise_multiplier: "
            "expected a non-negative float, got -1.0"
        )


class TestDpFedAvg:
    def test_unweighted_fed_avg_reports_the_dp_measurements(self):
        process = tffl.learning.algorithms.build_unweighted_fed_avg(
            conftest.keras_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
            model_aggregator=tffl.learning.dp_aggregator(noise_multiplier=0.1, clients_per_round=2),
        )
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 30)]

        output = process.next(conftest.start(process), data)

        aggregator = output.metrics["aggregator"]
        assert list(aggregator) == ["zeroing", "zeroing_norm", "zeroed_count"]
        assert list(aggregator["zeroing"]) == ["dp_query_metrics", "dp"]
        # The noised unclipped fraction is clamped to [0, 1]: the clip moves by e**±0.1 at most.
        clip = aggregator["zeroing"]["dp_query_metrics"]["clip"]
        assert 0.1 * np.exp(-0.1) * (1 - 1e-6) <= clip <= 0.1 * np.exp(0.1) * (1 + 1e-6)
        weights = process.get_model_weights(output.state).trainable
        assert all(np.all(np.isfinite(w)) for w in weights)

    def test_weighted_fed_avg_accepts_the_unweighted_dp_aggregator(self):
        aggregator = tffl.learning.dp_aggregator(0.0, 2, zeroing=False)
        weighted = tffl.learning.algorithms.build_weighted_fed_avg(
            conftest.keras_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
            model_aggregator=aggregator,
        )
        unweighted = tffl.learning.algorithms.build_unweighted_fed_avg(
            conftest.keras_model_fn,
            tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
            model_aggregator=aggregator,
        )
        data = [conftest.client_dataset(1, 10), conftest.client_dataset(2, 30)]

        got = weighted.next(conftest.start(weighted), data).state
        want = unweighted.next(conftest.start(unweighted), data).state

        for g, w in zip(
            weighted.get_model_weights(got).trainable, unweighted.get_model_weights(want).trainable
        ):
            np.testing.assert_array_equal(g, w)


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        finder = doctest.DocTestFinder()
        for test in finder.find(model_update_aggregator, globs=vars(model_update_aggregator)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
