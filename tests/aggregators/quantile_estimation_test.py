"""Tests for tffl/aggregators/quantile_estimation.py: tracking a quantile of client values."""

import doctest

import numpy as np
import pytest
from tensorflow_privacy.privacy.dp_query import quantile_estimator_query

import tffl
from tffl.aggregators import quantile_estimation

Process = tffl.aggregators.PrivateQuantileEstimationProcess
QUERY_STATE = (
    "<current_estimate=float32,target_quantile=float32,learning_rate=float32,"
    "below_estimate_state=<>>"
)
CLIENTS = [1.0, 2.0, 8.0, 16.0, 32.0]


def _geometric_update(estimate, fraction_below, target, learning_rate):
    """tensorflow-privacy's geometric update, in float32."""
    f32 = np.float32
    update = f32(learning_rate) * (f32(fraction_below) - f32(target))
    return f32(estimate) * np.exp(-update)


class TestPrivateQuantileEstimationProcess:
    def test_has_query_and_record_states_when_built_without_noise(self):
        process = Process.no_noise(initial_estimate=4.0, target_quantile=0.5, learning_rate=0.5)

        state = f"<{QUERY_STATE},<>>@SERVER"
        assert isinstance(process, Process)
        assert isinstance(process, tffl.templates.EstimationProcess)
        assert str(process.initialize.type_signature) == f"( -> {state})"
        assert str(process.next.type_signature) == (
            f"(<state={state},value={{float32}}@CLIENTS> -> {state})"
        )
        assert str(process.report.type_signature) == f"({state} -> float32@SERVER)"

    def test_reports_the_initial_estimate_when_initialized(self):
        process = Process.no_noise(initial_estimate=4.0, target_quantile=0.5, learning_rate=0.5)

        state = process.initialize()

        assert process.report(state) == np.float32(4.0)
        query_state, record_state = state
        assert query_state._fields == (
            "current_estimate",
            "target_quantile",
            "learning_rate",
            "below_estimate_state",
        )
        assert tuple(query_state) == (4.0, 0.5, 0.5, ())
        assert record_state == ()

    def test_follows_the_geometric_update_when_two_fifths_are_below(self):
        process = Process.no_noise(initial_estimate=4.0, target_quantile=0.5, learning_rate=0.5)

        state = process.next(process.initialize(), CLIENTS)

        np.testing.assert_allclose(
            process.report(state), _geometric_update(4.0, 0.4, 0.5, 0.5), rtol=1e-6
        )

    def test_reports_the_affine_map_when_multiplier_and_increment_are_given(self):
        process = Process.no_noise(
            initial_estimate=4.0,
            target_quantile=0.5,
            learning_rate=0.5,
            multiplier=2.0,
            increment=1.0,
        )

        state = process.next(process.initialize(), CLIENTS)

        assert isinstance(process, tffl.templates.EstimationProcess)
        assert process.report(process.initialize()) == np.float32(9.0)
        np.testing.assert_allclose(
            process.report(state), 2.0 * _geometric_update(4.0, 0.4, 0.5, 0.5) + 1.0, rtol=1e-6
        )

    def test_matches_the_plain_sum_when_estimation_is_secure(self):
        plain = Process.no_noise(initial_estimate=4.0, target_quantile=0.3, learning_rate=0.2)
        secure = Process.no_noise(
            initial_estimate=4.0, target_quantile=0.3, learning_rate=0.2, secure_estimation=True
        )

        plain_state = plain.next(plain.initialize(), CLIENTS)
        secure_state = secure.next(secure.initialize(), CLIENTS)

        assert secure.report(secure_state) == plain.report(plain_state)
        assert "federated_secure_sum_bitwidth" in str(secure.next)

    def test_follows_the_query_when_it_is_a_gaussian_query_without_noise(self):
        query = quantile_estimator_query.QuantileEstimatorQuery(
            initial_estimate=4.0,
            target_quantile=0.5,
            learning_rate=0.5,
            below_estimate_stddev=0.0,
            expected_num_records=5.0,
            geometric_update=True,
        )
        process = Process(query)

        state = process.next(process.initialize(), CLIENTS)

        np.testing.assert_allclose(
            process.report(state), _geometric_update(4.0, 0.4, 0.5, 0.5), rtol=1e-6
        )

    def test_raises_type_error_when_query_is_not_a_quantile_query(self):
        with pytest.raises(TypeError) as raised:
            Process("query")
        assert str(raised.value) == (
            "PrivateQuantileEstimationProcess quantile_estimator_query: expected a "
            "tensorflow_privacy QuantileEstimatorQuery, got str"
        )

    def test_raises_type_error_when_record_factory_is_weighted(self):
        query = quantile_estimator_query.NoPrivacyQuantileEstimatorQuery(1.0, 0.5, 0.1, True)

        with pytest.raises(TypeError) as raised:
            Process(query, tffl.aggregators.MeanFactory())
        assert str(raised.value) == (
            "PrivateQuantileEstimationProcess record_aggregation_factory: expected an "
            "UnweightedAggregationFactory, got MeanFactory"
        )

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            (dict(initial_estimate=0.0), "initial_estimate: expected a positive float, got 0.0"),
            (
                dict(target_quantile=1.5),
                "target_quantile: expected a float in [0, 1], got 1.5",
            ),
            (dict(learning_rate=-0.1), "learning_rate: expected a positive float, got -0.1"),
            (dict(multiplier="2"), "multiplier: expected a positive float, got '2'"),
            (dict(increment=-1.0), "increment: expected a non-negative float, got -1.0"),
        ],
        ids=["estimate", "quantile", "learning-rate", "multiplier", "increment"],
    )
    def test_raises_value_error_when_a_number_is_out_of_range(self, kwargs, message):
        arguments = dict(initial_estimate=1.0, target_quantile=0.5, learning_rate=0.1)
        arguments.update(kwargs)

        with pytest.raises(ValueError) as raised:
            Process.no_noise(**arguments)
        assert str(raised.value) == f"PrivateQuantileEstimationProcess.no_noise {message}"


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        finder = doctest.DocTestFinder()
        for test in finder.find(quantile_estimation, globs=vars(quantile_estimation)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
