"""Tests for tffl/aggregators/robust.py: clipping and zeroing before an inner aggregation."""

import collections
import doctest

import numpy as np
import pytest

import tffl
from tffl.aggregators import robust

agg = tffl.aggregators
NAN = float("nan")
INF = float("inf")
VECTOR = (np.float32, [2])


def _contribution(process, value):
    """What one client's value adds to a sum: run the process with that client alone."""
    return process.next(process.initialize(), [value]).result


class TestClippingFactory:
    def test_has_constant_norm_state_and_measurements_when_created_over_a_sum(self):
        process = agg.clipping_factory(2.0, agg.SumFactory()).create(VECTOR)

        assert not process.is_weighted
        assert str(process.initialize.type_signature) == (
            "( -> <clipping_norm=<>,inner_agg=<>,clipped_count_agg=<>>@SERVER)"
        )
        assert str(process.next.type_signature) == (
            "(<state=<clipping_norm=<>,inner_agg=<>,clipped_count_agg=<>>@SERVER,"
            "value={float32[2]}@CLIENTS> -> "
            "<state=<clipping_norm=<>,inner_agg=<>,clipped_count_agg=<>>@SERVER,"
            "result=float32[2]@SERVER,"
            "measurements=<clipping=<>,clipping_norm=float32,clipped_count=int32>@SERVER>)"
        )

    def test_bounds_each_contribution_when_norms_are_1_5_and_20(self):
        process = agg.clipping_factory(2.0, agg.SumFactory()).create(VECTOR)
        clients = [[0.6, 0.8], [3.0, 4.0], [12.0, 16.0]]

        contributions = [_contribution(process, client) for client in clients]
        output = process.next(process.initialize(), clients)

        expected = [
            np.float32([0.6, 0.8]),
            np.float32([3.0, 4.0]) * (np.float32(2.0) / np.float32(5.0)),
            np.float32([12.0, 16.0]) * (np.float32(2.0) / np.float32(20.0)),
        ]
        for contribution, want in zip(contributions, expected):
            np.testing.assert_array_equal(contribution, want)
            assert np.linalg.norm(contribution) <= 2.0 * (1 + 1e-6)
        np.testing.assert_array_equal(output.result, expected[0] + expected[1] + expected[2])
        assert output.measurements == collections.OrderedDict(
            clipping=(), clipping_norm=np.float32(2.0), clipped_count=np.int32(2)
        )

    def test_passes_weights_unchanged_when_inner_factory_is_a_mean(self):
        process = agg.clipping_factory(2.0, agg.MeanFactory()).create(VECTOR, np.float32)

        output = process.next(process.initialize(), [[0.0, 1.0], [0.0, 8.0]], [3.0, 1.0])

        # (3 * [0, 1] + 1 * [0, 2]) / 4
        np.testing.assert_array_equal(output.result, [0.0, 1.25])
        assert process.is_weighted
        assert str(process.next.type_signature.result) == (
            "<state=<clipping_norm=<>,inner_agg=<value_sum_process=<>,weight_sum_process=<>>,"
            "clipped_count_agg=<>>@SERVER,result=float32[2]@SERVER,"
            "measurements=<clipping=<mean_value=<>,mean_weight=<>>,clipping_norm=float32,"
            "clipped_count=int32>@SERVER>"
        )
        assert output.measurements == collections.OrderedDict(
            clipping=collections.OrderedDict(mean_value=(), mean_weight=()),
            clipping_norm=2.0,
            clipped_count=1,
        )

    def test_keeps_the_weightedness_of_the_inner_factory(self):
        assert isinstance(
            agg.clipping_factory(1.0, agg.MeanFactory()), agg.WeightedAggregationFactory
        )
        assert isinstance(
            agg.clipping_factory(1.0, agg.SumFactory()), agg.UnweightedAggregationFactory
        )
        assert not isinstance(
            agg.clipping_factory(1.0, agg.SumFactory()), agg.WeightedAggregationFactory
        )


