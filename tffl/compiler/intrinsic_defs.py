"""The intrinsic table: every federated operator, declared once with its type signature.

Signatures use type variables (`T`, `U`, ...) matched by `type_analysis.unify`.
User-facing functions (`tffl.core.intrinsics`), executor handlers and lowering rules
are dicts keyed by these definitions; a conformance test checks that none is missing.
Adding an intrinsic: declare it here, then add its user function, its executor
handler and its type-rule test (WORKSPACE.md, "Adding an intrinsic").
"""

from __future__ import annotations

import dataclasses
from typing import Callable
from typing import Dict
from typing import Optional
from typing import Tuple

import tensorflow as tf

from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_analysis
from tffl.types import type_errors

_T = computation_types.AbstractType("T")
_U = computation_types.AbstractType("U")
_R = computation_types.AbstractType("R")
_B = computation_types.AbstractType("B")
_Fn = computation_types.FunctionType
_Seq = computation_types.SequenceType
_Struct = computation_types.StructType


def _at_clients(member, all_equal=False):
    return computation_types.FederatedType(member, placements.CLIENTS, all_equal)


def _at_server(member):
    return computation_types.FederatedType(member, placements.SERVER)


# A check returns an error detail for bindings that match the signature but break a
# rule the signature cannot say (a float member for a mean), or None.
Check = Callable[[type_analysis.Bindings], Optional[str]]


@dataclasses.dataclass(frozen=True)
class IntrinsicDef:
    """One federated operator.

    Attributes:
      uri: the name in the IR and in printed computations.
      signature: the type signature, with type variables.
      parameter_names: names of the struct parameter's elements, for error messages.
      check: an extra rule on the bound type variables.
      variadic: for the zips, whose parameter is any struct of federated values.
    """

    uri: str
    signature: computation_types.FunctionType
    parameter_names: Tuple[str, ...] = ()
    check: Optional[Check] = None
    variadic: Optional[placements.PlacementLiteral] = None

    def __str__(self):
        return self.uri


def _all_tensors(type_spec, predicate) -> bool:
    tensors = list(type_analysis.tensor_types(type_spec))
    return (
        bool(tensors)
        and all(predicate(t) for t in tensors)
        and not isinstance(type_spec, computation_types.SequenceType)
        and not _has_sequence(type_spec)
    )


def _has_sequence(type_spec) -> bool:
    if isinstance(type_spec, computation_types.SequenceType):
        return True
    if isinstance(type_spec, computation_types.StructType):
        return any(_has_sequence(t) for t in type_spec)
    return False


def _numeric(label: str) -> Check:
    def check(bindings):
        if not _all_tensors(bindings[label], lambda t: t.dtype.is_floating or t.dtype.is_integer):
            return f"{label} must be numeric tensors, got {bindings[label]}"
        return None

    return check


def _floating(label: str) -> Check:
    def check(bindings):
        if not _all_tensors(bindings[label], lambda t: t.dtype.is_floating):
            return f"{label} must be floating-point tensors, got {bindings[label]}"
        return None

    return check


def _weighted_mean_check(bindings):
    error = _floating("T")(bindings)
    if error:
        return error
    weight = bindings["U"]
    if not (
        isinstance(weight, computation_types.TensorType)
        and weight.shape == ()
        and (weight.dtype.is_floating or weight.dtype.is_integer)
    ):
        return f"the weight must be a numeric scalar, got {weight}"
    return None


def _secure_check(label: str) -> Check:
    def check(bindings):
        if isinstance(bindings[label], computation_types.FederatedType):
            return f"{label} must be a non-federated constant, got {bindings[label]}"
        if not _all_tensors(bindings["T"], lambda t: t.dtype.is_integer):
            return f"T must be integer tensors, got {bindings['T']}"
        if not _all_tensors(bindings[label], lambda t: t.dtype.is_integer and t.shape == ()):
            return f"{label} must be integer scalars, got {bindings[label]}"
        return None

    return check


# Type signature: (T@SERVER -> T@CLIENTS)
FEDERATED_BROADCAST = IntrinsicDef(
    "federated_broadcast", _Fn(_at_server(_T), _at_clients(_T, all_equal=True))
)

# Type signature: (<(T -> U),{T}@CLIENTS> -> {U}@CLIENTS)
FEDERATED_MAP = IntrinsicDef(
    "federated_map",
    _Fn(_Struct([_Fn(_T, _U), _at_clients(_T)]), _at_clients(_U)),
    ("fn", "value"),
)

