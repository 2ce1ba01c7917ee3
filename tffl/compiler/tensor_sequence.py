"""Client datasets held as padded tensors, and a `tf.data` stand-in that loops over them in-graph.

A lowered federated round runs every client inside one `tf.function`. Creating a
`tf.data` iterator inside that graph costs more per client than a small model's whole
local training, so deterministic client datasets are read once into padded numpy arrays
(`padded_sequences.materialize`), passed in as stacked tensors (`input_specs`), and each
client's code is traced with a `TensorSequence` (`client_sequence`) where it expected a
dataset. A `TensorSequence` provides the part of `tf.data.Dataset` that client code uses
(`map`, `repeat`, `take`, `skip`, `reduce`, iteration); its `for` loops become one graph
while-loop over slices of the tensors. Everything else raises
`UnsupportedSequenceOperation` while tracing, and the caller then runs on real datasets.
"""

from __future__ import annotations

from typing import Any
from typing import Callable
from typing import List
from typing import Optional
from typing import Tuple

import tensorflow as tf
from tensorflow.python.autograph.core import ag_ctx
from tensorflow.python.autograph.impl import api as autograph
from tensorflow.python.autograph.operators import control_flow

from tffl.compiler import local_variables
from tffl.compiler import padded_sequences
from tffl.types import computation_types
from tffl.types import type_conversions

# Reading datasets into arrays lives in `padded_sequences`; the lowering reaches the
# whole feature through this module.
PaddedSequences = padded_sequences.PaddedSequences
materialize = padded_sequences.materialize
is_deterministic = padded_sequences.is_deterministic


class UnsupportedSequenceOperation(TypeError):
    """Code used a `tf.data` feature that `TensorSequence` does not provide.

    The lowering catches it while tracing and runs the computation on real datasets.
    """

    # AutoGraph re-raises an error from converted code as the same class only when it
    # can rebuild it from a message; otherwise the lowering would see a StagingError.
    __init__ = Exception.__init__


def _unsupported(name: str) -> UnsupportedSequenceOperation:
    return UnsupportedSequenceOperation(
        f"TensorSequence does not support Dataset.{name}; "
        "the computation runs on real datasets instead"
    )


def _pack(leaves, type_spec: computation_types.Type) -> Any:
    """Packs an iterator of leaves into the containers of `type_spec`, as `tf.data` yields them."""
    if isinstance(type_spec, computation_types.StructType):
        return type_conversions.to_container([_pack(leaves, t) for t in type_spec], type_spec)
    return next(leaves)


def element_spec(type_spec: computation_types.Type) -> Any:
    """The TensorSpec structure of an element type, in its containers."""
    # The compiler sits below tffl.core, so this repeats the small tensor/struct part
    # of `tensorflow_computation.type_to_spec`.
    leaves = iter([tf.TensorSpec(t.shape, t.dtype) for t in padded_sequences.leaf_types(type_spec)])
    return _pack(leaves, type_spec)


def _staged_as_is(fn: Callable) -> Callable:
    """Marks `fn` to run unconverted when AutoGraph-converted code calls it.

    Unlike `tf.autograph.experimental.do_not_convert`, this leaves AutoGraph's status as
    the caller set it, so `map` and `reduce` convert user functions exactly when
    `tf.data` would.
    """
    return autograph.autograph_artifact(fn)


def _shapes_of(value: Any) -> Any:
    """The structure of `value` with tensors replaced by their shapes, other leaves by None."""
    return tf.nest.map_structure(lambda v: v.shape if isinstance(v, tf.Tensor) else None, value)


def _relax(shapes: Any, value: Any) -> Tuple[Any, bool]:
    """Shapes admitting both `shapes` and those of `value`, and whether any shape widened."""
    changed = False

    def relax(shape, v):
        nonlocal changed
        if shape is None or not isinstance(v, tf.Tensor):
            return shape
        relaxed = shape.most_specific_compatible_shape(v.shape)
        changed = changed or relaxed != shape
        return relaxed

    return tf.nest.map_structure(relax, shapes, value), changed


def _as_count(count: Any) -> tf.Tensor:
    return tf.cast(tf.convert_to_tensor(-1 if count is None else count), tf.int64)


def _static(value: tf.Tensor) -> Optional[int]:
    constant = tf.get_static_value(value)
    return None if constant is None else int(constant)


