"""The reference-resolving executor: evaluates lambdas, blocks, references and selections.

It sits on top of another executor (the target) and interprets the parts of the
IR that bind names; everything else (TensorFlow blocks, intrinsics, literals,
data) it hands to the target. A Lambda becomes a closure over its scope. When a
closure must travel into the target (say, the function of a `federated_map`), the
values it captures are folded in as literals, so the target receives a closed
computation that any executor, local or remote, can run.
"""

from __future__ import annotations

from typing import Any
from typing import Dict
from typing import Optional

import numpy as np

from tffl.compiler import building_blocks as bb
from tffl.compiler import intrinsic_defs
from tffl.compiler import tree_transformations
from tffl.core import computation_impl
from tffl.executors import executor_base
from tffl.types import computation_types
from tffl.types import type_conversions


class _Closure:
    def __init__(self, block: bb.Lambda, scope: Dict[str, "ResolvedValue"]):
        self.block = block
        self.scope = scope


class ResolvedValue(executor_base.ExecutorValue):
    """A target value, a struct of resolved values, or a closure."""

    __slots__ = ("_value", "_type", "intrinsic")

    def __init__(
        self, value: Any, type_spec, intrinsic: Optional[intrinsic_defs.IntrinsicDef] = None
    ):
        self._value = value
        self._type = type_spec
        self.intrinsic = intrinsic

    @property
    def type_signature(self):
        return self._type

    @property
    def value(self) -> Any:
        return self._value

    async def compute(self) -> Any:
        if isinstance(self._value, executor_base.ExecutorValue):
            return await self._value.compute()
        if isinstance(self._value, list):
            elements = await executor_base.gather(*(v.compute() for v in self._value))
            return type_conversions.to_container(list(elements), self._type)
        raise TypeError(f"a function of type {self._type} has no value to compute")


class ReferenceResolvingExecutor(executor_base.Executor):
    """Interprets Lambda, Block, Reference, Selection, Struct and Call over a target."""

    def __init__(self, target: executor_base.Executor):
        self._target = target

    @property
    def target(self) -> executor_base.Executor:
        return self._target

    def close(self) -> None:
        self._target.close()

    async def create_value(self, value, type_spec):
        if isinstance(value, computation_impl.ConcreteComputation):
            value = value.building_block
        if isinstance(value, bb.BuildingBlock):
            return await self._evaluate(value, {})
        type_spec = computation_types.to_type(type_spec)
        return ResolvedValue(await self._target.create_value(value, type_spec), type_spec)

    async def create_struct(self, elements):
        struct_type = computation_types.StructType(
            [(name, value.type_signature) for name, value in elements]
        )
        return ResolvedValue([value for _, value in elements], struct_type)

    async def create_selection(self, source, index):
        if isinstance(source.value, list):
            return source.value[index]
        if isinstance(source.value, _Closure):
            raise TypeError("cannot select from a function")
        selected = await self._target.create_selection(source.value, index)
        return ResolvedValue(selected, selected.type_signature)

    async def create_call(self, fn, arg=None):
        if isinstance(fn.value, _Closure):
            closure = fn.value
            scope = dict(closure.scope)
            if closure.block.parameter_name is not None:
                scope[closure.block.parameter_name] = arg
            return await self._evaluate(closure.block.result, scope)
        if fn.intrinsic in _PYTHON_SEQUENCE_HANDLERS and _has_closure(arg):
            return await _PYTHON_SEQUENCE_HANDLERS[fn.intrinsic](self, arg)
        target_arg = None if arg is None else await self._embed(arg)
        result = await self._target.create_call(fn.value, target_arg)
        return ResolvedValue(result, result.type_signature)

    async def _embed(self, value: ResolvedValue) -> executor_base.ExecutorValue:
        """The target's form of a value: structs rebuilt there, closures closed."""
        if isinstance(value.value, executor_base.ExecutorValue):
            return value.value
        if isinstance(value.value, list):
            names = [n for n, _ in value.type_signature.elements]
            elements = await executor_base.gather(*(self._embed(v) for v in value.value))
            return await self._target.create_struct(list(zip(names, elements)))
        block = await self._close(value.value)
        return await self._target.create_value(block, block.type_signature)

    async def _close(self, closure: _Closure) -> bb.BuildingBlock:
        """A Lambda with no free references: captured values become literals."""
        free = tree_transformations.count_free_references(closure.block)
        bindings = []
        for name in free:
            if name not in closure.scope:
                raise NameError(f"unbound reference {name!r} in {closure.block.compact()}")
            bindings.append((name, await self._to_block(closure.scope[name])))
        if not bindings:
            return closure.block
        return bb.Block(bindings, closure.block)

    async def _to_block(self, value: ResolvedValue) -> bb.BuildingBlock:
        if isinstance(value.value, _Closure):
            return await self._close(value.value)
        type_spec = value.type_signature
        if isinstance(type_spec, computation_types.FunctionType):
            raise TypeError(f"cannot capture a function value of type {type_spec} here")
        return _literal_block(await value.compute(), type_spec)

    async def _evaluate(self, block: bb.BuildingBlock, scope: Dict[str, ResolvedValue]):
        if isinstance(block, bb.Reference):
            try:
                return scope[block.name]
            except KeyError:
                raise NameError(f"unbound reference {block.name!r}") from None
        if isinstance(block, bb.Lambda):
            return ResolvedValue(_Closure(block, scope), block.type_signature)
        if isinstance(block, bb.Block):
            inner = dict(scope)
            for name, value in block.locals:
                inner[name] = await self._evaluate(value, inner)
            return await self._evaluate(block.result, inner)
        if isinstance(block, bb.Selection):
            source = await self._evaluate(block.source, scope)
            return await self.create_selection(source, block.index)
        if isinstance(block, bb.Struct):
            elements = await executor_base.gather(
                *(self._evaluate(v, scope) for _, v in block.elements)
            )
            return ResolvedValue(list(elements), block.type_signature)
        if isinstance(block, bb.Call):
            fn = await self._evaluate(block.function, scope)
            arg = None if block.argument is None else await self._evaluate(block.argument, scope)
            return await self.create_call(fn, arg)
        intrinsic = None
        if isinstance(block, bb.Intrinsic):
            intrinsic = intrinsic_defs.by_uri(block.uri)
        target_value = await self._target.create_value(block, block.type_signature)
        return ResolvedValue(target_value, block.type_signature, intrinsic)


