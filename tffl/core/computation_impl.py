"""Computations users hold: concrete (typed, serializable) and polymorphic ones."""

from __future__ import annotations

import functools
from typing import Any
from typing import Callable
from typing import Dict
from typing import Optional

from tffl.compiler import building_blocks as bb
from tffl.core import context_stack
from tffl.core import parameter_binding
from tffl.proto import computation_pb2
from tffl.types import computation_types


class ConcreteComputation:
    """A typed computation: an IR tree whose type is a function type.

    Calling it runs it in the current context (the local executor by default),
    or, inside a federated computation being traced, records the call.
    """

    def __init__(self, building_block: bb.BuildingBlock, name: Optional[str] = None):
        if not isinstance(building_block.type_signature, computation_types.FunctionType):
            raise TypeError(
                f"a computation needs a function type, got {building_block.type_signature}"
            )
        self._building_block = building_block
        self._name = name or getattr(building_block, "name", None) or "computation"

    @property
    def type_signature(self) -> computation_types.FunctionType:
        return self._building_block.type_signature

    @property
    def building_block(self) -> bb.BuildingBlock:
        return self._building_block

    @property
    def name(self) -> str:
        return self._name

    def to_proto(self) -> computation_pb2.Computation:
        return self._building_block.to_proto()

    def __call__(self, *args, **kwargs) -> Any:
        argument = parameter_binding.pack_arguments(self.type_signature.parameter, args, kwargs)
        return context_stack.current().invoke(self, argument)

    def __repr__(self) -> str:
        return f"<tffl computation {self._name}: {self.type_signature}>"

    def __str__(self) -> str:
        return self._building_block.compact()


class PolymorphicComputation:
    """A computation whose parameter type comes from its first call.

    Each distinct argument type traces once; later calls reuse the trace.
    """

    def __init__(
        self,
        fn: Callable,
        concretize: Callable[[Optional[computation_types.Type]], ConcreteComputation],
        name: str,
    ):
        self._fn = fn
        self._concretize = concretize
        self._name = name
        self._cache: Dict[Optional[computation_types.Type], ConcreteComputation] = {}

    @property
    def name(self) -> str:
        return self._name

    def concrete(self, parameter_type: Optional[computation_types.Type]) -> ConcreteComputation:
        """The computation traced for `parameter_type` (traced on first use)."""
        parameter_type = computation_types.to_type(parameter_type)
        found = self._cache.get(parameter_type)
        if found is None:
            found = self._concretize(parameter_type)
            self._cache[parameter_type] = found
        return found

    @property
    def traced_types(self):
        return tuple(self._cache)

    def __call__(self, *args, **kwargs) -> Any:
        parameter_type = parameter_binding.infer_argument_type(self._fn, args, kwargs)
        return self.concrete(parameter_type)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<tffl polymorphic computation {self._name}>"


Tracer = Callable[[Callable, Optional[computation_types.Type], str], bb.BuildingBlock]


def _computation_for(fn: Callable, types: tuple, trace: Tracer):
    name = getattr(fn, "__name__", "computation")
    if name == "<lambda>":
        name = "lambda"

    def concretize(parameter_type):
        return ConcreteComputation(trace(fn, parameter_type, name), name)

    names, varargs = parameter_binding.positional_parameter_names(fn)
    if types or (not names and not varargs):
        computation = concretize(parameter_binding.parameter_type_for(fn, types))
        functools.update_wrapper(computation, fn, updated=())
        return computation
    return PolymorphicComputation(fn, concretize, name)


def decorator(args: tuple, trace: Tracer):
    """The three decorator forms shared by tf_computation and federated_computation.

    `@deco(type, ...)`, bare `@deco` (polymorphic unless the function takes no
    parameters) and the call `deco(fn, type, ...)`.
    """
    if args and callable(args[0]) and not isinstance(args[0], type):
        return _computation_for(args[0], args[1:], trace)
    return lambda fn: _computation_for(fn, args, trace)
