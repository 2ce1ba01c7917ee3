"""Federated datasets for simulation: client ids, and one `tf.data.Dataset` per client.

A `ClientData` is what a simulation samples clients from: a sorted list of string
ids and, for each id, that client's examples as a dataset. Two functions give the
datasets: `create_tf_dataset_for_client`, called from Python with a `str`, and
`serializable_dataset_fn`, which also accepts a scalar `tf.string` tensor so that
it can be traced inside `tf.data` (`create_tf_dataset_from_all_clients` uses it in
a `flat_map`). Implementations here are private; users build a `ClientData` with
the class methods (`from_tensor_slices`, `from_clients_and_tf_fn`) or a loader in
`tffl.simulation.datasets`.
"""

from __future__ import annotations

import abc
import collections
from typing import Any
from typing import Callable
from typing import Dict
from typing import Iterable
from typing import List
from typing import Mapping
from typing import Optional
from typing import Tuple

import numpy as np
import tensorflow as tf

from tffl.core import computation_impl
from tffl.types import computation_types

DatasetFn = Callable[[Any], tf.data.Dataset]


class ClientData(abc.ABC):
    """A federated dataset: string client ids and a `tf.data.Dataset` for each client.

    >>> import numpy as np, tffl
    >>> data = tffl.simulation.datasets.ClientData.from_tensor_slices(
    ...     {'b': np.array([3]), 'a': np.array([1, 2])})
    >>> data.client_ids
    ['a', 'b']
    >>> [int(x) for x in data.create_tf_dataset_for_client('a')]
    [1, 2]
    >>> [int(x) for x in data.create_tf_dataset_from_all_clients()]
    [1, 2, 3]
    """

    @property
    @abc.abstractmethod
    def client_ids(self) -> List[str]:
        """The client ids, sorted; a new list on each call."""

    @property
    @abc.abstractmethod
    def serializable_dataset_fn(self) -> DatasetFn:
        """A function from a client id (`str` or scalar `tf.string` tensor) to its dataset.

        It is traceable by TensorFlow, so `tf.data` may call it with a tensor.
        """

    @property
    @abc.abstractmethod
    def element_type_structure(self) -> Any:
        """The `tf.TensorSpec` structure of one element of every client's dataset."""

    def _has_client(self, client_id: Any) -> bool:
        return client_id in self.client_ids

    def create_tf_dataset_for_client(self, client_id: str) -> tf.data.Dataset:
        """The dataset of one client.

        Args:
          client_id: one of `client_ids`.

        Returns:
          A `tf.data.Dataset` whose elements match `element_type_structure`.

        Raises:
          ValueError: if `client_id` is not one of `client_ids`.
        """
        if not self._has_client(client_id):
            raise _unknown_client_error(client_id, len(self.client_ids))
        return self._dataset_for_known_client(client_id)

    def _dataset_for_known_client(self, client_id: str) -> tf.data.Dataset:
        return self.serializable_dataset_fn(client_id)

    def create_tf_dataset_from_all_clients(self, seed: Optional[int] = None) -> tf.data.Dataset:
        """All clients' examples in one dataset, one client after another.

        Meant for centralized training and evaluation; shuffle the result for SGD.

        Args:
          seed: when given, clients come in the order of
            `np.random.RandomState(seed).shuffle(client_ids)` (as in TFF, so a seed
            gives the same order); when `None`, in the order of `client_ids`.

        Returns:
          A `tf.data.Dataset` of every client's examples, each client's in order.
        """
        client_ids = self._ordered_client_ids(seed)
        return tf.data.Dataset.from_tensor_slices(client_ids).flat_map(self.serializable_dataset_fn)

    def _ordered_client_ids(self, seed: Optional[int]) -> List[str]:
        client_ids = self.client_ids
        if seed is not None:
            np.random.RandomState(seed).shuffle(client_ids)
        return client_ids

    def preprocess(
        self, preprocess_fn: Callable[[tf.data.Dataset], tf.data.Dataset]
    ) -> "ClientData":
        """A `ClientData` whose datasets are `preprocess_fn(dataset)`.

        Args:
          preprocess_fn: a Python callable or `tf.function` from a dataset to a
            dataset (for example `lambda ds: ds.map(f).batch(20)`). It must be
            traceable by TensorFlow: `create_tf_dataset_from_all_clients` calls it
            inside `tf.data`.

        Returns:
          A `ClientData` with the same client ids and the new element structure.

        Raises:
          TypeError: if `preprocess_fn` is not callable, is a tffl computation, or
            does not return a dataset.

        >>> import numpy as np, tffl
        >>> data = tffl.simulation.datasets.ClientData.from_tensor_slices(
        ...     {'a': np.array([1, 2, 3], np.int32)})
        >>> batched = data.preprocess(lambda ds: ds.batch(2))
        >>> batched.element_type_structure
        TensorSpec(shape=(None,), dtype=tf.int32, name=None)
        >>> [x.tolist() for x in batched.create_tf_dataset_for_client('a').as_numpy_iterator()]
        [[1, 2], [3]]
        """
        if isinstance(
            preprocess_fn,
            (computation_impl.ConcreteComputation, computation_impl.PolymorphicComputation),
        ):
            raise TypeError(
                "preprocess: expected a Python callable or tf.function, got a tffl "
                "computation (tf.data traces preprocess_fn with tf.function, which "
                "cannot call a computation)"
            )
        if not callable(preprocess_fn):
            raise TypeError(f"preprocess: expected a callable, got {type(preprocess_fn).__name__}")
        return _PreprocessedClientData(self, preprocess_fn)

    @classmethod
    def from_clients_and_tf_fn(
        cls, client_ids: Iterable[str], serializable_dataset_fn: DatasetFn
    ) -> "ClientData":
        """A `ClientData` from client ids and a function from an id to its dataset.

        Args:
          client_ids: distinct string ids, at least one; they are sorted.
          serializable_dataset_fn: a function from a client id to a
            `tf.data.Dataset`. It must accept a `str` and, for
            `create_tf_dataset_from_all_clients`, a scalar `tf.string` tensor, so
            it must be traceable by TensorFlow (not a tffl computation).

        Returns:
          A `ClientData` whose element structure is that of the first client's dataset.

        Raises:
          TypeError: if an id is not a `str`, or the function is not callable or
            does not return a dataset.
          ValueError: if there are no ids or an id repeats.

        >>> import tensorflow as tf, tffl
        >>> data = tffl.simulation.datasets.ClientData.from_clients_and_tf_fn(
        ...     ['x', 'y'], lambda client_id: tf.data.Dataset.from_tensors(client_id))
        >>> [x.numpy() for x in data.create_tf_dataset_from_all_clients()]
        [b'x', b'y']
        """
        if isinstance(
            serializable_dataset_fn,
            (computation_impl.ConcreteComputation, computation_impl.PolymorphicComputation),
        ):
            raise TypeError(
                "from_clients_and_tf_fn: serializable_dataset_fn must be traceable by "
                "TensorFlow, got a tffl computation"
            )
        if not callable(serializable_dataset_fn):
            raise TypeError(
                "from_clients_and_tf_fn: expected a callable serializable_dataset_fn, "
                f"got {type(serializable_dataset_fn).__name__}"
            )
        return _FunctionClientData(
            _checked_client_ids(client_ids, "from_clients_and_tf_fn"), serializable_dataset_fn
        )

    @classmethod
    def from_tensor_slices(cls, tensor_slices: Mapping[str, Any]) -> "ClientData":
        """A `ClientData` holding each client's examples in memory.

        Args:
          tensor_slices: a mapping from client id to that client's examples, as
            `tf.data.Dataset.from_tensor_slices` takes them: a numpy array (or
            anything `np.asarray` accepts), or a dict, `OrderedDict` or (named)
            tuple of them, nested as deep as needed, whose arrays share their first
            dimension (the number of examples). Every client must have the same
            structure, dtypes and per-example shapes. Text becomes `tf.string`.

        Returns:
          A `ClientData`; `serializable_dataset_fn` looks a tensor id up in
          constants holding every client's examples.

        Raises:
          TypeError: if `tensor_slices` is not a mapping, an id is not a `str`, or
            a value does not convert to a tensor.
          ValueError: if there are no clients, a client's arrays differ in length,
            or two clients' examples differ in structure (naming both clients).

        >>> import collections, numpy as np, tffl
        >>> data = tffl.simulation.datasets.ClientData.from_tensor_slices({
        ...     'a': collections.OrderedDict(x=np.zeros([2, 3], np.float32), y=np.array([0, 1])),
        ...     'b': collections.OrderedDict(x=np.ones([1, 3], np.float32), y=np.array([7])),
        ... })
        >>> print(tffl.to_type(data.element_type_structure))
        <x=float32[3],y=int64>
        """
        if not isinstance(tensor_slices, Mapping):
            raise TypeError(
                "from_tensor_slices: expected a mapping from client id to examples, "
                f"got {type(tensor_slices).__name__}"
            )
        client_ids = _checked_client_ids(list(tensor_slices), "from_tensor_slices")
        arrays = {}
        first_id, first_type = None, None
        for client_id, value in tensor_slices.items():
            arrays[client_id] = to_numpy_slices(value, f"from_tensor_slices: client {client_id!r}")
            element_type = _element_type(client_id, arrays[client_id])
            if first_type is None:
                first_id, first_type = client_id, element_type
            elif element_type != first_type:
                described, first_described = str(element_type), str(first_type)
                if described == first_described:  # the containers differ
                    described += f" in a {type(arrays[client_id]).__name__}"
                    first_described += f" in a {type(arrays[first_id]).__name__}"
                raise ValueError(
                    f"from_tensor_slices: client {client_id!r} has examples of type "
                    f"{described}, but client {first_id!r} has {first_described}"
                )
        return _TensorSlicesClientData(client_ids, arrays)

    @classmethod
    def train_test_client_split(
        cls, client_data: "ClientData", num_test_clients: int, seed: Optional[int] = 0
    ) -> Tuple["ClientData", "ClientData"]:
        """Splits the clients of `client_data` into disjoint (train, test) ClientData.

        As in TFF: the client ids are shuffled with `np.random.RandomState(seed)`
        and test clients are taken from the end of that order, skipping clients
        whose dataset is empty (those stay in train).

        Args:
          client_data: the `ClientData` to split.
          num_test_clients: how many clients to hold out, at least 1 and fewer
            than the number of clients.
          seed: the shuffling seed; `None` for a different split on each call.

        Returns:
          `(train, test)`, each a `ClientData` over a subset of the client ids.

        Raises:
          ValueError: if `num_test_clients` is out of range, or too few clients
            have data.

        >>> import numpy as np, tffl
        >>> data = tffl.simulation.datasets.ClientData.from_tensor_slices(
        ...     {name: np.arange(3) for name in 'abcde'})
        >>> train, test = tffl.simulation.datasets.ClientData.train_test_client_split(data, 2)
        >>> train.client_ids, test.client_ids
        (['a', 'b', 'c'], ['d', 'e'])
        """
        num_clients = len(client_data.client_ids)
        if num_test_clients < 1:
            raise ValueError(
                f"train_test_client_split: expected num_test_clients >= 1, got {num_test_clients}"
            )
        if num_test_clients >= num_clients:
            raise ValueError(
                f"train_test_client_split: {num_test_clients} test clients requested, but "
                f"the ClientData has only {num_clients} clients (at least one must stay "
                "for training)"
            )
        candidates = client_data.client_ids
        np.random.RandomState(seed).shuffle(candidates)
        test_ids, empty_ids = [], []
        while len(test_ids) < num_test_clients:
            if not candidates:
                raise ValueError(
                    f"train_test_client_split: only {len(test_ids)} clients have data, "
                    f"{num_test_clients} test clients requested"
                )
            client_id = candidates.pop()
            dataset = client_data.create_tf_dataset_for_client(client_id)
            if next(iter(dataset.take(1)), None) is None:
                empty_ids.append(client_id)
            else:
                test_ids.append(client_id)
        train = _SubsetClientData(client_data, candidates + empty_ids)
        return train, _SubsetClientData(client_data, test_ids)


