from tffl.proto import computation_pb2 as _computation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Value(_message.Message):
    __slots__ = ("type", "tensor", "struct", "sequence", "federated", "computation", "cache_key")
    class Struct(_message.Message):
        __slots__ = ("element",)
        class Element(_message.Message):
            __slots__ = ("name", "value")
            NAME_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            name: str
            value: Value
            def __init__(self, name: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
        ELEMENT_FIELD_NUMBER: _ClassVar[int]
        element: _containers.RepeatedCompositeFieldContainer[Value.Struct.Element]
        def __init__(self, element: _Optional[_Iterable[_Union[Value.Struct.Element, _Mapping]]] = ...) -> None: ...
    class Sequence(_message.Message):
        __slots__ = ("graph",)
        GRAPH_FIELD_NUMBER: _ClassVar[int]
        graph: bytes
        def __init__(self, graph: _Optional[bytes] = ...) -> None: ...
    class Federated(_message.Message):
        __slots__ = ("member",)
        MEMBER_FIELD_NUMBER: _ClassVar[int]
        member: _containers.RepeatedCompositeFieldContainer[Value]
        def __init__(self, member: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    STRUCT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FEDERATED_FIELD_NUMBER: _ClassVar[int]
    COMPUTATION_FIELD_NUMBER: _ClassVar[int]
    CACHE_KEY_FIELD_NUMBER: _ClassVar[int]
    type: _computation_pb2.Type
    tensor: bytes
    struct: Value.Struct
    sequence: Value.Sequence
    federated: Value.Federated
    computation: _computation_pb2.Computation
    cache_key: bytes
    def __init__(self, type: _Optional[_Union[_computation_pb2.Type, _Mapping]] = ..., tensor: _Optional[bytes] = ..., struct: _Optional[_Union[Value.Struct, _Mapping]] = ..., sequence: _Optional[_Union[Value.Sequence, _Mapping]] = ..., federated: _Optional[_Union[Value.Federated, _Mapping]] = ..., computation: _Optional[_Union[_computation_pb2.Computation, _Mapping]] = ..., cache_key: _Optional[bytes] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("id", "create_value", "create_call", "create_struct", "create_selection", "compute", "dispose", "configure", "evaluate")
    class CreateValue(_message.Message):
        __slots__ = ("value",)
        VALUE_FIELD_NUMBER: _ClassVar[int]
        value: Value
        def __init__(self, value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    class CreateCall(_message.Message):
        __slots__ = ("function", "argument")
        FUNCTION_FIELD_NUMBER: _ClassVar[int]
        ARGUMENT_FIELD_NUMBER: _ClassVar[int]
        function: int
        argument: int
        def __init__(self, function: _Optional[int] = ..., argument: _Optional[int] = ...) -> None: ...
    class CreateStruct(_message.Message):
        __slots__ = ("element",)
        class Element(_message.Message):
            __slots__ = ("name", "value")
            NAME_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            name: str
            value: int
            def __init__(self, name: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
        ELEMENT_FIELD_NUMBER: _ClassVar[int]
        element: _containers.RepeatedCompositeFieldContainer[ExecuteRequest.CreateStruct.Element]
        def __init__(self, element: _Optional[_Iterable[_Union[ExecuteRequest.CreateStruct.Element, _Mapping]]] = ...) -> None: ...
    class CreateSelection(_message.Message):
        __slots__ = ("source", "index")
        SOURCE_FIELD_NUMBER: _ClassVar[int]
        INDEX_FIELD_NUMBER: _ClassVar[int]
        source: int
        index: int
        def __init__(self, source: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...
    class Compute(_message.Message):
        __slots__ = ("value",)
        VALUE_FIELD_NUMBER: _ClassVar[int]
        value: int
        def __init__(self, value: _Optional[int] = ...) -> None: ...
    class Evaluate(_message.Message):
        __slots__ = ("function", "argument")
        FUNCTION_FIELD_NUMBER: _ClassVar[int]
        ARGUMENT_FIELD_NUMBER: _ClassVar[int]
        function: int
        argument: Value
        def __init__(self, function: _Optional[int] = ..., argument: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    class Dispose(_message.Message):
        __slots__ = ("value",)
        VALUE_FIELD_NUMBER: _ClassVar[int]
        value: _containers.RepeatedScalarFieldContainer[int]
        def __init__(self, value: _Optional[_Iterable[int]] = ...) -> None: ...
    class Configure(_message.Message):
        __slots__ = ("num_clients", "max_message_bytes")
        NUM_CLIENTS_FIELD_NUMBER: _ClassVar[int]
        MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
        num_clients: int
        max_message_bytes: int
        def __init__(self, num_clients: _Optional[int] = ..., max_message_bytes: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_VALUE_FIELD_NUMBER: _ClassVar[int]
    CREATE_CALL_FIELD_NUMBER: _ClassVar[int]
    CREATE_STRUCT_FIELD_NUMBER: _ClassVar[int]
    CREATE_SELECTION_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    DISPOSE_FIELD_NUMBER: _ClassVar[int]
    CONFIGURE_FIELD_NUMBER: _ClassVar[int]
    EVALUATE_FIELD_NUMBER: _ClassVar[int]
    id: int
    create_value: ExecuteRequest.CreateValue
    create_call: ExecuteRequest.CreateCall
    create_struct: ExecuteRequest.CreateStruct
    create_selection: ExecuteRequest.CreateSelection
    compute: ExecuteRequest.Compute
    dispose: ExecuteRequest.Dispose
    configure: ExecuteRequest.Configure
    evaluate: ExecuteRequest.Evaluate
    def __init__(self, id: _Optional[int] = ..., create_value: _Optional[_Union[ExecuteRequest.CreateValue, _Mapping]] = ..., create_call: _Optional[_Union[ExecuteRequest.CreateCall, _Mapping]] = ..., create_struct: _Optional[_Union[ExecuteRequest.CreateStruct, _Mapping]] = ..., create_selection: _Optional[_Union[ExecuteRequest.CreateSelection, _Mapping]] = ..., compute: _Optional[_Union[ExecuteRequest.Compute, _Mapping]] = ..., dispose: _Optional[_Union[ExecuteRequest.Dispose, _Mapping]] = ..., configure: _Optional[_Union[ExecuteRequest.Configure, _Mapping]] = ..., evaluate: _Optional[_Union[ExecuteRequest.Evaluate, _Mapping]] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ("id", "value_ref", "computed", "error", "ack", "configured")
    class ValueRef(_message.Message):
        __slots__ = ("ref", "type")
        REF_FIELD_NUMBER: _ClassVar[int]
        TYPE_FIELD_NUMBER: _ClassVar[int]
        ref: int
        type: _computation_pb2.Type
        def __init__(self, ref: _Optional[int] = ..., type: _Optional[_Union[_computation_pb2.Type, _Mapping]] = ...) -> None: ...
    class Error(_message.Message):
        __slots__ = ("code", "message")
        CODE_FIELD_NUMBER: _ClassVar[int]
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        code: int
        message: str
        def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...
    class Ack(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class Configured(_message.Message):
        __slots__ = ("max_message_bytes", "tensor_cache_bytes")
        MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
        TENSOR_CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
        max_message_bytes: int
        tensor_cache_bytes: int
        def __init__(self, max_message_bytes: _Optional[int] = ..., tensor_cache_bytes: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_REF_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    id: int
    value_ref: ExecuteResponse.ValueRef
    computed: Value
    error: ExecuteResponse.Error
    ack: ExecuteResponse.Ack
    configured: ExecuteResponse.Configured
    def __init__(self, id: _Optional[int] = ..., value_ref: _Optional[_Union[ExecuteResponse.ValueRef, _Mapping]] = ..., computed: _Optional[_Union[Value, _Mapping]] = ..., error: _Optional[_Union[ExecuteResponse.Error, _Mapping]] = ..., ack: _Optional[_Union[ExecuteResponse.Ack, _Mapping]] = ..., configured: _Optional[_Union[ExecuteResponse.Configured, _Mapping]] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("version", "sessions", "max_message_bytes", "tensor_cache_bytes")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    TENSOR_CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    version: str
    sessions: int
    max_message_bytes: int
    tensor_cache_bytes: int
    def __init__(self, version: _Optional[str] = ..., sessions: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., tensor_cache_bytes: _Optional[int] = ...) -> None: ...
