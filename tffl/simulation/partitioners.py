"""Partitioning one dataset into a federated one: IID shards, by a feature, or by label skew.

Every partitioner first materializes its input as numpy arrays (a `tf.data.Dataset`
is read to the end, in batches), then gives each client the rows it chose through
`ClientData.from_tensor_slices`. That suits simulation datasets, which fit in
memory; the data is held about twice while partitioning. Dataset elements must
be tensors (no ragged or sparse ones) of one shape throughout. Within a client,
examples keep their order in the input. Client ids are decimal numbers padded
to one width (`'00'` ... `'19'` for 20 clients), so they sort in numeric order.
"""

from __future__ import annotations

from typing import Any
from typing import Dict
from typing import List
from typing import Mapping
from typing import Sequence
from typing import Union

import numpy as np
import tensorflow as tf

from tffl.simulation import client_data

DatasetOrArrays = Union[tf.data.Dataset, Any]

_READ_BATCH = 4096


def numbered_client_ids(count: int, prefix: str = "") -> List[str]:
    """`count` client ids `prefix + k`, with `k` zero-padded so that they sort numerically.

    >>> numbered_client_ids(12)[:3]
    ['00', '01', '02']
    >>> numbered_client_ids(2, prefix='test_')
    ['test_0', 'test_1']
    """
    width = len(str(max(count - 1, 0)))
    return [f"{prefix}{k:0{width}d}" for k in range(count)]


def as_arrays(dataset_or_arrays: DatasetOrArrays, caller: str = "as_arrays") -> Any:
    """The examples of a dataset (or a structure of arrays) as a structure of numpy arrays.

    Args:
      dataset_or_arrays: a `tf.data.Dataset` of fixed-shape tensors, or a numpy
        array or a dict, `OrderedDict` or tuple of arrays with one row per example.
      caller: the name that error messages start with.

    Returns:
      The same structure as the dataset's elements, each leaf an array with one
      row per example (text as object arrays of bytes).

    Raises:
      ValueError: if there are no examples, or the arrays differ in length.

    >>> import tensorflow as tf
    >>> as_arrays(tf.data.Dataset.range(3).map(lambda x: {'x': x}))
    {'x': array([0, 1, 2])}
    """
    if isinstance(dataset_or_arrays, tf.data.Dataset):
        spec = dataset_or_arrays.element_spec
        parts: List[List[np.ndarray]] = [[] for _ in tf.nest.flatten(spec)]
        for batch in dataset_or_arrays.batch(_READ_BATCH).as_numpy_iterator():
            for part, leaf in zip(parts, tf.nest.flatten(batch)):
                part.append(leaf)
        if not parts[0]:
            raise ValueError(f"{caller}: expected at least one example, got an empty dataset")
        arrays = tf.nest.pack_sequence_as(spec, [np.concatenate(part) for part in parts])
    else:
        arrays = dataset_or_arrays
    arrays = client_data.to_numpy_slices(arrays, f"{caller}: the input")
    lengths = sorted({len(leaf) for leaf in tf.nest.flatten(arrays)})
    if len(lengths) > 1:
        raise ValueError(f"{caller}: the arrays differ in length: {lengths}")
    if lengths[0] == 0:
        raise ValueError(f"{caller}: expected at least one example, got none")
    return arrays


def _rows(arrays: Any, indices: np.ndarray) -> Any:
    return tf.nest.map_structure(lambda leaf: leaf[indices], arrays)


def _num_examples(arrays: Any) -> int:
    return len(tf.nest.flatten(arrays)[0])


def _from_index_lists(arrays: Any, index_lists: Sequence[np.ndarray]) -> client_data.ClientData:
    client_ids = numbered_client_ids(len(index_lists))
    return client_data.ClientData.from_tensor_slices(
        {
            client_id: _rows(arrays, np.sort(np.asarray(indices, np.int64)))
            for client_id, indices in zip(client_ids, index_lists)
        }
    )


