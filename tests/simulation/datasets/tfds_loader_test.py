"""Tests for tffl/simulation/datasets/tfds_loader.py on TFDS's offline mock data."""

import doctest

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tffl.simulation.datasets import tfds_loader


def _labels(data, client_id):
    return [int(element["label"]) for element in data.create_tf_dataset_for_client(client_id)]


class TestLoadData:
    def test_partitions_mnist_iid_when_mocked(self):
        with tfds.testing.mock_data(num_examples=50):
            data = tfds_loader.load_data("mnist", partitioner="iid", num_clients=5)

        assert data.client_ids == ["0", "1", "2", "3", "4"]
        assert data.element_type_structure == {
            "image": tf.TensorSpec([28, 28, 1], tf.uint8),
            "label": tf.TensorSpec([], tf.int64),
        }
        assert [len(_labels(data, client_id)) for client_id in data.client_ids] == [10] * 5

    def test_partitions_by_dirichlet_label_skew_when_mocked(self):
        with tfds.testing.mock_data(num_examples=200):
            data = tfds_loader.load_data("mnist", num_clients=4, alpha=0.2, seed=1)

        sizes = [len(_labels(data, client_id)) for client_id in data.client_ids]
        assert sum(sizes) == 200
        assert min(sizes) >= 1
        shares = [
            np.bincount(_labels(data, client_id), minlength=10).max() / size
            for client_id, size in zip(data.client_ids, sizes)
        ]
        assert max(shares) > 0.3

    def test_reads_the_requested_split_when_mocked(self):
        with tfds.testing.mock_data(num_examples=12):
            data = tfds_loader.load_data("mnist", partitioner="iid", num_clients=3, split="test")

        assert sum(len(_labels(data, client_id)) for client_id in data.client_ids) == 12

    def test_raises_when_the_partitioner_is_unknown(self):
        with pytest.raises(ValueError) as raised:
            tfds_loader.load_data("mnist", partitioner="writer")

        assert str(raised.value) == (
            "tfds_loader.load_data: expected partitioner in ('dirichlet', 'iid'), got 'writer'"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(tfds_loader, globs=dict(vars(tfds_loader))):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0
