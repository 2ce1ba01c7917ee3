"""Datasets as serialized tf.data graphs, the form in which sequences cross processes.

A pipeline is written with `DatasetToGraphV2` and rebuilt with `DatasetFromGraph`;
the receiver checks the element types the graph declares against the sequence
type before it builds anything. A pipeline with state outside the graph (a Python
callback) cannot run in another process and is refused when written.
"""

from __future__ import annotations

from typing import Any
from typing import List

from google.protobuf import message as protobuf_message
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from tffl.executors import value_conversions
from tffl.types import computation_types
from tffl.types import type_errors

# DatasetToGraphV2's external_state_policy FAIL: a pipeline with state outside the
# graph (a Python callback) cannot be rebuilt in another process, so refuse it here.
_FAIL_ON_EXTERNAL_STATE = 2


def to_dataset(value: Any, type_spec: computation_types.SequenceType) -> tf.data.Dataset:
    """A dataset of `type_spec` from a dataset or a list of elements.

    Elements whose shapes differ (batches of different sizes) cannot be stacked
    into one tensor; they are concatenated one by one instead.
    """
    try:
        return value_conversions.to_dataset(value, type_spec)
    except (tf.errors.InvalidArgumentError, ValueError):
        if not isinstance(value, (list, tuple)) or not value:
            raise
    datasets = [
        tf.data.Dataset.from_tensors(
            value_conversions.to_structure(
                value_conversions.to_eager(element, type_spec.element), type_spec.element
            )
        )
        for element in value
    ]
    dataset = datasets[0]
    for more in datasets[1:]:
        dataset = dataset.concatenate(more)
    return dataset


def dataset_to_graph(dataset: tf.data.Dataset) -> bytes:
    """The serialized GraphDef of a dataset, rebuilt by `graph_to_dataset`.

    Raises:
      ValueError: if the pipeline cannot run in another process (a Python callback).
    """
    try:
        graph = tf.raw_ops.DatasetToGraphV2(
            input_dataset=tf.data.experimental.to_variant(dataset),
            external_state_policy=_FAIL_ON_EXTERNAL_STATE,
            strip_device_assignment=True,
        )
    except tf.errors.OpError as error:
        raise ValueError(
            f"a dataset that cannot run in another process (a Python callback such as "
            f"from_generator or py_function?): {error.message}"
        ) from None
    return graph.numpy()


def graph_to_dataset(graph: bytes, type_spec: computation_types.SequenceType) -> tf.data.Dataset:
    """The dataset a `dataset_to_graph` graph describes, checked against `type_spec`.

    Raises:
      ValueError: if the bytes are not a dataset graph.
      TypeMismatchError: if its elements do not fit `type_spec`.
    """
    actual = _graph_element_types(graph)
    expected = [
        computation_types.TensorType(spec.dtype, spec.shape)
        for spec in tf.nest.flatten(value_conversions.dataset_spec(type_spec))
    ]
    if len(actual) != len(expected) or not all(
        e.is_assignable_from(a) for e, a in zip(expected, actual)
    ):
        described = ",".join(str(t) for t in actual)
        raise type_errors.TypeMismatchError(type_spec, f"a dataset of <{described}>", "sequence")
    try:
        variant = tf.raw_ops.DatasetFromGraph(graph_def=graph)
    except tf.errors.OpError as error:
        raise ValueError(f"not a dataset graph: {error.message}") from None
    return tf.data.experimental.from_variant(
        variant, structure=value_conversions.dataset_spec(type_spec)
    )


def _graph_element_types(graph: bytes) -> List[computation_types.TensorType]:
    """The flat element types the dataset graph's final node declares."""
    try:
        graph_def = graph_pb2.GraphDef.FromString(graph)
    except protobuf_message.DecodeError:
        raise ValueError("not a dataset graph: the bytes are not a GraphDef") from None
    nodes = {node.name: node for node in graph_def.node}
    outputs = [node for node in graph_def.node if node.op == "_Retval"]
    if len(outputs) != 1 or not outputs[0].input or outputs[0].input[0] not in nodes:
        raise ValueError("not a dataset graph: expected one dataset output")
    final = nodes[outputs[0].input[0]]
    types_attr = final.attr.get("output_types") or final.attr.get("Toutput_types")
    shapes_attr = final.attr.get("output_shapes")
    if types_attr is None or shapes_attr is None:
        raise ValueError(f"not a dataset graph: {final.op} declares no element types")
    dtypes = [tf.dtypes.as_dtype(t) for t in types_attr.list.type]
    shapes = [tf.TensorShape(s) for s in shapes_attr.list.shape]
    if len(dtypes) != len(shapes):
        raise ValueError("not a dataset graph: element types and shapes disagree")
    return [
        computation_types.TensorType(d, None if s.rank is None else s.as_list())
        for d, s in zip(dtypes, shapes)
    ]
