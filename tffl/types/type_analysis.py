"""Matching concrete types against signatures with type variables (`{T}@CLIENTS`)."""

from __future__ import annotations

from typing import Dict
from typing import Optional

from tffl.types import computation_types


class Bindings(dict):
    """Type-variable bindings, by label.

    `fixed` holds the variables bound where a function takes its parameter: such a
    variable never widens, because the function accepts only what it declared.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed = set()


def unify(
    pattern: Optional[computation_types.Type],
    actual: Optional[computation_types.Type],
    bindings: Dict[str, computation_types.Type],
) -> bool:
    """Matches `actual` against `pattern`, binding the pattern's type variables.

    A variable seen again must agree with its binding: an `actual` assignable to the
    bound type is accepted, and a more general `actual` (`float32[?]` after
    `float32[3]`) widens the binding, unless the variable was bound by a function's
    parameter. In a function's parameter position the direction turns around: the
    function must accept the bound type. Concrete parts of the pattern must be
    assignable from the actual parts. `bindings` is updated in place; pass a
    `Bindings` to carry the no-widening rule across several calls.

    >>> from tffl.types import placements
    >>> b = {}
    >>> pattern = computation_types.FederatedType(
    ...     computation_types.AbstractType('T'), placements.CLIENTS)
    >>> unify(pattern, computation_types.FederatedType('float32', placements.CLIENTS), b)
    True
    >>> str(b['T'])
    'float32'
    """
    fixed = bindings.fixed if isinstance(bindings, Bindings) else set()
    return _unify(pattern, actual, bindings, fixed, contravariant=False)


def _unify(pattern, actual, bindings, fixed, contravariant: bool) -> bool:
    if pattern is None or actual is None:
        return pattern is None and actual is None
    if isinstance(pattern, computation_types.AbstractType):
        label = pattern.label
        bound = bindings.get(label)
        if bound is None:
            bindings[label] = actual
            if contravariant:
                fixed.add(label)
            return True
        if contravariant:
            # The function's parameter must accept every value the variable stands for.
            return actual.is_assignable_from(bound)
        if bound.is_assignable_from(actual):
            return True
        if label not in fixed and actual.is_assignable_from(bound):
            bindings[label] = actual
            return True
        return False
    if isinstance(pattern, computation_types.StructType):
        if not isinstance(actual, computation_types.StructType) or len(actual) != len(pattern):
            return False
        for (p_name, p_type), (a_name, a_type) in zip(pattern.elements, actual.elements):
            if p_name is not None and a_name is not None and p_name != a_name:
                return False
            if not _unify(p_type, a_type, bindings, fixed, contravariant):
                return False
        return True
    if isinstance(pattern, computation_types.FederatedType):
        return (
            isinstance(actual, computation_types.FederatedType)
            and actual.placement == pattern.placement
            and (actual.all_equal or not pattern.all_equal)
            and _unify(pattern.member, actual.member, bindings, fixed, contravariant)
        )
    if isinstance(pattern, computation_types.SequenceType):
        return isinstance(actual, computation_types.SequenceType) and _unify(
            pattern.element, actual.element, bindings, fixed, contravariant
        )
    if isinstance(pattern, computation_types.FunctionType):
        return (
            isinstance(actual, computation_types.FunctionType)
            and _unify(pattern.parameter, actual.parameter, bindings, fixed, not contravariant)
            and _unify(pattern.result, actual.result, bindings, fixed, contravariant)
        )
    if contravariant:
        return actual.is_assignable_from(pattern)
    return pattern.is_assignable_from(actual)


def substitute(
    pattern: Optional[computation_types.Type], bindings: Bindings
) -> Optional[computation_types.Type]:
    """Replaces the bound type variables in `pattern`; unbound ones stay."""
    if pattern is None:
        return None
    if isinstance(pattern, computation_types.AbstractType):
        return bindings.get(pattern.label, pattern)
    if isinstance(pattern, computation_types.StructType):
        return computation_types.StructType(
            [(n, substitute(t, bindings)) for n, t in pattern.elements], pattern.container
        )
    if isinstance(pattern, computation_types.FederatedType):
        return computation_types.FederatedType(
            substitute(pattern.member, bindings), pattern.placement, pattern.all_equal
        )
    if isinstance(pattern, computation_types.SequenceType):
        return computation_types.SequenceType(substitute(pattern.element, bindings))
    if isinstance(pattern, computation_types.FunctionType):
        return computation_types.FunctionType(
            substitute(pattern.parameter, bindings), substitute(pattern.result, bindings)
        )
    return pattern


def is_abstract(type_spec: Optional[computation_types.Type]) -> bool:
    """Whether any type variable remains in `type_spec`."""
    if type_spec is None:
        return False
    if isinstance(type_spec, computation_types.AbstractType):
        return True
    if isinstance(type_spec, computation_types.StructType):
        return any(is_abstract(t) for t in type_spec)
    if isinstance(type_spec, computation_types.FederatedType):
        return is_abstract(type_spec.member)
    if isinstance(type_spec, computation_types.SequenceType):
        return is_abstract(type_spec.element)
    if isinstance(type_spec, computation_types.FunctionType):
        return is_abstract(type_spec.parameter) or is_abstract(type_spec.result)
    return False


def tensor_types(type_spec: Optional[computation_types.Type]):
    """Yields every TensorType inside structs, federated and sequence types."""
    if isinstance(type_spec, computation_types.TensorType):
        yield type_spec
    elif isinstance(type_spec, computation_types.StructType):
        for element in type_spec:
            yield from tensor_types(element)
    elif isinstance(type_spec, computation_types.FederatedType):
        yield from tensor_types(type_spec.member)
    elif isinstance(type_spec, computation_types.SequenceType):
        yield from tensor_types(type_spec.element)
