"""Tests for tffl/compiler/intrinsic_defs.py: the intrinsic table and its type rule."""

import collections
import pathlib
import re

import numpy as np
import pytest

import tffl
from tffl.compiler import intrinsic_defs

ROOT = pathlib.Path(__file__).resolve().parents[2]
F = tffl.FederatedType
C = tffl.CLIENTS
S = tffl.SERVER
INT = tffl.TensorType(np.int32)
FLOAT = tffl.TensorType(np.float32)

SIGNATURES = {
    "federated_broadcast": "(T@SERVER -> T@CLIENTS)",
    "federated_map": "(<(T -> U),{T}@CLIENTS> -> {U}@CLIENTS)",
    "federated_apply": "(<(T -> U),T@SERVER> -> U@SERVER)",
    "federated_sum": "({T}@CLIENTS -> T@SERVER)",
    "federated_mean": "({T}@CLIENTS -> T@SERVER)",
    "federated_weighted_mean": "(<{T}@CLIENTS,{U}@CLIENTS> -> T@SERVER)",
    "federated_aggregate": "(<{T}@CLIENTS,U,(<U,T> -> U),(<U,U> -> U),(U -> R)> -> R@SERVER)",
    "federated_zip_at_clients": "(<{T}@CLIENTS> -> {<T>}@CLIENTS)",
    "federated_zip_at_server": "(<T@SERVER> -> <T>@SERVER)",
    "federated_value_at_clients": "(T -> T@CLIENTS)",
    "federated_value_at_server": "(T -> T@SERVER)",
    "federated_eval_at_clients": "(( -> T) -> {T}@CLIENTS)",
    "federated_eval_at_server": "(( -> T) -> T@SERVER)",
    "federated_select": (
        "(<{int32[?]}@CLIENTS,int32@SERVER,T@SERVER,(<T,int32> -> U)> -> {U*}@CLIENTS)"
    ),
    "federated_secure_sum_bitwidth": "(<{T}@CLIENTS,B> -> T@SERVER)",
    "federated_secure_modular_sum": "(<{T}@CLIENTS,B> -> T@SERVER)",
    "federated_secure_sum": "(<{T}@CLIENTS,B> -> T@SERVER)",
    "sequence_map": "(<(T -> U),T*> -> U*)",
    "sequence_reduce": "(<T*,U,(<U,T> -> U)> -> U)",
    "sequence_sum": "(T* -> T)",
}


def _signature_comments():
    """`# Type signature:` comments in the source, by the name of the definition below them."""
    source = (ROOT / "tffl" / "compiler" / "intrinsic_defs.py").read_text()
    pattern = re.compile(r"^# Type signature: (.*)\n(\w+) = IntrinsicDef\(", re.MULTILINE)
    return {name: comment for comment, name in pattern.findall(source)}


class TestAll:
    def test_lists_every_definition_when_module_is_loaded(self):
        declared = [
            value
            for value in vars(intrinsic_defs).values()
            if isinstance(value, intrinsic_defs.IntrinsicDef)
        ]
        assert set(intrinsic_defs.ALL) == set(declared)
        assert sorted(d.uri for d in intrinsic_defs.ALL) == sorted(SIGNATURES)

    def test_has_unique_uris_when_listed(self):
        uris = [d.uri for d in intrinsic_defs.ALL]
        assert len(uris) == len(set(uris)) == 20

    def test_indexes_every_definition_by_uri_when_looked_up(self):
        for definition in intrinsic_defs.ALL:
            assert intrinsic_defs.by_uri(definition.uri) is definition
            assert intrinsic_defs.BY_URI[definition.uri] is definition

    def test_raises_value_error_when_uri_is_unknown(self):
        with pytest.raises(ValueError) as raised:
            intrinsic_defs.by_uri("federated_nothing")
        assert str(raised.value) == (
            f"expected an intrinsic uri, one of {sorted(SIGNATURES)}, got 'federated_nothing'"
        )


class TestIntrinsicDef:
    @pytest.mark.parametrize("definition", intrinsic_defs.ALL, ids=str)
    def test_has_tff_signature_when_printed(self, definition):
        assert str(definition) == definition.uri
        assert str(definition.signature) == SIGNATURES[definition.uri]

    @pytest.mark.parametrize("definition", intrinsic_defs.ALL, ids=str)
    def test_matches_its_comment_when_source_is_read(self, definition):
        comments = _signature_comments()
        name = next(n for n, v in vars(intrinsic_defs).items() if v is definition)
        # The zips' comments spell out their variadic parameter with `,...`.
        assert comments[name].replace(",...", "") == str(definition.signature)

    @pytest.mark.parametrize("definition", intrinsic_defs.ALL, ids=str)
    def test_names_every_parameter_when_parameter_is_a_struct(self, definition):
        parameter = definition.signature.parameter
        if definition.variadic is not None or not isinstance(parameter, tffl.StructType):
            assert definition.parameter_names == ()
        else:
            assert len(definition.parameter_names) == len(parameter)