def _has_closure(value: Optional[ResolvedValue]) -> bool:
    if value is None:
        return False
    if isinstance(value.value, _Closure):
        return True
    return isinstance(value.value, list) and any(_has_closure(v) for v in value.value)


def _literal_block(value: Any, type_spec: computation_types.Type) -> bb.BuildingBlock:
    if isinstance(type_spec, computation_types.TensorType):
        return bb.Literal(np.asarray(value), type_spec)
    if isinstance(type_spec, computation_types.StructType):
        elements = type_conversions.elements_of(value, type_spec)
        return bb.Struct(
            [(n, _literal_block(v, t)) for (n, t), v in zip(type_spec.elements, elements)],
            container=type_spec.container,
        )
    raise TypeError(
        f"a value of type {type_spec} cannot be captured by a function that runs elsewhere"
    )


# Sequence operators whose function is a closure (a traced Python function rather
# than a tf_computation) run element by element here.


async def _sequence_map(executor: ReferenceResolvingExecutor, arg: ResolvedValue):
    fn, sequence = arg.value
    element_type = sequence.type_signature.element
    elements = await sequence.compute()
    results = []
    for element in elements:
        element_value = await executor.create_value(element, element_type)
        result = await executor.create_call(fn, element_value)
        results.append(await result.compute())
    result_type = computation_types.SequenceType(fn.type_signature.result)
    return await executor.create_value(results, result_type)


async def _sequence_reduce(executor: ReferenceResolvingExecutor, arg: ResolvedValue):
    sequence, accumulator, op = arg.value
    element_type = sequence.type_signature.element
    for element in await sequence.compute():
        element_value = await executor.create_value(element, element_type)
        pair = await executor.create_struct([(None, accumulator), (None, element_value)])
        accumulator = await executor.create_call(op, pair)
    return accumulator


_PYTHON_SEQUENCE_HANDLERS = {
    intrinsic_defs.SEQUENCE_MAP: _sequence_map,
    intrinsic_defs.SEQUENCE_REDUCE: _sequence_reduce,
}