class TestZeroingFactory:
    def test_zeroes_a_client_with_nan_when_inner_factory_is_a_weighted_mean(self):
        process = agg.zeroing_factory(10.0, agg.MeanFactory()).create(VECTOR, np.float32)
        clients = [[1.0, 2.0], [NAN, 1.0], [3.0, 4.0]]

        output = process.next(process.initialize(), clients, [1.0, 1.0, 2.0])

        # (1 * [1, 2] + 1 * [0, 0] + 2 * [3, 4]) / 4: the zeroed client keeps its weight.
        np.testing.assert_array_equal(output.result, [1.75, 2.5])
        assert output.measurements == collections.OrderedDict(
            zeroing=collections.OrderedDict(mean_value=(), mean_weight=()),
            zeroing_norm=10.0,
            zeroed_count=1,
        )
        assert str(process.initialize.type_signature) == (
            "( -> <zeroing_norm=<>,inner_agg=<value_sum_process=<>,weight_sum_process=<>>,"
            "zeroed_count_agg=<>>@SERVER)"
        )

    def test_gives_the_sum_of_the_others_when_a_client_is_not_finite(self):
        process = agg.zeroing_factory(10.0, agg.SumFactory()).create(VECTOR)

        output = process.next(process.initialize(), [[1.0, 2.0], [INF, 0.0], [3.0, 4.0]])

        np.testing.assert_array_equal(output.result, [4.0, 6.0])
        assert output.measurements["zeroed_count"] == 1

    @pytest.mark.parametrize(
        "norm_order, zeroed",
        [(1.0, True), (2.0, True), (np.inf, False)],
        ids=["l1-14", "l2-10", "inf-8"],
    )
    def test_zeroes_by_the_norm_of_the_order_when_threshold_is_9(self, norm_order, zeroed):
        process = agg.zeroing_factory(9.0, agg.SumFactory(), norm_order=norm_order).create(VECTOR)

        output = process.next(process.initialize(), [[6.0, 8.0], [1.0, 1.0]])

        np.testing.assert_array_equal(output.result, [1.0, 1.0] if zeroed else [7.0, 9.0])
        assert output.measurements["zeroed_count"] == int(zeroed)

    def test_zeroes_by_the_largest_element_when_norm_order_is_the_default(self):
        process = agg.zeroing_factory(5.0, agg.SumFactory()).create(VECTOR)

        output = process.next(process.initialize(), [[4.0, 4.0], [0.0, 6.0]])

        np.testing.assert_array_equal(output.result, [4.0, 4.0])


class TestComposition:
    def test_nests_states_and_measurements_when_zeroing_wraps_clipping_wraps_mean(self):
        process = agg.zeroing_factory(10.0, agg.clipping_factory(2.0, agg.MeanFactory())).create(
            VECTOR, np.float32
        )
        clients = [[0.0, 1.0], [0.0, 8.0], [0.0, 20.0], [NAN, 0.0]]

        output = process.next(process.initialize(), clients, [1.0, 1.0, 1.0, 1.0])

        assert str(process.next.type_signature) == (
            "(<state=<zeroing_norm=<>,inner_agg=<clipping_norm=<>,inner_agg=<value_sum_process=<>,"
            "weight_sum_process=<>>,clipped_count_agg=<>>,zeroed_count_agg=<>>@SERVER,"
            "value={float32[2]}@CLIENTS,weight={float32}@CLIENTS> -> "
            "<state=<zeroing_norm=<>,inner_agg=<clipping_norm=<>,inner_agg=<value_sum_process=<>,"
            "weight_sum_process=<>>,clipped_count_agg=<>>,zeroed_count_agg=<>>@SERVER,"
            "result=float32[2]@SERVER,measurements=<zeroing=<clipping=<mean_value=<>,"
            "mean_weight=<>>,clipping_norm=float32,clipped_count=int32>,zeroing_norm=float32,"
            "zeroed_count=int32>@SERVER>)"
        )
        # Zeroed: [0, 20] (norm) and [nan, 0]; clipped: [0, 8] to [0, 2]; (1 + 2) / 4.
        np.testing.assert_array_equal(output.result, [0.0, 0.75])
        assert output.measurements == collections.OrderedDict(
            zeroing=collections.OrderedDict(
                clipping=collections.OrderedDict(mean_value=(), mean_weight=()),
                clipping_norm=2.0,
                clipped_count=1,
            ),
            zeroing_norm=10.0,
            zeroed_count=2,
        )
        assert output.state == collections.OrderedDict(
            zeroing_norm=(),
            inner_agg=collections.OrderedDict(
                clipping_norm=(),
                inner_agg=collections.OrderedDict(value_sum_process=(), weight_sum_process=()),
                clipped_count_agg=(),
            ),
            zeroed_count_agg=(),
        )