# (definition, argument type, result type) the type rule accepts.
GOOD = [
    pytest.param(intrinsic_defs.FEDERATED_BROADCAST, F(INT, S), "int32@CLIENTS", id="broadcast"),
    pytest.param(
        intrinsic_defs.FEDERATED_MAP,
        tffl.StructType([tffl.FunctionType(INT, FLOAT), F(INT, C)]),
        "{float32}@CLIENTS",
        id="map",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_MAP,
        tffl.StructType([tffl.FunctionType(INT, FLOAT), F(INT, C, all_equal=True)]),
        "{float32}@CLIENTS",
        id="map-accepts-all-equal",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_APPLY,
        tffl.StructType([tffl.FunctionType(INT, FLOAT), F(INT, S)]),
        "float32@SERVER",
        id="apply",
    ),
    pytest.param(intrinsic_defs.FEDERATED_SUM, F(INT, C), "int32@SERVER", id="sum"),
    pytest.param(intrinsic_defs.FEDERATED_MEAN, F(FLOAT, C), "float32@SERVER", id="mean"),
    pytest.param(
        intrinsic_defs.FEDERATED_WEIGHTED_MEAN,
        tffl.StructType([F(FLOAT, C), F(INT, C)]),
        "float32@SERVER",
        id="weighted-mean",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_AGGREGATE,
        tffl.StructType(
            [
                F(INT, C),
                FLOAT,
                tffl.FunctionType(tffl.StructType([FLOAT, INT]), FLOAT),
                tffl.FunctionType(tffl.StructType([FLOAT, FLOAT]), FLOAT),
                tffl.FunctionType(FLOAT, tffl.TensorType(np.float64)),
            ]
        ),
        "float64@SERVER",
        id="aggregate",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_ZIP_AT_CLIENTS,
        tffl.StructType([("a", F(INT, C)), ("b", F(FLOAT, C))], container=collections.OrderedDict),
        "{<a=int32,b=float32>}@CLIENTS",
        id="zip-clients",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_ZIP_AT_CLIENTS,
        tffl.StructType([F(INT, C, all_equal=True), F(FLOAT, C, all_equal=True)]),
        "<int32,float32>@CLIENTS",
        id="zip-clients-all-equal",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_ZIP_AT_SERVER,
        tffl.StructType([F(INT, S), F(FLOAT, S)]),
        "<int32,float32>@SERVER",
        id="zip-server",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_VALUE_AT_CLIENTS, INT, "int32@CLIENTS", id="value-clients"
    ),
    pytest.param(intrinsic_defs.FEDERATED_VALUE_AT_SERVER, INT, "int32@SERVER", id="value-server"),
    pytest.param(
        intrinsic_defs.FEDERATED_EVAL_AT_CLIENTS,
        tffl.FunctionType(None, INT),
        "{int32}@CLIENTS",
        id="eval-clients",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_EVAL_AT_SERVER,
        tffl.FunctionType(None, INT),
        "int32@SERVER",
        id="eval-server",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_SELECT,
        tffl.StructType(
            [
                F(tffl.TensorType(np.int32, [None]), C),
                F(INT, S),
                F(tffl.TensorType(np.float32, [10]), S),
                tffl.FunctionType(tffl.StructType([tffl.TensorType(np.float32, [10]), INT]), FLOAT),
            ]
        ),
        "{float32*}@CLIENTS",
        id="select",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_SECURE_SUM,
        tffl.StructType([F(tffl.StructType([INT, INT]), C), tffl.StructType([INT, INT])]),
        "<int32,int32>@SERVER",
        id="secure-sum",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_SECURE_SUM_BITWIDTH,
        tffl.StructType([F(INT, C), INT]),
        "int32@SERVER",
        id="secure-sum-bitwidth",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_SECURE_MODULAR_SUM,
        tffl.StructType([F(tffl.TensorType(np.int64, [2]), C), tffl.TensorType(np.int64)]),
        "int64[2]@SERVER",
        id="secure-modular-sum",
    ),
    pytest.param(
        intrinsic_defs.SEQUENCE_MAP,
        tffl.StructType([tffl.FunctionType(INT, FLOAT), tffl.SequenceType(INT)]),
        "float32*",
        id="sequence-map",
    ),
    pytest.param(
        intrinsic_defs.SEQUENCE_REDUCE,
        tffl.StructType(
            [
                tffl.SequenceType(INT),
                FLOAT,
                tffl.FunctionType(tffl.StructType([FLOAT, INT]), FLOAT),
            ]
        ),
        "float32",
        id="sequence-reduce",
    ),
    pytest.param(
        intrinsic_defs.SEQUENCE_SUM, tffl.SequenceType(FLOAT), "float32", id="sequence-sum"
    ),
]

