"""Tests for tffl/aggregators/differential_privacy.py: tensorflow-privacy DPQueries as processes."""

import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_privacy.privacy.dp_query import gaussian_query
from tensorflow_privacy.privacy.dp_query import normalized_query
from tensorflow_privacy.privacy.dp_query import quantile_adaptive_clip_sum_query
from tensorflow_privacy.privacy.dp_query import quantile_estimator_query

import tffl
from tffl.aggregators import differential_privacy

Factory = tffl.aggregators.DifferentiallyPrivateFactory
VECTOR = (np.float32, [2])
FIXED_STATE = "<<numerator_state=<l2_norm_clip=float32,stddev=float32>,denominator=float32>,<>>"
ADAPTIVE_STATE = (
    "<<numerator_state=<noise_multiplier=float32,sum_state=<l2_norm_clip=float32,stddev=float32>,"
    "quantile_estimator_state=<current_estimate=float32,target_quantile=float32,"
    "learning_rate=float32,below_estimate_state=<numerator_state=<l2_norm_clip=float32,"
    "stddev=float32>,denominator=float32>>>,denominator=float32>,<>>"
)


def _clients_with_norms(norms):
    """One float32[2] value per client, of L2 norm `norm` (a 3-4-5 direction)."""
    return [np.float32([0.6, 0.8]) * np.float32(norm) for norm in norms]


def _adaptive_clip(state):
    """The clipping norm in a gaussian_adaptive process's state."""
    return state[0].numerator_state.sum_state.l2_norm_clip


class TestTypeSignatures:
    def test_state_is_the_query_state_and_measurements_are_empty_when_fixed(self):
        process = Factory.gaussian_fixed(1.0, 10, 2.0).create(VECTOR)

        assert not process.is_weighted
        assert str(process.initialize.type_signature) == f"( -> {FIXED_STATE}@SERVER)"
        assert str(process.next.type_signature) == (
            f"(<state={FIXED_STATE}@SERVER,value={{float32[2]}}@CLIENTS> -> "
            f"<state={FIXED_STATE}@SERVER,result=float32[2]@SERVER,"
            "measurements=<dp_query_metrics=<>,dp=<>>@SERVER>)"
        )

    def test_measurements_hold_the_clip_when_adaptive(self):
        process = Factory.gaussian_adaptive(0.5, 10).create(VECTOR)

        assert str(process.next.type_signature) == (
            f"(<state={ADAPTIVE_STATE}@SERVER,value={{float32[2]}}@CLIENTS> -> "
            f"<state={ADAPTIVE_STATE}@SERVER,result=float32[2]@SERVER,"
            "measurements=<dp_query_metrics=<clip=float32>,dp=<>>@SERVER>)"
        )

    def test_dp_measurements_are_the_record_aggregation_measurements(self):
        records = tffl.aggregators.clipping_factory(100.0, tffl.aggregators.SumFactory())
        query = normalized_query.NormalizedQuery(gaussian_query.GaussianSumQuery(1.0, 0.0), 2.0)
        process = Factory(query, records).create(VECTOR)

        output = process.next(process.initialize(), _clients_with_norms([5.0, 0.5]))

        assert str(process.next.type_signature.result.measurements) == (
            "<dp_query_metrics=<>,dp=<clipping=<>,clipping_norm=float32,clipped_count=int32>>"
            "@SERVER"
        )
        assert output.measurements["dp"] == collections.OrderedDict(
            clipping=(), clipping_norm=np.float32(100.0), clipped_count=np.int32(0)
        )
        np.testing.assert_allclose(output.result, [0.45, 0.6], rtol=1e-6)

    def test_result_keeps_the_structure_when_value_is_a_struct(self):
        value_type = collections.OrderedDict(w=(np.float32, [2, 2]), b=np.float32)
        process = Factory.gaussian_fixed(0.0, 1, 10.0).create(value_type)

        output = process.next(process.initialize(), [{"w": np.ones([2, 2]), "b": 3.0}])

        assert str(process.next.type_signature.result.result) == "<w=float32[2,2],b=float32>@SERVER"
        np.testing.assert_array_equal(output.result["w"], np.ones([2, 2], np.float32))
        assert output.result["b"] == np.float32(3.0)


