"""Tests for tffl/learning/templates/distributors.py: sending weights to the clients."""

import re

import numpy as np
import pytest

import tffl
from tffl.core import context_stack
from tffl.learning import models
from tffl.learning import templates

F = tffl.FederatedType
S = tffl.SERVER
C = tffl.CLIENTS
STATE = F((), S)
WEIGHTS_TYPE = tffl.to_type(
    models.ModelWeights([tffl.TensorType(np.float32, [2, 1])], [tffl.TensorType(np.float32)])
)


@tffl.federated_computation()
def empty_state():
    return tffl.federated_value((), S)


class TestBuildBroadcastProcess:
    def test_type_signature_broadcasts_the_value_when_given_model_weights(self):
        process = templates.build_broadcast_process(WEIGHTS_TYPE)

        assert str(process.initialize.type_signature) == "( -> <>@SERVER)"
        assert str(process.next.type_signature) == (
            "(<state=<>@SERVER,value=<trainable=<float32[2,1]>,non_trainable=<float32>>@SERVER> "
            "-> <state=<>@SERVER,result=<trainable=<float32[2,1]>,non_trainable=<float32>>"
            "@CLIENTS,measurements=<>@SERVER>)"
        )
        assert isinstance(process, templates.DistributionProcess)

    def test_every_client_receives_the_value_when_run(self):
        process = templates.build_broadcast_process(tffl.TensorType(np.float32, [2]))

        with context_stack.install(tffl.backends.local.create_context(num_clients=3)):
            output = process.next(process.initialize(), np.array([1.0, 2.0], np.float32))

        assert output.state == ()
        np.testing.assert_array_equal(output.result, [1.0, 2.0])
        assert output.measurements == ()

    def test_raises_when_value_type_is_already_placed(self):
        with pytest.raises(
            tffl.TypeMismatchError,
            match=re.escape(
                "build_broadcast_process value_type: expected an unplaced type, got float32@SERVER"
            ),
        ):
            templates.build_broadcast_process(F(np.float32, S))


class TestDistributionProcess:
    def test_accepts_a_computation_when_value_goes_from_server_to_clients(self):
        next_fn = tffl.federated_computation(
            lambda state, value: (state, tffl.federated_broadcast(value), state),
            STATE,
            F(np.float32, S),
        )

        process = templates.DistributionProcess(empty_state, next_fn)

        assert process.next is next_fn

    @pytest.mark.parametrize(
        "body, value_type, error, message",
        [
            (
                lambda state, value: (state, value, state),
                F(np.float32, C),
                tffl.TypeMismatchError,
                "next_fn value parameter: expected V@SERVER, got {float32}@CLIENTS",
            ),
            (
                lambda state, value: (state, value, state),
                F(np.float32, S),
                tffl.TypeMismatchError,
                "next_fn result: expected {V}@CLIENTS, got float32@SERVER",
            ),
            (
                lambda state, value: (state, tffl.federated_broadcast(value)),
                F(np.float32, S),
                TypeError,
                "next_fn: expected a result <state=S,result=R,measurements=M> "
                "(a MeasuredProcessOutput), got <<>@SERVER,float32@CLIENTS>",
            ),
        ],
        ids=["value-at-clients", "result-at-server", "result-without-measurements"],
    )
    def test_raises_when_next_fn_has_the_wrong_placements(self, body, value_type, error, message):
        next_fn = tffl.federated_computation(body, STATE, value_type)

        with pytest.raises(error, match=re.escape(message)):
            templates.DistributionProcess(empty_state, next_fn)

    def test_raises_when_initialize_fn_is_not_a_computation(self):
        next_fn = tffl.federated_computation(
            lambda state, value: (state, tffl.federated_broadcast(value), state),
            STATE,
            F(np.float32, S),
        )

        with pytest.raises(
            TypeError,
            match=re.escape(
                "initialize_fn: expected a tffl computation (tffl.tf_computation or "
                "tffl.federated_computation with declared parameter types), got function"
            ),
        ):
            templates.DistributionProcess(lambda: (), next_fn)
