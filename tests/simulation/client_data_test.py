"""Tests for tffl/simulation/client_data.py: building, reading, preprocessing, splitting."""

import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.simulation import client_data

ClientData = tffl.simulation.datasets.ClientData
Point = collections.namedtuple("Point", ["x", "y"])


def _examples(x, y):
    return collections.OrderedDict(
        x=np.asarray(x, np.float32).reshape(-1, 2), y=np.asarray(y, np.int32)
    )


def _three_clients():
    return ClientData.from_tensor_slices(
        {
            "c": _examples([5, 6], [2]),
            "a": _examples([1, 2, 3, 4], [0, 1]),
            "b": _examples([], []),
        }
    )


def _plain(leaf):
    return leaf.tolist() if isinstance(leaf, (np.ndarray, np.generic)) else leaf


def _as_lists(dataset):
    return [tf.nest.map_structure(_plain, element) for element in dataset.as_numpy_iterator()]


def _ys(dataset):
    return [int(element["y"]) for element in dataset]


class TestClassPaths:
    def test_is_one_class_when_reached_from_simulation_or_datasets(self):
        assert tffl.simulation.ClientData is client_data.ClientData
        assert tffl.simulation.datasets.ClientData is client_data.ClientData


class TestFromTensorSlices:
    def test_sorts_client_ids_when_given_in_any_order(self):
        assert _three_clients().client_ids == ["a", "b", "c"]

    def test_returns_a_fresh_list_when_client_ids_is_mutated(self):
        data = _three_clients()
        data.client_ids.append("z")

        assert data.client_ids == ["a", "b", "c"]

    def test_describes_one_element_when_asked_for_the_element_type_structure(self):
        assert _three_clients().element_type_structure == collections.OrderedDict(
            x=tf.TensorSpec([2], tf.float32), y=tf.TensorSpec([], tf.int32)
        )

    def test_yields_the_clients_rows_when_a_client_dataset_is_created(self):
        data = _three_clients()

        assert _as_lists(data.create_tf_dataset_for_client("a")) == [
            collections.OrderedDict(x=[1.0, 2.0], y=0),
            collections.OrderedDict(x=[3.0, 4.0], y=1),
        ]
        assert _as_lists(data.create_tf_dataset_for_client("b")) == []

    @pytest.mark.parametrize(
        "slices, elements",
        [
            pytest.param(np.array([1, 2]), [1, 2], id="array"),
            pytest.param(
                (np.array([1, 2]), np.array([3.0, 4.0])), [(1, 3.0), (2, 4.0)], id="tuple"
            ),
            pytest.param(
                Point(np.array([1, 2]), np.array([3, 4])),
                [Point(1, 3), Point(2, 4)],
                id="namedtuple",
            ),
            pytest.param({"t": np.array([7, 8])}, [{"t": 7}, {"t": 8}], id="dict"),
            pytest.param([1, 2], [1, 2], id="list-leaf"),
            pytest.param(["ab", "c"], [b"ab", b"c"], id="text"),
        ],
    )
    def test_keeps_the_container_when_values_are_structures(self, slices, elements):
        data = ClientData.from_tensor_slices({"only": slices})

        assert _as_lists(data.create_tf_dataset_for_client("only")) == elements

    def test_reads_text_as_string_when_values_are_str(self):
        data = ClientData.from_tensor_slices({"a": ["x", "yz"], "b": [b"w"]})

        assert data.element_type_structure == tf.TensorSpec([], tf.string)

    @pytest.mark.parametrize(
        "second, message",
        [
            pytest.param(
                collections.OrderedDict(x=np.zeros([1, 2], np.float32)),
                "from_tensor_slices: client 'b' has examples of type <x=float32[2]>, "
                "but client 'a' has <x=float32[2],y=int32>",
                id="missing-key",
            ),
            pytest.param(
                _examples([1, 2], [0]) | {"y": np.array([0.5])},
                "from_tensor_slices: client 'b' has examples of type "
                "<x=float32[2],y=float64>, but client 'a' has <x=float32[2],y=int32>",
                id="dtype",
            ),
            pytest.param(
                collections.OrderedDict(x=np.zeros([1, 3], np.float32), y=np.zeros([1], np.int32)),
                "from_tensor_slices: client 'b' has examples of type "
                "<x=float32[3],y=int32>, but client 'a' has <x=float32[2],y=int32>",
                id="shape",
            ),
            pytest.param(
                {"x": np.zeros([1, 2], np.float32), "y": np.zeros([1], np.int32)},
                "from_tensor_slices: client 'b' has examples of type "
                "<x=float32[2],y=int32> in a dict, but client 'a' has <x=float32[2],y=int32> "
                "in a OrderedDict",
                id="container",
            ),
        ],
    )
    def test_names_both_clients_when_structures_differ(self, second, message):
        with pytest.raises(ValueError) as raised:
            ClientData.from_tensor_slices({"a": _examples([1, 2], [0]), "b": second})

        assert str(raised.value) == message

    def test_raises_when_a_clients_arrays_differ_in_length(self):
        with pytest.raises(ValueError) as raised:
            ClientData.from_tensor_slices({"a": _examples([1, 2, 3, 4], [0])})

        assert str(raised.value) == (
            "from_tensor_slices: client 'a' has arrays of different lengths [1, 2]; "
            "all must have one entry per example"
        )

    def test_raises_when_a_value_is_a_scalar(self):
        with pytest.raises(ValueError) as raised:
            ClientData.from_tensor_slices({"a": {"x": 3}})

        assert str(raised.value) == (
            "from_tensor_slices: client 'a' has a scalar 3; expected arrays whose first "
            "dimension indexes the examples"
        )

    def test_raises_when_there_are_no_clients(self):
        with pytest.raises(ValueError) as raised:
            ClientData.from_tensor_slices({})

        assert str(raised.value) == "from_tensor_slices: expected at least one client id, got none"

    def test_raises_when_a_client_id_is_not_a_str(self):
        with pytest.raises(TypeError) as raised:
            ClientData.from_tensor_slices({1: np.array([1])})

        assert str(raised.value) == "from_tensor_slices: client ids must be str, got 1 (int)"

    def test_raises_when_given_a_list(self):
        with pytest.raises(TypeError) as raised:
            ClientData.from_tensor_slices([np.array([1])])

        assert str(raised.value) == (
            "from_tensor_slices: expected a mapping from client id to examples, got list"
        )

    def test_names_the_id_when_a_client_is_unknown(self):
        with pytest.raises(ValueError) as raised:
            _three_clients().create_tf_dataset_for_client("zz")

        assert str(raised.value) == (
            "client id 'zz' is not in this ClientData (see client_ids for the 3 valid ids)"
        )

    def test_looks_a_tensor_id_up_when_traced_in_tf_data(self):
        data = _three_clients()
        ids = tf.data.Dataset.from_tensor_slices(["c", "b", "a"])

        assert _ys(ids.flat_map(data.serializable_dataset_fn)) == [2, 0, 1]

    def test_fails_at_run_time_when_a_tensor_id_is_unknown(self):
        ids = tf.data.Dataset.from_tensor_slices(["zz"])

        with pytest.raises(tf.errors.InvalidArgumentError, match="not in this ClientData"):
            list(ids.flat_map(_three_clients().serializable_dataset_fn))


