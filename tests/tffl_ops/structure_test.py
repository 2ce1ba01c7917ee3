"""Tests for tffl_ops/structure.py: flatten, pack and map in container order."""

import collections
import dataclasses
import doctest

import attrs
import numpy as np
import pytest
import tensorflow as tf

from tffl_ops import structure

Pair = collections.namedtuple("Pair", ["first", "second"])


@attrs.define
class AttrsPair:
    first: object
    second: object


@dataclasses.dataclass
class DataclassPair:
    first: object
    second: object


NESTED = collections.OrderedDict(
    z=Pair(1, [2, 3]),
    a={"y": AttrsPair(4, 5), "b": DataclassPair(6, (7,))},
)


class TestFlatten:
    def test_gives_leaves_in_container_order_when_nested(self):
        assert structure.flatten(NESTED) == [1, 2, 3, 4, 5, 6, 7]

    def test_gives_the_value_when_it_is_a_leaf(self):
        assert structure.flatten(1.5) == [1.5]

    def test_gives_no_leaves_when_containers_are_empty(self):
        assert structure.flatten(collections.OrderedDict(a=(), b=[])) == []


class TestPackAs:
    def test_rebuilds_every_container_kind_when_given_flat_leaves(self):
        packed = structure.pack_as(NESTED, [10, 20, 30, 40, 50, 60, 70])

        assert packed == collections.OrderedDict(
            z=Pair(10, [20, 30]),
            a={"y": AttrsPair(40, 50), "b": DataclassPair(60, (70,))},
        )
        assert list(packed) == ["z", "a"]
        assert list(packed["a"]) == ["y", "b"]

    def test_raises_value_error_when_leaf_counts_differ(self):
        with pytest.raises(ValueError) as raised:
            structure.pack_as([1, (2, 3)], [1, 2])
        assert str(raised.value) == "pack_as: expected 3 leaves, got 2"


class TestMapStructure:
    def test_applies_fn_leafwise_when_given_several_structures(self):
        result = structure.map_structure(lambda x, y: x * y, Pair(2, [3]), Pair(5, [7]))

        assert result == Pair(10, [21])

    def test_raises_value_error_when_structures_differ_in_leaves(self):
        with pytest.raises(ValueError) as raised:
            structure.map_structure(lambda x, y: x, [1, 2], [1])
        assert str(raised.value) == "map_structure: the structures have [1, 2] leaves"


class TestZerosLike:
    def test_gives_zeros_of_each_shape_and_dtype_when_leaves_are_tensors(self):
        zeros = structure.zeros_like(
            Pair(tf.constant([1.5, 2.5]), {"n": tf.constant([[3]], tf.int64)})
        )

        np.testing.assert_array_equal(zeros.first, np.zeros([2], np.float32))
        assert zeros.second["n"].dtype == tf.int64
        np.testing.assert_array_equal(zeros.second["n"], np.zeros([1, 1], np.int64))


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(structure, globs=vars(structure)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
