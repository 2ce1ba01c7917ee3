"""Tests for tffl.executors.federating_executor: the aggregating intrinsics, with exact numbers.

Each intrinsic is run through a federated computation on the local context (a
reference-resolving executor over the federating executor).
"""

import numpy as np
import pytest
import tensorflow as tf

from tests.executors.federating_setup import OD
from tests.executors.federating_setup import C
from tests.executors.federating_setup import F
from tests.executors.federating_setup import Reading
import tffl
from tffl.types import computation_types


class TestFederatedMean:
    def test_averages_client_values_when_unweighted(self):
        @tffl.federated_computation(F(np.float32, C))
        def mean(values):
            return tffl.federated_mean(values)

        result = mean([1.0, 2.0, 6.0])

        assert result == np.float32(3.0)
        assert type(result) is np.float32

    def test_averages_each_member_when_the_value_is_a_struct(self):
        member = OD(a=np.float32, b=(np.float32, [2]))

        @tffl.federated_computation(F(member, C))
        def mean(values):
            return tffl.federated_mean(values)

        result = mean([OD(a=1.0, b=[1.0, 2.0]), OD(a=2.0, b=[3.0, 6.0])])

        assert list(result) == ["a", "b"]
        assert result["a"] == np.float32(1.5)
        assert result["b"].tolist() == [2.0, 4.0]

    @pytest.mark.parametrize(
        "weight_dtype, weights",
        [
            pytest.param(np.float32, [1.0, 1.0, 2.0], id="float_weights"),
            pytest.param(np.int32, [1, 1, 2], id="int_weights"),
        ],
    )
    def test_weights_each_client_when_given_weight(self, weight_dtype, weights):
        @tffl.federated_computation(F(np.float32, C), F(weight_dtype, C))
        def weighted_mean(values, weight):
            return tffl.federated_mean(values, weight=weight)

        # (1*1 + 2*1 + 4*2) / (1 + 1 + 2)
        assert weighted_mean([1.0, 2.0, 4.0], weights) == np.float32(2.75)

    def test_weights_each_member_when_the_weighted_value_is_a_struct(self):
        member = OD(a=np.float32, b=(np.float32, [2]))

        @tffl.federated_computation(F(member, C), F(np.int32, C))
        def weighted_mean(values, weight):
            return tffl.federated_mean(values, weight=weight)

        result = weighted_mean([OD(a=1.0, b=[1.0, 2.0]), OD(a=4.0, b=[3.0, 6.0])], [1, 3])

        assert result["a"] == np.float32(3.25)
        assert result["b"].tolist() == [2.5, 5.0]


class TestFederatedSum:
    @pytest.mark.parametrize(
        "dtype, values, expected",
        [
            pytest.param(np.int32, [1, 2, 4], np.int32(7), id="int32"),
            pytest.param(np.float32, [0.5, 0.25, 2.0], np.float32(2.75), id="float32"),
        ],
    )
    def test_sums_client_values_at_the_server(self, dtype, values, expected):
        @tffl.federated_computation(F(dtype, C))
        def total(values):
            return tffl.federated_sum(values)

        result = total(values)

        assert result == expected
        assert type(result) is type(expected)

    def test_sums_member_by_member_when_the_value_is_a_namedtuple(self):
        @tffl.federated_computation(F(Reading(np.float32, np.int32), C))
        def total(values):
            return tffl.federated_sum(values)

        assert total([Reading(1.5, 2), Reading(2.0, 3)]) == Reading(celsius=3.5, count=5)

    def test_raises_when_there_are_no_clients(self):
        @tffl.federated_computation(F(np.float32, C))
        def total(values):
            return tffl.federated_sum(values)

        with pytest.raises(ValueError) as caught:
            total([])

        assert str(caught.value) == "federated_sum over zero clients"