def _apply_structured(fn: Callable, element: Any) -> Any:
    """Calls a `tf.data` user function: a tuple element becomes positional arguments."""
    result = fn(*element) if type(element) is tuple else fn(element)
    if type(result) is list:
        # tf.data reads a returned list as a tuple rather than stacking it.
        result = tuple(result)
    return tf.nest.map_structure(tf.convert_to_tensor, result)


class TensorSequence:
    """The elements of one client's dataset, as slices of padded in-memory tensors.

    Element `i` is row `i` of every leaf tensor in `elements`, cut to its true shape
    and packed into the containers of `element_type`. `repeat`, `take` and `skip` return
    views of the same tensors that only change which rows are read; `map` functions run
    when an element is read. AutoGraph does not convert the methods (they stage their
    own loops); the functions given to `map` and `reduce` are converted as `tf.data`
    converts them.

    Args:
      element_type: the tffl type of one element, tensors or structs of tensors; its
        leaves, depth-first, match `elements` and `sizes`.
      elements: per leaf, a tensor `[M, *padded leaf shape]`.
      sizes: per leaf, None when the leaf type's shape is fully known, else an int32
        tensor `[M, r]` holding each element's sizes of the r dimensions the type leaves
        unknown.
      count: an integer scalar, how many of the M rows are elements.

    >>> seq = TensorSequence(computation_types.TensorType(np.int32), [tf.constant([4, 5, 6])],
    ...                      [None], tf.constant(2))
    >>> int(seq.reduce(0, lambda total, x: total + x))
    9
    """

    def __init__(
        self,
        element_type: computation_types.Type,
        elements: List[tf.Tensor],
        sizes: List[Optional[tf.Tensor]],
        count: tf.Tensor,
    ):
        leaf_types = padded_sequences.leaf_types(element_type)
        if len(elements) != len(leaf_types) or len(sizes) != len(leaf_types):
            raise ValueError(
                f"TensorSequence: expected {len(leaf_types)} element and size tensors for "
                f"{element_type}, got {len(elements)} and {len(sizes)}"
            )
        for index, (leaf_type, size) in enumerate(zip(leaf_types, sizes)):
            if leaf_type.shape is None:
                raise UnsupportedSequenceOperation(
                    f"TensorSequence leaf {index}: expected a known rank, got {leaf_type}"
                )
            if (size is None) != leaf_type.is_fully_defined():
                raise ValueError(
                    f"TensorSequence leaf {index} of type {leaf_type}: expected sizes "
                    f"{'None' if leaf_type.is_fully_defined() else 'tensor'}, got {size!r}"
                )
        self._element_type = element_type
        self._leaf_types = leaf_types
        self._elements = [tf.convert_to_tensor(e) for e in elements]
        self._sizes = [None if s is None else tf.convert_to_tensor(s) for s in sizes]
        self._length = tf.cast(count, tf.int64)
        self._infinite = False
        self._dynamic = False
        self._index = lambda i: i
        self._maps: Tuple[Callable, ...] = ()
        self._mapped_spec = None

    def _view(self, length: tf.Tensor, infinite: bool, dynamic: bool, index=None, map_fn=None):
        view = object.__new__(TensorSequence)
        view.__dict__.update(self.__dict__)
        view._length = length
        view._infinite = infinite
        view._dynamic = self._dynamic or dynamic
        if index is not None:
            view._index = lambda i, parent=self._index: parent(index(i))
        if map_fn is not None:
            view._maps = self._maps + (map_fn,)
            view._mapped_spec = None
        return view

    @property
    def element_spec(self) -> Any:
        """The `tf.TensorSpec` structure of an element, as `tf.data` reports it."""
        if not self._maps:
            return element_spec(self._element_type)
        if self._mapped_spec is None:
            # The mapped structure is only known by tracing the map functions once.
            leaves = padded_sequences.leaf_types(self._element_type)

            def probe(*flat):
                return self._apply_maps(_pack(iter(flat), self._element_type))

            specs = [tf.TensorSpec(t.shape, t.dtype) for t in leaves]
            outputs = tf.function(probe, autograph=False).get_concrete_function(*specs)
            self._mapped_spec = tf.nest.map_structure(
                lambda t: tf.TensorSpec(t.shape, t.dtype), outputs.structured_outputs
            )
        return self._mapped_spec

    @_staged_as_is
    def with_options(self, options: tf.data.Options, name: Optional[str] = None) -> TensorSequence:
        """Returns self: options tune `tf.data` pipelines, and there is none here."""
        del options, name
        return self

    @_staged_as_is
    def prefetch(self, buffer_size: Any = None, name: Optional[str] = None) -> TensorSequence:
        """Returns self: the elements are already in memory."""
        del buffer_size, name
        return self

    @_staged_as_is
    def cache(self, filename: str = "", name: Optional[str] = None) -> TensorSequence:
        """Returns self: the elements are already in memory."""
        del filename, name
        return self

    @_staged_as_is
    def cardinality(self) -> tf.Tensor:
        """The number of elements as an int64 scalar; -1 (`tf.data.INFINITE_CARDINALITY`)."""
        return self._length

    @_staged_as_is
    def repeat(self, count: Any = None, name: Optional[str] = None) -> TensorSequence:
        """Repeats the elements `count` times, forever when `count` is None or -1."""
        del name
        count = _as_count(count)
        static = _static(count)
        parent = self._length
        length = tf.where(
            parent == 0,
            tf.constant(0, tf.int64),
            tf.where((count < 0) | (parent < 0), tf.constant(-1, tf.int64), parent * count),
        )
        period = tf.maximum(parent, 1)

        def index(i):
            # An infinite parent is read straight through; a finite one wraps around.
            return tf.where(parent > 0, i % period, i)

        infinite = self._infinite or (static is not None and static < 0)
        return self._view(length, infinite, static is None, index)

    @_staged_as_is
    def take(self, count: Any, name: Optional[str] = None) -> TensorSequence:
        """The first `count` elements (all of them when `count` is -1)."""
        del name
        count = _as_count(count)
        static = _static(count)
        parent = self._length
        length = tf.where(count < 0, parent, tf.where(parent < 0, count, tf.minimum(parent, count)))
        infinite = self._infinite and static is not None and static < 0
        return self._view(length, infinite, static is None)

    @_staged_as_is
    def skip(self, count: Any, name: Optional[str] = None) -> TensorSequence:
        """All but the first `count` elements (none of them when `count` is -1)."""
        del name
        count = _as_count(count)
        parent = self._length
        length = tf.where(
            parent < 0,
            tf.constant(-1, tf.int64),
            tf.where(count < 0, tf.constant(0, tf.int64), tf.maximum(parent - count, 0)),
        )
        offset = tf.maximum(count, 0)
        return self._view(length, self._infinite, _static(count) is None, lambda i: i + offset)

    @_staged_as_is
    def map(
        self,
        map_func: Callable,
        num_parallel_calls: Any = None,
        deterministic: Optional[bool] = None,
        name: Optional[str] = None,
    ) -> TensorSequence:
        """Applies `map_func` to each element when the element is read.

        As in `tf.data`, AutoGraph converts `map_func` unless the caller turned it off,
        and a tuple element is passed as positional arguments.
        """
        del num_parallel_calls, deterministic, name
        converted = autograph.tf_convert(map_func, ag_ctx.control_status_ctx())
        return self._view(self._length, self._infinite, False, map_fn=converted)

    @_staged_as_is
    def reduce(self, initial_state: Any, reduce_func: Callable, name: Optional[str] = None) -> Any:
        """Folds `reduce_func(state, element)` over the elements in one graph while-loop."""
        del name
        converted = autograph.tf_convert(reduce_func, ag_ctx.control_status_ctx())
        length = self._finite_length("reduce")
        carry = local_variables.carry()
        state = (
            tf.nest.map_structure(tf.convert_to_tensor, initial_state),
            carry.values(),
        )

        exit_state = None

        def body(i, state):
            nonlocal exit_state
            user_state, values = state
            carry.bind(values)
            with carry.body():
                new_state = converted(user_state, self._element(i))
            exit_state = (tf.nest.map_structure(tf.convert_to_tensor, new_state), carry.values())
            return i + 1, exit_state

        shapes = _shapes_of(state)
        while True:
            try:
                final = tf.while_loop(
                    lambda i, _: i < length,
                    body,
                    (tf.constant(0, tf.int64), state),
                    shape_invariants=(tf.TensorShape([]), shapes),
                )[1]
                carry.bind(final[1])
                return final[0]
            except ValueError as error:
                # As tf.data does, a state whose shape changes gets the most specific
                # shape that admits both, and the loop is traced again.
                if exit_state is None or "shape_invariants" not in str(error):
                    raise
                shapes, changed = _relax(shapes, exit_state)
                if not changed:
                    raise
                exit_state = None

    def __iter__(self) -> TensorSequenceIterator:
        return TensorSequenceIterator(self)

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and hasattr(tf.data.Dataset, name):
            raise _unsupported(name)
        raise AttributeError(f"'TensorSequence' object has no attribute '{name}'")

    def _finite_length(self, use: str) -> tf.Tensor:
        if self._infinite:
            raise UnsupportedSequenceOperation(
                f"TensorSequence: {use} over an infinite sequence (repeat() with no take()); "
                "the computation runs on real datasets instead"
            )
        if not self._dynamic:
            return self._length
        # A count given as a tensor may still make the sequence infinite at run time.
        check = tf.debugging.assert_non_negative(
            self._length, message="TensorSequence: cannot iterate an infinite sequence"
        )
        with tf.control_dependencies([check]):
            return tf.identity(self._length)

    def _element(self, i: tf.Tensor) -> Any:
        row = self._index(i)
        leaves = []
        for leaf_type, tensor, sizes in zip(self._leaf_types, self._elements, self._sizes):
            leaf = _row(tensor, row)
            if sizes is not None:
                leaf = _unpadded(leaf, leaf_type.shape, _row(sizes, row))
            leaves.append(leaf)
        return self._apply_maps(_pack(iter(leaves), self._element_type))

    def _apply_maps(self, element: Any) -> Any:
        for map_fn in self._maps:
            element = _apply_structured(map_fn, element)
        return element

    def _for_stmt(self, extra_test, body, get_state, set_state, symbol_names, opts) -> None:
        length = self._finite_length("a for loop")
        if tf.executing_eagerly():
            control_flow._py_for_stmt(
                range(int(length)),
                extra_test,
                lambda i: body(self._element(tf.constant(i, tf.int64))),
                get_state,
                set_state,
                symbol_names,
                opts,
            )
            return
        # The loop target is an element, not the range index that autograph would
        # otherwise substitute for it when it is undefined before the loop.
        opts = dict(opts, iterate_names="<internal element>")
        carry = local_variables.carry()
        get_state, set_state, symbol_names = carry.wrap(get_state, set_state, symbol_names)
        given = list(opts.get("shape_invariants", ()))
        given_ids = {id(var) for var, _ in given}
        init_state = get_state()
        shapes = [_shapes_of(var) for var in init_state]
        exit_state = None

        def loop_body(i):
            nonlocal exit_state
            with carry.body():
                body(self._element(i))
            exit_state = get_state()

        while True:
            relaxed = [
                (var, shape)
                for var, shape in zip(init_state, shapes)
                if id(var) not in given_ids and shape != _shapes_of(var)
            ]
            try:
                control_flow._tf_range_for_stmt(
                    tf.range(tf.constant(0, tf.int64), length),
                    extra_test,
                    loop_body,
                    get_state,
                    set_state,
                    symbol_names,
                    dict(opts, shape_invariants=given + relaxed),
                )
                return
            except ValueError as error:
                # A `tf.data` loop lets a loop variable change shape; autograph's range
                # loop asks for shape invariants. These are the ones tf.data would infer.
                if exit_state is None or "set shape invariants" not in str(error):
                    raise
                relaxed_shapes = [_relax(shape, var) for shape, var in zip(shapes, exit_state)]
                if not any(changed for _, changed in relaxed_shapes):
                    raise
                shapes = [shape for shape, _ in relaxed_shapes]
                set_state(init_state)
                exit_state = None