class TestGaussianFixed:
    def test_initial_state_holds_clip_stddev_and_denominator(self):
        process = Factory.gaussian_fixed(0.5, 10, 2.0).create(VECTOR)

        query_state, record_state = process.initialize()

        assert tuple(query_state.numerator_state) == (2.0, 1.0)
        assert query_state.denominator == 10.0
        assert record_state == ()

    @pytest.mark.parametrize("num_clients", [10, 3], ids=["as-expected", "fewer-clients"])
    def test_noise_stddev_is_noise_multiplier_times_clip_over_clients_per_round(self, num_clients):
        noise_multiplier, clients_per_round, clip = 2.0, 10, 1.5
        process = Factory.gaussian_fixed(noise_multiplier, clients_per_round, clip).create(
            (np.float32, [10000])
        )

        result = process.next(process.initialize(), [np.zeros(10000)] * num_clients).result

        # Noise is added once, on the server: the stddev does not grow with the clients.
        expected = noise_multiplier * clip / clients_per_round  # 0.3
        assert abs(np.std(result) / expected - 1) < 0.05, np.std(result)
        assert abs(np.mean(result)) < 6 * expected / np.sqrt(10000), np.mean(result)

    def test_noise_is_fresh_each_round(self):
        process = Factory.gaussian_fixed(1.0, 1, 1.0).create((np.float32, [10000]))
        state = process.initialize()

        first = process.next(state, [np.zeros(10000)])
        second = process.next(first.state, [np.zeros(10000)])

        assert abs(np.corrcoef(first.result, second.result)[0, 1]) < 0.06
        assert first.state == state  # A fixed query's state does not change.

    def test_result_is_the_sum_of_clipped_values_over_clients_per_round_without_noise(self):
        process = Factory.gaussian_fixed(0.0, 4, 1.0).create(VECTOR)
        clients = _clients_with_norms([1000.0, 0.5, 2.0])

        result = process.next(process.initialize(), clients).result

        # Norms 1000 and 2 are clipped to 1; the denominator is clients_per_round, not 3.
        clipped = _clients_with_norms([1.0, 0.5, 1.0])
        np.testing.assert_allclose(result, sum(clipped) / 4, rtol=1e-6)
        alone = process.next(process.initialize(), clients[:1]).result
        assert np.linalg.norm(alone) <= 1.0 / 4 * (1 + 1e-6)


class TestGaussianAdaptive:
    def test_uses_the_effective_noise_multiplier_and_tff_defaults(self):
        process = Factory.gaussian_adaptive(0.5, 10).create(VECTOR)

        query_state = process.initialize()[0]

        state = query_state.numerator_state
        np.testing.assert_allclose(state.noise_multiplier, (0.5**-2 - 1.0**-2) ** -0.5)
        assert state.sum_state.l2_norm_clip == np.float32(0.1)
        estimator = state.quantile_estimator_state
        assert (estimator.current_estimate, estimator.target_quantile) == (np.float32(0.1), 0.5)
        assert estimator.learning_rate == np.float32(0.2)
        # clipped_count_stddev = 0.05 * clients_per_round, on a count of sensitivity 1/2.
        assert tuple(estimator.below_estimate_state.numerator_state) == (0.5, 0.5)
        assert query_state.denominator == 10.0

    @pytest.mark.parametrize(
        "target, low, high", [(0.5, 10.0, 11.0), (0.8, 16.0, 17.0)], ids=["median", "80th"]
    )
    def test_clip_converges_to_the_target_quantile_of_client_norms(self, target, low, high):
        process = Factory.gaussian_adaptive(
            0.0, 20, initial_l2_norm_clip=1.0, target_unclipped_quantile=target, learning_rate=0.5
        ).create(VECTOR)
        clients = _clients_with_norms(range(1, 21))
        state, clips = process.initialize(), []

        for _ in range(25):
            output = process.next(state, clients)
            state = output.state
            clips.append(float(output.measurements["dp_query_metrics"]["clip"]))

        # Between the 10th and 11th of norms 1..20 exactly half are unclipped: the update stops.
        assert clips[0] > 1.0 and clips[9] > clips[0]
        assert all(low <= clip <= high for clip in clips[-5:]), clips
        assert clips[-1] == _adaptive_clip(state)

    def test_matches_tensorflow_privacy_accumulating_the_records_itself(self):
        query = normalized_query.NormalizedQuery(
            quantile_adaptive_clip_sum_query.QuantileAdaptiveClipSumQuery(
                initial_l2_norm_clip=2.0,
                noise_multiplier=0.0,
                target_unclipped_quantile=0.5,
                learning_rate=0.2,
                clipped_count_stddev=0.0,
                expected_num_records=3.0,
            ),
            denominator=3.0,
        )
        process = Factory(query).create(VECTOR)
        clients = _clients_with_norms([1.0, 3.0, 10.0])

        output = process.next(process.initialize(), clients)

        global_state = query.initial_global_state()
        params = query.derive_sample_params(global_state)
        sample_state = query.initial_sample_state(tf.TensorSpec([2], tf.float32))
        for value in clients:
            sample_state = query.accumulate_preprocessed_record(
                sample_state, query.preprocess_record(params, tf.constant(value))
            )
        result, new_global_state, _ = query.get_noised_result(sample_state, global_state)
        np.testing.assert_array_equal(output.result, result.numpy())
        assert tf.nest.flatten(output.state[0]) == [
            t.numpy() for t in tf.nest.flatten(new_global_state)
        ]

    def test_warns_when_the_values_need_twice_the_noise(self):
        with pytest.warns(UserWarning, match="adaptive clipping adds 2.40x the noise"):
            Factory.gaussian_adaptive(1.0, 10, clipped_count_stddev=0.55)

    @pytest.mark.parametrize(
        "noise, clients, count_stddev, expected",
        [
            (0.5, 10, None, (0.57735, 0.5)),
            (0.0, 10, None, (0.0, 0.0)),
            (1.0, 100, 2.5, (1.0206, 2.5)),
        ],
        ids=["default", "no-noise", "given-stddev"],
    )
    def test_noise_params_compose_to_the_effective_multiplier(
        self, noise, clients, count_stddev, expected
    ):
        value_noise, stddev = differential_privacy.adaptive_clip_noise_params(
            noise, clients, count_stddev
        )

        np.testing.assert_allclose((value_noise, stddev), expected, rtol=1e-4)
        if noise:
            np.testing.assert_allclose((value_noise**-2 + (2 * stddev) ** -2) ** -0.5, noise)


