"""Tests for tffl/simulation/partitioners.py: IID, by-feature and Dirichlet partitions."""

import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.simulation import partitioners


def _column(data, client_id, key):
    dataset = data.create_tf_dataset_for_client(client_id)
    return [element[key].tolist() for element in dataset.as_numpy_iterator()]


def _labelled(num_labels=4, per_label=25):
    labels = np.repeat(np.arange(num_labels), per_label)
    return collections.OrderedDict(index=np.arange(len(labels)), label=labels)


class TestExports:
    def test_exports_the_partitioners_when_reached_from_datasets(self):
        datasets = tffl.simulation.datasets

        assert datasets.partition_iid is partitioners.partition_iid
        assert datasets.partition_by_feature is partitioners.partition_by_feature
        assert datasets.partition_dirichlet is partitioners.partition_dirichlet


class TestNumberedClientIds:
    @pytest.mark.parametrize(
        "count, prefix, expected",
        [
            pytest.param(1, "", ["0"], id="one"),
            pytest.param(10, "", [str(k) for k in range(10)], id="ten"),
            pytest.param(11, "c", ["c00", "c01", "c02"], id="padded"),
        ],
    )
    def test_pads_to_one_width_when_numbering(self, count, prefix, expected):
        ids = partitioners.numbered_client_ids(count, prefix)

        assert ids[: len(expected)] == expected
        assert ids == sorted(ids)


class TestAsArrays:
    def test_reads_every_batch_when_given_a_dataset(self):
        dataset = tf.data.Dataset.range(10_000).map(lambda x: {"x": x, "y": [x, -x]})

        arrays = partitioners.as_arrays(dataset)

        assert arrays["x"].tolist() == list(range(10_000))
        assert arrays["y"].shape == (10_000, 2)
        assert arrays["y"][-1].tolist() == [9_999, -9_999]

    def test_raises_when_the_dataset_is_empty(self):
        with pytest.raises(ValueError) as raised:
            partitioners.as_arrays(tf.data.Dataset.range(0), "partition_iid")

        assert (
            str(raised.value)
            == "partition_iid: expected at least one example, got an empty dataset"
        )

    def test_raises_when_arrays_differ_in_length(self):
        with pytest.raises(ValueError) as raised:
            partitioners.as_arrays({"x": np.zeros(3), "y": np.zeros(2)}, "partition_iid")

        assert str(raised.value) == "partition_iid: the arrays differ in length: [2, 3]"


class TestPartitionIid:
    def test_deals_every_example_once_when_partitioned(self):
        data = partitioners.partition_iid({"index": np.arange(10)}, num_clients=3, seed=0)

        shards = [_column(data, client_id, "index") for client_id in data.client_ids]

        assert data.client_ids == ["0", "1", "2"]
        assert shards == [[2, 4, 6, 7], [3, 5, 9], [0, 1, 8]]

    def test_gives_the_same_partition_when_the_seed_repeats(self):
        first = partitioners.partition_iid(np.arange(100), num_clients=7, seed=5)
        again = partitioners.partition_iid(np.arange(100), num_clients=7, seed=5)
        other = partitioners.partition_iid(np.arange(100), num_clients=7, seed=6)

        def shards(data):
            return [
                [int(x) for x in data.create_tf_dataset_for_client(client_id)]
                for client_id in data.client_ids
            ]

        assert shards(first) == shards(again)
        assert shards(first) != shards(other)
        assert sorted(len(shard) for shard in shards(first)) == [14, 14, 14, 14, 14, 15, 15]

    def test_keeps_the_element_structure_when_given_a_dataset(self):
        dataset = tf.data.Dataset.range(6).map(lambda x: (x, tf.cast(x, tf.float32) / 2))

        data = partitioners.partition_iid(dataset, num_clients=2)

        assert data.element_type_structure == (
            tf.TensorSpec([], tf.int64),
            tf.TensorSpec([], tf.float32),
        )

    @pytest.mark.parametrize("num_clients", [0, 11])
    def test_raises_when_num_clients_is_out_of_range(self, num_clients):
        with pytest.raises(ValueError) as raised:
            partitioners.partition_iid(np.arange(10), num_clients)

        assert str(raised.value) == (
            "partition_iid: expected 1 <= num_clients <= 10 (the number of examples), "
            f"got {num_clients}"
        )


