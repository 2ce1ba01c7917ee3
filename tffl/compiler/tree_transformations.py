"""Pure transformations of the IR: each takes a tree and returns (tree, modified)."""

from __future__ import annotations

import collections
from typing import Callable
from typing import Dict
from typing import Optional
from typing import Set
from typing import Tuple

from tffl.compiler import building_blocks as bb

Transform = Callable[[bb.BuildingBlock], Tuple[bb.BuildingBlock, bool]]


def rebuild(node: bb.BuildingBlock, children) -> bb.BuildingBlock:
    """Returns `node` with its children replaced by `children` (same order)."""
    children = list(children)
    if all(new is old for new, old in zip(children, node.children())):
        return node
    if isinstance(node, bb.Selection):
        return bb.Selection(children[0], index=node.index)
    if isinstance(node, bb.Struct):
        return bb.Struct(
            [(name, child) for (name, _), child in zip(node.elements, children)],
            container=node.type_signature.container,
        )
    if isinstance(node, bb.Call):
        return bb.Call(children[0], children[1] if len(children) > 1 else None)
    if isinstance(node, bb.Lambda):
        return bb.Lambda(node.parameter_name, node.parameter_type, children[0])
    if isinstance(node, bb.Block):
        names = [name for name, _ in node.locals]
        return bb.Block(list(zip(names, children[:-1])), children[-1])
    raise TypeError(f"rebuild: {type(node).__name__} has no children")


def transform_postorder(node: bb.BuildingBlock, fn: Transform) -> Tuple[bb.BuildingBlock, bool]:
    """Applies `fn` to every node, children first."""
    modified = False
    children = []
    for child in node.children():
        new_child, child_modified = transform_postorder(child, fn)
        children.append(new_child)
        modified |= child_modified
    node = rebuild(node, children) if node.children() else node
    node, fn_modified = fn(node)
    return node, modified or fn_modified


def _bound_names(node: bb.BuildingBlock):
    if isinstance(node, bb.Lambda) and node.parameter_name:
        return {node.parameter_name}
    return set()


def count_free_references(node: bb.BuildingBlock) -> Dict[str, Tuple[int, bool]]:
    """For each free name: (number of uses, whether any use is inside a Lambda)."""
    counts: Dict[str, list] = collections.defaultdict(lambda: [0, False])

    def visit(current: bb.BuildingBlock, bound: frozenset, under_lambda: bool):
        if isinstance(current, bb.Reference):
            if current.name not in bound:
                counts[current.name][0] += 1
                counts[current.name][1] |= under_lambda
            return
        if isinstance(current, bb.Block):
            inner = set(bound)
            for name, value in current.locals:
                visit(value, frozenset(inner), under_lambda)
                inner.add(name)
            visit(current.result, frozenset(inner), under_lambda)
            return
        if isinstance(current, bb.Lambda):
            visit(current.result, bound | _bound_names(current), True)
            return
        for child in current.children():
            visit(child, bound, under_lambda)

    visit(node, frozenset(), False)
    return {name: (count, under) for name, (count, under) in counts.items()}


def _binders_at_uses(node: bb.BuildingBlock, name: str) -> Set[str]:
    """The names bound (by Lambdas and Blocks inside `node`) where `name` is used free."""
    found: Set[str] = set()

    def visit(current: bb.BuildingBlock, binders: frozenset):
        if isinstance(current, bb.Reference):
            if current.name == name and name not in binders:
                found.update(binders)
            return
        if isinstance(current, bb.Block):
            inner = binders
            for local_name, value in current.locals:
                visit(value, inner)
                inner = inner | {local_name}
            visit(current.result, inner)
            return
        if isinstance(current, bb.Lambda):
            visit(current.result, binders | _bound_names(current))
            return
        for child in current.children():
            visit(child, binders)

    visit(node, frozenset())
    return found


def replace_references(
    node: bb.BuildingBlock, replacements: Dict[str, bb.BuildingBlock]
) -> bb.BuildingBlock:
    """Substitutes free references by name, respecting shadowing.

    The substitution does not rename binders: the caller makes sure that no free
    name of a replacement is rebound where it lands.
    """
    if not replacements:
        return node
    if isinstance(node, bb.Reference):
        return replacements.get(node.name, node)
    if isinstance(node, bb.Lambda):
        inner = {k: v for k, v in replacements.items() if k != node.parameter_name}
        return rebuild(node, [replace_references(node.result, inner)])
    if isinstance(node, bb.Block):
        inner = dict(replacements)
        new_locals = []
        for name, value in node.locals:
            new_locals.append((name, replace_references(value, inner)))
            inner.pop(name, None)
        result = replace_references(node.result, inner)
        return rebuild(node, [v for _, v in new_locals] + [result])
    return rebuild(node, [replace_references(c, replacements) for c in node.children()])


def inline_single_use_locals(node: bb.BuildingBlock) -> Tuple[bb.BuildingBlock, bool]:
    """Inlines Block locals used once (not under a Lambda) and drops unused ones.

    A local used inside a Lambda stays bound, so that it is computed once rather
    than once per call of the Lambda; so does a local used more than once.
    A Block left with no locals becomes its result.
    """

    def inline_block(current: bb.BuildingBlock) -> Tuple[bb.BuildingBlock, bool]:
        if not isinstance(current, bb.Block):
            return current, False
        kept = []
        pending: Dict[str, bb.BuildingBlock] = {}
        locals_list = list(current.locals)
        modified = False
        for index, (name, value) in enumerate(locals_list):
            value = replace_references(value, pending)
            rest = bb.Block([(n, v) for n, v in locals_list[index + 1 :]], current.result)
            uses = count_free_references(rest).get(name)
            # A later local of the same name shadows this one; keep it simple and safe.
            shadowed = any(n == name for n, _ in locals_list[index + 1 :])
            # Inlining must not move the value under a binder of one of its free names.
            captured = bool(set(count_free_references(value)) & _binders_at_uses(rest, name))
            if not shadowed and uses is None:
                modified = True
                continue
            if not shadowed and not captured and uses == (1, False):
                pending[name] = value
                modified = True
                continue
            pending.pop(name, None)
            kept.append((name, value))
        result = replace_references(current.result, pending)
        if not kept:
            return result, True
        if not modified:
            return current, False
        return bb.Block(kept, result), True

    return transform_postorder(node, inline_block)


class UniqueNames:
    """Generates names not used elsewhere in one traced computation."""

    def __init__(self, prefix: str = "v"):
        self._prefix = prefix
        self._next = 0

    def __call__(self, hint: Optional[str] = None) -> str:
        name = f"{hint or self._prefix}_{self._next}"
        self._next += 1
        return name
