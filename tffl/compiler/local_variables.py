"""Variables held as plain tensors while a client's code is traced again for lowering.

A client's `tf_computation` builds its own model, metrics and optimizer state as
variables, uses them, and drops them when it returns. Traced into a lowered round as
resource variables, they make every client's work stateful, and `tf.function` then runs
the clients strictly one after another and orders each client's reads and writes. Here a
variable is a `LocalVariable` instead: reading it gives its current value, assigning it
binds a new value, and no state is left in the graph. The work of different clients is
then independent and TensorFlow runs it side by side.

The values are carried through a `TensorSequence` loop (the client's training loop) as
loop variables (`Scope.carry`). A variable assigned anywhere else that a value cannot be
carried out of (a `tf.cond` branch, a loop that is not a `TensorSequence`'s, a nested
function) raises `NotCarried` while tracing, and the lowering traces the client again
with resource variables: nothing silently loses an assignment.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any
from typing import Callable
from typing import Iterator
from typing import List
from typing import Optional

import tensorflow as tf
from tensorflow.python.eager import record
from tensorflow.python.eager import tape as tape_lib
from tensorflow.python.framework import ops
from tensorflow.python.ops import variables as variables_lib

_STACK = threading.local()


class NotCarried(RuntimeError):
    """A `LocalVariable` was used where its value cannot be carried.

    The lowering catches it and traces the client again with resource variables.
    """

    # AutoGraph re-raises an error from converted code as the same class only when it
    # can rebuild it from a message.
    __init__ = Exception.__init__


def current() -> Optional["Scope"]:
    """The innermost active `Scope` of this thread, if any."""
    stack = getattr(_STACK, "scopes", None)
    return stack[-1] if stack else None


class Scope:
    """The variables one traced client call creates, and where each may be assigned.

    Use as a context manager around the trace, with `creator` as the variable creator.
    """

    def __init__(self, graph: tf.Graph):
        self.graph = graph
        self.variables: List[LocalVariable] = []

    def __enter__(self) -> "Scope":
        stack = getattr(_STACK, "scopes", None)
        if stack is None:
            stack = _STACK.scopes = []
        stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _STACK.scopes.pop()

    def creator(self, next_creator: Callable, **kwargs) -> "LocalVariable":
        """A `tf.variable_creator_scope` creator that makes `LocalVariable`s."""
        del next_creator
        initial_value = kwargs.get("initial_value")
        dtype = kwargs.get("dtype")
        # Keras builds weights under `init_scope`; the value belongs to the trace.
        with self.graph.as_default():
            if callable(initial_value):
                initial_value = initial_value()
            initial_value = tf.convert_to_tensor(initial_value, dtype=dtype)
            variable = LocalVariable(
                initial_value,
                name=kwargs.get("name") or "Variable",
                trainable=kwargs.get("trainable"),
                shape=kwargs.get("shape"),
                constraint=kwargs.get("constraint"),
                synchronization=kwargs.get("synchronization"),
                aggregation=kwargs.get("aggregation"),
            )
        self.variables.append(variable)
        return variable


def carry() -> "Carry":
    """The variables of the active scope that exist now, to carry through a loop."""
    scope = current()
    return Carry([] if scope is None else list(scope.variables))


class Carry:
    """Loop variables for a set of `LocalVariable`s: their values in, out, and the body."""

    def __init__(self, variables: List["LocalVariable"]):
        self.variables = variables

    def values(self) -> List[tf.Tensor]:
        return [v._value for v in self.variables]  # noqa: SLF001

    def wrap(self, get_state: Callable, set_state: Callable, symbol_names: Any):
        """AutoGraph's loop-state callbacks and names, extended by the variables' values."""
        if not self.variables:
            return get_state, set_state, symbol_names
        count = len(symbol_names)

        def get_all():
            return (*get_state(), *self.values())

        def set_all(state):
            set_state(tuple(state[:count]))
            self.bind(state[count:])

        names = (*symbol_names, *(f"<variable {v.name}>" for v in self.variables))
        return get_all, set_all, names

    def bind(self, values: List[tf.Tensor]) -> None:
        """Binds the variables to `values` (a loop's placeholders or its outputs)."""
        for variable, value in zip(self.variables, values):
            variable._value = value  # noqa: SLF001

    @contextlib.contextmanager
    def body(self) -> Iterator[None]:
        """While tracing a loop body: the carried variables may be assigned in it."""
        graph = ops.get_default_graph()
        saved = [v._frame for v in self.variables]  # noqa: SLF001
        for variable in self.variables:
            variable._frame = graph  # noqa: SLF001
        try:
            yield
        finally:
            for variable, frame in zip(self.variables, saved):
                variable._frame = frame  # noqa: SLF001


class LocalVariable(variables_lib.Variable):
    """A variable whose value is a tensor of the graph being traced (see the module doc).

    It reads and assigns like a resource variable, and `tf.GradientTape` differentiates
    with respect to it: its current value stands where a resource variable's handle
    would, so the tape watches the value and `gradient` returns d(target)/d(value).
    """

    # `tf.GradientTape` differentiates a resource variable through its `handle`.
    _should_act_as_resource_variable = True

    def __init__(
        self,
        initial_value: tf.Tensor,
        name: str,
        trainable: Optional[bool] = None,
        shape: Any = None,
        constraint: Optional[Callable] = None,
        synchronization: Any = None,
        aggregation: Any = None,
    ):
        self._name = name
        self._dtype = initial_value.dtype
        self._shape = initial_value.shape if shape is None else tf.TensorShape(shape)
        self._trainable = True if trainable is None else bool(trainable)
        self._constraint = constraint
        self._synchronization = synchronization or tf.VariableSynchronization.AUTO
        self._aggregation = aggregation or tf.VariableAggregation.NONE
        self._frame = ops.get_default_graph()
        self._unique_id = f"local_{ops.uid()}"
        self._initial_value = initial_value
        self._value = tf.identity(initial_value)

    # What TensorFlow and Keras read of a variable.
    @property
    def name(self) -> str:
        return self._name

    @property
    def _shared_name(self) -> str:
        return self._name

    @property
    def dtype(self) -> tf.DType:
        return self._dtype

    @property
    def shape(self) -> tf.TensorShape:
        return self._shape

    def get_shape(self) -> tf.TensorShape:
        return self._shape

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def constraint(self):
        return self._constraint

    @property
    def synchronization(self):
        return self._synchronization

    @property
    def aggregation(self):
        return self._aggregation

    @property
    def initial_value(self) -> tf.Tensor:
        return self._initial_value

    @property
    def device(self) -> str:
        return ""

    @property
    def graph(self) -> tf.Graph:
        return self._frame

    @property
    def op(self):
        return self._value.op

    @property
    def handle(self) -> tf.Tensor:
        """The current value: what the tape watches and differentiates with respect to."""
        return self._value

    @property
    def initializer(self):
        return self._value.op

    def __repr__(self) -> str:
        return f"<LocalVariable '{self._name}' shape={self._shape} dtype={self._dtype.name}>"

    # Reading.
    def value(self) -> tf.Tensor:
        return self._read()

    def read_value(self) -> tf.Tensor:
        return self._read()

    def _read(self) -> tf.Tensor:
        if self._trainable and record.could_possibly_record():
            tape_lib.variable_accessed(self)
        return self._value

    def _dense_var_to_tensor(self, dtype=None, name=None, as_ref=False) -> tf.Tensor:
        del name, as_ref
        if dtype is not None and not dtype.is_compatible_with(self._dtype):
            raise ValueError(
                f"Incompatible type conversion requested to type '{dtype.name}' for "
                f"variable of type '{self._dtype.name}' (Variable: {self})."
            )
        return self._read()

    def _as_graph_element(self) -> tf.Tensor:
        return self._value

    def numpy(self):
        raise NotCarried(f"{self!r}: a traced value has no numpy value")

    # Assigning.
    def assign(self, value, use_locking=None, name=None, read_value=True):
        del use_locking, name
        return self._bind(tf.convert_to_tensor(value, dtype=self._dtype), read_value)

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        del use_locking, name
        return self._bind(self._value + tf.convert_to_tensor(delta, self._dtype), read_value)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        del use_locking, name
        return self._bind(self._value - tf.convert_to_tensor(delta, self._dtype), read_value)

    def _bind(self, value: tf.Tensor, read_value: bool):
        graph = ops.get_default_graph()
        if graph is not self._frame:
            raise NotCarried(
                f"{self!r} is assigned inside a {type(graph).__name__} whose results "
                "cannot carry it; the client is traced again with resource variables"
            )
        if not self._shape.is_compatible_with(value.shape):
            raise ValueError(
                f"Cannot assign value to variable '{self._name}': expected shape "
                f"{self._shape}, got {value.shape}"
            )
        if self._shape.is_fully_defined() and not value.shape.is_fully_defined():
            value = tf.ensure_shape(value, self._shape)
        # A fresh tensor per assignment: the tape tells variables apart by their value.
        self._value = tf.identity(value)
        return self._value if read_value else self._value.op

    def _unsupported(self, *args, **kwargs):
        raise NotCarried(f"{self!r}: sparse and scatter updates are not carried")

    scatter_sub = scatter_add = scatter_max = scatter_min = _unsupported
    scatter_mul = scatter_div = scatter_update = batch_scatter_update = _unsupported
    scatter_nd_sub = scatter_nd_add = scatter_nd_update = count_up_to = _unsupported

    def sparse_read(self, indices, name=None):
        return tf.gather(self._read(), indices, name=name)

    def gather_nd(self, indices, name=None):
        return tf.gather_nd(self._read(), indices, name=name)


LocalVariable._OverloadAllOperators()  # noqa: SLF001
tf.register_tensor_conversion_function(
    LocalVariable,
    lambda v, dtype=None, name=None, as_ref=False: v._dense_var_to_tensor(dtype),  # noqa: SLF001
)
