"""Runs the `>>>` examples in the docstrings of every tffl.learning.templates module."""

import doctest
import importlib
import pkgutil

import pytest

import tffl.learning.templates

MODULE_NAMES = sorted(
    f"tffl.learning.templates.{info.name}"
    for info in pkgutil.iter_modules(tffl.learning.templates.__path__)
)


def _run_examples(module_name):
    return doctest.testmod(importlib.import_module(module_name), verbose=False, report=True)


@pytest.mark.parametrize("module_name", MODULE_NAMES)
def test_docstring_examples_pass(module_name):
    assert _run_examples(module_name).failed == 0


def test_docstring_examples_exist_when_module_has_public_functions():
    assert _run_examples("tffl.learning.templates.distributors").attempted > 0