class TestArgumentErrors:
    def test_raises_type_error_when_query_is_not_a_sum_query(self):
        query = quantile_estimator_query.NoPrivacyQuantileEstimatorQuery(1.0, 0.5, 0.1, True)

        with pytest.raises(TypeError) as raised:
            Factory("query")
        assert str(raised.value) == (
            "DifferentiallyPrivateFactory query: expected a tensorflow_privacy "
            "SumAggregationDPQuery, got str"
        )
        Factory(query)  # A quantile estimator query aggregates by summing too.

    def test_raises_type_error_when_record_factory_is_weighted(self):
        query = gaussian_query.GaussianSumQuery(1.0, 1.0)

        with pytest.raises(TypeError) as raised:
            Factory(query, tffl.aggregators.MeanFactory())
        assert str(raised.value) == (
            "DifferentiallyPrivateFactory record_aggregation_factory: expected an "
            "UnweightedAggregationFactory, got MeanFactory"
        )

    def test_raises_type_mismatch_when_values_are_integers(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            Factory.gaussian_fixed(1.0, 10, 1.0).create(np.int32)
        assert str(raised.value) == (
            "DifferentiallyPrivateFactory.create value_type: expected a float tensor, or a "
            "(nested) struct of them, got int32"
        )

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            (
                dict(noise_multiplier=-1.0),
                "noise_multiplier: expected a non-negative float, got -1.0",
            ),
            (dict(clients_per_round=0), "clients_per_round: expected a number at least 1, got 0"),
            (
                dict(clients_per_round=0.5),
                "clients_per_round: expected a number at least 1, got 0.5",
            ),
            (dict(clip=0.0), "clip: expected a positive float, got 0.0"),
            (dict(clip=-2.0), "clip: expected a positive float, got -2.0"),
            (dict(clip="1"), "clip: expected a positive float, got '1'"),
            (
                dict(noise_multiplier=float("inf")),
                "noise_multiplier: expected a non-negative float, got inf",
            ),
        ],
        ids=[
            "negative-noise",
            "no-clients",
            "half-client",
            "zero-clip",
            "negative-clip",
            "str",
            "inf",
        ],
    )
    def test_gaussian_fixed_raises_value_error_naming_the_value(self, kwargs, message):
        arguments = dict(noise_multiplier=1.0, clients_per_round=10, clip=1.0)
        arguments.update(kwargs)

        with pytest.raises(ValueError) as raised:
            Factory.gaussian_fixed(**arguments)
        assert str(raised.value) == f"DifferentiallyPrivateFactory.gaussian_fixed {message}"

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            (
                dict(noise_multiplier=-0.5),
                "noise_multiplier: expected a non-negative float, got -0.5",
            ),
            (dict(clients_per_round=0), "clients_per_round: expected a number at least 1, got 0"),
            (
                dict(initial_l2_norm_clip=0.0),
                "initial_l2_norm_clip: expected a positive float, got 0.0",
            ),
            (
                dict(target_unclipped_quantile=1.5),
                "target_unclipped_quantile: expected a float in [0, 1], got 1.5",
            ),
            (dict(learning_rate=-0.1), "learning_rate: expected a non-negative float, got -0.1"),
            (
                dict(clipped_count_stddev=-1.0),
                "clipped_count_stddev: expected a non-negative float, got -1.0",
            ),
            (
                dict(noise_multiplier=1.0, clients_per_round=10),
                "clipped_count_stddev: 0.5 (default 0.05 * clients_per_round) is too small for "
                "noise_multiplier 1.0: it must exceed noise_multiplier / 2",
            ),
        ],
        ids=[
            "negative-noise",
            "no-clients",
            "zero-clip",
            "quantile",
            "learning-rate",
            "stddev",
            "too-few-clients",
        ],
    )
    def test_gaussian_adaptive_raises_value_error_naming_the_value(self, kwargs, message):
        arguments = dict(noise_multiplier=0.5, clients_per_round=100)
        arguments.update(kwargs)

        with pytest.raises(ValueError) as raised:
            Factory.gaussian_adaptive(**arguments)
        assert str(raised.value) == f"DifferentiallyPrivateFactory.gaussian_adaptive {message}"


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        finder = doctest.DocTestFinder()
        for test in finder.find(differential_privacy, globs=vars(differential_privacy)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