class TestPartitionByFeature:
    @pytest.mark.parametrize(
        "writers, expected_ids, expected_xs",
        [
            pytest.param(
                [b"w2", b"w1", b"w2", b"w10"], ["w1", "w10", "w2"], [[1], [3], [0, 2]], id="bytes"
            ),
            pytest.param(
                ["w2", "w1", "w2", "w10"], ["w1", "w10", "w2"], [[1], [3], [0, 2]], id="str"
            ),
            pytest.param([7, 3, 7, 12], ["12", "3", "7"], [[3], [1], [0, 2]], id="int"),
        ],
    )
    def test_names_clients_by_the_feature_when_partitioned(
        self, writers, expected_ids, expected_xs
    ):
        data = partitioners.partition_by_feature(
            {"writer": np.array(writers), "x": np.arange(4)}, "writer"
        )

        assert data.client_ids == expected_ids
        assert [_column(data, client_id, "x") for client_id in expected_ids] == expected_xs

    def test_groups_a_datasets_examples_when_given_a_dataset(self):
        dataset = tf.data.Dataset.from_tensor_slices(
            {"user": tf.constant([5, 6, 5], tf.int64), "y": tf.constant([1.0, 2.0, 3.0])}
        )

        data = partitioners.partition_by_feature(dataset, "user")

        assert data.client_ids == ["5", "6"]
        assert _column(data, "5", "y") == [1.0, 3.0]
        assert data.element_type_structure == {
            "user": tf.TensorSpec([], tf.int64),
            "y": tf.TensorSpec([], tf.float32),
        }

    def test_raises_when_the_feature_is_missing(self):
        with pytest.raises(ValueError) as raised:
            partitioners.partition_by_feature({"x": np.arange(3)}, "writer")

        assert str(raised.value) == (
            "partition_by_feature: no feature 'writer' in the examples (features: ['x'])"
        )

    def test_raises_when_the_feature_is_not_a_scalar(self):
        with pytest.raises(ValueError) as raised:
            partitioners.partition_by_feature({"writer": np.zeros([3, 2])}, "writer")

        assert str(raised.value) == (
            "partition_by_feature: feature 'writer' must be a scalar per example"
        )

    def test_raises_when_examples_are_not_dicts(self):
        with pytest.raises(TypeError) as raised:
            partitioners.partition_by_feature(np.arange(3), "writer")

        assert str(raised.value) == (
            "partition_by_feature: expected examples that are dicts, got ndarray examples"
        )


class TestPartitionDirichlet:
    def _label_counts(self, data, num_labels=4):
        return [
            np.bincount(_column(data, client_id, "label"), minlength=num_labels).tolist()
            for client_id in data.client_ids
        ]

    def test_deals_every_example_once_when_partitioned(self):
        data = partitioners.partition_dirichlet(_labelled(), num_clients=5, alpha=0.5, seed=1)

        indices = sorted(sum((_column(data, c, "index") for c in data.client_ids), []))

        assert indices == list(range(100))

    def test_pins_the_label_counts_when_the_seed_is_zero(self):
        data = partitioners.partition_dirichlet(_labelled(), num_clients=4, alpha=0.1, seed=0)

        assert self._label_counts(data) == [
            [0, 1, 0, 0],
            [9, 17, 0, 22],
            [4, 0, 16, 0],
            [12, 7, 9, 3],
        ]

    def test_skews_labels_more_when_alpha_is_smaller(self):
        def mean_top_label_share(alpha):
            data = partitioners.partition_dirichlet(
                _labelled(10, 100), num_clients=10, alpha=alpha, seed=0
            )
            counts = np.array(self._label_counts(data, 10))
            return float(np.mean(counts.max(axis=1) / counts.sum(axis=1)))

        shares = [mean_top_label_share(alpha) for alpha in (0.05, 0.5, 100.0)]

        assert shares == sorted(shares, reverse=True)
        assert [round(share, 2) for share in shares] == [0.63, 0.41, 0.12]

    def test_gives_every_client_min_examples_when_alpha_is_tiny(self):
        data = partitioners.partition_dirichlet(
            _labelled(), num_clients=20, alpha=0.001, seed=3, min_examples=4
        )

        sizes = [sum(counts) for counts in self._label_counts(data)]

        assert min(sizes) >= 4
        assert sum(sizes) == 100

    def test_gives_the_same_partition_when_the_seed_repeats(self):
        def counts(seed):
            return self._label_counts(
                partitioners.partition_dirichlet(_labelled(), num_clients=4, alpha=1.0, seed=seed)
            )

        assert counts(2) == counts(2)
        assert counts(2) != counts(3)

    def test_reads_the_label_by_index_when_examples_are_tuples(self):
        arrays = (np.arange(8), np.array([0, 0, 0, 0, 1, 1, 1, 1]))

        data = partitioners.partition_dirichlet(arrays, num_clients=2, alpha=1.0, label_key=1)

        assert data.element_type_structure == (
            tf.TensorSpec([], tf.int64),
            tf.TensorSpec([], tf.int64),
        )

    @pytest.mark.parametrize(
        "kwargs, error, message",
        [
            pytest.param(
                dict(alpha=0.0),
                ValueError,
                "partition_dirichlet: expected alpha > 0, got 0.0",
                id="alpha",
            ),
            pytest.param(
                dict(min_examples=30),
                ValueError,
                "partition_dirichlet: cannot give 4 clients at least 30 examples each "
                "from 100 examples",
                id="min-examples",
            ),
            pytest.param(
                dict(label_key="digit"),
                ValueError,
                "partition_dirichlet: expected a scalar label 'digit' in every example",
                id="missing-label",
            ),
        ],
    )
    def test_raises_when_an_argument_is_out_of_range(self, kwargs, error, message):
        arguments = dict(num_clients=4, alpha=1.0) | kwargs

        with pytest.raises(error) as raised:
            partitioners.partition_dirichlet(_labelled(), **arguments)

        assert str(raised.value) == message

    def test_raises_when_examples_have_no_keyed_label(self):
        with pytest.raises(TypeError) as raised:
            partitioners.partition_dirichlet(np.arange(4), num_clients=2, alpha=1.0)

        assert str(raised.value) == (
            "partition_dirichlet: expected dict examples (or tuples with an int label_key), "
            "got ndarray examples"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        globs = {**vars(partitioners), "np": np}
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(partitioners, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0
