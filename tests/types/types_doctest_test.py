"""Runs the `>>>` examples in the docstrings of every tffl.types module."""

import collections
import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import tffl.types

MODULE_NAMES = sorted(
    f"tffl.types.{info.name}" for info in pkgutil.iter_modules(tffl.types.__path__)
)


def _run_examples(module_name):
    module = importlib.import_module(module_name)
    globs = {**vars(module), "np": np, "collections": collections}
    return doctest.testmod(module, globs=globs, verbose=False, report=True)


def test_every_module_of_the_issue_is_checked():
    assert {
        "tffl.types.computation_types",
        "tffl.types.placements",
        "tffl.types.type_conversions",
        "tffl.types.type_errors",
        "tffl.types.type_serialization",
    } <= set(MODULE_NAMES)


@pytest.mark.parametrize("module_name", MODULE_NAMES)
def test_docstring_examples_pass(module_name):
    results = _run_examples(module_name)

    assert results.failed == 0


@pytest.mark.parametrize(
    "module_name", ["tffl.types.computation_types", "tffl.types.type_conversions"]
)
def test_docstring_examples_exist_when_module_has_public_functions(module_name):
    assert _run_examples(module_name).attempted > 0
