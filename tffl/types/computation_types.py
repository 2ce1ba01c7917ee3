"""The tffl type system: tensors, structs, sequences, functions and federated types.

Types are immutable, hashable values with structural equality. `str()` gives the
compact notation (`{float32}@CLIENTS`, `<a=int32,b=float32[3]>`, `int32*`,
`(int32 -> float32)`); `repr()` gives the constructor form. `to_type` turns every
accepted spelling of a type (dtypes, `tf.TensorSpec`, nested containers of those,
`(dtype, shape)` pairs) into a `Type`.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
from typing import Any
from typing import Iterable
from typing import Iterator
from typing import Optional
from typing import Tuple
from typing import Union

import numpy as np
import tensorflow as tf

from tffl.types import containers
from tffl.types import placements
from tffl.types import type_errors

# Python scalar types map to the 32-bit dtypes, as in TFF.
PYTHON_DTYPES = {
    bool: tf.bool,
    int: tf.int32,
    float: tf.float32,
    str: tf.string,
    bytes: tf.string,
}

Shape = Optional[Tuple[Optional[int], ...]]


def _as_dtype(spec: Any) -> Optional[tf.DType]:
    """Returns the `tf.DType` that `spec` names, or None if it names none."""
    if isinstance(spec, tf.DType):
        return spec
    if isinstance(spec, type) and spec in PYTHON_DTYPES:
        return PYTHON_DTYPES[spec]
    if isinstance(spec, (np.dtype, str)) or (
        isinstance(spec, type) and issubclass(spec, np.generic)
    ):
        try:
            return tf.as_dtype(spec)
        except TypeError:
            return None
    return None


def _as_shape(spec: Any) -> Tuple[bool, Shape]:
    """Returns (ok, shape) for a shape spelling; unknown rank is `None`."""
    if isinstance(spec, tf.TensorShape):
        return True, None if spec.rank is None else tuple(spec.as_list())
    if isinstance(spec, (list, tuple)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0)
        for d in spec
    ):
        return True, tuple(None if d is None else int(d) for d in spec)
    return False, None


class Type(abc.ABC):
    """The base of all tffl types."""

    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, **fields):
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setstate__(self, state):
        # copy, deepcopy and pickle restore slots with setattr, which is refused above.
        self._set(**state[1])

    @abc.abstractmethod
    def _key(self) -> tuple:
        """The tuple that equality and hashing are defined on."""

    @abc.abstractmethod
    def __str__(self) -> str: ...

    def compact_representation(self) -> str:
        return str(self)

    def formatted_representation(self) -> str:
        """The type over several lines: structs too long for one line put an element per line.

        >>> print(to_type([("x", np.float32), ("y", (np.int32, [3]))]).formatted_representation())
        <x=float32,y=int32[3]>
        """
        return _formatted(self, 0)

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is type(self) and self._key() == other._key())

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._key())

    @abc.abstractmethod
    def is_assignable_from(self, source: "Type") -> bool:
        """Whether a value of type `source` may stand where `self` is expected."""

    def is_equivalent_to(self, other: "Type") -> bool:
        """Mutual assignability: equal up to Python containers."""
        return self.is_assignable_from(other) and other.is_assignable_from(self)

    def check_assignable_from(self, source: "Type", context: str = "") -> None:
        """Raises `TypeMismatchError` unless `source` is assignable to `self`."""
        if not self.is_assignable_from(source):
            raise type_errors.TypeMismatchError(self, source, context)


class TensorType(Type):
    """A tensor of a dtype and a (possibly partly or wholly unknown) shape.

    >>> str(TensorType(np.float32, [None, 784]))
    'float32[?,784]'
    """

    __slots__ = ("_dtype", "_shape")

    def __init__(self, dtype: Any, shape: Any = ()):
        resolved = _as_dtype(dtype)
        if resolved is None:
            raise TypeError(f"TensorType dtype: expected a dtype, got {dtype!r}")
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (shape,)
        if shape is None:
            ok, dims = True, None
        else:
            ok, dims = _as_shape(shape)
        if not ok:
            raise TypeError(
                f"TensorType shape: expected a list of non-negative ints or None, got {shape!r}"
            )
        self._set(_dtype=resolved, _shape=dims)

    @property
    def dtype(self) -> tf.DType:
        return self._dtype

    @property
    def shape(self) -> Shape:
        """The dimensions as a tuple (`None` for an unknown one), or None for unknown rank."""
        return self._shape

    @property
    def tensor_shape(self) -> tf.TensorShape:
        return tf.TensorShape(self._shape)

    def is_fully_defined(self) -> bool:
        return self._shape is not None and all(d is not None for d in self._shape)

    def _key(self):
        return (self._dtype, self._shape)

    def __str__(self):
        if self._shape is None:
            return f"{self._dtype.name}[*]"
        if not self._shape:
            return self._dtype.name
        dims = ",".join("?" if d is None else str(d) for d in self._shape)
        return f"{self._dtype.name}[{dims}]"

    def __repr__(self):
        if self._shape == ():
            return f"TensorType({self._dtype.name})"
        shape = None if self._shape is None else list(self._shape)
        return f"TensorType({self._dtype.name}, {shape})"

    def is_assignable_from(self, source):
        if not isinstance(source, TensorType) or source._dtype != self._dtype:
            return False
        if self._shape is None:
            return True
        if source._shape is None or len(source._shape) != len(self._shape):
            return False
        return all(t is None or t == s for t, s in zip(self._shape, source._shape))


class StructType(Type):
    """An ordered struct of elements, each optionally named.

    The Python container a struct came from (tuple, list, dict, OrderedDict, a
    namedtuple, attrs or dataclass class) is kept as `container`, so values convert
    back to what the user wrote. Containers take part in equality; they are ignored
    by assignability, and so are names missing on either side.

    >>> str(StructType([('a', np.int32), ('b', TensorType(np.float32, [3]))]))
    '<a=int32,b=float32[3]>'
    """

    __slots__ = ("_elements", "_container", "_name_to_index")

    def __init__(self, elements: Union[Iterable[Any], Any], container: Optional[type] = None):
        if isinstance(elements, collections.abc.Mapping):
            elements = list(elements.items())
        normalized = []
        for element in elements:
            if (
                isinstance(element, tuple)
                and len(element) == 2
                and (element[0] is None or isinstance(element[0], str))
                and not _is_dtype_shape_pair(element)
            ):
                name, value = element
            else:
                name, value = None, element
            if name == "":
                name = None
            value = to_type(value)
            if value is None:
                raise TypeError(f"StructType element {len(normalized)}: expected a type, got None")
            normalized.append((name, value))
        names = [n for n, _ in normalized if n is not None]
        if len(set(names)) != len(names):
            raise ValueError(f"StructType: element names must be unique, got {names}")
        if container is not None:
            containers.check_struct_container(container, normalized)
        self._set(
            _elements=tuple(normalized),
            _container=container,
            _name_to_index={n: i for i, (n, _) in enumerate(normalized) if n is not None},
        )

    @property
    def elements(self) -> Tuple[Tuple[Optional[str], Type], ...]:
        """The (name or None, type) pairs."""
        return self._elements

    @property
    def container(self) -> Optional[type]:
        return self._container

    def names(self) -> Tuple[Optional[str], ...]:
        return tuple(n for n, _ in self._elements)

    def index_of(self, name: str) -> int:
        try:
            return self._name_to_index[name]
        except KeyError:
            raise AttributeError(f"{self} has no element named {name!r}") from None

    def __len__(self) -> int:
        return len(self._elements)

    def __iter__(self) -> Iterator[Type]:
        return (t for _, t in self._elements)

    def __getitem__(self, key: Union[int, str]) -> Type:
        if isinstance(key, str):
            return self._elements[self.index_of(key)][1]
        return self._elements[key][1]

    def __getattr__(self, name: str) -> Type:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def _key(self):
        return (self._elements, self._container)

    def __str__(self):
        parts = (t.compact_representation() if n is None else f"{n}={t}" for n, t in self._elements)
        return "<" + ",".join(parts) + ">"

    def __repr__(self):
        parts = ", ".join(repr(t) if n is None else f"({n!r}, {t!r})" for n, t in self._elements)
        if self._container is None:
            return f"StructType([{parts}])"
        return f"StructType([{parts}], container={self._container.__qualname__})"

    def is_assignable_from(self, source):
        if not isinstance(source, StructType) or len(source) != len(self):
            return False
        for (target_name, target_type), (source_name, source_type) in zip(
            self._elements, source._elements
        ):
            # Names conflict only where both sides name an element: an unnamed
            # element binds by position, as when a zipped list meets `f(x, y)`.
            if target_name is not None and source_name is not None and target_name != source_name:
                return False
            if not target_type.is_assignable_from(source_type):
                return False
        return True


class SequenceType(Type):
    """A sequence of elements of one type (a `tf.data.Dataset` or a list).

    >>> str(SequenceType(np.int32))
    'int32*'
    """

    __slots__ = ("_element",)

    def __init__(self, element: Any):
        element = to_type(element)
        if element is None or _contains(
            element, (FederatedType, FunctionType, SequenceType, PlacementType)
        ):
            raise TypeError(
                f"SequenceType element: expected tensors or structs of tensors, got {element}"
            )
        self._set(_element=element)

    @property
    def element(self) -> Type:
        return self._element

    def _key(self):
        return (self._element,)

    def __str__(self):
        return f"{self._element}*"

    def __repr__(self):
        return f"SequenceType({self._element!r})"

    def is_assignable_from(self, source):
        return isinstance(source, SequenceType) and self._element.is_assignable_from(
            source._element
        )


class FunctionType(Type):
    """A function from a parameter type (or none) to a result type.

    >>> str(FunctionType(np.int32, np.float32))
    '(int32 -> float32)'
    """

    __slots__ = ("_parameter", "_result")

    def __init__(self, parameter: Any, result: Any):
        if result is None:
            raise TypeError("FunctionType result: expected a type, got None")
        self._set(_parameter=to_type(parameter), _result=to_type(result))

    @property
    def parameter(self) -> Optional[Type]:
        return self._parameter

    @property
    def result(self) -> Type:
        return self._result

    def _key(self):
        return (self._parameter, self._result)

    def __str__(self):
        parameter = "" if self._parameter is None else str(self._parameter)
        return f"({parameter} -> {self._result})"

    def __repr__(self):
        return f"FunctionType({self._parameter!r}, {self._result!r})"

    def is_assignable_from(self, source):
        if not isinstance(source, FunctionType):
            return False
        if (self._parameter is None) != (source._parameter is None):
            return False
        if self._parameter is not None and not source._parameter.is_assignable_from(
            self._parameter
        ):
            return False
        return self._result.is_assignable_from(source._result)


class FederatedType(Type):
    """A value placed at CLIENTS or SERVER.

    `all_equal` defaults to False at CLIENTS (one member value per client) and True
    at SERVER. An all-equal CLIENTS value prints without braces.

    >>> str(FederatedType(np.float32, placements.CLIENTS))
    '{float32}@CLIENTS'
    """

    __slots__ = ("_member", "_placement", "_all_equal")

    def __init__(
        self,
        member: Any,
        placement: placements.PlacementLiteral,
        all_equal: Optional[bool] = None,
    ):
        if not isinstance(placement, placements.PlacementLiteral):
            raise TypeError(
                f"FederatedType placement: expected tffl.CLIENTS or tffl.SERVER, got {placement!r}"
            )
        member = to_type(member)
        if member is None:
            raise TypeError("FederatedType member: expected a type, got None")
        if _contains(member, (FederatedType, FunctionType, PlacementType)):
            raise TypeError(
                "FederatedType member: expected tensors, structs or sequences, "
                f"got {member} (federated values do not nest)"
            )
        if all_equal is None:
            all_equal = placement.default_all_equal
        if not isinstance(all_equal, bool):
            raise TypeError(f"FederatedType all_equal: expected a bool, got {all_equal!r}")
        self._set(_member=member, _placement=placement, _all_equal=all_equal)

    @property
    def member(self) -> Type:
        return self._member

    @property
    def placement(self) -> placements.PlacementLiteral:
        return self._placement

    @property
    def all_equal(self) -> bool:
        return self._all_equal

    def _key(self):
        return (self._member, self._placement, self._all_equal)

    def __str__(self):
        if self._all_equal:
            return f"{self._member}@{self._placement}"
        return f"{{{self._member}}}@{self._placement}"

    def __repr__(self):
        return f"FederatedType({self._member!r}, {self._placement!r}, all_equal={self._all_equal})"

    def is_assignable_from(self, source):
        if not isinstance(source, FederatedType) or source._placement != self._placement:
            return False
        if self._all_equal and not source._all_equal:
            return False
        return self._member.is_assignable_from(source._member)


def at_clients(type_spec: Any, all_equal: bool = False) -> FederatedType:
    """`type_spec` placed at CLIENTS: one member value per client unless `all_equal`.

    >>> str(at_clients(np.int32)), str(at_clients(np.int32, all_equal=True))
    ('{int32}@CLIENTS', 'int32@CLIENTS')
    """
    return FederatedType(type_spec, placements.CLIENTS, all_equal)


def at_server(type_spec: Any) -> FederatedType:
    """`type_spec` placed at SERVER.

    >>> str(at_server([np.float32, np.int32]))
    '<float32,int32>@SERVER'
    """
    return FederatedType(type_spec, placements.SERVER)


class PlacementType(Type):
    """The type of placement literals themselves."""

    __slots__ = ()

    def _key(self):
        return ()

    def __str__(self):
        return "placement"

    def __repr__(self):
        return "PlacementType()"

    def is_assignable_from(self, source):
        return isinstance(source, PlacementType)


class AbstractType(Type):
    """A type variable (`T`), used in intrinsic type signatures."""

    __slots__ = ("_label",)

    def __init__(self, label: str):
        if not isinstance(label, str) or not label:
            raise TypeError(f"AbstractType label: expected a non-empty str, got {label!r}")
        self._set(_label=label)

    @property
    def label(self) -> str:
        return self._label

    def _key(self):
        return (self._label,)

    def __str__(self):
        return self._label

    def __repr__(self):
        return f"AbstractType({self._label!r})"

    def is_assignable_from(self, source):
        return self == source


_LINE_WIDTH = 80


def _formatted(type_spec: Type, indent: int) -> str:
    """`type_spec` as text, starting at column `2 * indent` of a line."""
    compact = str(type_spec)
    if 2 * indent + len(compact) <= _LINE_WIDTH:
        return compact
    if isinstance(type_spec, StructType) and len(type_spec):
        pad = "  " * (indent + 1)
        lines = [
            pad + ("" if name is None else f"{name}=") + _formatted(element, indent + 1)
            for name, element in type_spec.elements
        ]
        return "<\n" + ",\n".join(lines) + "\n" + "  " * indent + ">"
    if isinstance(type_spec, FederatedType):
        member = _formatted(type_spec.member, indent)
        if type_spec.all_equal:
            return f"{member}@{type_spec.placement}"
        return f"{{{member}}}@{type_spec.placement}"
    if isinstance(type_spec, SequenceType):
        return f"{_formatted(type_spec.element, indent)}*"
    if isinstance(type_spec, FunctionType):
        parameter = "" if type_spec.parameter is None else _formatted(type_spec.parameter, indent)
        return f"({parameter} -> {_formatted(type_spec.result, indent)})"
    return compact


def _contains(type_spec: Optional[Type], kinds: tuple) -> bool:
    """Whether `type_spec` or any type nested in a struct of it is one of `kinds`."""
    if type_spec is None:
        return False
    if isinstance(type_spec, kinds):
        return True
    if isinstance(type_spec, StructType):
        return any(_contains(t, kinds) for t in type_spec)
    return False


def _is_dtype_shape_pair(spec: Any) -> bool:
    return (
        isinstance(spec, tuple)
        and len(spec) == 2
        and _as_dtype(spec[0]) is not None
        and _as_shape(spec[1])[0]
    )


def to_type(spec: Any) -> Optional[Type]:
    """Converts any accepted spelling of a type into a `Type`.

    Accepts types; dtypes (numpy, TensorFlow, names, Python scalar classes);
    `tf.TensorSpec`; `tf.data.DatasetSpec`; `(dtype, shape)` pairs; `('name', type)`
    pairs; and lists, tuples, dicts, OrderedDicts, namedtuples, attrs and dataclass
    instances of those. None stays None (no parameter).

    >>> str(to_type(collections.OrderedDict(x=(np.float32, [None, 784]), y=np.int32)))
    '<x=float32[?,784],y=int32>'

    Raises:
      TypeError: if `spec` is not a spelling of a type.
    """
    if spec is None or isinstance(spec, Type):
        return spec
    dtype = _as_dtype(spec)
    if dtype is not None:
        return TensorType(dtype)
    if isinstance(spec, tf.TensorSpec):
        return TensorType(spec.dtype, spec.shape)
    if isinstance(spec, tf.data.DatasetSpec):
        return SequenceType(to_type(spec.element_spec))
    if isinstance(spec, tf.TypeSpec):
        raise TypeError(
            f"to_type: expected dense tensor or dataset specs, got {spec!r} "
            "(ragged and sparse tensors are not supported)"
        )
    if _is_dtype_shape_pair(spec):
        return TensorType(spec[0], spec[1])
    if containers.is_named_tuple_class(type(spec)):
        return StructType(list(zip(spec._fields, spec)), container=type(spec))
    if isinstance(spec, collections.abc.Mapping):
        for key in spec:
            if not isinstance(key, str):
                raise TypeError(f"to_type: expected str keys in a mapping, got {key!r}")
        return StructType(list(spec.items()), container=type(spec))
    if containers.is_attrs_class(type(spec)) or (
        dataclasses.is_dataclass(spec) and not isinstance(spec, type)
    ):
        names = containers.container_field_names(type(spec))
        return StructType([(n, getattr(spec, n)) for n in names], container=type(spec))
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        # A lone ('name', type) pair is a one-element named struct.
        return StructType([spec])
    if isinstance(spec, (list, tuple)):
        has_names = any(
            isinstance(e, tuple)
            and len(e) == 2
            and (e[0] is None or isinstance(e[0], str))
            and not _is_dtype_shape_pair(e)
            for e in spec
        )
        return StructType(list(spec), container=None if has_names else type(spec))
    raise TypeError(f"to_type: expected a type spec, got {spec!r} of type {type(spec).__name__}")
