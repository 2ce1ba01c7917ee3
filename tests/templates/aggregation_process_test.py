"""Tests for tffl/templates/aggregation_process.py: placements of state, values and results."""

import numpy as np
import pytest

import tffl

C = tffl.CLIENTS
S = tffl.SERVER
EMPTY_AT_SERVER = tffl.FederatedType((), S)


@tffl.federated_computation()
def init_empty():
    return tffl.federated_value((), S)


def _output(state, result, measurements):
    return tffl.templates.MeasuredProcessOutput(state, result, measurements)


@tffl.federated_computation(EMPTY_AT_SERVER, tffl.FederatedType(np.float32, C))
def sum_next(state, value):
    return _output(state, tffl.federated_sum(value), tffl.federated_value((), S))


@tffl.federated_computation(
    EMPTY_AT_SERVER, tffl.FederatedType((np.float32, [2]), C), tffl.FederatedType(np.int32, C)
)
def weighted_next(state, value, weight):
    return _output(state, tffl.federated_mean(value, weight), tffl.federated_value((), S))


class TestAggregationProcess:
    def test_sums_client_values_when_unweighted(self):
        process = tffl.templates.AggregationProcess(init_empty, sum_next)

        output = process.next(process.initialize(), [1.0, 2.0, 4.0])

        assert output == tffl.templates.MeasuredProcessOutput((), np.float32(7.0), ())
        assert process.is_weighted is False
        assert str(process.value_type) == "float32"
        assert process.weight_type is None
        assert str(process.result_type) == "float32"

    def test_reports_its_types_when_weighted(self):
        process = tffl.templates.AggregationProcess(init_empty, weighted_next)

        output = process.next(process.initialize(), [[1.0, 2.0], [4.0, 8.0]], [3, 1])

        np.testing.assert_array_equal(output.result, np.float32([1.75, 3.5]))
        assert process.is_weighted is True
        assert str(process.value_type) == "float32[2]"
        assert str(process.weight_type) == "int32"
        assert str(process.result_type) == "float32[2]"

    def test_raises_type_mismatch_when_state_is_not_at_server(self):
        init = tffl.tf_computation(lambda: np.int32(0))

        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.AggregationProcess(init, sum_next)
        assert str(raised.value) == "initialize_fn result: expected int32@SERVER, got int32"

    def test_raises_type_mismatch_when_state_is_at_clients(self):
        @tffl.federated_computation()
        def init_at_clients():
            return tffl.federated_value(np.int32(0), C)

        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.AggregationProcess(init_at_clients, sum_next)
        assert str(raised.value) == (
            "initialize_fn result: expected int32@SERVER, got int32@CLIENTS"
        )

    def test_raises_type_error_when_next_fn_takes_only_the_state(self):
        @tffl.federated_computation(EMPTY_AT_SERVER)
        def state_only(state):
            return _output(state, state, state)

        with pytest.raises(TypeError) as raised:
            tffl.templates.AggregationProcess(init_empty, state_only)
        assert str(raised.value) == (
            "next_fn: expected parameters <state@SERVER,value@CLIENTS[,weight@CLIENTS]>, "
            "got <>@SERVER"
        )

    def test_raises_type_mismatch_when_value_is_not_at_clients(self):
        @tffl.federated_computation(EMPTY_AT_SERVER, tffl.FederatedType(np.float32, S))
        def value_at_server(state, value):
            return _output(state, value, tffl.federated_value((), S))

        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.AggregationProcess(init_empty, value_at_server)
        assert str(raised.value) == (
            "next_fn value parameter: expected {float32}@CLIENTS, got float32@SERVER"
        )

    def test_raises_type_mismatch_when_weight_is_not_at_clients(self):
        @tffl.federated_computation(
            EMPTY_AT_SERVER, tffl.FederatedType(np.float32, C), tffl.FederatedType(np.float32, S)
        )
        def weight_at_server(state, value, weight):
            return _output(state, tffl.federated_sum(value), weight)

        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.AggregationProcess(init_empty, weight_at_server)
        assert str(raised.value) == (
            "next_fn weight parameter: expected {float32}@CLIENTS, got float32@SERVER"
        )

    def test_raises_type_mismatch_when_result_is_not_at_server(self):
        @tffl.federated_computation(EMPTY_AT_SERVER, tffl.FederatedType(np.float32, C))
        def result_at_clients(state, value):
            return _output(state, value, tffl.federated_value((), S))

        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.AggregationProcess(init_empty, result_at_clients)
        assert str(raised.value) == (
            "next_fn result result: expected float32@SERVER, got {float32}@CLIENTS"
        )

    def test_raises_type_mismatch_when_measurements_are_not_federated(self):
        @tffl.federated_computation(EMPTY_AT_SERVER, tffl.FederatedType(np.float32, C))
        def plain_measurements(state, value):
            return _output(state, tffl.federated_sum(value), ())

        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.AggregationProcess(init_empty, plain_measurements)
        assert str(raised.value) == "next_fn result measurements: expected <>@SERVER, got <>"
