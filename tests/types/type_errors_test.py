"""Tests for tffl.types.type_errors."""

import numpy as np
import pytest

from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors


class TestTypeMismatchError:
    def test_is_a_type_error(self):
        assert issubclass(type_errors.TypeMismatchError, TypeError)

    def test_keeps_expected_actual_and_context(self):
        expected = computation_types.FederatedType(np.float32, placements.CLIENTS)
        actual = computation_types.FederatedType(np.float32, placements.SERVER)

        error = type_errors.TypeMismatchError(expected, actual, "federated_sum")

        assert error.expected is expected
        assert error.actual is actual
        assert error.context == "federated_sum"

    @pytest.mark.parametrize(
        "context, detail, expected_message",
        [
            pytest.param(
                "",
                "",
                "expected {float32}@CLIENTS, got float32@SERVER",
                id="bare",
            ),
            pytest.param(
                "federated_sum",
                "",
                "federated_sum: expected {float32}@CLIENTS, got float32@SERVER",
                id="with_context",
            ),
            pytest.param(
                "",
                "placements differ",
                "expected {float32}@CLIENTS, got float32@SERVER (placements differ)",
                id="with_detail",
            ),
            pytest.param(
                "federated_map argument 0",
                "placements differ",
                "federated_map argument 0: expected {float32}@CLIENTS, got float32@SERVER "
                "(placements differ)",
                id="with_context_and_detail",
            ),
        ],
    )
    def test_message_when_types_are_short(self, context, detail, expected_message):
        error = type_errors.TypeMismatchError(
            computation_types.FederatedType(np.float32, placements.CLIENTS),
            computation_types.FederatedType(np.float32, placements.SERVER),
            context,
            detail,
        )

        assert str(error) == expected_message

    def test_message_names_the_family_when_expected_is_a_string(self):
        error = type_errors.TypeMismatchError(
            "a federated type", computation_types.TensorType(np.int32), "federated_sum"
        )

        assert str(error) == "federated_sum: expected a federated type, got int32"

    def test_no_diff_when_notations_are_just_under_120_characters(self):
        error = type_errors.TypeMismatchError("a" * 60, "b" * 59)

        assert str(error) == f"expected {'a' * 60}, got {'b' * 59}"

    def test_adds_diff_when_notations_reach_120_characters(self):
        error = type_errors.TypeMismatchError("a" * 60, "b" * 60)

        assert str(error).splitlines()[1:] == [
            f"  expected: ...{'a' * 50}",
            f"  actual:   ...{'b' * 50}",
            "  (first difference at character 0)",
        ]

    def test_diff_shows_context_around_first_difference_when_types_are_long(self):
        expected = computation_types.StructType([(f"field_{i}", np.float32) for i in range(10)])
        actual = computation_types.StructType(
            [(f"field_{i}", np.int32 if i == 7 else np.float32) for i in range(10)]
        )

        error = type_errors.TypeMismatchError(expected, actual, "federated_mean")

        assert str(error).splitlines() == [
            f"federated_mean: expected {expected}, got {actual}",
            "  expected: ...oat32,field_6=float32,field_7=float32,field_8=float32,field_9=float32>",
            "  actual:   ...oat32,field_6=float32,field_7=int32,field_8=float32,field_9=float32>",
            "  (first difference at character 121)",
        ]

    def test_diff_points_past_the_shorter_notation_when_one_is_a_prefix(self):
        error = type_errors.TypeMismatchError("a" * 70, "a" * 70 + "b" * 10)

        assert str(error).splitlines()[1:] == [
            f"  expected: ...{'a' * 30}",
            f"  actual:   ...{'a' * 30}{'b' * 10}",
            "  (first difference at character 70)",
        ]
