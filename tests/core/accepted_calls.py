"""The computations, and the calls the type rules accept, that the intrinsics tests share."""

import collections

import numpy as np
import tensorflow as tf

import tffl

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


def trace_computation(body, types):
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
    "secure-sum": (
        [F(np.int32, C)],
        lambda x: tffl.federated_secure_sum(x, 255),
        "({int32}@CLIENTS -> int32@SERVER)",
        "(x -> federated_secure_sum(<x,255>))",
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