def _ten_clients():
    """Ten clients whose values have the norms 1, 2, ..., 10 (median 5.5)."""
    return [[0.0, float(k)] for k in range(1, 11)]


class TestAdaptiveNorm:
    def test_uses_the_reported_norm_then_the_geometric_update_when_clipping(self):
        estimator = agg.PrivateQuantileEstimationProcess.no_noise(
            initial_estimate=4.0, target_quantile=0.5, learning_rate=0.5
        )
        process = agg.clipping_factory(estimator, agg.SumFactory()).create(VECTOR)
        clients = [[0.0, 1.0], [0.0, 8.0], [0.0, 16.0], [0.0, 32.0]]

        first = process.next(process.initialize(), clients)
        second = process.next(first.state, clients)

        assert first.measurements["clipping_norm"] == np.float32(4.0)
        assert first.measurements["clipped_count"] == 3
        np.testing.assert_array_equal(first.result, [0.0, 13.0])
        # A quarter of the norms are <= 4: estimate * exp(-lr * (fraction_below - target)).
        np.testing.assert_allclose(
            second.measurements["clipping_norm"], 4.0 * np.exp(-0.5 * (0.25 - 0.5)), rtol=1e-6
        )

    def test_moves_monotonically_toward_the_median_when_target_is_one_half(self):
        estimator = agg.PrivateQuantileEstimationProcess.no_noise(
            initial_estimate=1.0, target_quantile=0.5, learning_rate=0.5
        )
        process = agg.clipping_factory(estimator, agg.SumFactory()).create(VECTOR)
        state = process.initialize()
        norms = []
        for _ in range(20):
            output = process.next(state, _ten_clients())
            norms.append(float(output.measurements["clipping_norm"]))
            state = output.state

        median = 5.5
        distances = [abs(norm - median) for norm in norms]
        assert norms[0] == 1.0
        assert all(later >= earlier for earlier, later in zip(norms, norms[1:]))
        assert all(later <= earlier for earlier, later in zip(distances, distances[1:]))
        assert abs(norms[-1] - median) <= 0.1 * median

    def test_carries_the_estimator_state_when_zeroing_is_adaptive(self):
        estimator = agg.PrivateQuantileEstimationProcess.no_noise(
            initial_estimate=2.0, target_quantile=0.5, learning_rate=0.5
        )
        process = agg.zeroing_factory(estimator, agg.SumFactory(), norm_order=2.0).create(VECTOR)

        output = process.next(process.initialize(), [[0.0, 1.0], [0.0, 3.0]])

        assert str(process.initialize.type_signature) == (
            "( -> <zeroing_norm=<<current_estimate=float32,target_quantile=float32,"
            "learning_rate=float32,below_estimate_state=<>>,<>>,inner_agg=<>,"
            "zeroed_count_agg=<>>@SERVER)"
        )
        np.testing.assert_array_equal(output.result, [0.0, 1.0])
        assert output.measurements["zeroing_norm"] == np.float32(2.0)
        assert output.state["zeroing_norm"][0].current_estimate == np.float32(2.0)


