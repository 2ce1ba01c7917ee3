"""Tests for tffl/core/intrinsics.py: every intrinsic's type rule, good and bad."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from tests.core.accepted_calls import GOOD
from tests.core.accepted_calls import SEQ_FLOAT
from tests.core.accepted_calls import SEQ_INT
from tests.core.accepted_calls import C
from tests.core.accepted_calls import F
from tests.core.accepted_calls import S
from tests.core.accepted_calls import add_floats
from tests.core.accepted_calls import add_ints
from tests.core.accepted_calls import double
from tests.core.accepted_calls import double_int
from tests.core.accepted_calls import gather
from tests.core.accepted_calls import to_float
from tests.core.accepted_calls import trace_computation
import tffl

# (types, body, message) of calls the type rules refuse with a TypeMismatchError.
BAD = {
    "broadcast-of-clients": (
        [F(np.float32, C)],
        lambda x: tffl.federated_broadcast(x),
        "federated_broadcast: expected T@SERVER, got {float32}@CLIENTS",
    ),
    "broadcast-of-unplaced": (
        [np.float32],
        lambda x: tffl.federated_broadcast(x),
        "federated_broadcast: expected T@SERVER, got float32",
    ),
    "map-wrong-member-type": (
        [F(np.float32, C)],
        lambda x: tffl.federated_map(to_float, x),
        "federated_map argument value: expected {int32}@CLIENTS, got {float32}@CLIENTS",
    ),
    "map-all-equal-wrong-member-type": (
        [F(np.float32, C, all_equal=True)],
        lambda x: tffl.federated_map(to_float, x),
        "federated_map argument value: expected {int32}@CLIENTS, got float32@CLIENTS",
    ),
    "apply-wrong-member-type": (
        [F(np.float32, S)],
        lambda x: tffl.federated_map(to_float, x),
        "federated_apply argument value: expected int32@SERVER, got float32@SERVER",
    ),
    "map-unplaced-value": (
        [np.int32],
        lambda x: tffl.federated_map(to_float, x),
        "federated_map value: expected a federated value, got int32",
    ),
    "map-non-function": (
        [F(np.int32, C), np.int32],
        lambda x, y: tffl.federated_map(y, x),
        "federated_map argument fn: expected (T -> U), got int32",
    ),
    "sum-of-server": (
        [F(np.float32, S)],
        lambda x: tffl.federated_sum(x),
        "federated_sum: expected {T}@CLIENTS, got float32@SERVER",
    ),
    "sum-of-bool": (
        [F(np.bool_, C)],
        lambda x: tffl.federated_sum(x),
        "federated_sum: expected {T}@CLIENTS, got {bool}@CLIENTS "
        "(T must be numeric tensors, got bool)",
    ),
    "sum-of-string": (
        [F(tf.string, C)],
        lambda x: tffl.federated_sum(x),
        "federated_sum: expected {T}@CLIENTS, got {string}@CLIENTS "
        "(T must be numeric tensors, got string)",
    ),
    "sum-of-sequence": (
        [F(SEQ_INT, C)],
        lambda x: tffl.federated_sum(x),
        "federated_sum: expected {T}@CLIENTS, got {int32*}@CLIENTS "
        "(T must be numeric tensors, got int32*)",
    ),
    "mean-of-int": (
        [F(np.int32, C)],
        lambda x: tffl.federated_mean(x),
        "federated_mean: expected {T}@CLIENTS, got {int32}@CLIENTS "
        "(T must be floating-point tensors, got int32)",
    ),
    "mean-of-struct-with-int": (
        [F(collections.OrderedDict(a=np.float32, b=np.int32), C)],
        lambda x: tffl.federated_mean(x),
        "federated_mean: expected {T}@CLIENTS, got {<a=float32,b=int32>}@CLIENTS "
        "(T must be floating-point tensors, got <a=float32,b=int32>)",
    ),
    "mean-of-server": (
        [F(np.float32, S)],
        lambda x: tffl.federated_mean(x),
        "federated_mean: expected {T}@CLIENTS, got float32@SERVER",
    ),
    "weighted-mean-of-int": (
        [F(np.int32, C), F(np.float32, C)],
        lambda x, w: tffl.federated_mean(x, weight=w),
        "federated_weighted_mean: expected <{T}@CLIENTS,{U}@CLIENTS>, "
        "got <{int32}@CLIENTS,{float32}@CLIENTS> (T must be floating-point tensors, got int32)",
    ),
    "weighted-mean-weight-at-server": (
        [F(np.float32, C), F(np.float32, S)],
        lambda x, w: tffl.federated_mean(x, weight=w),
        "federated_weighted_mean argument weight: expected {U}@CLIENTS, got float32@SERVER",
    ),
    "weighted-mean-weight-not-scalar": (
        [F(np.float32, C), F((np.int32, [2]), C)],
        lambda x, w: tffl.federated_mean(x, weight=w),
        "federated_weighted_mean: expected <{T}@CLIENTS,{U}@CLIENTS>, "
        "got <{float32}@CLIENTS,{int32[2]}@CLIENTS> "
        "(the weight must be a numeric scalar, got int32[2])",
    ),
    "aggregate-value-at-server": (
        [F(np.float32, S)],
        lambda x: tffl.federated_aggregate(x, np.float32(0.0), add_floats, add_floats, double),
        "federated_aggregate argument value: expected {T}@CLIENTS, got float32@SERVER",
    ),
    "aggregate-zero-wrong-type": (
        [F(np.float32, C)],
        lambda x: tffl.federated_aggregate(x, np.int32(0), add_floats, add_floats, double),
        "federated_aggregate argument accumulate: expected (<int32,float32> -> int32), "
        "got (<a=float32,b=float32> -> float32)",
    ),
    "aggregate-accumulate-wrong-type": (
        [F(np.int32, C)],
        lambda x: tffl.federated_aggregate(x, np.float32(0.0), add_floats, add_floats, double),
        "federated_aggregate argument accumulate: expected (<float32,int32> -> float32), "
        "got (<a=float32,b=float32> -> float32)",
    ),
    "aggregate-merge-wrong-type": (
        [F(np.float32, C)],
        lambda x: tffl.federated_aggregate(x, np.float32(0.0), add_floats, double, double),
        "federated_aggregate argument merge: expected (<float32,float32> -> float32), "
        "got (float32 -> float32)",
    ),
    "aggregate-report-wrong-type": (
        [F(np.float32, C)],
        lambda x: tffl.federated_aggregate(x, np.float32(0.0), add_floats, add_floats, to_float),
        "federated_aggregate argument report: expected (float32 -> R), got (int32 -> float32)",
    ),
    "zip-mixed-clients-first": (
        [F(np.float32, C), F(np.int32, S)],
        lambda a, b: tffl.federated_zip([a, b]),
        "federated_zip_at_clients argument 1: expected {T}@CLIENTS, got int32@SERVER",
    ),
    "zip-mixed-server-first": (
        [F(np.float32, S), F(np.int32, C)],
        lambda a, b: tffl.federated_zip(collections.OrderedDict(a=a, b=b)),
        "federated_zip_at_server argument b: expected T@SERVER, got {int32}@CLIENTS",
    ),
    "zip-unplaced-element": (
        [F(np.float32, C), np.int32],
        lambda a, b: tffl.federated_zip([a, b]),
        "federated_zip_at_clients argument 1: expected {T}@CLIENTS, got int32",
    ),
    "zip-empty": (
        [F(np.float32, C)],
        lambda a: tffl.federated_zip([]),
        "federated_zip: expected a non-empty struct of federated values, got <>",
    ),
    "zip-not-a-struct": (
        [np.int32],
        lambda a: tffl.federated_zip(a),
        "federated_zip: expected a non-empty struct of federated values, got int32",
    ),
    "eval-function-with-parameter": (
        [],
        lambda: tffl.federated_eval(to_float, S),
        "federated_eval_at_server: expected ( -> T), got (int32 -> float32)",
    ),
    "select-max-key-at-clients": (
        [F((np.int32, [None]), C), F(np.int32, C), F((np.float32, [10]), S)],
        lambda k, m, v: tffl.federated_select(k, m, v, gather),
        "federated_select argument max_key: expected int32@SERVER, got {int32}@CLIENTS",
    ),
    "select-int64-keys": (
        [F((np.int64, [None]), C), F(np.int32, S), F((np.float32, [10]), S)],
        lambda k, m, v: tffl.federated_select(k, m, v, gather),
        "federated_select argument client_keys: expected {int32[?]}@CLIENTS, "
        "got {int64[?]}@CLIENTS",
    ),
    "select-server-value-wrong-type": (
        [F((np.int32, [None]), C), F(np.int32, S), F((np.float32, [5]), S)],
        lambda k, m, v: tffl.federated_select(k, m, v, gather),
        "federated_select argument select_fn: expected (<float32[5],int32> -> U), "
        "got (<values=float32[10],key=int32> -> float32)",
    ),
    "secure-sum-bitwidth-of-float": (
        [F(np.float32, C)],
        lambda x: tffl.federated_secure_sum_bitwidth(x, 8),
        "federated_secure_sum_bitwidth: expected <{T}@CLIENTS,B>, "
        "got <{float32}@CLIENTS,int32> (T must be integer tensors, got float32)",
    ),
    "secure-sum-bitwidth-float-bitwidth": (
        [F(np.int32, C)],
        lambda x: tffl.federated_secure_sum_bitwidth(x, 8.5),
        "federated_secure_sum_bitwidth: expected <{T}@CLIENTS,B>, "
        "got <{int32}@CLIENTS,float32> (B must be integer scalars, got float32)",
    ),
    "secure-sum-bitwidth-vector-bitwidth": (
        [F(np.int32, C)],
        lambda x: tffl.federated_secure_sum_bitwidth(x, np.array([8, 8], np.int32)),
        "federated_secure_sum_bitwidth: expected <{T}@CLIENTS,B>, "
        "got <{int32}@CLIENTS,int32[2]> (B must be integer scalars, got int32[2])",
    ),
    "secure-sum-bitwidth-placed-bitwidth": (
        [F(np.int32, C), F(np.int32, S)],
        lambda x, b: tffl.federated_secure_sum_bitwidth(x, b),
        "federated_secure_sum_bitwidth: expected <{T}@CLIENTS,B>, "
        "got <{int32}@CLIENTS,int32@SERVER> (B must be a non-federated constant, "
        "got int32@SERVER)",
    ),
    "secure-modular-sum-of-float": (
        [F(np.float32, C)],
        lambda x: tffl.federated_secure_modular_sum(x, 16),
        "federated_secure_modular_sum: expected <{T}@CLIENTS,B>, "
        "got <{float32}@CLIENTS,int32> (T must be integer tensors, got float32)",
    ),
    "secure-modular-sum-of-server": (
        [F(np.int32, S)],
        lambda x: tffl.federated_secure_modular_sum(x, 16),
        "federated_secure_modular_sum argument value: expected {T}@CLIENTS, got int32@SERVER",
    ),
    "sequence-map-wrong-element": (
        [SEQ_FLOAT],
        lambda s: tffl.sequence_map(double_int, s),
        "sequence_map argument sequence: expected int32*, got float32*",
    ),
    "sequence-map-not-a-sequence": (
        [np.int32],
        lambda s: tffl.sequence_map(double_int, s),
        "sequence_map argument sequence: expected int32*, got int32",
    ),
    "sequence-map-federated-wrong-element": (
        [F(SEQ_FLOAT, C)],
        lambda s: tffl.sequence_map(double_int, s),
        "sequence_map argument sequence: expected int32*, got float32*",
    ),
    "sequence-reduce-zero-wrong-type": (
        [SEQ_INT],
        lambda s: tffl.sequence_reduce(s, 0.0, add_ints),
        "sequence_reduce argument op: expected (<float32,int32> -> float32), "
        "got (<a=int32,b=int32> -> int32)",
    ),
    "sequence-reduce-element-wrong-type": (
        [SEQ_FLOAT],
        lambda s: tffl.sequence_reduce(s, 0, add_ints),
        "sequence_reduce argument op: expected (<int32,float32> -> int32), "
        "got (<a=int32,b=int32> -> int32)",
    ),
    "sequence-sum-of-bool": (
        [tffl.SequenceType(np.bool_)],
        lambda s: tffl.sequence_sum(s),
        "sequence_sum: expected T*, got bool* (T must be numeric tensors, got bool)",
    ),
    "sequence-sum-not-a-sequence": (
        [np.int32],
        lambda s: tffl.sequence_sum(s),
        "sequence_sum: expected T*, got int32",
    ),
}


class TestTypeRules:
    @pytest.mark.parametrize("case", sorted(GOOD))
    def test_traces_with_signature_when_argument_fits(self, case):
        types, body, signature, compact = GOOD[case]
        computation = trace_computation(body, types)
        assert str(computation.type_signature) == signature
        assert str(computation) == compact

    @pytest.mark.parametrize("case", sorted(BAD))
    def test_raises_type_mismatch_when_argument_does_not_fit(self, case):
        types, body, message = BAD[case]
        with pytest.raises(tffl.TypeMismatchError) as raised:
            trace_computation(body, types)
        assert str(raised.value) == message

    def test_type_mismatch_is_a_type_error_when_caught_as_one(self):
        with pytest.raises(TypeError, match=r"^federated_sum: expected \{T\}@CLIENTS"):
            trace_computation(lambda x: tffl.federated_sum(x), [F(np.float32, S)])

    def test_type_mismatch_keeps_expected_and_actual_when_raised(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            trace_computation(lambda x: tffl.federated_sum(x), [F(np.float32, S)])
        assert str(raised.value.expected) == "{T}@CLIENTS"
        assert raised.value.actual == F(np.float32, S)
        assert raised.value.context == "federated_sum"