class TensorSequenceIterator:
    """What `iter()` gives for a `TensorSequence`: usable only as the target of a `for` loop.

    `tf.data` client code often writes `for batch in iter(dataset)`; inside AutoGraph
    that loop becomes the same graph while-loop as `for batch in dataset`.
    """

    def __init__(self, sequence: TensorSequence):
        self._sequence = sequence
        self._used = False

    @property
    def element_spec(self) -> Any:
        return self._sequence.element_spec

    def __iter__(self) -> TensorSequenceIterator:
        return self

    def __next__(self) -> Any:
        raise UnsupportedSequenceOperation(
            "TensorSequence elements are only read by for loops inside tf.function or "
            "AutoGraph, got a Python iteration; the computation runs on real datasets instead"
        )

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and hasattr(tf.data.Iterator, name):
            raise UnsupportedSequenceOperation(
                f"TensorSequence does not support Iterator.{name}; "
                "the computation runs on real datasets instead"
            )
        raise AttributeError(f"'TensorSequenceIterator' object has no attribute '{name}'")

    def _for_stmt(self, extra_test, body, get_state, set_state, symbol_names, opts) -> None:
        if self._used:
            # A tf.data iterator is spent by its first loop; this one cannot tell where
            # that loop stopped.
            raise UnsupportedSequenceOperation(
                "TensorSequence: an iterator was looped over twice; "
                "the computation runs on real datasets instead"
            )
        self._used = True
        self._sequence._for_stmt(extra_test, body, get_state, set_state, symbol_names, opts)


