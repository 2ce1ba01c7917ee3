"""Runs the `>>>` examples in the docstrings of every tffl.learning.models module."""

import doctest
import importlib
import pkgutil

import pytest

import tffl.learning.models

MODULE_NAMES = sorted(
    f"tffl.learning.models.{info.name}"
    for info in pkgutil.iter_modules(tffl.learning.models.__path__)
)


def _run_examples(module_name):
    return doctest.testmod(importlib.import_module(module_name), verbose=False, report=True)


@pytest.mark.parametrize("module_name", MODULE_NAMES)
def test_docstring_examples_pass(module_name):
    assert _run_examples(module_name).failed == 0


@pytest.mark.parametrize(
    "module_name",
    [
        "tffl.learning.models.functional",
        "tffl.learning.models.keras_model",
        "tffl.learning.models.model_weights",
    ],
)
def test_docstring_examples_exist_when_module_has_public_functions(module_name):
    assert _run_examples(module_name).attempted > 0