# Type signature: (<(T -> U),T@SERVER> -> U@SERVER)
FEDERATED_APPLY = IntrinsicDef(
    "federated_apply",
    _Fn(_Struct([_Fn(_T, _U), _at_server(_T)]), _at_server(_U)),
    ("fn", "value"),
)

# Type signature: ({T}@CLIENTS -> T@SERVER)
FEDERATED_SUM = IntrinsicDef(
    "federated_sum", _Fn(_at_clients(_T), _at_server(_T)), check=_numeric("T")
)

# Type signature: ({T}@CLIENTS -> T@SERVER)
FEDERATED_MEAN = IntrinsicDef(
    "federated_mean", _Fn(_at_clients(_T), _at_server(_T)), check=_floating("T")
)

# Type signature: (<{T}@CLIENTS,{U}@CLIENTS> -> T@SERVER)
FEDERATED_WEIGHTED_MEAN = IntrinsicDef(
    "federated_weighted_mean",
    _Fn(_Struct([_at_clients(_T), _at_clients(_U)]), _at_server(_T)),
    ("value", "weight"),
    check=_weighted_mean_check,
)

# Type signature: (<{T}@CLIENTS,U,(<U,T> -> U),(<U,U> -> U),(U -> R)> -> R@SERVER)
FEDERATED_AGGREGATE = IntrinsicDef(
    "federated_aggregate",
    _Fn(
        _Struct(
            [
                _at_clients(_T),
                _U,
                _Fn(_Struct([_U, _T]), _U),
                _Fn(_Struct([_U, _U]), _U),
                _Fn(_U, _R),
            ]
        ),
        _at_server(_R),
    ),
    ("value", "zero", "accumulate", "merge", "report"),
)

# Type signature: (<{T}@CLIENTS,...> -> {<T,...>}@CLIENTS)
FEDERATED_ZIP_AT_CLIENTS = IntrinsicDef(
    "federated_zip_at_clients",
    _Fn(_Struct([_at_clients(_T)]), _at_clients(_Struct([_T]))),
    variadic=placements.CLIENTS,
)

# Type signature: (<T@SERVER,...> -> <T,...>@SERVER)
FEDERATED_ZIP_AT_SERVER = IntrinsicDef(
    "federated_zip_at_server",
    _Fn(_Struct([_at_server(_T)]), _at_server(_Struct([_T]))),
    variadic=placements.SERVER,
)

# Type signature: (T -> T@CLIENTS)
FEDERATED_VALUE_AT_CLIENTS = IntrinsicDef(
    "federated_value_at_clients", _Fn(_T, _at_clients(_T, all_equal=True))
)

# Type signature: (T -> T@SERVER)
FEDERATED_VALUE_AT_SERVER = IntrinsicDef("federated_value_at_server", _Fn(_T, _at_server(_T)))

# Type signature: (( -> T) -> {T}@CLIENTS)
FEDERATED_EVAL_AT_CLIENTS = IntrinsicDef(
    "federated_eval_at_clients", _Fn(_Fn(None, _T), _at_clients(_T))
)

# Type signature: (( -> T) -> T@SERVER)
FEDERATED_EVAL_AT_SERVER = IntrinsicDef(
    "federated_eval_at_server", _Fn(_Fn(None, _T), _at_server(_T))
)

# Type signature: (<{int32[?]}@CLIENTS,int32@SERVER,T@SERVER,(<T,int32> -> U)> -> {U*}@CLIENTS)
FEDERATED_SELECT = IntrinsicDef(
    "federated_select",
    _Fn(
        _Struct(
            [
                _at_clients(computation_types.TensorType(tf.int32, [None])),
                _at_server(computation_types.TensorType(tf.int32)),
                _at_server(_T),
                _Fn(_Struct([_T, computation_types.TensorType(tf.int32)]), _U),
            ]
        ),
        _at_clients(_Seq(_U)),
    ),
    ("client_keys", "max_key", "server_val", "select_fn"),
)

# Type signature: (<{T}@CLIENTS,B> -> T@SERVER)
FEDERATED_SECURE_SUM = IntrinsicDef(
    "federated_secure_sum",
    _Fn(_Struct([_at_clients(_T), _B]), _at_server(_T)),
    ("value", "max_input"),
    check=_secure_check("B"),
)

# Type signature: (<{T}@CLIENTS,B> -> T@SERVER)
FEDERATED_SECURE_SUM_BITWIDTH = IntrinsicDef(
    "federated_secure_sum_bitwidth",
    _Fn(_Struct([_at_clients(_T), _B]), _at_server(_T)),
    ("value", "bitwidth"),
    check=_secure_check("B"),
)

