"""Tests for serialize_computation / deserialize_computation in tffl/framework/__init__.py."""

import numpy as np
import pytest

import tffl
from tffl.core import computation_impl
from tffl.testing import reference_programs

BUILDERS = {
    "mean": reference_programs.build_mean_program,
    "threshold": reference_programs.build_threshold_program,
    "fedavg-round": reference_programs.build_fedavg_round,
}


@pytest.fixture(scope="module")
def programs():
    return {name: build() for name, build in BUILDERS.items()}


class TestSerializeComputation:
    @pytest.mark.parametrize("name", list(BUILDERS))
    def test_gives_identical_bytes_when_program_is_traced_twice(self, programs, name):
        again = BUILDERS[name]()
        assert tffl.framework.serialize_computation(again) == tffl.framework.serialize_computation(
            programs[name]
        )

    def test_raises_type_error_when_computation_is_polymorphic(self):
        polymorphic = tffl.tf_computation(lambda x: x)
        with pytest.raises(TypeError) as raised:
            tffl.framework.serialize_computation(polymorphic)
        assert str(raised.value) == (
            "serialize_computation: expected a typed tffl computation, got "
            "<tffl polymorphic computation lambda> (a polymorphic computation has no single "
            "type; trace it first)"
        )

    def test_gives_bytes_when_computation_is_a_tf_computation(self):
        computation = tffl.tf_computation(lambda x: x + 1, np.int32)
        data = tffl.framework.serialize_computation(computation)
        assert isinstance(data, bytes)
        back = tffl.framework.deserialize_computation(data)
        assert str(back.type_signature) == "(int32 -> int32)"
        assert str(back) == "lambda"


class TestDeserializeComputation:
    @pytest.mark.parametrize("name", list(BUILDERS))
    def test_round_trips_when_program_is_serialized(self, programs, name):
        program = programs[name]
        data = tffl.framework.serialize_computation(program)
        back = tffl.framework.deserialize_computation(data)
        assert isinstance(back, computation_impl.ConcreteComputation)
        assert back.type_signature == program.type_signature
        assert str(back) == str(program)
        assert tffl.framework.serialize_computation(back) == data

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(b"garbage", id="text"),
            pytest.param(b"\xff\xff\xff", id="truncated-varint"),
        ],
    )
    def test_raises_value_error_when_bytes_are_not_a_message(self, data):
        with pytest.raises(ValueError) as raised:
            tffl.framework.deserialize_computation(data)
        assert str(raised.value) == (
            "deserialize_computation: not a computation message (Error parsing message)"
        )

    def test_raises_value_error_when_bytes_are_empty(self):
        with pytest.raises(ValueError) as raised:
            tffl.framework.deserialize_computation(b"")
        assert str(raised.value) == "from_proto: the computation message has no kind set (None)"

    def test_raises_type_error_when_message_is_not_a_function(self):
        data = tffl.framework.building_blocks.Literal(np.int32(1)).to_proto().SerializeToString()
        with pytest.raises(TypeError) as raised:
            tffl.framework.deserialize_computation(data)
        assert str(raised.value) == "a computation needs a function type, got int32"
