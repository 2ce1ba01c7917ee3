"""Tests for tffl/core/federated_computation.py: tracing federated computations into the IR."""

import collections
import doctest
import importlib
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.core import computation_impl
from tffl.testing import reference_programs

F = tffl.FederatedType
C = tffl.CLIENTS
S = tffl.SERVER
ROOT = pathlib.Path(__file__).resolve().parents[2]


@tffl.tf_computation(np.float32, np.float32)
def batch_loss(model, batch):
    return model * batch


@tffl.tf_computation(np.float32)
def to_celsius(f):
    return (f - 32.0) * 5.0 / 9.0


@pytest.fixture(scope="module")
def mean_program():
    return reference_programs.build_mean_program()


@pytest.fixture(scope="module")
def threshold_program():
    return reference_programs.build_threshold_program()


@pytest.fixture(scope="module")
def fedavg_round():
    return reference_programs.build_fedavg_round()


class TestFederatedComputationForms:
    def test_is_typed_when_decorated_with_a_type(self):
        @tffl.federated_computation(F(np.float32, C))
        def mean_celsius(temps):
            return tffl.federated_mean(tffl.federated_map(to_celsius, temps))

        assert isinstance(mean_celsius, computation_impl.ConcreteComputation)
        assert mean_celsius.name == "mean_celsius"
        assert str(mean_celsius.type_signature) == "({float32}@CLIENTS -> float32@SERVER)"
        assert str(mean_celsius) == "(temps -> federated_mean(federated_map(<to_celsius,temps>)))"

    def test_is_typed_when_called_with_function_and_types(self):
        def total(values):
            return tffl.federated_sum(values)

        computation = tffl.federated_computation(total, F(np.int32, C))
        assert str(computation.type_signature) == "({int32}@CLIENTS -> int32@SERVER)"

    def test_takes_named_struct_when_given_several_parameter_types(self):
        @tffl.federated_computation(F(np.float32, C), F(np.float32, S))
        def pair(readings, threshold):
            return [tffl.federated_sum(readings), threshold]

        assert str(pair.type_signature) == (
            "(<readings={float32}@CLIENTS,threshold=float32@SERVER> "
            "-> <float32@SERVER,float32@SERVER>)"
        )
        assert str(pair) == "(arg -> <federated_sum(arg.readings),arg.threshold>)"

    def test_takes_no_parameter_when_function_has_none(self):
        @tffl.federated_computation
        def constant():
            return tffl.federated_value(1.0, S)

        assert str(constant.type_signature) == "( -> float32@SERVER)"
        assert str(constant) == "( -> federated_value_at_server(1.0))"

    def test_returns_struct_when_function_returns_a_container(self):
        @tffl.federated_computation(F(np.float32, C))
        def stats(values):
            return collections.OrderedDict(
                total=tffl.federated_sum(values), mean=tffl.federated_mean(values)
            )

        assert str(stats.type_signature) == (
            "({float32}@CLIENTS -> <total=float32@SERVER,mean=float32@SERVER>)"
        )
        assert stats.type_signature.result.container is collections.OrderedDict

    def test_binds_twice_used_value_when_it_is_used_twice(self):
        @tffl.federated_computation(F(np.float32, S))
        def twice(x):
            broadcast = tffl.federated_broadcast(x)
            return [broadcast, broadcast]

        assert (
            str(twice)
            == "(x -> (let broadcast_0=federated_broadcast(x) in <broadcast_0,broadcast_0>))"
        )

    def test_raises_type_error_when_function_returns_none(self):
        def nothing(x):
            del x

        with pytest.raises(TypeError) as raised:
            tffl.federated_computation(nothing, np.int32)
        assert str(raised.value) == "federated computation nothing: the function returned None"


class TestPolymorphicFederatedComputation:
    def test_traces_once_per_type_when_made_concrete(self):
        calls = []

        def total(values):
            calls.append(values)
            return tffl.federated_sum(values)

        polymorphic = tffl.federated_computation(total)
        assert isinstance(polymorphic, computation_impl.PolymorphicComputation)
        first = polymorphic.concrete(F(np.int32, C))
        again = polymorphic.concrete(F(np.int32, C))
        other = polymorphic.concrete(F(np.float32, C))
        assert first is again
        assert len(calls) == 2
        assert str(first.type_signature) == "({int32}@CLIENTS -> int32@SERVER)"
        assert str(other.type_signature) == "({float32}@CLIENTS -> float32@SERVER)"


