"""Tests for tffl/templates/estimation_process.py: report and map of an estimate."""

import doctest

import numpy as np
import pytest

import tffl
from tffl.templates import estimation_process

init_float = tffl.tf_computation(lambda: np.float32(2.0))
double = tffl.tf_computation(lambda state: state * 2.0, np.float32)
identity = tffl.tf_computation(lambda state: state, np.float32)
plus_one = tffl.tf_computation(lambda estimate: estimate + 1.0, np.float32)


class TestEstimationProcess:
    def test_reports_the_estimate_when_state_advances(self):
        process = tffl.templates.EstimationProcess(init_float, double, identity)

        state = process.next(process.next(process.initialize()))

        assert process.report(state) == np.float32(8.0)
        assert process.report is identity

    def test_raises_type_mismatch_when_report_fn_does_not_accept_the_state(self):
        takes_int = tffl.tf_computation(lambda state: state, np.int32)

        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.EstimationProcess(init_float, double, takes_int)
        assert str(raised.value) == ("report_fn parameter (the state): expected int32, got float32")

    def test_raises_type_error_when_report_fn_takes_no_parameter(self):
        with pytest.raises(TypeError) as raised:
            tffl.templates.EstimationProcess(init_float, double, init_float)
        assert str(raised.value) == (
            "report_fn: expected a computation taking the state float32, got ( -> float32)"
        )

    def test_raises_type_error_when_report_fn_is_not_a_computation(self):
        with pytest.raises(TypeError) as raised:
            tffl.templates.EstimationProcess(init_float, double, lambda state: state)
        assert str(raised.value) == (
            "report_fn: expected a tffl computation (tffl.tf_computation or "
            "tffl.federated_computation with declared parameter types), got function"
        )


class TestMap:
    def test_applies_map_fn_to_the_report_when_mapped(self):
        process = tffl.templates.EstimationProcess(init_float, double, identity)

        mapped = process.map(plus_one)

        assert isinstance(mapped, tffl.templates.EstimationProcess)
        assert mapped.initialize is process.initialize
        assert mapped.next is process.next
        assert mapped.report(process.initialize()) == np.float32(3.0)
        assert str(mapped.report.type_signature) == "(float32 -> float32)"

    def test_raises_type_mismatch_when_map_fn_does_not_accept_the_estimate(self):
        process = tffl.templates.EstimationProcess(init_float, double, identity)

        with pytest.raises(tffl.TypeMismatchError) as raised:
            process.map(tffl.tf_computation(lambda estimate: estimate, np.int32))
        assert str(raised.value) == "map_fn parameter (the estimate): expected int32, got float32"

    def test_raises_type_error_when_map_fn_takes_no_parameter(self):
        process = tffl.templates.EstimationProcess(init_float, double, identity)

        with pytest.raises(TypeError) as raised:
            process.map(init_float)
        assert str(raised.value) == (
            "map_fn: expected a computation taking the estimate float32, got ( -> float32)"
        )

    def test_raises_type_error_when_map_fn_is_not_a_computation(self):
        process = tffl.templates.EstimationProcess(init_float, double, identity)

        with pytest.raises(TypeError) as raised:
            process.map(lambda estimate: estimate)
        assert str(raised.value) == (
            "map_fn: expected a tffl computation (tffl.tf_computation or "
            "tffl.federated_computation with declared parameter types), got function"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        finder = doctest.DocTestFinder()
        for test in finder.find(estimation_process, globs=vars(estimation_process)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