# (definition, argument type, message) the type rule refuses.
BAD = [
    pytest.param(
        intrinsic_defs.FEDERATED_SUM,
        F(FLOAT, S),
        "federated_sum: expected {T}@CLIENTS, got float32@SERVER",
        id="sum-at-server",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_SUM,
        None,
        "federated_sum: expected {T}@CLIENTS, got None",
        id="sum-without-argument",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_MEAN,
        F(INT, C),
        "federated_mean: expected {T}@CLIENTS, got {int32}@CLIENTS "
        "(T must be floating-point tensors, got int32)",
        id="mean-of-int",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_MAP,
        INT,
        "federated_map: expected <(T -> U),{T}@CLIENTS>, got int32 "
        "(expected 2 arguments: fn, value)",
        id="map-not-a-struct",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_MAP,
        tffl.StructType([tffl.FunctionType(INT, FLOAT)]),
        "federated_map: expected <(T -> U),{T}@CLIENTS>, got <(int32 -> float32)> "
        "(expected 2 arguments: fn, value)",
        id="map-wrong-arity",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_MAP,
        tffl.StructType([tffl.FunctionType(INT, FLOAT), F(FLOAT, C)]),
        "federated_map argument value: expected {int32}@CLIENTS, got {float32}@CLIENTS",
        id="map-wrong-member",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_ZIP_AT_CLIENTS,
        tffl.StructType([]),
        "federated_zip_at_clients: expected <{T}@CLIENTS>, got <> "
        "(expected a non-empty struct of federated values)",
        id="zip-empty",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_ZIP_AT_SERVER,
        tffl.StructType([("a", F(INT, S)), ("b", F(INT, C))]),
        "federated_zip_at_server argument b: expected T@SERVER, got {int32}@CLIENTS",
        id="zip-mixed",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_EVAL_AT_CLIENTS,
        tffl.FunctionType(INT, INT),
        "federated_eval_at_clients: expected ( -> T), got (int32 -> int32)",
        id="eval-with-parameter",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_SECURE_MODULAR_SUM,
        tffl.StructType([F(FLOAT, C), INT]),
        "federated_secure_modular_sum: expected <{T}@CLIENTS,B>, got <{float32}@CLIENTS,int32> "
        "(T must be integer tensors, got float32)",
        id="secure-modular-sum-of-float",
    ),
    pytest.param(
        intrinsic_defs.FEDERATED_SECURE_SUM,
        tffl.StructType([F(INT, C), F(INT, S)]),
        "federated_secure_sum: expected <{T}@CLIENTS,B>, got <{int32}@CLIENTS,int32@SERVER> "
        "(B must be a non-federated constant, got int32@SERVER)",
        id="secure-sum-of-placed-max-input",
    ),
    pytest.param(
        intrinsic_defs.SEQUENCE_SUM,
        tffl.SequenceType(tffl.TensorType(np.str_)),
        "sequence_sum: expected T*, got string* (T must be numeric tensors, got string)",
        id="sequence-sum-of-strings",
    ),
]


class TestResultType:
    @pytest.mark.parametrize("definition, argument, result", GOOD)
    def test_gives_result_type_when_argument_fits(self, definition, argument, result):
        assert str(intrinsic_defs.result_type(definition, argument)) == result

    @pytest.mark.parametrize("definition, argument, message", BAD)
    def test_raises_type_mismatch_when_argument_does_not_fit(self, definition, argument, message):
        with pytest.raises(tffl.TypeMismatchError) as raised:
            intrinsic_defs.result_type(definition, argument)
        assert str(raised.value) == message

    def test_keeps_container_when_zipping_a_named_struct(self):
        argument = tffl.StructType(
            [("a", F(INT, S)), ("b", F(FLOAT, S))], container=collections.OrderedDict
        )
        result = intrinsic_defs.result_type(intrinsic_defs.FEDERATED_ZIP_AT_SERVER, argument)
        assert result.member.container is collections.OrderedDict

    def test_raises_type_error_when_result_stays_abstract(self):
        argument = F(tffl.types.AbstractType("X"), S)
        with pytest.raises(TypeError) as raised:
            intrinsic_defs.result_type(intrinsic_defs.FEDERATED_BROADCAST, argument)
        assert str(raised.value) == (
            "federated_broadcast: could not infer a result type from X@SERVER"
        )

    def test_adds_diff_when_types_are_long(self):
        fields = collections.OrderedDict(
            w=(np.float32, [784, 10]),
            b=(np.float32, [10]),
            kernel=(np.float32, [10, 10]),
            bias=(np.float32, [10]),
        )
        model = tffl.to_type(fields)
        other = tffl.to_type(collections.OrderedDict(fields, b=(np.float32, [20])))
        with pytest.raises(tffl.TypeMismatchError) as raised:
            intrinsic_defs.result_type(
                intrinsic_defs.FEDERATED_MAP,
                tffl.StructType([tffl.FunctionType(model, model), F(other, C)]),
            )
        expected = "{<w=float32[784,10],b=float32[10],kernel=float32[10,10],bias=float32[10]>}"
        actual = "{<w=float32[784,10],b=float32[20],kernel=float32[10,10],bias=float32[10]>}"
        assert str(raised.value).splitlines() == [
            f"federated_map argument value: expected {expected}@CLIENTS, got {actual}@CLIENTS",
            f"  expected: ...{expected}@CLIEN",
            f"  actual:   ...{actual}@CLIEN",
            "  (first difference at character 30)",
        ]