# Type signature: (<{T}@CLIENTS,B> -> T@SERVER)
FEDERATED_SECURE_MODULAR_SUM = IntrinsicDef(
    "federated_secure_modular_sum",
    _Fn(_Struct([_at_clients(_T), _B]), _at_server(_T)),
    ("value", "modulus"),
    check=_secure_check("B"),
)

# Type signature: (<(T -> U),T*> -> U*)
SEQUENCE_MAP = IntrinsicDef(
    "sequence_map", _Fn(_Struct([_Fn(_T, _U), _Seq(_T)]), _Seq(_U)), ("fn", "sequence")
)

# Type signature: (<T*,U,(<U,T> -> U)> -> U)
SEQUENCE_REDUCE = IntrinsicDef(
    "sequence_reduce",
    _Fn(_Struct([_Seq(_T), _U, _Fn(_Struct([_U, _T]), _U)]), _U),
    ("sequence", "zero", "op"),
)

# Type signature: (T* -> T)
SEQUENCE_SUM = IntrinsicDef("sequence_sum", _Fn(_Seq(_T), _T), check=_numeric("T"))


ALL: Tuple[IntrinsicDef, ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, IntrinsicDef)
)
BY_URI: Dict[str, IntrinsicDef] = {d.uri: d for d in ALL}


def by_uri(uri: str) -> IntrinsicDef:
    try:
        return BY_URI[uri]
    except KeyError:
        raise ValueError(
            f"expected an intrinsic uri, one of {sorted(BY_URI)}, got {uri!r}"
        ) from None


def _variadic_result(
    definition: IntrinsicDef, argument_type: Optional[computation_types.Type]
) -> computation_types.Type:
    placement = definition.variadic
    if not isinstance(argument_type, computation_types.StructType) or not len(argument_type):
        raise type_errors.TypeMismatchError(
            definition.signature.parameter,
            argument_type,
            definition.uri,
            "expected a non-empty struct of federated values",
        )
    members = []
    for index, (name, element) in enumerate(argument_type.elements):
        if not (
            isinstance(element, computation_types.FederatedType) and element.placement == placement
        ):
            where = f"{definition.uri} argument {name or index}"
            expected = "{T}@CLIENTS" if placement == placements.CLIENTS else "T@SERVER"
            raise type_errors.TypeMismatchError(expected, element, where)
        members.append((name, element.member))
    member = computation_types.StructType(members, container=argument_type.container)
    if placement == placements.CLIENTS:
        all_equal = all(e.all_equal for e in argument_type)
        return computation_types.FederatedType(member, placement, all_equal)
    return computation_types.FederatedType(member, placement)


def result_type(
    definition: IntrinsicDef, argument_type: Optional[computation_types.Type]
) -> computation_types.Type:
    """Checks an argument against an intrinsic and returns the call's result type.

    Raises:
      TypeMismatchError: naming the intrinsic, the argument, and the expected and
        the given type, e.g. `federated_sum: expected {T}@CLIENTS, got float32@SERVER`.
    """
    if definition.variadic is not None:
        return _variadic_result(definition, argument_type)
    bindings = type_analysis.Bindings()
    parameter = definition.signature.parameter
    if definition.parameter_names:
        if not isinstance(argument_type, computation_types.StructType) or len(argument_type) != len(
            parameter
        ):
            raise type_errors.TypeMismatchError(
                parameter,
                argument_type,
                definition.uri,
                f"expected {len(parameter)} arguments: {', '.join(definition.parameter_names)}",
            )
        for name, pattern, actual in zip(definition.parameter_names, parameter, argument_type):
            if not type_analysis.unify(pattern, actual, bindings):
                expected = type_analysis.substitute(pattern, bindings)
                raise type_errors.TypeMismatchError(
                    expected, actual, f"{definition.uri} argument {name}"
                )
    elif not type_analysis.unify(parameter, argument_type, bindings):
        raise type_errors.TypeMismatchError(parameter, argument_type, definition.uri)
    if definition.check is not None:
        detail = definition.check(bindings)
        if detail:
            raise type_errors.TypeMismatchError(
                type_analysis.substitute(parameter, {}), argument_type, definition.uri, detail
            )
    result = type_analysis.substitute(definition.signature.result, bindings)
    if type_analysis.is_abstract(result):
        raise TypeError(f"{definition.uri}: could not infer a result type from {argument_type}")
    return result