class TestCreateTfDatasetFromAllClients:
    def test_concatenates_in_client_id_order_when_no_seed_is_given(self):
        assert _ys(_three_clients().create_tf_dataset_from_all_clients()) == [0, 1, 2]

    def test_orders_clients_like_tff_when_a_seed_is_given(self):
        data = ClientData.from_tensor_slices(
            {name: np.array([k]) for k, name in enumerate(["a", "b", "c", "d", "e"])}
        )
        order = ["a", "b", "c", "d", "e"]
        np.random.RandomState(3).shuffle(order)

        got = [int(x) for x in data.create_tf_dataset_from_all_clients(seed=3)]

        assert got == [ord(name) - ord("a") for name in order]
        assert got == [3, 4, 1, 0, 2]

    def test_uses_the_dataset_function_when_built_from_one(self):
        data = ClientData.from_clients_and_tf_fn(
            ["b", "a"], lambda client_id: tf.data.Dataset.from_tensors(client_id)
        )

        assert list(data.create_tf_dataset_from_all_clients().as_numpy_iterator()) == [
            b"a",
            b"b",
        ]

    def test_preprocesses_each_client_when_preprocessed_data_is_joined(self):
        data = _three_clients().preprocess(lambda ds: ds.map(lambda e: e["y"] * 10).batch(5))

        got = [batch.numpy().tolist() for batch in data.create_tf_dataset_from_all_clients()]

        assert got == [[0, 10], [20]]