def _for_stmt(iter_, extra_test, body, get_state, set_state, symbol_names, opts) -> None:
    iter_._for_stmt(extra_test, body, get_state, set_state, symbol_names, opts)


# AutoGraph looks up how to stage `for x in <value>` by the value's class.
control_flow.for_loop_registry.register(TensorSequence, _for_stmt)
control_flow.for_loop_registry.register(TensorSequenceIterator, _for_stmt)


def input_specs(
    sequence_type: computation_types.SequenceType,
) -> Tuple[List[tf.TensorSpec], List[Optional[tf.TensorSpec]], tf.TensorSpec]:
    """The `tf.function` input signature of `materialize`'s arrays for `sequence_type`.

    Element tensors are `[clients, elements, *leaf shape]`; the first two dimensions
    are left unknown so one trace serves every cohort.

    >>> sequence_type = computation_types.SequenceType((np.float32, [None, 2]))
    >>> elements, sizes, counts = input_specs(sequence_type)
    >>> elements[0].shape.as_list(), sizes[0].shape.as_list(), counts.shape.as_list()
    ([None, None, None, 2], [None, None, 1], [None])

    Raises:
      UnsupportedSequenceOperation: if a leaf of the element type has an unknown rank.
    """
    elements, sizes = [], []
    for leaf_type in padded_sequences.leaf_types(sequence_type.element):
        if leaf_type.shape is None:
            raise UnsupportedSequenceOperation(
                f"TensorSequence leaf: expected a known rank, got {leaf_type}"
            )
        elements.append(tf.TensorSpec([None, None, *leaf_type.shape], leaf_type.dtype))
        unknown = leaf_type.shape.count(None)
        sizes.append(tf.TensorSpec([None, None, unknown], tf.int32) if unknown else None)
    return elements, sizes, tf.TensorSpec([None], tf.int32)


