"""Tests for tffl/core/intrinsics.py: the user functions, one per intrinsic, and their checks."""

import numpy as np
import pytest

from tests.core.accepted_calls import GOOD
from tests.core.accepted_calls import C
from tests.core.accepted_calls import F
from tests.core.accepted_calls import S
from tests.core.accepted_calls import one
from tests.core.accepted_calls import trace_computation
import tffl
from tffl.compiler import intrinsic_defs
from tffl.core import intrinsics

# The GOOD case that produces each intrinsic.
EXAMPLE_OF = {
    intrinsic_defs.FEDERATED_BROADCAST: "broadcast",
    intrinsic_defs.FEDERATED_MAP: "map-clients",
    intrinsic_defs.FEDERATED_APPLY: "map-server-is-apply",
    intrinsic_defs.FEDERATED_SUM: "sum-float",
    intrinsic_defs.FEDERATED_MEAN: "mean",
    intrinsic_defs.FEDERATED_WEIGHTED_MEAN: "mean-weighted-int-weight",
    intrinsic_defs.FEDERATED_AGGREGATE: "aggregate",
    intrinsic_defs.FEDERATED_ZIP_AT_CLIENTS: "zip-clients",
    intrinsic_defs.FEDERATED_ZIP_AT_SERVER: "zip-server",
    intrinsic_defs.FEDERATED_VALUE_AT_CLIENTS: "value-clients",
    intrinsic_defs.FEDERATED_VALUE_AT_SERVER: "value-server",
    intrinsic_defs.FEDERATED_EVAL_AT_CLIENTS: "eval-clients",
    intrinsic_defs.FEDERATED_EVAL_AT_SERVER: "eval-server",
    intrinsic_defs.FEDERATED_SELECT: "select",
    intrinsic_defs.FEDERATED_SECURE_SUM: "secure-sum",
    intrinsic_defs.FEDERATED_SECURE_SUM_BITWIDTH: "secure-sum-bitwidth",
    intrinsic_defs.FEDERATED_SECURE_MODULAR_SUM: "secure-modular-sum",
    intrinsic_defs.SEQUENCE_MAP: "sequence-map",
    intrinsic_defs.SEQUENCE_REDUCE: "sequence-reduce",
    intrinsic_defs.SEQUENCE_SUM: "sequence-sum",
}


class TestFederatedValue:
    def test_raises_type_error_when_placement_is_a_string(self):
        with pytest.raises(TypeError) as raised:
            trace_computation(lambda x: tffl.federated_value(x, "SERVER"), [np.int32])
        assert str(raised.value) == (
            "federated_value placement: expected tffl.CLIENTS or tffl.SERVER, got 'SERVER'"
        )

    def test_raises_type_error_when_value_is_already_federated(self):
        with pytest.raises(TypeError) as raised:
            trace_computation(lambda x: tffl.federated_value(x, S), [F(np.int32, S)])
        assert str(raised.value) == (
            "FederatedType member: expected tensors, structs or sequences, got int32@SERVER "
            "(federated values do not nest)"
        )


class TestFederatedEval:
    def test_raises_type_error_when_placement_is_a_string(self):
        with pytest.raises(TypeError) as raised:
            trace_computation(lambda: tffl.federated_eval(one, "CLIENTS"), [])
        assert str(raised.value) == (
            "federated_eval placement: expected tffl.CLIENTS or tffl.SERVER, got 'CLIENTS'"
        )


class TestFederatedSelect:
    def test_traces_python_select_fn_when_server_value_type_is_known(self):
        computation = trace_computation(
            lambda k, m, v: tffl.federated_select(k, m, v, lambda value, key: value),
            [F((np.int32, [None]), C), F(np.int32, S), F((np.float32, [10]), S)],
        )
        assert str(computation.type_signature) == (
            "(<k={int32[?]}@CLIENTS,m=int32@SERVER,v=float32[10]@SERVER> -> {float32[10]*}@CLIENTS)"
        )
        assert str(computation) == (
            "(arg -> federated_select(<arg.k,arg.m,arg.v,(arg_0 -> arg_0[0])>))"
        )


class TestOutsideFederatedComputation:
    @pytest.mark.parametrize(
        "call, uri",
        [
            pytest.param(
                lambda: tffl.federated_broadcast(1.0), "federated_broadcast", id="broadcast"
            ),
            pytest.param(lambda: tffl.federated_sum(1.0), "federated_sum", id="sum"),
            pytest.param(lambda: tffl.federated_mean(1.0), "federated_mean", id="mean"),
            pytest.param(
                lambda: tffl.federated_value(1, S), "federated_value_at_server", id="value"
            ),
            pytest.param(
                lambda: tffl.federated_eval(one, C), "federated_eval_at_clients", id="eval"
            ),
            pytest.param(lambda: tffl.federated_zip([1, 2]), "federated_zip_at_clients", id="zip"),
            pytest.param(lambda: tffl.sequence_sum(1), "sequence_sum", id="sequence-sum"),
        ],
    )
    def test_raises_runtime_error_when_not_tracing(self, call, uri):
        with pytest.raises(RuntimeError) as raised:
            call()
        assert str(raised.value) == f"{uri} can only be used inside a @tffl.federated_computation"


class TestFunctions:
    def test_has_a_function_for_every_definition_when_compared_with_all(self):
        assert set(intrinsics.FUNCTIONS) == set(intrinsic_defs.ALL)

    @pytest.mark.parametrize("definition", intrinsic_defs.ALL, ids=str)
    def test_produces_definition_when_its_function_is_called(self, definition):
        types, body, _, _ = GOOD[EXAMPLE_OF[definition]]
        computation = trace_computation(body, types)
        assert f"{definition.uri}(" in str(computation)

    @pytest.mark.parametrize("definition", intrinsic_defs.ALL, ids=str)
    def test_is_public_when_listed(self, definition):
        function = intrinsics.FUNCTIONS[definition]
        assert getattr(tffl, function.__name__) is function