class TestPreprocess:
    def test_updates_the_element_structure_when_preprocessed(self):
        data = _three_clients().preprocess(lambda ds: ds.map(lambda e: e["x"]).batch(2))

        assert data.element_type_structure == tf.TensorSpec([None, 2], tf.float32)
        assert data.client_ids == ["a", "b", "c"]
        assert [b.numpy().tolist() for b in data.create_tf_dataset_for_client("a")] == [
            [[1.0, 2.0], [3.0, 4.0]]
        ]

    def test_raises_when_a_preprocessed_client_is_unknown(self):
        data = _three_clients().preprocess(lambda ds: ds)

        with pytest.raises(ValueError, match="client id 'q' is not in this ClientData"):
            data.create_tf_dataset_for_client("q")

    def test_refuses_a_tffl_computation(self):
        identity = tffl.tf_computation(lambda x: x, np.int32)

        with pytest.raises(TypeError) as raised:
            _three_clients().preprocess(identity)

        assert str(raised.value) == (
            "preprocess: expected a Python callable or tf.function, got a tffl computation "
            "(tf.data traces preprocess_fn with tf.function, which cannot call a computation)"
        )

    def test_raises_when_not_callable(self):
        with pytest.raises(TypeError) as raised:
            _three_clients().preprocess(3)

        assert str(raised.value) == "preprocess: expected a callable, got int"

    def test_raises_when_the_function_returns_no_dataset(self):
        with pytest.raises(TypeError) as raised:
            _three_clients().preprocess(lambda ds: 3)

        assert (
            str(raised.value) == "preprocess: preprocess_fn must return a tf.data.Dataset, got int"
        )


class TestFromClientsAndTfFn:
    def test_takes_the_structure_of_the_first_client_when_built(self):
        data = ClientData.from_clients_and_tf_fn(
            ["y", "x"], lambda client_id: tf.data.Dataset.range(3)
        )

        assert data.client_ids == ["x", "y"]
        assert data.element_type_structure == tf.TensorSpec([], tf.int64)
        assert [int(v) for v in data.create_tf_dataset_for_client("y")] == [0, 1, 2]

    def test_raises_when_an_id_repeats(self):
        with pytest.raises(ValueError) as raised:
            ClientData.from_clients_and_tf_fn(["a", "a"], lambda c: tf.data.Dataset.range(1))

        assert str(raised.value) == "from_clients_and_tf_fn: client id 'a' appears more than once"

    def test_raises_when_there_are_no_ids(self):
        with pytest.raises(ValueError) as raised:
            ClientData.from_clients_and_tf_fn([], lambda c: tf.data.Dataset.range(1))

        assert str(raised.value) == (
            "from_clients_and_tf_fn: expected at least one client id, got none"
        )

    def test_raises_when_the_function_returns_no_dataset(self):
        with pytest.raises(TypeError) as raised:
            ClientData.from_clients_and_tf_fn(["a"], lambda c: [1])

        assert str(raised.value) == (
            "from_clients_and_tf_fn: serializable_dataset_fn must return a tf.data.Dataset, "
            "got list"
        )

    def test_raises_when_the_function_is_not_callable(self):
        with pytest.raises(TypeError) as raised:
            ClientData.from_clients_and_tf_fn(["a"], None)

        assert str(raised.value) == (
            "from_clients_and_tf_fn: expected a callable serializable_dataset_fn, got NoneType"
        )

    def test_refuses_a_tffl_computation(self):
        fn = tffl.tf_computation(lambda x: x, np.int32)

        with pytest.raises(TypeError) as raised:
            ClientData.from_clients_and_tf_fn(["a"], fn)

        assert str(raised.value) == (
            "from_clients_and_tf_fn: serializable_dataset_fn must be traceable by "
            "TensorFlow, got a tffl computation"
        )


