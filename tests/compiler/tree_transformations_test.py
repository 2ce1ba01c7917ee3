"""Tests for tffl/compiler/tree_transformations.py: pure rewrites of the IR."""

import numpy as np
import pytest

import tffl
from tffl.compiler import building_blocks as bb
from tffl.compiler import tree_transformations

INT = tffl.TensorType(np.int32)


def _ref(name):
    return bb.Reference(name, INT)


def _one():
    return bb.Literal(np.int32(1))


def _pair(first, second):
    return bb.Struct([first, second])


def _lambda(name, result):
    return bb.Lambda(name, INT, result)


class TestInlineSingleUseLocals:
    @pytest.mark.parametrize(
        "tree, compact, modified",
        [
            pytest.param(bb.Block([("a", _one())], _ref("a")), "1", True, id="single-use-inlined"),
            pytest.param(
                bb.Block([("a", _one())], _pair(_ref("a"), _ref("a"))),
                "(let a=1 in <a,a>)",
                False,
                id="twice-used-kept",
            ),
            pytest.param(
                bb.Block([("a", _one())], _lambda("x", _ref("a"))),
                "(let a=1 in (x -> a))",
                False,
                id="used-under-lambda-kept",
            ),
            pytest.param(
                bb.Block([("a", _one()), ("b", _ref("z"))], _ref("b")),
                "z",
                True,
                id="unused-dropped",
            ),
            pytest.param(
                bb.Block(
                    [("a", _ref("x")), ("b", _ref("a")), ("c", _ref("b"))],
                    _pair(_ref("c"), _ref("c")),
                ),
                "(let c=x in <c,c>)",
                True,
                id="chain-inlined-into-kept-local",
            ),
            pytest.param(
                bb.Block([("a", _one()), ("b", _pair(_ref("a"), _ref("a")))], _ref("b")),
                "(let a=1 in <a,a>)",
                True,
                id="single-use-of-twice-used-local",
            ),
            pytest.param(
                bb.Block([("a", _one()), ("a", bb.Literal(np.int32(2)))], _ref("a")),
                "(let a=1 in 2)",
                True,
                id="shadowed-by-later-local-kept",
            ),
            pytest.param(
                _lambda(
                    "y",
                    bb.Block(
                        [("a", _ref("y")), ("y", _one())],
                        bb.Struct([_ref("a"), _ref("y"), _ref("y")]),
                    ),
                ),
                "(y -> (let a=y,y=1 in <a,y,y>))",
                False,
                id="kept-when-later-local-would-capture",
            ),
            pytest.param(
                bb.Block(
                    [("a", _ref("y"))],
                    bb.Block([("y", _one())], bb.Struct([_ref("a"), _ref("y"), _ref("y")])),
                ),
                "(let a=y in (let y=1 in <a,y,y>))",
                False,
                id="kept-when-inner-block-would-capture",
            ),
            pytest.param(
                bb.Block([("a", _one())], _pair(_ref("a"), _lambda("a", _ref("a")))),
                "<1,(a -> a)>",
                True,
                id="lambda-parameter-shadows-use",
            ),
            pytest.param(
                _lambda("x", bb.Block([("a", _ref("x"))], _ref("a"))),
                "(x -> x)",
                True,
                id="block-under-lambda-inlined",
            ),
            pytest.param(bb.Block([], _ref("q")), "q", True, id="empty-block-becomes-result"),
            pytest.param(_pair(_ref("a"), _one()), "<a,1>", False, id="no-block-unchanged"),
        ],
    )
    def test_inlines_and_drops_locals_when_safe(self, tree, compact, modified):
        result, was_modified = tree_transformations.inline_single_use_locals(tree)
        assert str(result) == compact
        assert was_modified is modified

    def test_returns_same_tree_when_nothing_changes(self):
        tree = bb.Block([("a", _one())], _pair(_ref("a"), _ref("a")))
        result, modified = tree_transformations.inline_single_use_locals(tree)
        assert result is tree
        assert not modified

    def test_keeps_type_when_inlining(self):
        tree = bb.Block([("a", _one())], _pair(_ref("a"), _one()))
        result, _ = tree_transformations.inline_single_use_locals(tree)
        assert result.type_signature == tree.type_signature


class TestReplaceReferences:
    def test_replaces_free_reference_when_name_matches(self):
        result = tree_transformations.replace_references(
            _pair(_ref("a"), _ref("b")), {"a": _ref("z")}
        )
        assert str(result) == "<z,b>"

    def test_respects_shadowing_when_lambda_rebinds_name(self):
        tree = bb.Struct([_ref("a"), _lambda("a", _ref("a")), _lambda("b", _ref("a"))])
        result = tree_transformations.replace_references(tree, {"a": _ref("z")})
        assert str(result) == "<z,(a -> a),(b -> z)>"

    def test_respects_shadowing_when_block_rebinds_name(self):
        tree = bb.Block([("a", _ref("a")), ("b", _ref("a"))], _ref("a"))
        result = tree_transformations.replace_references(tree, {"a": _ref("z")})
        assert str(result) == "(let a=z,b=a in a)"

    def test_returns_same_tree_when_no_replacements(self):
        tree = _pair(_ref("a"), _ref("b"))
        assert tree_transformations.replace_references(tree, {}) is tree
        assert tree_transformations.replace_references(tree, {"c": _ref("z")}) is tree


class TestCountFreeReferences:
    def test_counts_uses_and_lambdas_when_names_are_free(self):
        tree = bb.Block(
            [("a", _ref("x"))],
            bb.Struct([_ref("a"), _ref("x"), _lambda("q", _pair(_ref("x"), _ref("q")))]),
        )
        assert tree_transformations.count_free_references(tree) == {"x": (3, True)}

    def test_counts_nothing_when_tree_is_closed(self):
        assert tree_transformations.count_free_references(_lambda("x", _ref("x"))) == {}


class TestTransformPostorder:
    def test_rewrites_children_first_when_transforming(self):
        visited = []

        def record(node):
            visited.append(str(node))
            return node, False

        tree = _lambda("x", _pair(_ref("x"), _one()))
        result, modified = tree_transformations.transform_postorder(tree, record)
        assert visited == ["x", "1", "<x,1>", "(x -> <x,1>)"]
        assert result is tree
        assert not modified

    def test_rebuilds_parents_when_a_child_changes(self):
        def bump(node):
            if isinstance(node, bb.Literal):
                return bb.Literal(np.int32(node.value + 1)), True
            return node, False

        tree = _lambda("x", _pair(_ref("x"), _one()))
        result, modified = tree_transformations.transform_postorder(tree, bump)
        assert str(result) == "(x -> <x,2>)"
        assert modified


class TestRebuild:
    def test_returns_node_when_children_are_unchanged(self):
        tree = _pair(_ref("a"), _one())
        assert tree_transformations.rebuild(tree, tree.children()) is tree

    def test_keeps_selection_index_when_source_changes(self):
        source = bb.Reference("s", tffl.StructType([np.int32, np.int32]))
        selection = bb.Selection(source, index=1)
        other = bb.Reference("t", tffl.StructType([np.int32, np.int32]))
        assert str(tree_transformations.rebuild(selection, [other])) == "t[1]"


class TestUniqueNames:
    def test_counts_across_hints_when_called(self):
        names = tree_transformations.UniqueNames()
        assert [names(), names("sum"), names()] == ["v_0", "sum_1", "v_2"]

    def test_uses_prefix_when_no_hint_is_given(self):
        assert tree_transformations.UniqueNames("t")() == "t_0"