class TestArguments:
    @pytest.mark.parametrize("norm", [-1.0, 0.0, NAN], ids=["negative", "zero", "nan"])
    def test_raises_value_error_when_norm_is_not_positive(self, norm):
        with pytest.raises(ValueError) as raised:
            agg.clipping_factory(norm, agg.SumFactory())
        assert str(raised.value) == (
            f"clipping_factory clipping_norm: expected a positive float or an "
            f"EstimationProcess, got {norm}"
        )

    def test_raises_type_error_when_norm_is_a_string(self):
        with pytest.raises(TypeError) as raised:
            agg.zeroing_factory("1.0", agg.SumFactory())
        assert str(raised.value) == (
            "zeroing_factory zeroing_norm: expected a positive float or an EstimationProcess, "
            "got str"
        )

    def test_raises_type_error_when_inner_factory_is_not_a_factory(self):
        with pytest.raises(TypeError) as raised:
            agg.clipping_factory(1.0, agg.SumFactory().create(np.float32))
        assert str(raised.value) == (
            "clipping_factory inner_agg_factory: expected an UnweightedAggregationFactory or a "
            "WeightedAggregationFactory, got AggregationProcess"
        )

    def test_raises_type_error_when_count_sum_factory_is_weighted(self):
        with pytest.raises(TypeError) as raised:
            agg.zeroing_factory(1.0, agg.SumFactory(), zeroed_count_sum_factory=agg.MeanFactory())
        assert str(raised.value) == (
            "zeroing_factory zeroed_count_sum_factory: expected an UnweightedAggregationFactory, "
            "got MeanFactory"
        )

    @pytest.mark.parametrize("norm_order", [3.0, 0.5, True], ids=["three", "half", "bool"])
    def test_raises_value_error_when_norm_order_is_unsupported(self, norm_order):
        with pytest.raises(ValueError) as raised:
            agg.zeroing_factory(1.0, agg.SumFactory(), norm_order=norm_order)
        assert str(raised.value) == (
            f"zeroing_factory norm_order: expected 1.0, 2.0 or inf, got {norm_order!r}"
        )

    def test_raises_type_mismatch_when_value_type_is_federated(self):
        aggregator = agg.clipping_factory(1.0, agg.SumFactory())

        with pytest.raises(tffl.TypeMismatchError) as raised:
            aggregator.create(tffl.FederatedType(np.float32, tffl.CLIENTS))
        assert str(raised.value) == (
            "clipping_factory create value_type: expected a float tensor, or a (nested) struct "
            "of them, got {float32}@CLIENTS"
        )

    def test_raises_type_mismatch_when_value_type_is_integer(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            agg.zeroing_factory(1.0, agg.SumFactory()).create(np.int32)
        assert str(raised.value) == (
            "zeroing_factory create value_type: expected a float tensor, or a (nested) struct "
            "of them, got int32"
        )

    def test_raises_type_error_when_estimator_reports_an_integer(self):
        init = tffl.federated_computation(lambda: tffl.federated_value((), tffl.SERVER))
        state_type = init.type_signature.result
        next_fn = tffl.federated_computation(
            lambda state, norms: state,
            state_type,
            tffl.FederatedType(np.float32, tffl.CLIENTS),
        )
        report = tffl.federated_computation(
            lambda state: tffl.federated_value(np.int32(1), tffl.SERVER), state_type
        )
        estimator = tffl.templates.EstimationProcess(init, next_fn, report)

        with pytest.raises(TypeError) as raised:
            agg.clipping_factory(estimator, agg.SumFactory())
        assert str(raised.value) == (
            "clipping_factory clipping_norm: expected an EstimationProcess whose report returns "
            "float32@SERVER, got report (<>@SERVER -> int32@SERVER)"
        )

    def test_raises_type_error_when_estimator_next_takes_no_norms(self):
        init = tffl.federated_computation(lambda: tffl.federated_value((), tffl.SERVER))
        state_type = init.type_signature.result
        next_fn = tffl.federated_computation(lambda state: state, state_type)
        report = tffl.federated_computation(
            lambda state: tffl.federated_value(np.float32(1), tffl.SERVER), state_type
        )
        estimator = tffl.templates.EstimationProcess(init, next_fn, report)

        with pytest.raises(TypeError) as raised:
            agg.zeroing_factory(estimator, agg.SumFactory())
        assert str(raised.value) == (
            "zeroing_factory zeroing_norm: expected an EstimationProcess whose next is "
            "(<S,{float32}@CLIENTS> -> S), got next (<>@SERVER -> <>@SERVER)"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(robust, globs=vars(robust)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
