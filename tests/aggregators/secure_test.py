"""Tests for tffl/aggregators/secure.py: SecureSumFactory, fixed and adaptive bounds."""

import collections
import doctest

import numpy as np
import pytest

import tffl
from tffl import aggregators as agg
from tffl.aggregators import secure
from tffl.executors import secure_aggregation

OD = collections.OrderedDict
STRUCT = OD(a=np.float32, b=(np.float32, [3]))
INT_MEASUREMENTS = (
    "<secure_upper_clipped_count=int32,secure_lower_clipped_count=int32,"
    "secure_upper_threshold=int32,secure_lower_threshold=int32>@SERVER"
)


def _quantization_bound(count, upper, lower, total):
    """The documented error: count * (U - L) / (2**33 - 2), plus the float32 cast of the sum."""
    return count * (upper - lower) / (2**33 - 2) + np.abs(total) * np.finfo(np.float32).eps


def _random_structs(num_clients, seed, scale=1.5):
    rng = np.random.default_rng(seed)
    return [
        OD(
            a=np.float32(rng.uniform(-scale, scale)),
            b=rng.uniform(-scale, scale, 3).astype(np.float32),
        )
        for _ in range(num_clients)
    ]


class TestIntegerValues:
    def test_has_pinned_types_when_created_for_int32(self):
        process = agg.SecureSumFactory(10).create(np.int32)

        assert str(process.initialize.type_signature) == "( -> <>@SERVER)"
        assert str(process.next.type_signature) == (
            "(<state=<>@SERVER,value={int32}@CLIENTS> -> <state=<>@SERVER,result=int32@SERVER,"
            f"measurements={INT_MEASUREMENTS}>)"
        )

    def test_sums_clipped_values_exactly_with_symmetric_default_bounds(self):
        process = agg.SecureSumFactory(10).create(np.int32)

        output = process.next(process.initialize(), [3, -4, 12, -11, 10])

        # Clipped to [-10, 10]: 3 - 4 + 10 - 10 + 10.
        assert output.result == np.int32(9)
        assert output.measurements == OD(
            secure_upper_clipped_count=1,
            secure_lower_clipped_count=1,
            secure_upper_threshold=10,
            secure_lower_threshold=-10,
        )

    def test_sums_structs_of_many_clients_exactly_when_values_are_in_range(self):
        value_type = OD(x=(np.int64, [4]), y=np.int64)
        rng = np.random.default_rng(3)
        clients = [
            OD(x=rng.integers(0, 1000, 4), y=np.int64(rng.integers(0, 1000))) for _ in range(30)
        ]
        process = agg.SecureSumFactory(999, 0).create(value_type)

        result = process.next(process.initialize(), clients).result

        np.testing.assert_array_equal(result["x"], np.sum([c["x"] for c in clients], axis=0))
        assert result["y"] == sum(int(c["y"]) for c in clients)

    def test_sums_the_survivors_exactly_when_clients_drop(self, set_context):
        set_context(secure_aggregation=secure_aggregation.SecureAggregationConfig({1, 3}))
        process = agg.SecureSumFactory(20, -20).create(np.int32)

        output = process.next(process.initialize(), [-5, 100, -7, -100, 2])

        # The offset -20 is added once per survivor: -5 - 7 + 2.
        assert output.result == np.int32(-10)
        assert output.measurements["secure_upper_clipped_count"] == 0