class TestTrainTestClientSplit:
    def _data(self, empty=()):
        return ClientData.from_tensor_slices(
            {name: np.arange(0 if name in empty else 2) for name in ["a", "b", "c", "d", "e", "f"]}
        )

    def test_gives_disjoint_clients_when_split(self):
        train, test = ClientData.train_test_client_split(self._data(), 2)

        assert train.client_ids == ["b", "c", "d", "f"]
        assert test.client_ids == ["a", "e"]

    def test_matches_tffs_shuffle_when_a_seed_is_given(self):
        order = ["a", "b", "c", "d", "e", "f"]
        np.random.RandomState(7).shuffle(order)

        train, test = ClientData.train_test_client_split(self._data(), 3, seed=7)

        assert test.client_ids == sorted(order[-3:])
        assert train.client_ids == sorted(order[:-3])
        assert test.client_ids == ["b", "c", "e"]

    def test_keeps_empty_clients_in_train_when_they_would_be_test_clients(self):
        train, test = ClientData.train_test_client_split(self._data(empty=("e", "f")), 2)

        assert test.client_ids == ["a", "d"]
        assert train.client_ids == ["b", "c", "e", "f"]

    def test_reads_the_base_data_when_a_split_dataset_is_created(self):
        train, _ = ClientData.train_test_client_split(self._data(), 2)

        assert [int(x) for x in train.create_tf_dataset_for_client("b")] == [0, 1]
        assert [int(x) for x in train.create_tf_dataset_from_all_clients()] == [0, 1] * 4
        assert train.element_type_structure == tf.TensorSpec([], tf.int64)
        with pytest.raises(ValueError, match="client id 'a' is not in this ClientData"):
            train.create_tf_dataset_for_client("a")

    @pytest.mark.parametrize(
        "count, message",
        [
            (0, "train_test_client_split: expected num_test_clients >= 1, got 0"),
            (
                6,
                "train_test_client_split: 6 test clients requested, but the ClientData has "
                "only 6 clients (at least one must stay for training)",
            ),
        ],
    )
    def test_raises_when_the_count_is_out_of_range(self, count, message):
        with pytest.raises(ValueError) as raised:
            ClientData.train_test_client_split(self._data(), count)

        assert str(raised.value) == message

    def test_raises_when_too_few_clients_have_data(self):
        with pytest.raises(ValueError) as raised:
            ClientData.train_test_client_split(self._data(empty=("a", "b", "c", "d", "e")), 2)

        assert str(raised.value) == (
            "train_test_client_split: only 1 clients have data, 2 test clients requested"
        )


class TestTffName:
    def test_test_client_data_builds_in_memory_client_data(self):
        data = tffl.simulation.datasets.TestClientData(
            {"b": {"x": np.array([1.0, 2.0], np.float32)}, "a": {"x": np.array([3.0], np.float32)}}
        )

        assert isinstance(data, ClientData)
        assert data.client_ids == ["a", "b"]
        assert [float(e["x"]) for e in data.create_tf_dataset_for_client("b")] == [1.0, 2.0]


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        globs = {**vars(client_data), "np": np, "collections": collections, "tffl": tffl}
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(client_data, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0