class TestFederatedAggregate:
    ACCUMULATOR = computation_types.to_type((np.float32, np.int32))

    def test_reports_a_mean_when_the_accumulator_counts_and_sums(self):
        accumulator = self.ACCUMULATOR

        @tffl.tf_computation(accumulator, np.float32)
        def accumulate(total, value):
            return (total[0] + value, total[1] + 1)

        @tffl.tf_computation(accumulator, accumulator)
        def merge(a, b):
            return (a[0] + b[0], a[1] + b[1])

        @tffl.tf_computation(accumulator)
        def report(total):
            return total[0] / tf.cast(total[1], tf.float32)

        @tffl.federated_computation(F(np.float32, C))
        def mean(values):
            zero = (np.float32(0.0), np.int32(0))
            return tffl.federated_aggregate(values, zero, accumulate, merge, report)

        assert str(mean.type_signature) == "({float32}@CLIENTS -> float32@SERVER)"
        assert mean([1.0, 2.0, 6.0]) == np.float32(3.0)

    def test_reports_the_maximum_when_the_accumulator_keeps_the_largest(self):
        @tffl.tf_computation(np.float32, np.float32)
        def larger(a, b):
            return tf.maximum(a, b)

        @tffl.tf_computation(np.float32)
        def identity(a):
            return a

        @tffl.federated_computation(F(np.float32, C))
        def maximum(values):
            return tffl.federated_aggregate(values, np.float32(-np.inf), larger, larger, identity)

        assert maximum([3.0, -1.0, 7.5, 2.0]) == np.float32(7.5)


class TestFederatedSecureSumBitwidth:
    @staticmethod
    def _program():
        @tffl.federated_computation(F(np.int32, C))
        def secure_total(values):
            return tffl.federated_secure_sum_bitwidth(values, 8)

        return secure_total

    def test_gives_the_exact_sum_when_values_fit_the_bitwidth(self):
        result = self._program()([1, 200, 255])

        assert result == np.int32(456)
        assert type(result) is np.int32

    @pytest.mark.parametrize(
        "values, message",
        [
            pytest.param(
                [1, 256, 3],
                "federated_secure_sum_bitwidth: client 1 has values outside [0, 256): "
                "min 256, max 256",
                id="too_large",
            ),
            pytest.param(
                [1, 2, -1],
                "federated_secure_sum_bitwidth: client 2 has values outside [0, 256): "
                "min -1, max -1",
                id="negative",
            ),
        ],
    )
    def test_raises_naming_the_client_when_a_value_is_out_of_range(self, values, message):
        with pytest.raises(ValueError) as caught:
            self._program()(values)

        assert str(caught.value) == message

    def test_checks_each_member_against_its_own_bitwidth_when_the_value_is_a_struct(self):
        @tffl.federated_computation(F((np.int32, np.int32), C))
        def secure_total(values):
            return tffl.federated_secure_sum_bitwidth(values, (4, 8))

        assert secure_total([(1, 200), (15, 50), (3, 5)]) == (19, 255)
        with pytest.raises(ValueError) as caught:
            secure_total([(1, 200), (16, 50)])
        assert str(caught.value) == (
            "federated_secure_sum_bitwidth: client 1 has values outside [0, 16): min 16, max 16"
        )


class TestFederatedSecureModularSum:
    def test_gives_the_sum_modulo_the_modulus(self):
        @tffl.federated_computation(F(np.int32, C))
        def modular_total(values):
            return tffl.federated_secure_modular_sum(values, 5)

        # (1 + 3 + 4) mod 5
        assert modular_total([1, 3, 4]) == np.int32(3)

    def test_raises_naming_the_client_when_a_value_is_not_below_the_modulus(self):
        @tffl.federated_computation(F(np.int32, C))
        def modular_total(values):
            return tffl.federated_secure_modular_sum(values, 5)

        with pytest.raises(ValueError) as caught:
            modular_total([1, 7, 4])

        assert str(caught.value) == (
            "federated_secure_modular_sum: client 1 has values outside [0, 5): min 7, max 7"
        )


class TestWeightedMeanOfZeroWeights:
    def test_raises_when_the_weights_sum_to_zero(self):
        @tffl.federated_computation(F(np.float32, C), F(np.float32, C))
        def weighted(values, weights):
            return tffl.federated_mean(values, weight=weights)

        with pytest.raises(ValueError, match=r"the client weights sum to zero"):
            weighted([1.0, 2.0], [0.0, 0.0])