def _check_num_clients(num_clients: int, num_examples: int, caller: str) -> None:
    if not 1 <= num_clients <= num_examples:
        raise ValueError(
            f"{caller}: expected 1 <= num_clients <= {num_examples} (the number of "
            f"examples), got {num_clients}"
        )


def partition_iid(
    dataset_or_arrays: DatasetOrArrays, num_clients: int, seed: int = 0
) -> client_data.ClientData:
    """Deals the examples at random into `num_clients` shards of (nearly) equal size.

    The examples are permuted with `np.random.default_rng(seed)` and cut into
    `num_clients` consecutive shards whose sizes differ by at most one (the first
    `n % num_clients` shards have one more); no example is dropped.

    Args:
      dataset_or_arrays: a `tf.data.Dataset`, or a structure of numpy arrays.
      num_clients: how many clients, from 1 to the number of examples.
      seed: the seed; the same seed gives the same partition.

    Returns:
      A `ClientData` whose elements are those of the input.

    Raises:
      ValueError: if `num_clients` is out of range or there are no examples.

    >>> import numpy as np
    >>> data = partition_iid(np.arange(10), num_clients=3, seed=0)
    >>> [len(list(data.create_tf_dataset_for_client(i))) for i in data.client_ids]
    [4, 3, 3]
    """
    arrays = as_arrays(dataset_or_arrays, "partition_iid")
    num_examples = _num_examples(arrays)
    _check_num_clients(num_clients, num_examples, "partition_iid")
    order = np.random.default_rng(seed).permutation(num_examples)
    return _from_index_lists(arrays, np.array_split(order, num_clients))


