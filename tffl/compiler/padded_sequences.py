"""Client datasets read once into padded arrays, and the test that reading them once is sound.

A lowered round feeds every client's elements to one `tf.function` as stacked tensors
(see `tensor_sequence`). That is only faithful when a dataset yields the same elements
each time it is iterated and they depend on nothing outside its graph, so
`is_deterministic` inspects the dataset graph before `materialize` reads it; elements
read once are kept per dataset object for later rounds.
"""

from __future__ import annotations

from typing import Any
from typing import List
from typing import NamedTuple
from typing import Optional
from typing import Sequence
from typing import Tuple
import weakref

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2
from tensorflow.python.framework import op_def_registry

from tffl.types import computation_types
from tffl.types import type_conversions


def leaf_types(type_spec: computation_types.Type) -> List[computation_types.TensorType]:
    """The tensor types of a tensor or struct type, depth-first."""
    if isinstance(type_spec, computation_types.StructType):
        return [leaf for element in type_spec for leaf in leaf_types(element)]
    if isinstance(type_spec, computation_types.TensorType):
        return [type_spec]
    raise TypeError(f"leaf_types: expected tensors or structs of tensors, got {type_spec}")


def _flatten_value(value: Any, type_spec: computation_types.Type) -> List[Any]:
    if isinstance(type_spec, computation_types.StructType):
        elements = type_conversions.elements_of(value, type_spec)
        return [leaf for v, t in zip(elements, type_spec) for leaf in _flatten_value(v, t)]
    return [value]


# Source datasets that TensorFlow marks stateful although they only read their inputs.
_PURE_STATEFUL_OPS = frozenset(
    {
        "TensorDataset",
        "TensorSliceDataset",
        "SparseTensorSliceDataset",
        "RangeDataset",
        "ListDataset",
        "ReduceDataset",
        "DatasetToSingleElement",
        "_Retval",
    }
)
# Shuffles that keep one order for the life of the dataset object when told not to
# reshuffle: their seeds are fixed when the dataset is built.
_FIXED_ORDER_SHUFFLES = frozenset({"ShuffleDatasetV3", "ShuffleAndRepeatDatasetV2"})
# Ops TensorFlow does not mark stateful that still depend on more than their inputs.
_IMPURE_STATELESS_OPS = frozenset({"PyFuncStateless", "CacheDataset", "ShuffleDataset"})


def _is_pure_node(node, nodes_by_name) -> bool:
    if node.op in _FIXED_ORDER_SHUFFLES:
        return not node.attr["reshuffle_each_iteration"].b
    if node.op == "CacheDatasetV2":
        # In memory it only replays its input; a file may hold an earlier run's elements.
        source = nodes_by_name.get(node.input[1].split(":")[0])
        return (
            source is not None
            and source.op == "Const"
            and tf.make_ndarray(source.attr["value"].tensor) == b""
        )
    if node.op in _IMPURE_STATELESS_OPS:
        return False
    if "deterministic" in node.attr and node.attr["deterministic"].s == b"false":
        return False
    if "sloppy" in node.attr and node.attr["sloppy"].b:
        return False
    op_def = op_def_registry.get(node.op)
    if op_def is None:
        return False
    return not op_def.is_stateful or node.op in _PURE_STATEFUL_OPS


def _all_pure(nodes) -> bool:
    nodes = list(nodes)
    nodes_by_name = {node.name: node for node in nodes}
    return all(_is_pure_node(node, nodes_by_name) for node in nodes)


def is_deterministic(dataset: tf.data.Dataset) -> bool:
    """Whether iterating `dataset` again yields the same elements, from its graph alone.

    False when the dataset graph or any function in it holds a random or other stateful
    op (variables, tables, iterators), reads files, calls Python (`from_generator`,
    `numpy_function`), shuffles on each iteration, or may run parallel work out of
    order. A dataset that passes can be read once and its elements reused.

    >>> is_deterministic(tf.data.Dataset.range(4).map(lambda x: x * 2).batch(3))
    True
    >>> is_deterministic(tf.data.Dataset.range(4).shuffle(4))
    False
    """
    if dataset.options().deterministic is False:
        return False
    try:
        graph = graph_pb2.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    except (tf.errors.OpError, ValueError, TypeError):
        return False
    return _all_pure(graph.node) and all(_all_pure(f.node_def) for f in graph.library.function)


