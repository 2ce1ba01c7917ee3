"""Tests for tffl/types/type_analysis.py: matching types against signatures with variables."""

import collections
import doctest

import numpy as np
import pytest

import tffl
from tffl.types import computation_types
from tffl.types import type_analysis

T = computation_types.AbstractType("T")
U = computation_types.AbstractType("U")
F = tffl.FederatedType
C = tffl.CLIENTS
S = tffl.SERVER
INT = tffl.TensorType(np.int32)
FLOAT = tffl.TensorType(np.float32)


def _bindings_str(bindings):
    return {label: str(type_spec) for label, type_spec in bindings.items()}


class TestUnify:
    @pytest.mark.parametrize(
        "pattern, actual, bindings",
        [
            pytest.param(T, INT, {"T": "int32"}, id="variable"),
            pytest.param(F(T, C), F(FLOAT, C), {"T": "float32"}, id="federated-member"),
            pytest.param(
                F(T, C), F(FLOAT, C, all_equal=True), {"T": "float32"}, id="all-equal-fits-any"
            ),
            pytest.param(
                tffl.StructType([T, T]),
                tffl.StructType([INT, INT]),
                {"T": "int32"},
                id="variable-seen-twice",
            ),
            pytest.param(
                tffl.StructType([T, T]),
                tffl.StructType(
                    [tffl.TensorType(np.float32, [3]), tffl.TensorType(np.float32, [None])]
                ),
                {"T": "float32[?]"},
                id="second-use-widens-binding",
            ),
            pytest.param(
                tffl.StructType([T, T]),
                tffl.StructType(
                    [tffl.TensorType(np.float32, [None]), tffl.TensorType(np.float32, [3])]
                ),
                {"T": "float32[?]"},
                id="second-use-fits-binding",
            ),
            pytest.param(
                tffl.StructType([("a", T), U]),
                tffl.StructType([("a", INT), ("b", FLOAT)]),
                {"T": "int32", "U": "float32"},
                id="named-pattern-element",
            ),
            pytest.param(
                tffl.SequenceType(T), tffl.SequenceType(INT), {"T": "int32"}, id="sequence"
            ),
            pytest.param(
                tffl.FunctionType(T, U),
                tffl.FunctionType(INT, FLOAT),
                {"T": "int32", "U": "float32"},
                id="function",
            ),
            pytest.param(
                tffl.FunctionType(None, T),
                tffl.FunctionType(None, INT),
                {"T": "int32"},
                id="function-without-parameter",
            ),
            pytest.param(
                tffl.TensorType(np.int32, [None]),
                tffl.TensorType(np.int32, [4]),
                {},
                id="concrete-assignable",
            ),
            pytest.param(None, None, {}, id="both-none"),
        ],
    )
    def test_binds_variables_when_actual_matches(self, pattern, actual, bindings):
        found = {}
        assert type_analysis.unify(pattern, actual, found)
        assert _bindings_str(found) == bindings

    @pytest.mark.parametrize(
        "pattern, actual",
        [
            pytest.param(F(T, C), F(INT, S), id="wrong-placement"),
            pytest.param(F(T, C, all_equal=True), F(INT, C), id="not-all-equal"),
            pytest.param(F(T, C), INT, id="not-federated"),
            pytest.param(tffl.StructType([T, T]), tffl.StructType([INT, FLOAT]), id="conflict"),
            pytest.param(tffl.StructType([T]), tffl.StructType([INT, INT]), id="wrong-length"),
            pytest.param(tffl.StructType([T]), INT, id="not-a-struct"),
            pytest.param(
                tffl.StructType([("a", T)]), tffl.StructType([("b", INT)]), id="wrong-name"
            ),
            pytest.param(tffl.SequenceType(T), INT, id="not-a-sequence"),
            pytest.param(tffl.FunctionType(T, U), INT, id="not-a-function"),
            pytest.param(
                tffl.FunctionType(None, T), tffl.FunctionType(INT, INT), id="unexpected-parameter"
            ),
            pytest.param(
                tffl.TensorType(np.int32, [4]),
                tffl.TensorType(np.int32, [None]),
                id="concrete-not-assignable",
            ),
            pytest.param(T, None, id="none-actual"),
        ],
    )
    def test_fails_when_actual_does_not_match(self, pattern, actual):
        assert not type_analysis.unify(pattern, actual, {})

    def test_keeps_existing_binding_when_actual_matches_it(self):
        bindings = {"T": INT}
        assert type_analysis.unify(F(T, C), F(INT, C), bindings)
        assert bindings == {"T": INT}

    def test_fails_when_actual_conflicts_with_existing_binding(self):
        assert not type_analysis.unify(F(T, C), F(FLOAT, C), {"T": INT})


