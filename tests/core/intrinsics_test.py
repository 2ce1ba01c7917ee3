"""Tests for tffl/core/intrinsics.py: every intrinsic's type rule, good and bad."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import intrinsic_defs
from tffl.core import intrinsics

F = tffl.FederatedType
C = tffl.CLIENTS
S = tffl.SERVER
SEQ_INT = tffl.SequenceType(np.int32)
SEQ_FLOAT = tffl.SequenceType(np.float32)


@tffl.tf_computation(np.int32)
def to_float(x):
    return tf.cast(x, tf.float32)


@tffl.tf_computation(np.int32)
def double_int(x):
    return x * 2


@tffl.tf_computation(np.float32)
def double(x):
    return x * 2.0


@tffl.tf_computation(np.float32, np.float32)
def add_floats(a, b):
    return a + b


@tffl.tf_computation(np.int32, np.int32)
def add_ints(a, b):
    return a + b


@tffl.tf_computation(np.int32)
def identity_int(a):
    return a


@tffl.tf_computation
def one():
    return tf.constant(1)


@tffl.tf_computation((np.float32, [10]), np.int32)
def gather(values, key):
    return tf.gather(values, key)


def _trace(body, types):
    return tffl.federated_computation(body, *types)


# (types, body, signature, compact IR) of calls the type rules accept.
GOOD = {
    "broadcast": (
        [F(np.float32, S)],
        lambda x: tffl.federated_broadcast(x),
        "(float32@SERVER -> float32@CLIENTS)",
        "(x -> federated_broadcast(x))",
    ),
    "broadcast-struct": (
        [F(collections.OrderedDict(a=np.int32, b=(np.float32, [2])), S)],
        lambda x: tffl.federated_broadcast(x),
        "(<a=int32,b=float32[2]>@SERVER -> <a=int32,b=float32[2]>@CLIENTS)",
        "(x -> federated_broadcast(x))",
    ),
    "map-clients": (
        [F(np.int32, C)],
        lambda x: tffl.federated_map(to_float, x),
        "({int32}@CLIENTS -> {float32}@CLIENTS)",
        "(x -> federated_map(<to_float,x>))",
    ),
    "map-all-equal-clients": (
        [F(np.int32, C, all_equal=True)],
        lambda x: tffl.federated_map(to_float, x),
        "(int32@CLIENTS -> {float32}@CLIENTS)",
        "(x -> federated_map(<to_float,x>))",
    ),
    "map-server-is-apply": (
        [F(np.int32, S)],
        lambda x: tffl.federated_map(to_float, x),
        "(int32@SERVER -> float32@SERVER)",
        "(x -> federated_apply(<to_float,x>))",
    ),
    "map-python-function": (
        [F(np.int32, C)],
        lambda x: tffl.federated_map(lambda v: to_float(v), x),
        "({int32}@CLIENTS -> {float32}@CLIENTS)",
        "(x -> federated_map(<(v_0 -> to_float(v_0)),x>))",
    ),
    "map-list-is-zipped": (
        [F(np.float32, C), F(np.float32, C)],
        lambda a, b: tffl.federated_map(add_floats, [a, b]),
        "(<a={float32}@CLIENTS,b={float32}@CLIENTS> -> {float32}@CLIENTS)",
        "(arg -> federated_map(<add_floats,federated_zip_at_clients(<arg.a,arg.b>)>))",
    ),
    "map-polymorphic-function": (
        [F(np.float32, C)],
        lambda x: tffl.federated_map(tffl.tf_computation(lambda v: v + 1.0), x),
        "({float32}@CLIENTS -> {float32}@CLIENTS)",
        "(x -> federated_map(<lambda,x>))",
    ),
    "sum-float": (
        [F(np.float32, C)],
        lambda x: tffl.federated_sum(x),
        "({float32}@CLIENTS -> float32@SERVER)",
        "(x -> federated_sum(x))",
    ),
    "sum-struct": (
        [F(collections.OrderedDict(a=np.int32, b=(np.float32, [2])), C)],
        lambda x: tffl.federated_sum(x),
        "({<a=int32,b=float32[2]>}@CLIENTS -> <a=int32,b=float32[2]>@SERVER)",
        "(x -> federated_sum(x))",
    ),
    "mean": (
        [F(np.float32, C)],
        lambda x: tffl.federated_mean(x),
        "({float32}@CLIENTS -> float32@SERVER)",
        "(x -> federated_mean(x))",
    ),
    "mean-weighted-int-weight": (
        [F(np.float32, C), F(np.int32, C)],
        lambda x, w: tffl.federated_mean(x, weight=w),
        "(<x={float32}@CLIENTS,w={int32}@CLIENTS> -> float32@SERVER)",
        "(arg -> federated_weighted_mean(<arg.x,arg.w>))",
    ),
    "mean-weighted-float-weight": (
        [F((np.float32, [3]), C), F(np.float32, C)],
        lambda x, w: tffl.federated_mean(x, w),
        "(<x={float32[3]}@CLIENTS,w={float32}@CLIENTS> -> float32[3]@SERVER)",
        "(arg -> federated_weighted_mean(<arg.x,arg.w>))",
    ),
    "aggregate": (
        [F(np.float32, C)],
        lambda x: tffl.federated_aggregate(x, np.float32(0.0), add_floats, add_floats, double),
        "({float32}@CLIENTS -> float32@SERVER)",
        "(x -> federated_aggregate(<x,0.0,add_floats,add_floats,double>))",
    ),
    "aggregate-report-changes-type": (
        [F(np.int32, C)],
        lambda x: tffl.federated_aggregate(x, 0, add_ints, add_ints, to_float),
        "({int32}@CLIENTS -> float32@SERVER)",
        "(x -> federated_aggregate(<x,0,add_ints,add_ints,to_float>))",
    ),
    "zip-clients": (
        [F(np.float32, C), F(np.int32, C)],
        lambda a, b: tffl.federated_zip([a, b]),
        "(<a={float32}@CLIENTS,b={int32}@CLIENTS> -> {<float32,int32>}@CLIENTS)",
        "(arg -> federated_zip_at_clients(<arg.a,arg.b>))",
    ),
    "zip-clients-named": (
        [F(np.float32, C), F(np.int32, C)],
        lambda a, b: tffl.federated_zip(collections.OrderedDict(a=a, b=b)),
        "(<a={float32}@CLIENTS,b={int32}@CLIENTS> -> {<a=float32,b=int32>}@CLIENTS)",
        "(arg -> federated_zip_at_clients(<a=arg.a,b=arg.b>))",
    ),
    "zip-clients-nested": (
        [F(np.float32, C), F(np.int32, C), F(np.int32, C)],
        lambda a, b, c: tffl.federated_zip([a, [b, c]]),
        "(<a={float32}@CLIENTS,b={int32}@CLIENTS,c={int32}@CLIENTS> "
        "-> {<float32,<int32,int32>>}@CLIENTS)",
        "(arg -> federated_zip_at_clients(<arg.a,federated_zip_at_clients(<arg.b,arg.c>)>))",
    ),
    "zip-clients-nested-named": (
        [F(np.float32, C), F(np.int32, C), F(np.int32, C)],
        lambda a, b, c: tffl.federated_zip(
            collections.OrderedDict(a=a, n=collections.OrderedDict(b=b, c=c))
        ),
        "(<a={float32}@CLIENTS,b={int32}@CLIENTS,c={int32}@CLIENTS> "
        "-> {<a=float32,n=<b=int32,c=int32>>}@CLIENTS)",
        "(arg -> federated_zip_at_clients("
        "<a=arg.a,n=federated_zip_at_clients(<b=arg.b,c=arg.c>)>))",
    ),
    "zip-clients-all-equal": (
        [F(np.float32, C, all_equal=True), F(np.int32, C, all_equal=True)],
        lambda a, b: tffl.federated_zip([a, b]),
        "(<a=float32@CLIENTS,b=int32@CLIENTS> -> <float32,int32>@CLIENTS)",
        "(arg -> federated_zip_at_clients(<arg.a,arg.b>))",
    ),
    "zip-server": (
        [F(np.float32, S), F(np.int32, S)],
        lambda a, b: tffl.federated_zip([a, b]),
        "(<a=float32@SERVER,b=int32@SERVER> -> <float32,int32>@SERVER)",
        "(arg -> federated_zip_at_server(<arg.a,arg.b>))",
    ),
    "zip-server-named": (
        [F(np.float32, S), F(np.int32, S)],
        lambda a, b: tffl.federated_zip(dict(a=a, b=b)),
        "(<a=float32@SERVER,b=int32@SERVER> -> <a=float32,b=int32>@SERVER)",
        "(arg -> federated_zip_at_server(<a=arg.a,b=arg.b>))",
    ),
    "value-clients": (
        [np.int32],
        lambda x: tffl.federated_value(x, C),
        "(int32 -> int32@CLIENTS)",
        "(x -> federated_value_at_clients(x))",
    ),
    "value-server": (
        [np.int32],
        lambda x: tffl.federated_value(x, S),
        "(int32 -> int32@SERVER)",
        "(x -> federated_value_at_server(x))",
    ),
    "value-server-constant": (
        [],
        lambda: tffl.federated_value(3, S),
        "( -> int32@SERVER)",
        "( -> federated_value_at_server(3))",
    ),
    "eval-clients": (
        [],
        lambda: tffl.federated_eval(one, C),
        "( -> {int32}@CLIENTS)",
        "( -> federated_eval_at_clients(one))",
    ),
    "eval-server": (
        [],
        lambda: tffl.federated_eval(one, S),
        "( -> int32@SERVER)",
        "( -> federated_eval_at_server(one))",
    ),
    "select": (
        [F((np.int32, [None]), C), F(np.int32, S), F((np.float32, [10]), S)],
        lambda k, m, v: tffl.federated_select(k, m, v, gather),
        "(<k={int32[?]}@CLIENTS,m=int32@SERVER,v=float32[10]@SERVER> -> {float32*}@CLIENTS)",
        "(arg -> federated_select(<arg.k,arg.m,arg.v,gather>))",
    ),
    "select-fixed-key-count": (
        [F((np.int32, [3]), C), F(np.int32, S), F((np.float32, [10]), S)],
        lambda k, m, v: tffl.federated_select(k, m, v, gather),
        "(<k={int32[3]}@CLIENTS,m=int32@SERVER,v=float32[10]@SERVER> -> {float32*}@CLIENTS)",
        "(arg -> federated_select(<arg.k,arg.m,arg.v,gather>))",
    ),
    "secure-sum-bitwidth": (
        [F(np.int32, C)],
        lambda x: tffl.federated_secure_sum_bitwidth(x, 8),
        "({int32}@CLIENTS -> int32@SERVER)",
        "(x -> federated_secure_sum_bitwidth(<x,8>))",
    ),
    "secure-modular-sum": (
        [F(np.int32, C)],
        lambda x: tffl.federated_secure_modular_sum(x, 16),
        "({int32}@CLIENTS -> int32@SERVER)",
        "(x -> federated_secure_modular_sum(<x,16>))",
    ),
    "sequence-map": (
        [SEQ_INT],
        lambda s: tffl.sequence_map(double_int, s),
        "(int32* -> int32*)",
        "(s -> sequence_map(<double_int,s>))",
    ),
    "sequence-map-federated": (
        [F(SEQ_INT, C)],
        lambda s: tffl.sequence_map(to_float, s),
        "({int32*}@CLIENTS -> {float32*}@CLIENTS)",
        "(s -> federated_map(<(sequence_0 -> sequence_map(<to_float,sequence_0>)),s>))",
    ),
    "sequence-reduce": (
        [SEQ_INT],
        lambda s: tffl.sequence_reduce(s, 0, add_ints),
        "(int32* -> int32)",
        "(s -> sequence_reduce(<s,0,add_ints>))",
    ),
    "sequence-reduce-federated-clients": (
        [F(SEQ_INT, C)],
        lambda s: tffl.sequence_reduce(s, 0, add_ints),
        "({int32*}@CLIENTS -> {int32}@CLIENTS)",
        "(s -> federated_map(<(sequence_0 -> sequence_reduce(<sequence_0,0,add_ints>)),s>))",
    ),
    "sequence-reduce-federated-server": (
        [F(SEQ_INT, S)],
        lambda s: tffl.sequence_reduce(s, 0, add_ints),
        "(int32*@SERVER -> int32@SERVER)",
        "(s -> federated_apply(<(sequence_0 -> sequence_reduce(<sequence_0,0,add_ints>)),s>))",
    ),
    "sequence-sum": (
        [SEQ_INT],
        lambda s: tffl.sequence_sum(s),
        "(int32* -> int32)",
        "(s -> sequence_sum(s))",
    ),
    "sequence-sum-federated-clients": (
        [F(SEQ_FLOAT, C)],
        lambda s: tffl.sequence_sum(s),
        "({float32*}@CLIENTS -> {float32}@CLIENTS)",
        "(s -> federated_map(<(value_0 -> sequence_sum(value_0)),s>))",
    ),
    "sequence-sum-federated-server": (
        [F(SEQ_FLOAT, S)],
        lambda s: tffl.sequence_sum(s),
        "(float32*@SERVER -> float32@SERVER)",
        "(s -> federated_apply(<(value_0 -> sequence_sum(value_0)),s>))",
    ),
}

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
    intrinsic_defs.FEDERATED_SECURE_SUM_BITWIDTH: "secure-sum-bitwidth",
    intrinsic_defs.FEDERATED_SECURE_MODULAR_SUM: "secure-modular-sum",
    intrinsic_defs.SEQUENCE_MAP: "sequence-map",
    intrinsic_defs.SEQUENCE_REDUCE: "sequence-reduce",
    intrinsic_defs.SEQUENCE_SUM: "sequence-sum",
}


class TestTypeRules:
    @pytest.mark.parametrize("case", sorted(GOOD))
    def test_traces_with_signature_when_argument_fits(self, case):
        types, body, signature, compact = GOOD[case]
        computation = _trace(body, types)
        assert str(computation.type_signature) == signature
        assert str(computation) == compact

    @pytest.mark.parametrize("case", sorted(BAD))
    def test_raises_type_mismatch_when_argument_does_not_fit(self, case):
        types, body, message = BAD[case]
        with pytest.raises(tffl.TypeMismatchError) as raised:
            _trace(body, types)
        assert str(raised.value) == message

    def test_type_mismatch_is_a_type_error_when_caught_as_one(self):
        with pytest.raises(TypeError, match=r"^federated_sum: expected \{T\}@CLIENTS"):
            _trace(lambda x: tffl.federated_sum(x), [F(np.float32, S)])

    def test_type_mismatch_keeps_expected_and_actual_when_raised(self):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            _trace(lambda x: tffl.federated_sum(x), [F(np.float32, S)])
        assert str(raised.value.expected) == "{T}@CLIENTS"
        assert raised.value.actual == F(np.float32, S)
        assert raised.value.context == "federated_sum"


class TestFederatedValue:
    def test_raises_type_error_when_placement_is_a_string(self):
        with pytest.raises(TypeError) as raised:
            _trace(lambda x: tffl.federated_value(x, "SERVER"), [np.int32])
        assert str(raised.value) == (
            "federated_value placement: expected tffl.CLIENTS or tffl.SERVER, got 'SERVER'"
        )

    def test_raises_type_error_when_value_is_already_federated(self):
        with pytest.raises(TypeError) as raised:
            _trace(lambda x: tffl.federated_value(x, S), [F(np.int32, S)])
        assert str(raised.value) == (
            "FederatedType member: expected tensors, structs or sequences, got int32@SERVER "
            "(federated values do not nest)"
        )


class TestFederatedEval:
    def test_raises_type_error_when_placement_is_a_string(self):
        with pytest.raises(TypeError) as raised:
            _trace(lambda: tffl.federated_eval(one, "CLIENTS"), [])
        assert str(raised.value) == (
            "federated_eval placement: expected tffl.CLIENTS or tffl.SERVER, got 'CLIENTS'"
        )


class TestFederatedSelect:
    def test_traces_python_select_fn_when_server_value_type_is_known(self):
        computation = _trace(
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
        computation = _trace(body, types)
        assert f"{definition.uri}(" in str(computation)

    @pytest.mark.parametrize("definition", intrinsic_defs.ALL, ids=str)
    def test_is_public_when_listed(self, definition):
        function = intrinsics.FUNCTIONS[definition]
        assert getattr(tffl, function.__name__) is function
