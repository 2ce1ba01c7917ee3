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
            "infer_type",
            "to_type",
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
    for module in (tffl, tffl.types):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