class TestFloatValues:
    def test_has_pinned_types_when_created_for_a_struct(self):
        process = agg.SecureSumFactory(1.0).create(STRUCT)

        assert str(process.next.type_signature) == (
            "(<state=<>@SERVER,value={<a=float32,b=float32[3]>}@CLIENTS> -> "
            "<state=<>@SERVER,result=<a=float32,b=float32[3]>@SERVER,"
            "measurements=<secure_upper_clipped_count=int32,secure_lower_clipped_count=int32,"
            "secure_upper_threshold=float32,secure_lower_threshold=float32>@SERVER>)"
        )

    @pytest.mark.parametrize(
        "upper, lower",
        [(1.0, None), (2.0, -0.5), (100.0, 0.0)],
        ids=["symmetric", "skewed", "wide"],
    )
    def test_sums_within_the_quantization_bound_when_values_are_clipped(self, upper, lower):
        clients = _random_structs(25, seed=4)
        low = -upper if lower is None else lower
        process = agg.SecureSumFactory(upper, lower).create(STRUCT)

        result = process.next(process.initialize(), clients).result

        for name in ("a", "b"):
            expected = np.sum([np.clip(np.float64(c[name]), low, upper) for c in clients], axis=0)
            error = np.abs(np.float64(result[name]) - expected)
            assert np.all(error <= _quantization_bound(25, upper, low, expected))

    def test_counts_clients_with_any_element_beyond_a_bound(self):
        process = agg.SecureSumFactory(1.0).create((np.float32, [2]))
        clients = [[0.5, 2.0], [1.5, 3.0], [-2.0, 0.0], [0.0, 0.0]]

        output = process.next(process.initialize(), clients)

        assert output.measurements == OD(
            secure_upper_clipped_count=2,
            secure_lower_clipped_count=1,
            secure_upper_threshold=np.float32(1.0),
            secure_lower_threshold=np.float32(-1.0),
        )
        np.testing.assert_allclose(output.result, [0.5, 2.0], atol=4 * 2 / (2**33 - 2))

    def test_sums_zeros_to_exactly_zero_for_any_bounds(self):
        process = agg.SecureSumFactory(3.7, -0.3).create(STRUCT)
        zero = OD(a=np.float32(0.0), b=np.zeros(3, np.float32))

        result = process.next(process.initialize(), [zero] * 7).result

        assert result["a"] == 0.0
        np.testing.assert_array_equal(result["b"], np.zeros(3))

    def test_sums_the_survivors_within_the_bound_when_clients_drop(self, set_context):
        config = secure_aggregation.SecureAggregationConfig(dropped_clients={0, 5, 6})
        set_context(secure_aggregation=config)
        clients = _random_structs(12, seed=5, scale=1.0)
        process = agg.SecureSumFactory(1.0, -1.0).create(STRUCT)

        result = process.next(process.initialize(), clients).result

        survivors = [c for i, c in enumerate(clients) if i not in (0, 5, 6)]
        expected = np.sum([np.float64(c["b"]) for c in survivors], axis=0)
        error = np.abs(np.float64(result["b"]) - expected)
        assert np.all(error <= _quantization_bound(9, 1.0, -1.0, expected))

    def test_raises_the_threshold_error_when_too_few_clients_survive(self, set_context):
        config = secure_aggregation.SecureAggregationConfig(range(8), min_survivors=5)
        set_context(secure_aggregation=config)
        process = agg.SecureSumFactory(1.0).create(np.float32)

        with pytest.raises(secure_aggregation.SecureAggregationError) as raised:
            process.next(process.initialize(), [0.5] * 10)

        assert str(raised.value) == (
            "federated_secure_sum_bitwidth: 2 of 10 clients survived, below the threshold of 5"
        )


class TestMeanFactoryWithSecureSums:
    def test_gives_the_weighted_mean_when_the_value_sum_is_secure(self):
        process = agg.MeanFactory(value_sum_factory=agg.SecureSumFactory(10.0)).create(
            (np.float32, [2]), np.float32
        )

        output = process.next(process.initialize(), [[1.0, -2.0], [4.0, 0.5]], [3.0, 1.0])

        np.testing.assert_allclose(output.result, [1.75, -1.375], atol=1e-6)
        assert output.measurements["mean_value"]["secure_upper_threshold"] == np.float32(10.0)
        assert output.measurements["mean_weight"] == ()

    def test_gives_the_mean_when_the_value_and_count_sums_are_secure(self):
        process = agg.UnweightedMeanFactory(
            value_sum_factory=agg.SecureSumFactory(4.0),
            count_sum_factory=agg.SecureSumFactory(1, 0),
        ).create(np.float32)

        output = process.next(process.initialize(), [1.0, 2.0, 3.5, -0.5])

        assert abs(float(output.result) - 1.5) <= 1e-6
        assert output.measurements["mean_count"]["secure_upper_threshold"] == 1


class TestAdaptiveBounds:
    def _estimator(self, initial):
        return agg.PrivateQuantileEstimationProcess.no_noise(
            initial_estimate=initial, target_quantile=0.5, learning_rate=0.5
        )

    def test_uses_the_reported_bound_then_updates_it_from_the_largest_magnitudes(self):
        process = agg.SecureSumFactory(self._estimator(2.0)).create((np.float32, [2]))
        clients = [[0.5, -1.0], [0.0, 3.0], [-8.0, 1.0], [4.0, 0.0]]

        first = process.next(process.initialize(), clients)
        second = process.next(first.state, clients)

        assert str(process.initialize.type_signature) == (
            "( -> <<current_estimate=float32,target_quantile=float32,learning_rate=float32,"
            "below_estimate_state=<>>,<>>@SERVER)"
        )
        assert first.measurements["secure_upper_threshold"] == np.float32(2.0)
        assert first.measurements["secure_lower_threshold"] == np.float32(-2.0)
        assert first.measurements["secure_upper_clipped_count"] == 2
        assert first.measurements["secure_lower_clipped_count"] == 1
        np.testing.assert_allclose(first.result, [0.5, 2.0], atol=4 * 4 / (2**33 - 2))
        # Magnitudes 1, 3, 8, 4: a quarter are <= 2.
        np.testing.assert_allclose(
            second.measurements["secure_upper_threshold"],
            2.0 * np.exp(-0.5 * (0.25 - 0.5)),
            rtol=1e-6,
        )

    def test_tracks_each_bound_with_its_own_process_when_given_two(self):
        process = agg.SecureSumFactory(self._estimator(1.0), self._estimator(0.5)).create(
            np.float32
        )

        output = process.next(process.initialize(), [0.25, 2.0, 3.0])

        assert output.measurements["secure_upper_threshold"] == np.float32(1.0)
        assert output.measurements["secure_lower_threshold"] == np.float32(0.5)
        np.testing.assert_allclose(output.result, 0.5 + 1.0 + 1.0, atol=3 * 0.5 / (2**33 - 2))
        upper_state, lower_state = output.state
        # Maxima 0.25, 2, 3: a third are <= 1. Minima alike: none is <= 0.5.
        np.testing.assert_allclose(
            upper_state[0].current_estimate, np.exp(-0.5 * (1 / 3 - 0.5)), rtol=1e-6
        )
        np.testing.assert_allclose(
            lower_state[0].current_estimate, 0.5 * np.exp(-0.5 * (1 / 3 - 0.5)), rtol=1e-6
        )


