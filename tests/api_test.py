"""Pins the public API lists, so the API changes only on purpose."""

import tffl
import tffl.types


def test_top_level_all_is_pinned():
    assert sorted(tffl.__all__) == sorted(
        [
            "CLIENTS",
            "FederatedType",
            "FunctionType",
            "SERVER",
            "SequenceType",
            "StructType",
            "TensorType",
            "Type",
            "TypeMismatchError",
            "backends",
            "federated_aggregate",
            "federated_broadcast",
            "federated_computation",
            "federated_eval",
            "federated_map",
            "federated_mean",
            "federated_secure_modular_sum",
            "federated_secure_sum_bitwidth",
            "federated_select",
            "federated_sum",
            "federated_value",
            "federated_zip",
            "framework",
            "infer_type",
            "sequence_map",
            "sequence_reduce",
            "sequence_sum",
            "tensorflow",
            "tf_computation",
            "to_type",
            "types",
        ]
    )


def test_types_all_is_pinned():
    assert sorted(tffl.types.__all__) == sorted(
        [
            "AbstractType",
            "CLIENTS",
            "FederatedType",
            "FunctionType",
            "PlacementLiteral",
            "PlacementType",
            "SERVER",
            "SequenceType",
            "StructType",
            "TensorType",
            "Type",
            "TypeMismatchError",
            "deserialize_type",
            "infer_type",
            "serialize_type",
            "to_type",
        ]
    )


def test_every_name_in_all_exists():
    for module in (tffl, tffl.types, tffl.framework, tffl.tensorflow):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_backends_offer_a_local_and_a_remote_context():
    for backend in (tffl.backends.local, tffl.backends.remote):
        assert callable(backend.create_context), backend.__name__
        assert callable(backend.set_context), backend.__name__
