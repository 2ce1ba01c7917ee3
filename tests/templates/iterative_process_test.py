"""Tests for tffl/templates/iterative_process.py: initialize and next fitting together."""

import collections
import doctest

import numpy as np
import pytest

import tffl
from tffl.templates import iterative_process

init_int = tffl.tf_computation(lambda: np.int32(0))
increment = tffl.tf_computation(lambda state: state + 1, np.int32)
add = tffl.tf_computation(lambda state, x: state + x, np.int32, np.int32)
with_metrics = tffl.tf_computation(
    lambda state: collections.OrderedDict(state=state + 1, metrics=state * 10), np.int32
)
to_float = tffl.tf_computation(lambda state: np.float32(1.0), np.int32)
takes_float = tffl.tf_computation(lambda state: state, np.float32)
no_parameter = tffl.tf_computation(lambda: np.int32(1))


class TestIterativeProcess:
    def test_advances_the_state_when_next_is_called(self):
        process = tffl.templates.IterativeProcess(init_int, increment)

        assert process.next(process.next(process.initialize())) == 2
        assert str(process.state_type) == "int32"
        assert process.next_is_multi_arg is False

    def test_detects_several_arguments_when_next_takes_state_first(self):
        process = tffl.templates.IterativeProcess(init_int, add)

        assert process.next_is_multi_arg is True
        assert process.next(process.initialize(), 5) == 5

    def test_accepts_a_struct_result_when_the_state_is_its_first_element(self):
        process = tffl.templates.IterativeProcess(init_int, with_metrics)

        assert process.next(3) == collections.OrderedDict(state=4, metrics=30)

    def test_raises_type_error_when_initialize_fn_is_not_a_computation(self):
        with pytest.raises(TypeError) as raised:
            tffl.templates.IterativeProcess(lambda: 0, increment)
        assert str(raised.value) == (
            "initialize_fn: expected a tffl computation (tffl.tf_computation or "
            "tffl.federated_computation with declared parameter types), got function"
        )

    def test_raises_type_error_when_next_fn_is_polymorphic(self):
        with pytest.raises(TypeError) as raised:
            tffl.templates.IterativeProcess(init_int, tffl.tf_computation(lambda s: s))
        assert str(raised.value) == (
            "next_fn: expected a tffl computation (tffl.tf_computation or "
            "tffl.federated_computation with declared parameter types), "
            "got PolymorphicComputation"
        )

    def test_raises_type_error_when_initialize_fn_has_a_parameter(self):
        with pytest.raises(TypeError) as raised:
            tffl.templates.IterativeProcess(increment, increment)
        assert str(raised.value) == (
            "initialize_fn: expected a computation of no parameter, got (int32 -> int32)"
        )

    def test_raises_type_error_when_next_fn_has_no_parameter(self):
        with pytest.raises(TypeError) as raised:
            tffl.templates.IterativeProcess(init_int, no_parameter)
        assert str(raised.value) == (
            "next_fn: expected a computation taking the state, got ( -> int32)"
        )

    def test_raises_type_error_when_declared_multi_arg_next_takes_one_tensor(self):
        with pytest.raises(TypeError) as raised:
            tffl.templates.IterativeProcess(init_int, increment, next_is_multi_arg=True)
        assert str(raised.value) == (
            "next_fn: expected a computation of several parameters, the state first; "
            "got (int32 -> int32)"
        )

    def test_raises_type_mismatch_when_next_fn_does_not_accept_the_state(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.IterativeProcess(init_int, takes_float)
        assert str(raised.value) == (
            "next_fn state parameter (from initialize_fn's result): expected float32, got int32"
        )

    def test_raises_type_mismatch_when_next_fn_returns_another_state_type(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.IterativeProcess(init_int, to_float)
        assert str(raised.value) == "next_fn result state: expected int32, got float32"


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        finder = doctest.DocTestFinder()
        for test in finder.find(iterative_process, globs=vars(iterative_process)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
