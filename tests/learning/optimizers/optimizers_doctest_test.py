"""Runs the `>>>` examples in the docstrings of every tffl.learning.optimizers module."""

import collections
import doctest
import importlib
import pkgutil

import numpy as np
import pytest
import tensorflow as tf

import tffl.learning.optimizers

MODULE_NAMES = sorted(
    f"tffl.learning.optimizers.{info.name}"
    for info in pkgutil.iter_modules(tffl.learning.optimizers.__path__)
)


def _run_examples(module_name):
    module = importlib.import_module(module_name)
    globs = {**vars(module), "np": np, "tf": tf, "collections": collections}
    return doctest.testmod(module, globs=globs, verbose=False, report=True)


def test_every_module_is_checked():
    assert MODULE_NAMES == [
        "tffl.learning.optimizers.adagrad",
        "tffl.learning.optimizers.adam",
        "tffl.learning.optimizers.keras_optimizer",
        "tffl.learning.optimizers.optimizer",
        "tffl.learning.optimizers.rmsprop",
        "tffl.learning.optimizers.sgdm",
        "tffl.learning.optimizers.yogi",
    ]


@pytest.mark.parametrize("module_name", MODULE_NAMES)
def test_docstring_examples_pass_and_exist(module_name):
    results = _run_examples(module_name)

    assert results.failed == 0
    assert results.attempted > 0