def _unknown_client_error(client_id: Any, num_clients: int) -> ValueError:
    return ValueError(
        f"client id {client_id!r} is not in this ClientData "
        f"(see client_ids for the {num_clients} valid ids)"
    )


def _checked_client_ids(client_ids: Iterable[Any], caller: str) -> List[str]:
    client_ids = list(client_ids)
    for client_id in client_ids:
        if not isinstance(client_id, str):
            raise TypeError(
                f"{caller}: client ids must be str, got {client_id!r} ({type(client_id).__name__})"
            )
    if not client_ids:
        raise ValueError(f"{caller}: expected at least one client id, got none")
    seen = set()
    for client_id in client_ids:
        if client_id in seen:
            raise ValueError(f"{caller}: client id {client_id!r} appears more than once")
        seen.add(client_id)
    return sorted(client_ids)


def to_numpy_slices(value: Any, context: str) -> Any:
    """`value` with every leaf a numpy array of one row per example.

    Containers (dict, `OrderedDict`, tuple, namedtuple) are kept; leaves go
    through `np.asarray`, and text becomes an object array of bytes, which
    `tf.data` reads as `tf.string`.

    Args:
      value: a leaf, or a container of leaves, nested as deep as needed.
      context: what error messages start with (for example the caller and client).

    Raises:
      ValueError: if a leaf is a scalar.

    >>> to_numpy_slices({'text': ['a', 'bc']}, 'example')
    {'text': array([b'a', b'bc'], dtype=object)}
    """
    if isinstance(value, collections.OrderedDict):
        return collections.OrderedDict(
            (key, to_numpy_slices(item, context)) for key, item in value.items()
        )
    if isinstance(value, Mapping):
        return {key: to_numpy_slices(item, context) for key, item in value.items()}
    if isinstance(value, tuple):
        items = [to_numpy_slices(item, context) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind == "U":
        array = np.vectorize(lambda text: text.encode("utf-8"), otypes=[object])(array)
    elif array.dtype.kind == "S":
        array = array.astype(object)
    if array.ndim == 0:
        raise ValueError(
            f"{context} has a scalar {value!r}; expected arrays whose first dimension "
            "indexes the examples"
        )
    return array


def _tensor_spec(array: np.ndarray) -> tf.TensorSpec:
    dtype = tf.string if array.dtype == object else tf.as_dtype(array.dtype)
    return tf.TensorSpec(array.shape[1:], dtype)


def _element_type(client_id: str, arrays: Any) -> computation_types.Type:
    leaves = tf.nest.flatten(arrays)
    lengths = sorted({len(leaf) for leaf in leaves})
    if len(lengths) > 1:
        raise ValueError(
            f"from_tensor_slices: client {client_id!r} has arrays of different lengths "
            f"{lengths}; all must have one entry per example"
        )
    try:
        return computation_types.to_type(tf.nest.map_structure(_tensor_spec, arrays))
    except TypeError as error:
        raise TypeError(f"from_tensor_slices: client {client_id!r}: {error}") from error


class _ListedClientData(ClientData):
    """Keeps the sorted client ids and answers membership from a set."""

    def __init__(self, client_ids: List[str]):
        self._client_ids = sorted(client_ids)
        self._client_id_set = frozenset(self._client_ids)

    @property
    def client_ids(self) -> List[str]:
        return list(self._client_ids)

    def _has_client(self, client_id: Any) -> bool:
        return isinstance(client_id, str) and client_id in self._client_id_set


class _FunctionClientData(_ListedClientData):
    """Datasets from a user function of the client id."""

    def __init__(self, client_ids: List[str], dataset_fn: DatasetFn):
        super().__init__(client_ids)
        self._dataset_fn = dataset_fn
        example = dataset_fn(self._client_ids[0])
        if not isinstance(example, tf.data.Dataset):
            raise TypeError(
                "from_clients_and_tf_fn: serializable_dataset_fn must return a "
                f"tf.data.Dataset, got {type(example).__name__}"
            )
        self._element_spec = example.element_spec

    @property
    def serializable_dataset_fn(self) -> DatasetFn:
        return self._dataset_fn

    @property
    def element_type_structure(self) -> Any:
        return self._element_spec


class _TensorSlicesClientData(_ListedClientData):
    """Every client's examples in memory, concatenated in client-id order.

    One copy of the data: each client's arrays are views into the concatenation,
    which `serializable_dataset_fn` embeds as constants when called with a tensor.
    """

    def __init__(self, client_ids: List[str], arrays: Dict[str, Any]):
        super().__init__(client_ids)
        ordered = [arrays[client_id] for client_id in self._client_ids]
        counts = [len(tf.nest.flatten(value)[0]) for value in ordered]
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._all = tf.nest.map_structure(lambda *leaves: np.concatenate(leaves), *ordered)
        self._by_client = {
            client_id: self._slice(start, stop)
            for client_id, start, stop in zip(
                self._client_ids, self._offsets[:-1], self._offsets[1:]
            )
        }
        self._element_spec = tf.data.Dataset.from_tensor_slices(
            self._by_client[self._client_ids[0]]
        ).element_spec

    def _slice(self, start: Any, stop: Any) -> Any:
        return tf.nest.map_structure(lambda leaf: leaf[start:stop], self._all)

    @property
    def serializable_dataset_fn(self) -> DatasetFn:
        return self._dataset_fn

    @property
    def element_type_structure(self) -> Any:
        return self._element_spec

    def _dataset_fn(self, client_id: Any) -> tf.data.Dataset:
        if isinstance(client_id, str):
            if not self._has_client(client_id):
                raise _unknown_client_error(client_id, len(self._client_ids))
            return tf.data.Dataset.from_tensor_slices(self._by_client[client_id])
        matches = tf.equal(tf.constant(self._client_ids), client_id)
        found = tf.debugging.Assert(
            tf.reduce_any(matches), ["client id is not in this ClientData:", client_id]
        )
        with tf.control_dependencies([found]):
            index = tf.argmax(tf.cast(matches, tf.int32))
        offsets = tf.constant(self._offsets)
        start, stop = offsets[index], offsets[index + 1]
        everything = tf.nest.map_structure(tf.constant, self._all)
        return tf.data.Dataset.from_tensor_slices(
            tf.nest.map_structure(lambda leaf: leaf[start:stop], everything)
        )

    def create_tf_dataset_from_all_clients(self, seed: Optional[int] = None) -> tf.data.Dataset:
        if seed is None:
            return tf.data.Dataset.from_tensor_slices(self._all)
        ordered = [self._by_client[client_id] for client_id in self._ordered_client_ids(seed)]
        return tf.data.Dataset.from_tensor_slices(
            tf.nest.map_structure(lambda *leaves: np.concatenate(leaves), *ordered)
        )


class _PreprocessedClientData(ClientData):
    """Another `ClientData`'s datasets passed through a function."""

    def __init__(
        self, base: ClientData, preprocess_fn: Callable[[tf.data.Dataset], tf.data.Dataset]
    ):
        self._base = base
        self._preprocess_fn = preprocess_fn
        example = preprocess_fn(base.create_tf_dataset_for_client(base.client_ids[0]))
        if not isinstance(example, tf.data.Dataset):
            raise TypeError(
                f"preprocess: preprocess_fn must return a tf.data.Dataset, "
                f"got {type(example).__name__}"
            )
        self._element_spec = example.element_spec

    @property
    def client_ids(self) -> List[str]:
        return self._base.client_ids

    def _has_client(self, client_id: Any) -> bool:
        return self._base._has_client(client_id)

    def _dataset_for_known_client(self, client_id: str) -> tf.data.Dataset:
        return self._preprocess_fn(self._base.create_tf_dataset_for_client(client_id))

    @property
    def serializable_dataset_fn(self) -> DatasetFn:
        return self._dataset_fn

    def _dataset_fn(self, client_id: Any) -> tf.data.Dataset:
        return self._preprocess_fn(self._base.serializable_dataset_fn(client_id))

    @property
    def element_type_structure(self) -> Any:
        return self._element_spec


class _SubsetClientData(_ListedClientData):
    """Some of another `ClientData`'s clients."""

    def __init__(self, base: ClientData, client_ids: List[str]):
        super().__init__(client_ids)
        self._base = base

    def _dataset_for_known_client(self, client_id: str) -> tf.data.Dataset:
        return self._base.create_tf_dataset_for_client(client_id)

    @property
    def serializable_dataset_fn(self) -> DatasetFn:
        return self._base.serializable_dataset_fn

    @property
    def element_type_structure(self) -> Any:
        return self._base.element_type_structure


def TestClientData(tensor_slices: Mapping[str, Any]) -> ClientData:  # noqa: N802 (TFF's name)
    """`ClientData.from_tensor_slices(tensor_slices)`, under TFF's name.

    TFF's `TestClientData` is a class; here the in-memory client data is one of
    `ClientData`'s constructors, and this name returns what it builds.

    >>> import numpy as np, tffl
    >>> data = tffl.simulation.datasets.TestClientData({'a': np.arange(3), 'b': np.arange(2)})
    >>> data.client_ids, len(list(data.create_tf_dataset_for_client('b')))
    (['a', 'b'], 2)
    """
    return ClientData.from_tensor_slices(tensor_slices)
