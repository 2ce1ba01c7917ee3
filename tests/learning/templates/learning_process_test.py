"""Tests for tffl/learning/templates/learning_process.py: the learning process's checks."""

import re

import numpy as np
import pytest

import tffl
from tffl.learning import templates

F = tffl.FederatedType
S = tffl.SERVER
C = tffl.CLIENTS
STATE = F(np.int32, S)
DATA = F(tffl.SequenceType(np.float32), C)


@tffl.federated_computation()
def initialize():
    return tffl.federated_value(0, S)


@tffl.tf_computation(np.int32)
def get_model_weights(state):
    return state + 10


@tffl.tf_computation(np.int32, np.int32)
def set_model_weights(state, weights):
    return weights - 10


def next_fn(body=lambda state, data: templates.LearningProcessOutput(state, state), data=DATA):
    return tffl.federated_computation(body, STATE, data)


class TestLearningProcess:
    def test_keeps_the_weight_accessors_when_the_parts_fit(self):
        process = templates.LearningProcess(
            initialize, next_fn(), get_model_weights, set_model_weights
        )

        assert process.get_model_weights is get_model_weights
        assert process.set_model_weights is set_model_weights
        assert str(process.state_type) == "int32@SERVER"
        assert process.get_model_weights(process.set_model_weights(process.initialize(), 4)) == 4

    @pytest.mark.parametrize(
        "arguments, error, message",
        [
            (
                dict(next_fn=next_fn(data=F(tffl.SequenceType(np.float32), S))),
                tffl.TypeMismatchError,
                "next_fn client data: expected {D}@CLIENTS, got float32*@SERVER",
            ),
            (
                dict(next_fn=next_fn(body=lambda state, data: (state, state, state))),
                tffl.TypeMismatchError,
                "next_fn result: expected <state=S@SERVER,metrics=M@SERVER>, "
                "got <int32@SERVER,int32@SERVER,int32@SERVER>",
            ),
            (
                dict(get_model_weights=tffl.tf_computation(lambda state: state, np.float32)),
                tffl.TypeMismatchError,
                "get_model_weights parameter (the state): expected int32, got float32",
            ),
            (
                dict(set_model_weights=tffl.tf_computation(lambda s, w: w, np.int32, np.float32)),
                tffl.TypeMismatchError,
                "set_model_weights result: expected float32, got int32",
            ),
            (
                dict(get_model_weights=lambda state: state),
                TypeError,
                "get_model_weights: expected a tffl computation (tffl.tf_computation or "
                "tffl.federated_computation with declared parameter types), got function",
            ),
            (
                dict(set_model_weights=None),
                TypeError,
                "set_model_weights: expected a tffl computation (tffl.tf_computation or "
                "tffl.federated_computation with declared parameter types), got NoneType",
            ),
            (
                dict(next_fn=tffl.federated_computation(lambda state: (state, state), STATE)),
                TypeError,
                "next_fn: expected a computation of several parameters, the state first; "
                "got (int32@SERVER -> <int32@SERVER,int32@SERVER>)",
            ),
        ],
        ids=[
            "data-at-server",
            "result-of-three",
            "get-of-another-state",
            "set-returning-another-state",
            "get-not-a-computation",
            "set-not-a-computation",
            "next-without-data",
        ],
    )
    def test_raises_when_a_part_does_not_fit(self, arguments, error, message):
        arguments = {
            "initialize_fn": initialize,
            "next_fn": next_fn(),
            "get_model_weights": get_model_weights,
            "set_model_weights": set_model_weights,
            **arguments,
        }

        with pytest.raises(error, match=re.escape(message)):
            templates.LearningProcess(**arguments)

    def test_raises_when_the_state_is_not_at_server(self):
        initialize_at_clients = tffl.federated_computation(lambda: tffl.federated_value(0, C))
        next_at_clients = tffl.federated_computation(
            lambda state, data: (state, state), F(np.int32, C), DATA
        )

        with pytest.raises(
            tffl.TypeMismatchError,
            match=re.escape("initialize_fn result: expected S@SERVER, got int32@CLIENTS"),
        ):
            templates.LearningProcess(
                initialize_at_clients, next_at_clients, get_model_weights, set_model_weights
            )

    def test_raises_when_next_fn_returns_only_the_state(self):
        with pytest.raises(
            tffl.TypeMismatchError,
            match=re.escape(
                "next_fn result: expected <state=S@SERVER,metrics=M@SERVER>, got int32@SERVER"
            ),
        ):
            templates.LearningProcess(
                initialize,
                next_fn(body=lambda state, data: state),
                get_model_weights,
                set_model_weights,
            )

    def test_raises_when_get_model_weights_takes_no_parameter(self):
        with pytest.raises(
            tffl.TypeMismatchError,
            match=re.escape(
                "get_model_weights parameter (the state): expected int32, got no parameter"
            ),
        ):
            templates.LearningProcess(
                initialize, next_fn(), tffl.tf_computation(lambda: 1), set_model_weights
            )