class PaddedSequences(NamedTuple):
    """The elements of N client datasets, padded to a common element count M and shape.

    Attributes:
      elements: per leaf of the element type, an array `[N, M, *padded leaf shape]`.
      sizes: per leaf, None when the leaf type's shape is fully known, else an int32
        array `[N, M, r]`: the true sizes of the leaf's r unknown dimensions.
      counts: int32 `[N]`, how many of the M rows of each client are elements.
    """

    elements: List[np.ndarray]
    sizes: List[Optional[np.ndarray]]
    counts: np.ndarray


class _Read(NamedTuple):
    """What was learned from reading one dataset: its flat elements, or None if unusable."""

    elements: Optional[List[List[np.ndarray]]]


# Keyed weakly by dataset object: a dataset passed again in a later round is not read
# again, which is sound because only deterministic datasets are read.
_READS: "weakref.WeakKeyDictionary[tf.data.Dataset, _Read]" = weakref.WeakKeyDictionary()


# How many elements are read from a dataset of unknown length before giving up on it.
_UNKNOWN_LENGTH_LIMIT = 1 << 16


def _nbytes(array: np.ndarray) -> int:
    if array.dtype == object:
        return array.size * 8 + sum(len(s) for s in array.flat)
    return array.nbytes


def _read_elements(
    dataset: tf.data.Dataset,
    element_type: computation_types.Type,
    max_bytes: int,
    max_elements: Optional[int],
) -> Tuple[Optional[List[List[np.ndarray]]], bool]:
    """The dataset's elements as flat lists of arrays, and whether more could ever fit.

    Gives None past `max_bytes` (a larger budget may fit: True) or past `max_elements`
    (False).
    """
    types = leaf_types(element_type)
    elements, total = [], 0
    for value in dataset.as_numpy_iterator():
        if max_elements is not None and len(elements) == max_elements:
            return None, False
        leaves = [
            np.asarray(leaf, dtype=object if t.dtype == tf.string else None)
            for leaf, t in zip(_flatten_value(value, element_type), types)
        ]
        total += sum(_nbytes(leaf) for leaf in leaves)
        if total > max_bytes:
            return None, True
        elements.append(leaves)
    return elements, True


def _cached_elements(dataset: tf.data.Dataset, max_bytes: int) -> Optional[List[List[np.ndarray]]]:
    read = _READS.get(dataset)
    if read is not None:
        return read.elements
    cardinality = int(dataset.cardinality())
    if not is_deterministic(dataset) or cardinality == tf.data.INFINITE_CARDINALITY:
        _READS[dataset] = _Read(None)
        return None
    # TensorFlow cannot tell the length of some datasets (after `filter`, say); some of
    # those never end, so reading them stops after a bounded number of elements.
    limit = _UNKNOWN_LENGTH_LIMIT if cardinality == tf.data.UNKNOWN_CARDINALITY else None
    own_type = computation_types.to_type(dataset.element_spec)
    elements, may_fit_later = _read_elements(dataset, own_type, max_bytes, limit)
    if elements is not None or not may_fit_later:
        _READS[dataset] = _Read(elements)
    return elements


def _fits(dataset: Any, element_type: computation_types.Type) -> bool:
    if not isinstance(dataset, tf.data.Dataset):
        return False
    try:
        own_type = computation_types.to_type(dataset.element_spec)
    except TypeError:
        return False
    return element_type.is_assignable_from(own_type)


