"""Type errors that name the expected and the given type in compact notation."""

from __future__ import annotations

from typing import Any


class TypeMismatchError(TypeError):
    """A value or argument of one type was given where another was expected.

    Attributes:
      expected: what was expected (a `Type`, or a string for a family of types).
      actual: what was given (a `Type`, or a description of the value).
      context: what the check was for (`'federated_sum'`, `'federated_map argument 0'`).
    """

    def __init__(self, expected: Any, actual: Any, context: str = "", detail: str = ""):
        self.expected = expected
        self.actual = actual
        self.context = context
        message = f"expected {expected}, got {actual}"
        if context:
            message = f"{context}: {message}"
        if detail:
            message = f"{message} ({detail})"
        long_form = _diff(expected, actual)
        if long_form:
            message = f"{message}\n{long_form}"
        super().__init__(message)


def _diff(expected: Any, actual: Any) -> str:
    """For long types, the first point where the two notations part ways."""
    expected_str, actual_str = str(expected), str(actual)
    if len(expected_str) + len(actual_str) < 120:
        return ""
    index = 0
    for index, (e, a) in enumerate(zip(expected_str, actual_str)):
        if e != a:
            break
    else:
        index = min(len(expected_str), len(actual_str))
    start = max(0, index - 30)
    return (
        f"  expected: ...{expected_str[start : index + 50]}\n"
        f"  actual:   ...{actual_str[start : index + 50]}\n"
        f"  (first difference at character {index})"
    )