class TestErrors:
    @pytest.mark.parametrize(
        "args, error, message",
        [
            pytest.param(
                ("1.0",),
                TypeError,
                "SecureSumFactory upper_bound_threshold: expected an int, a float or an "
                "EstimationProcess, got str",
                id="upper_is_a_string",
            ),
            pytest.param(
                (True,),
                TypeError,
                "SecureSumFactory upper_bound_threshold: expected an int, a float or an "
                "EstimationProcess, got bool",
                id="upper_is_a_bool",
            ),
            pytest.param(
                (1.0, 0),
                TypeError,
                "SecureSumFactory lower_bound_threshold: expected the kind of "
                "upper_bound_threshold (float), got int",
                id="kinds_differ",
            ),
            pytest.param(
                (-1.0,),
                ValueError,
                "SecureSumFactory upper_bound_threshold: expected a positive bound when there "
                "is no lower_bound_threshold (its negative is the lower bound), got -1.0",
                id="only_upper_not_positive",
            ),
            pytest.param(
                (1, 1),
                ValueError,
                "SecureSumFactory: expected upper_bound_threshold > lower_bound_threshold, "
                "got 1 and 1",
                id="upper_not_above_lower",
            ),
        ],
    )
    def test_raises_when_thresholds_are_invalid(self, args, error, message):
        with pytest.raises(error) as raised:
            agg.SecureSumFactory(*args)

        assert str(raised.value) == message

    @pytest.mark.parametrize(
        "threshold, value_type, message",
        [
            pytest.param(
                1.0,
                np.int32,
                "SecureSumFactory.create value_type: expected floating-point tensors (the "
                "thresholds are floats), got int32",
                id="float_thresholds_int_values",
            ),
            pytest.param(
                1,
                np.float32,
                "SecureSumFactory.create value_type: expected integer tensors (the thresholds "
                "are ints), got float32",
                id="int_thresholds_float_values",
            ),
            pytest.param(
                1.0,
                (np.float32, np.float64),
                "SecureSumFactory.create value_type: expected tensors of a single dtype, "
                "got <float32,float64>",
                id="mixed_dtypes",
            ),
        ],
    )
    def test_raises_type_mismatch_when_the_value_type_does_not_fit(
        self, threshold, value_type, message
    ):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            agg.SecureSumFactory(threshold).create(value_type)

        assert str(raised.value) == message

    def test_raises_when_int_thresholds_do_not_fit_the_dtype(self):
        with pytest.raises(ValueError) as raised:
            agg.SecureSumFactory(2**40).create(np.int32)

        assert str(raised.value) == (
            "SecureSumFactory.create: the thresholds [-1099511627776, 1099511627776] do not "
            "fit int32"
        )

    def test_raises_when_the_estimator_reports_an_integer(self):
        init = tffl.federated_computation(lambda: tffl.federated_value((), tffl.SERVER))
        state_type = init.type_signature.result
        next_fn = tffl.federated_computation(
            lambda state, values: state, state_type, tffl.FederatedType(np.float32, tffl.CLIENTS)
        )
        report = tffl.federated_computation(
            lambda state: tffl.federated_value(np.int32(1), tffl.SERVER), state_type
        )
        estimator = tffl.templates.EstimationProcess(init, next_fn, report)

        with pytest.raises(TypeError) as raised:
            agg.SecureSumFactory(estimator)

        assert str(raised.value) == (
            "SecureSumFactory upper_bound_threshold: expected an EstimationProcess whose report "
            "returns float32@SERVER, got report (<>@SERVER -> int32@SERVER)"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(secure, globs=vars(secure)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