class TestNestedFederatedComputation:
    def test_calls_inner_computation_when_outer_calls_it(self):
        @tffl.federated_computation(F(np.float32, C))
        def inner(values):
            return tffl.federated_sum(values)

        @tffl.federated_computation(F(np.float32, C))
        def outer(values):
            return tffl.federated_broadcast(inner(values))

        assert str(outer.type_signature) == "({float32}@CLIENTS -> float32@CLIENTS)"
        assert str(outer) == (
            "(values -> federated_broadcast((values -> federated_sum(values))(values)))"
        )

    def test_captures_enclosing_value_when_lambda_is_passed_to_sequence_map(self):
        @tffl.federated_computation(np.float32, tffl.SequenceType(np.float32))
        def losses(model, batches):
            return tffl.sequence_map(lambda b: batch_loss(model, b), batches)

        assert str(losses.type_signature) == "(<model=float32,batches=float32*> -> float32*)"
        assert str(losses) == (
            "(arg -> sequence_map(<(b_0 -> batch_loss(<model=arg.model,batch=b_0>)),arg.batches>))"
        )

    def test_captures_mapped_member_when_lambdas_nest_under_federated_map(self):
        @tffl.federated_computation(F(np.float32, S), F(tffl.SequenceType(np.float32), C))
        def client_losses(model, data):
            return tffl.federated_map(
                lambda pair: tffl.sequence_map(lambda b: batch_loss(pair[0], b), pair[1]),
                [tffl.federated_broadcast(model), data],
            )

        assert str(client_losses.type_signature) == (
            "(<model=float32@SERVER,data={float32*}@CLIENTS> -> {float32*}@CLIENTS)"
        )
        assert str(client_losses) == (
            "(arg -> federated_map(<(pair_2 -> sequence_map(<(b_3 -> "
            "batch_loss(<model=pair_2[0],batch=b_3>)),pair_2[1]>)),"
            "federated_zip_at_clients(<federated_broadcast(arg.model),arg.data>)>))"
        )


class TestReferencePrograms:
    def test_traces_tff_signature_when_program_is_mean(self, mean_program):
        assert str(mean_program.type_signature) == "({float32}@CLIENTS -> float32@SERVER)"
        assert str(mean_program) == "(temps -> federated_mean(federated_map(<to_celsius,temps>)))"

    def test_traces_tff_signature_when_program_is_threshold(self, threshold_program):
        assert str(threshold_program.type_signature) == (
            "(<readings={float32}@CLIENTS,threshold=float32@SERVER> -> float32@SERVER)"
        )
        assert str(threshold_program) == (
            "(arg -> federated_mean(federated_map(<above,"
            "federated_zip_at_clients(<arg.readings,federated_broadcast(arg.threshold)>)>)))"
        )

    def test_traces_tff_signature_when_program_is_fedavg_round(self, fedavg_round):
        assert str(fedavg_round.type_signature) == (
            "(<model=<w=float32[784,10],b=float32[10]>@SERVER,"
            "data={<x=float32[?,784],y=int32[?]>*}@CLIENTS> "
            "-> <w=float32[784,10],b=float32[10]>@SERVER)"
        )
        assert str(fedavg_round) == (
            "(arg -> federated_apply(<server_update,federated_zip_at_server(<arg.model,"
            "federated_weighted_mean(<federated_map(<(arg_2 -> sequence_reduce("
            "<arg_2[1],arg_2[0],batch_train>)),federated_zip_at_clients("
            "<federated_broadcast(arg.model),arg.data>)>),"
            "federated_map(<example_count,arg.data>)>)>)>))"
        )

    def test_fedavg_model_keeps_ordered_dict_when_traced(self, fedavg_round):
        assert fedavg_round.type_signature.result.member.container is collections.OrderedDict


def _core_modules():
    return sorted(
        f"tffl.core.{p.stem}" for p in (ROOT / "tffl" / "core").glob("*.py") if p.stem != "__init__"
    )


class TestDocstringExamples:
    @pytest.mark.parametrize("module_name", _core_modules())
    def test_runs_without_failures_when_module_examples_are_run(self, module_name):
        module = importlib.import_module(module_name)
        globs = {**vars(module), "np": np, "collections": collections, "tffl": tffl, "tf": tf}
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(module, globs=globs):
            runner.run(test)
        assert runner.summarize(verbose=False).failed == 0