class TestSubstitute:
    def test_replaces_bound_variables_when_substituting(self):
        pattern = tffl.FunctionType(tffl.StructType([F(T, C), tffl.SequenceType(U)]), F(T, S))
        result = type_analysis.substitute(pattern, {"T": INT, "U": FLOAT})
        assert str(result) == "(<{int32}@CLIENTS,float32*> -> int32@SERVER)"

    def test_keeps_unbound_variables_when_substituting(self):
        result = type_analysis.substitute(tffl.StructType([T, U]), {"T": INT})
        assert str(result) == "<int32,U>"

    def test_keeps_names_and_container_when_substituting_a_struct(self):
        pattern = tffl.StructType([("a", T)], container=collections.OrderedDict)
        result = type_analysis.substitute(pattern, {"T": INT})
        assert str(result) == "<a=int32>"
        assert result.container is collections.OrderedDict

    def test_keeps_all_equal_when_substituting_a_federated_type(self):
        result = type_analysis.substitute(F(T, C, all_equal=True), {"T": INT})
        assert str(result) == "int32@CLIENTS"

    def test_gives_none_when_pattern_is_none(self):
        assert type_analysis.substitute(None, {"T": INT}) is None


class TestIsAbstract:
    @pytest.mark.parametrize(
        "type_spec, expected",
        [
            pytest.param(T, True, id="variable"),
            pytest.param(INT, False, id="tensor"),
            pytest.param(None, False, id="none"),
            pytest.param(tffl.StructType([INT, T]), True, id="struct"),
            pytest.param(F(T, S), True, id="federated"),
            pytest.param(tffl.SequenceType(T), True, id="sequence"),
            pytest.param(tffl.FunctionType(None, T), True, id="function-result"),
            pytest.param(tffl.FunctionType(T, INT), True, id="function-parameter"),
            pytest.param(tffl.FunctionType(INT, INT), False, id="concrete-function"),
        ],
    )
    def test_tells_whether_a_variable_remains_when_asked(self, type_spec, expected):
        assert type_analysis.is_abstract(type_spec) is expected


class TestTensorTypes:
    def test_yields_every_tensor_when_types_nest(self):
        type_spec = tffl.StructType(
            [F(INT, C), tffl.SequenceType(tffl.StructType([FLOAT, tffl.TensorType(np.int64, [2])]))]
        )
        assert [str(t) for t in type_analysis.tensor_types(type_spec)] == [
            "int32",
            "float32",
            "int64[2]",
        ]

    def test_yields_nothing_when_type_is_a_function(self):
        assert list(type_analysis.tensor_types(tffl.FunctionType(INT, INT))) == []


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        globs = {**vars(type_analysis), "np": np, "collections": collections}
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(type_analysis, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0


class TestUnifyVariance:
    def test_refuses_wider_value_when_variable_was_bound_by_a_function_parameter(self):
        T = computation_types.AbstractType("T")
        U = computation_types.AbstractType("U")
        bindings = type_analysis.Bindings()
        pattern_fn = computation_types.FunctionType(T, U)
        fn = computation_types.FunctionType(
            computation_types.TensorType(np.int32, [3]), computation_types.TensorType(np.int32)
        )
        assert type_analysis.unify(pattern_fn, fn, bindings)
        wider = computation_types.TensorType(np.int32, [None])
        assert not type_analysis.unify(T, wider, bindings)
        assert str(bindings["T"]) == "int32[3]"

    def test_function_parameter_must_accept_the_bound_type_when_bound_first(self):
        T = computation_types.AbstractType("T")
        U = computation_types.AbstractType("U")
        bindings = type_analysis.Bindings()
        assert type_analysis.unify(T, computation_types.TensorType(np.int32, [None]), bindings)
        narrow_fn = computation_types.FunctionType(
            computation_types.TensorType(np.int32, [3]), computation_types.TensorType(np.int32)
        )
        assert not type_analysis.unify(computation_types.FunctionType(T, U), narrow_fn, bindings)
        general_fn = computation_types.FunctionType(
            computation_types.TensorType(np.int32, None), computation_types.TensorType(np.int32)
        )
        assert type_analysis.unify(computation_types.FunctionType(T, U), general_fn, bindings)