def _unpadded(leaf: tf.Tensor, shape: Tuple[Optional[int], ...], sizes: tf.Tensor) -> tf.Tensor:
    """A padded element cut to its true `sizes` (one per unknown dimension of `shape`).

    When the unknown dimensions lead (a batch's examples, say), one strided slice
    ending at `sizes` cuts them; otherwise the sizes and the known dimensions are
    stacked into the size of a slice.
    """
    unknown = shape.count(None)
    if all(d is None for d in shape[:unknown]):
        leaf = tf.strided_slice(leaf, [0] * unknown, sizes, [1] * unknown)
    else:
        true_sizes = tf.unstack(sizes, num=unknown)
        true_sizes.reverse()
        size = tf.stack([true_sizes.pop() if d is None else tf.constant(d) for d in shape])
        leaf = tf.slice(leaf, tf.zeros_like(size), size)
    leaf.set_shape(shape)
    return leaf


def _row(tensor: Any, index: tf.Tensor) -> tf.Tensor:
    """`tensor[index]` along its first axis: a strided slice, not a gather. TensorFlow
    takes a first-axis slice whose bytes start 64-byte aligned (a batch of 20 EMNIST
    images does) without a copy; a gather always copies. About 0.15 ms of a 10-client
    linear FedAvg round here."""
    return tf.convert_to_tensor(tensor)[index]


@_staged_as_is
def client_sequence(
    sequence_type: computation_types.SequenceType,
    elements: List[tf.Tensor],
    sizes: List[Optional[tf.Tensor]],
    counts: tf.Tensor,
    index: Any,
) -> TensorSequence:
    """The `TensorSequence` of client `index` within stacked `materialize` tensors."""
    return TensorSequence(
        sequence_type.element,
        [_row(tensor, index) for tensor in elements],
        [None if size is None else _row(size, index) for size in sizes],
        _row(counts, index),
    )