def _feature_string(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def partition_by_feature(
    dataset_or_arrays: DatasetOrArrays, feature_key: str
) -> client_data.ClientData:
    """One client per value of a feature, such as a writer or user id.

    Args:
      dataset_or_arrays: a `tf.data.Dataset` of dicts, or a dict of numpy arrays,
        with a scalar feature `feature_key`.
      feature_key: the feature whose values name the clients. Client ids are the
        values as strings (bytes decoded as UTF-8, numbers with `str`). The
        feature stays in the examples.

    Returns:
      A `ClientData` whose elements are those of the input.

    Raises:
      TypeError: if the examples are not dicts.
      ValueError: if `feature_key` is missing or not a scalar per example.

    >>> import numpy as np
    >>> data = partition_by_feature({'writer': np.array([b'w2', b'w1', b'w2']),
    ...                              'x': np.array([1, 2, 3])}, 'writer')
    >>> data.client_ids
    ['w1', 'w2']
    >>> [int(e['x']) for e in data.create_tf_dataset_for_client('w2')]
    [1, 3]
    """
    arrays = as_arrays(dataset_or_arrays, "partition_by_feature")
    if not isinstance(arrays, Mapping):
        raise TypeError(
            f"partition_by_feature: expected examples that are dicts, got "
            f"{type(arrays).__name__} examples"
        )
    if feature_key not in arrays:
        raise ValueError(
            f"partition_by_feature: no feature {feature_key!r} in the examples "
            f"(features: {sorted(arrays)})"
        )
    values = arrays[feature_key]
    if not isinstance(values, np.ndarray) or values.ndim != 1:
        raise ValueError(
            f"partition_by_feature: feature {feature_key!r} must be a scalar per example"
        )
    names = np.array([_feature_string(value) for value in values], dtype=object)
    client_ids, inverse = np.unique(names, return_inverse=True)
    by_client: Dict[str, Any] = {}
    for index, client_id in enumerate(client_ids):
        by_client[client_id] = _rows(arrays, np.flatnonzero(inverse == index))
    return client_data.ClientData.from_tensor_slices(by_client)


def _labels(arrays: Any, label_key: Union[str, int], caller: str) -> np.ndarray:
    if isinstance(arrays, Mapping) or (isinstance(arrays, tuple) and isinstance(label_key, int)):
        try:
            labels = arrays[label_key]
        except (KeyError, IndexError):
            labels = None
        if isinstance(labels, np.ndarray) and labels.ndim == 1:
            return labels
        raise ValueError(f"{caller}: expected a scalar label {label_key!r} in every example")
    raise TypeError(
        f"{caller}: expected dict examples (or tuples with an int label_key), got "
        f"{type(arrays).__name__} examples"
    )


def partition_dirichlet(
    dataset_or_arrays: DatasetOrArrays,
    num_clients: int,
    alpha: float,
    label_key: Union[str, int] = "label",
    seed: int = 0,
    min_examples: int = 1,
) -> client_data.ClientData:
    """Label-skewed clients: each label's examples are spread by Dirichlet(α) proportions.

    The label-skew scheme of Yurochkin et al., "Bayesian Nonparametric Federated
    Learning of Neural Networks" (ICML 2019), also the Dirichlet split of Li et
    al.'s NIID-Bench ("Federated Learning on Non-IID Data Silos", 2022). With a generator
    `np.random.default_rng(seed)`, for each label in increasing order: the
    label's examples are shuffled, proportions `p ~ Dirichlet(alpha * ones(num_clients))`
    are drawn, and the examples are cut at `floor(cumsum(p) * count)`, client 0
    first. Smaller `alpha` gives more skew (each client dominated by few labels);
    large `alpha` approaches an IID split. Then, while a client has fewer than
    `min_examples` examples, one example chosen at random moves to it from the
    largest client (the first on ties), which keeps every client usable and the
    result deterministic (NIID-Bench redraws instead, which may not end for small
    `alpha`). Client sizes differ, as they do in real federations.

    Args:
      dataset_or_arrays: a `tf.data.Dataset` of dicts (or tuples), or a structure
        of numpy arrays, with a scalar label.
      num_clients: how many clients.
      alpha: the Dirichlet concentration, greater than 0.
      label_key: the label's key (or index, for tuple examples).
      seed: the seed; the same seed gives the same partition.
      min_examples: the fewest examples a client may end with.

    Returns:
      A `ClientData` whose elements are those of the input.

    Raises:
      TypeError: if the examples have no keyed label.
      ValueError: if an argument is out of range or the label is missing.

    >>> import numpy as np
    >>> data = partition_dirichlet({'label': np.repeat(np.arange(4), 25)}, num_clients=4,
    ...                            alpha=0.1, seed=0)
    >>> def label_counts(client_id):
    ...     dataset = data.create_tf_dataset_for_client(client_id)
    ...     return np.bincount([e['label'] for e in dataset.as_numpy_iterator()], minlength=4)
    >>> [label_counts(client_id).tolist() for client_id in data.client_ids]
    [[0, 1, 0, 0], [9, 17, 0, 22], [4, 0, 16, 0], [12, 7, 9, 3]]
    """
    caller = "partition_dirichlet"
    arrays = as_arrays(dataset_or_arrays, caller)
    labels = _labels(arrays, label_key, caller)
    num_examples = len(labels)
    _check_num_clients(num_clients, num_examples, caller)
    if not alpha > 0:
        raise ValueError(f"{caller}: expected alpha > 0, got {alpha}")
    if min_examples < 0 or num_clients * min_examples > num_examples:
        raise ValueError(
            f"{caller}: cannot give {num_clients} clients at least {min_examples} examples "
            f"each from {num_examples} examples"
        )
    rng = np.random.default_rng(seed)
    assigned: List[List[int]] = [[] for _ in range(num_clients)]
    for label in np.unique(labels):
        indices = rng.permutation(np.flatnonzero(labels == label))
        proportions = rng.dirichlet(np.full(num_clients, float(alpha)))
        cuts = (np.cumsum(proportions)[:-1] * len(indices)).astype(np.int64)
        for client, part in zip(assigned, np.split(indices, cuts)):
            client.extend(part.tolist())
    while True:
        sizes = [len(client) for client in assigned]
        short = [k for k, size in enumerate(sizes) if size < min_examples]
        if not short:
            break
        donor = assigned[int(np.argmax(sizes))]
        assigned[short[0]].append(donor.pop(int(rng.integers(len(donor)))))
    return _from_index_lists(arrays, [np.array(client, np.int64) for client in assigned])