def materialize(
    datasets: Sequence[tf.data.Dataset],
    sequence_type: computation_types.SequenceType,
    max_bytes: int = 1 << 30,
) -> Optional[PaddedSequences]:
    """Reads client datasets into padded arrays, or returns None where that is unsound.

    Each leaf is padded to the largest size of each unknown dimension over every element
    of every client; known dimensions stay as typed. Returns None (the caller then runs
    on the datasets themselves) when a dataset is not deterministic (`is_deterministic`)
    or infinite, its element spec does not fit `sequence_type`, a leaf has unknown rank,
    or the padded arrays would take more than `max_bytes`.

    >>> data = [tf.data.Dataset.range(3).batch(2), tf.data.Dataset.range(1).batch(2)]
    >>> padded = materialize(data, computation_types.SequenceType((np.int64, [None])))
    >>> padded.elements[0].tolist(), padded.sizes[0][..., 0].tolist(), padded.counts.tolist()
    ([[[0, 1], [2, 0]], [[0, 0], [0, 0]]], [[2, 1], [1, 0]], [2, 1])
    """
    key = (sequence_type, max_bytes, tuple(id(d) for d in datasets))
    last = _LAST.get(key)
    if last is not None and all(ref() is d for ref, d in zip(last[0], datasets)):
        return last[1]
    padded = _materialize(datasets, sequence_type, max_bytes)
    if padded is not None:
        _LAST.clear()  # One entry: a simulation passes the same round's datasets again.
        _LAST[key] = ([weakref.ref(d) for d in datasets], padded)
    return padded


# The padded arrays of the last datasets materialized, by type, limit and dataset ids
# (checked against weak references, so a new dataset at a reused id is not mistaken).
_LAST: dict = {}


def _materialize(datasets, sequence_type, max_bytes) -> Optional[PaddedSequences]:
    element_type = sequence_type.element
    types = leaf_types(element_type)
    if any(t.shape is None for t in types):
        return None
    clients = []
    for dataset in datasets:
        if not _fits(dataset, element_type):
            return None
        elements = _cached_elements(dataset, max_bytes)
        if elements is None:
            return None
        clients.append(elements)
    num_clients = len(clients)
    max_count = max((len(elements) for elements in clients), default=0)
    shapes = [
        [
            d
            if d is not None
            else max((e[leaf].shape[axis] for elements in clients for e in elements), default=0)
            for axis, d in enumerate(leaf_type.shape)
        ]
        for leaf, leaf_type in enumerate(types)
    ]
    total = 0
    for leaf_type, shape in zip(types, shapes):
        itemsize = 8 if leaf_type.dtype == tf.string else leaf_type.dtype.size
        row_bytes = int(np.prod(shape, dtype=np.int64)) * itemsize + 4 * leaf_type.shape.count(None)
        total += num_clients * max_count * row_bytes
    if total > max_bytes:
        return None
    padded = [
        _pad_leaf(clients, leaf, leaf_type, [num_clients, max_count, *shape])
        for leaf, (leaf_type, shape) in enumerate(zip(types, shapes))
    ]
    counts = np.array([len(elements) for elements in clients], np.int32)
    result = PaddedSequences([array for array, _ in padded], [size for _, size in padded], counts)
    for array in [*result.elements, *(s for s in result.sizes if s is not None), counts]:
        array.flags.writeable = False  # Shared by later calls with the same datasets.
    return result


def _pad_leaf(
    clients: List[List[List[np.ndarray]]],
    leaf: int,
    leaf_type: computation_types.TensorType,
    padded_shape: List[int],
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """One leaf of every element of every client, padded, and its true unknown sizes."""
    unknown = [axis for axis, d in enumerate(leaf_type.shape) if d is None]
    if leaf_type.dtype == tf.string:
        array = np.full(padded_shape, b"", dtype=object)
    else:
        array = np.zeros(padded_shape, leaf_type.dtype.as_numpy_dtype)
    sizes = np.zeros([*padded_shape[:2], len(unknown)], np.int32) if unknown else None
    for client, elements in enumerate(clients):
        for row, element in enumerate(elements):
            value = element[leaf]
            array[(client, row, *(slice(0, n) for n in value.shape))] = value
            if sizes is not None:
                sizes[client, row] = [value.shape[axis] for axis in unknown]
    return array, sizes
