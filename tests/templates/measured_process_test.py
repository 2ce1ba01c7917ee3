"""Tests for tffl/templates/measured_process.py: next returns state, result, measurements."""

import collections

import numpy as np
import pytest

import tffl

init_int = tffl.tf_computation(lambda: np.int32(0))


@tffl.tf_computation(np.int32, np.int32)
def step(state, value):
    return tffl.templates.MeasuredProcessOutput(
        state=state + 1, result=value * 2, measurements=collections.OrderedDict(seen=value)
    )


class TestMeasuredProcessOutput:
    def test_names_its_fields_state_result_measurements(self):
        output = tffl.templates.MeasuredProcessOutput(1, 2, 3)

        assert output._fields == ("state", "result", "measurements")
        assert (output.state, output.result, output.measurements) == (1, 2, 3)


class TestMeasuredProcess:
    def test_returns_a_measured_process_output_when_next_is_called(self):
        process = tffl.templates.MeasuredProcess(init_int, step)

        output = process.next(process.initialize(), 5)

        assert output == tffl.templates.MeasuredProcessOutput(
            state=1, result=10, measurements=collections.OrderedDict(seen=5)
        )
        assert process.next_is_multi_arg is True

    def test_raises_type_error_when_next_fn_does_not_return_three_parts(self):
        two_parts = tffl.tf_computation(lambda state: (state, state), np.int32)

        with pytest.raises(TypeError) as raised:
            tffl.templates.MeasuredProcess(init_int, two_parts)
        assert str(raised.value) == (
            "next_fn: expected a result <state=S,result=R,measurements=M> "
            "(a MeasuredProcessOutput), got <int32,int32>"
        )

    def test_raises_type_error_when_next_fn_returns_a_tensor(self):
        with pytest.raises(TypeError) as raised:
            tffl.templates.MeasuredProcess(
                init_int, tffl.tf_computation(lambda state: state, np.int32)
            )
        assert str(raised.value) == (
            "next_fn: expected a result <state=S,result=R,measurements=M> "
            "(a MeasuredProcessOutput), got int32"
        )

    def test_raises_type_mismatch_when_the_first_part_is_not_the_state(self):
        wrong_state = tffl.tf_computation(
            lambda state: tffl.templates.MeasuredProcessOutput(np.float32(1.0), state, state),
            np.int32,
        )

        with pytest.raises(tffl.TypeMismatchError) as raised:
            tffl.templates.MeasuredProcess(init_int, wrong_state)
        assert str(raised.value) == "next_fn result state: expected int32, got float32"
