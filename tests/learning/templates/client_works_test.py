"""Tests for tffl/learning/templates/client_works.py: the client work process's checks."""

import re

import numpy as np
import pytest

import tffl
from tffl.learning import templates

F = tffl.FederatedType
S = tffl.SERVER
C = tffl.CLIENTS
STATE = F((), S)
DATA = tffl.SequenceType(np.float32)


@tffl.federated_computation()
def empty_state():
    return tffl.federated_value((), S)


@tffl.tf_computation(np.float32)
def update_and_weight(weights):
    return templates.ClientResult(weights, weights)


def client_results(weights):
    return tffl.federated_map(update_and_weight, weights)


class TestClientWorkProcess:
    def test_accepts_a_computation_when_clients_return_update_and_weight(self):
        next_fn = tffl.federated_computation(
            lambda state, weights, data: (state, client_results(weights), state),
            STATE,
            F(np.float32, C),
            F(DATA, C),
        )

        process = templates.ClientWorkProcess(empty_state, next_fn)

        assert process.next is next_fn
        assert str(next_fn.type_signature.result[1]) == (
            "{<update=float32,update_weight=float32>}@CLIENTS"
        )

    @pytest.mark.parametrize(
        "body, types, error, message",
        [
            (
                lambda state, weights, data: (state, client_results(weights), state),
                [F(np.float32, S), F(DATA, C)],
                tffl.TypeMismatchError,
                "next_fn weights parameter: expected {T}@CLIENTS, got float32@SERVER",
            ),
            (
                lambda state, weights, data: (state, client_results(weights), state),
                [F(np.float32, C), F(DATA, S)],
                tffl.TypeMismatchError,
                "next_fn data parameter: expected {T}@CLIENTS, got float32*@SERVER",
            ),
            (
                lambda state, weights, data: (state, weights, state),
                [F(np.float32, C), F(DATA, C)],
                tffl.TypeMismatchError,
                "next_fn result: expected {<update=U,update_weight=float32>}@CLIENTS, "
                "got {float32}@CLIENTS",
            ),
            (
                lambda state, weights, data: (state, tffl.federated_sum(weights), state),
                [F(np.float32, C), F(DATA, C)],
                tffl.TypeMismatchError,
                "next_fn result: expected {<update=U,update_weight=float32>}@CLIENTS, "
                "got float32@SERVER",
            ),
            (
                lambda state, weights: (state, client_results(weights), state),
                [F(np.float32, C)],
                TypeError,
                "next_fn: expected parameters <state@SERVER,weights@CLIENTS,data@CLIENTS>, "
                "got <state=<>@SERVER,weights={float32}@CLIENTS>",
            ),
        ],
        ids=[
            "weights-at-server",
            "data-at-server",
            "result-not-a-struct",
            "result-at-server",
            "no-data-parameter",
        ],
    )
    def test_raises_when_next_fn_has_the_wrong_form(self, body, types, error, message):
        next_fn = tffl.federated_computation(body, STATE, *types)

        with pytest.raises(error, match=re.escape(message)):
            templates.ClientWorkProcess(empty_state, next_fn)
