from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Type(_message.Message):
    __slots__ = ("tensor", "struct", "sequence", "function", "federated", "placement", "abstract")
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    STRUCT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    FEDERATED_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    ABSTRACT_FIELD_NUMBER: _ClassVar[int]
    tensor: TensorType
    struct: StructType
    sequence: SequenceType
    function: FunctionType
    federated: FederatedType
    placement: PlacementType
    abstract: AbstractType
    def __init__(self, tensor: _Optional[_Union[TensorType, _Mapping]] = ..., struct: _Optional[_Union[StructType, _Mapping]] = ..., sequence: _Optional[_Union[SequenceType, _Mapping]] = ..., function: _Optional[_Union[FunctionType, _Mapping]] = ..., federated: _Optional[_Union[FederatedType, _Mapping]] = ..., placement: _Optional[_Union[PlacementType, _Mapping]] = ..., abstract: _Optional[_Union[AbstractType, _Mapping]] = ...) -> None: ...

class TensorType(_message.Message):
    __slots__ = ("dtype", "dims", "unknown_rank")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DIMS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_RANK_FIELD_NUMBER: _ClassVar[int]
    dtype: int
    dims: _containers.RepeatedScalarFieldContainer[int]
    unknown_rank: bool
    def __init__(self, dtype: _Optional[int] = ..., dims: _Optional[_Iterable[int]] = ..., unknown_rank: bool = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("kind", "qualified_name")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NONE: _ClassVar[Container.Kind]
        TUPLE: _ClassVar[Container.Kind]
        LIST: _ClassVar[Container.Kind]
        DICT: _ClassVar[Container.Kind]
        ORDERED_DICT: _ClassVar[Container.Kind]
        NAMED_TUPLE: _ClassVar[Container.Kind]
        ATTRS: _ClassVar[Container.Kind]
        DATACLASS: _ClassVar[Container.Kind]
    NONE: Container.Kind
    TUPLE: Container.Kind
    LIST: Container.Kind
    DICT: Container.Kind
    ORDERED_DICT: Container.Kind
    NAMED_TUPLE: Container.Kind
    ATTRS: Container.Kind
    DATACLASS: Container.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    QUALIFIED_NAME_FIELD_NUMBER: _ClassVar[int]
    kind: Container.Kind
    qualified_name: str
    def __init__(self, kind: _Optional[_Union[Container.Kind, str]] = ..., qualified_name: _Optional[str] = ...) -> None: ...

class StructType(_message.Message):
    __slots__ = ("element", "container")
    class Element(_message.Message):
        __slots__ = ("name", "value")
        NAME_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        name: str
        value: Type
        def __init__(self, name: _Optional[str] = ..., value: _Optional[_Union[Type, _Mapping]] = ...) -> None: ...
    ELEMENT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    element: _containers.RepeatedCompositeFieldContainer[StructType.Element]
    container: Container
    def __init__(self, element: _Optional[_Iterable[_Union[StructType.Element, _Mapping]]] = ..., container: _Optional[_Union[Container, _Mapping]] = ...) -> None: ...

class SequenceType(_message.Message):
    __slots__ = ("element",)
    ELEMENT_FIELD_NUMBER: _ClassVar[int]
    element: Type
    def __init__(self, element: _Optional[_Union[Type, _Mapping]] = ...) -> None: ...

class FunctionType(_message.Message):
    __slots__ = ("parameter", "result")
    PARAMETER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    parameter: Type
    result: Type
    def __init__(self, parameter: _Optional[_Union[Type, _Mapping]] = ..., result: _Optional[_Union[Type, _Mapping]] = ...) -> None: ...

class Placement(_message.Message):
    __slots__ = ("uri",)
    URI_FIELD_NUMBER: _ClassVar[int]
    uri: str
    def __init__(self, uri: _Optional[str] = ...) -> None: ...

class FederatedType(_message.Message):
    __slots__ = ("placement", "all_equal", "member")
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    ALL_EQUAL_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    placement: Placement
    all_equal: bool
    member: Type
    def __init__(self, placement: _Optional[_Union[Placement, _Mapping]] = ..., all_equal: bool = ..., member: _Optional[_Union[Type, _Mapping]] = ...) -> None: ...

class PlacementType(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AbstractType(_message.Message):
    __slots__ = ("label",)
    LABEL_FIELD_NUMBER: _ClassVar[int]
    label: str
    def __init__(self, label: _Optional[str] = ...) -> None: ...

class Computation(_message.Message):
    __slots__ = ("type", "reference", "selection", "struct", "call", "block", "intrinsic", "data", "literal", "placement", "tensorflow")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    STRUCT_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    INTRINSIC_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LITERAL_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    TENSORFLOW_FIELD_NUMBER: _ClassVar[int]
    type: Type
    reference: Reference
    selection: Selection
    struct: Struct
    call: Call
    block: Block
    intrinsic: Intrinsic
    data: Data
    literal: Literal
    placement: Placement
    tensorflow: TensorFlow
    def __init__(self, type: _Optional[_Union[Type, _Mapping]] = ..., reference: _Optional[_Union[Reference, _Mapping]] = ..., selection: _Optional[_Union[Selection, _Mapping]] = ..., struct: _Optional[_Union[Struct, _Mapping]] = ..., call: _Optional[_Union[Call, _Mapping]] = ..., block: _Optional[_Union[Block, _Mapping]] = ..., intrinsic: _Optional[_Union[Intrinsic, _Mapping]] = ..., data: _Optional[_Union[Data, _Mapping]] = ..., literal: _Optional[_Union[Literal, _Mapping]] = ..., placement: _Optional[_Union[Placement, _Mapping]] = ..., tensorflow: _Optional[_Union[TensorFlow, _Mapping]] = ..., **kwargs) -> None: ...

class Reference(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Selection(_message.Message):
    __slots__ = ("source", "index")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    source: Computation
    index: int
    def __init__(self, source: _Optional[_Union[Computation, _Mapping]] = ..., index: _Optional[int] = ...) -> None: ...

class Struct(_message.Message):
    __slots__ = ("element",)
    class Element(_message.Message):
        __slots__ = ("name", "value")
        NAME_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        name: str
        value: Computation
        def __init__(self, name: _Optional[str] = ..., value: _Optional[_Union[Computation, _Mapping]] = ...) -> None: ...
    ELEMENT_FIELD_NUMBER: _ClassVar[int]
    element: _containers.RepeatedCompositeFieldContainer[Struct.Element]
    def __init__(self, element: _Optional[_Iterable[_Union[Struct.Element, _Mapping]]] = ...) -> None: ...

class Call(_message.Message):
    __slots__ = ("function", "argument")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ARGUMENT_FIELD_NUMBER: _ClassVar[int]
    function: Computation
    argument: Computation
    def __init__(self, function: _Optional[_Union[Computation, _Mapping]] = ..., argument: _Optional[_Union[Computation, _Mapping]] = ...) -> None: ...

class Lambda(_message.Message):
    __slots__ = ("parameter_name", "result")
    PARAMETER_NAME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    parameter_name: str
    result: Computation
    def __init__(self, parameter_name: _Optional[str] = ..., result: _Optional[_Union[Computation, _Mapping]] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("local", "result")
    class Local(_message.Message):
        __slots__ = ("name", "value")
        NAME_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        name: str
        value: Computation
        def __init__(self, name: _Optional[str] = ..., value: _Optional[_Union[Computation, _Mapping]] = ...) -> None: ...
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    local: _containers.RepeatedCompositeFieldContainer[Block.Local]
    result: Computation
    def __init__(self, local: _Optional[_Iterable[_Union[Block.Local, _Mapping]]] = ..., result: _Optional[_Union[Computation, _Mapping]] = ...) -> None: ...

class Intrinsic(_message.Message):
    __slots__ = ("uri",)
    URI_FIELD_NUMBER: _ClassVar[int]
    uri: str
    def __init__(self, uri: _Optional[str] = ...) -> None: ...

class Data(_message.Message):
    __slots__ = ("uri",)
    URI_FIELD_NUMBER: _ClassVar[int]
    uri: str
    def __init__(self, uri: _Optional[str] = ...) -> None: ...

class Literal(_message.Message):
    __slots__ = ("tensor",)
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    tensor: bytes
    def __init__(self, tensor: _Optional[bytes] = ...) -> None: ...

class TensorFlow(_message.Message):
    __slots__ = ("graph_def", "parameter", "result", "name")
    GRAPH_DEF_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    graph_def: bytes
    parameter: TensorFlowBinding
    result: TensorFlowBinding
    name: str
    def __init__(self, graph_def: _Optional[bytes] = ..., parameter: _Optional[_Union[TensorFlowBinding, _Mapping]] = ..., result: _Optional[_Union[TensorFlowBinding, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class TensorFlowBinding(_message.Message):
    __slots__ = ("tensor", "struct", "sequence")
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    STRUCT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    tensor: TensorBinding
    struct: StructBinding
    sequence: SequenceBinding
    def __init__(self, tensor: _Optional[_Union[TensorBinding, _Mapping]] = ..., struct: _Optional[_Union[StructBinding, _Mapping]] = ..., sequence: _Optional[_Union[SequenceBinding, _Mapping]] = ...) -> None: ...

class TensorBinding(_message.Message):
    __slots__ = ("tensor_name",)
    TENSOR_NAME_FIELD_NUMBER: _ClassVar[int]
    tensor_name: str
    def __init__(self, tensor_name: _Optional[str] = ...) -> None: ...

class StructBinding(_message.Message):
    __slots__ = ("element",)
    ELEMENT_FIELD_NUMBER: _ClassVar[int]
    element: _containers.RepeatedCompositeFieldContainer[TensorFlowBinding]
    def __init__(self, element: _Optional[_Iterable[_Union[TensorFlowBinding, _Mapping]]] = ...) -> None: ...

class SequenceBinding(_message.Message):
    __slots__ = ("variant_tensor_name",)
    VARIANT_TENSOR_NAME_FIELD_NUMBER: _ClassVar[int]
    variant_tensor_name: str
    def __init__(self, variant_tensor_name: _Optional[str] = ...) -> None: ...
