"""Tests for tffl/simulation/datasets/digits.py: sizes, label skew, held-out test clients."""

import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf

from tffl.simulation.datasets import digits


def _client(data, client_id):
    """(pixels, labels) of one client as numpy arrays."""
    batch = next(data.create_tf_dataset_for_client(client_id).batch(10_000).as_numpy_iterator())
    return batch["pixels"], batch["label"]


def _examples(data):
    """{client id: (pixels, labels)} as numpy arrays."""
    return {client_id: _client(data, client_id) for client_id in data.client_ids}


@pytest.fixture(scope="module")
def default_split():
    train, test = digits.load_data()
    return train, test, _examples(train), _examples(test)


class TestLoadData:
    def test_has_20_train_and_5_test_clients_when_defaults_are_used(self, default_split):
        train, test, _, _ = default_split

        assert train.client_ids == [f"{k:02d}" for k in range(20)]
        assert test.client_ids == ["test_0", "test_1", "test_2", "test_3", "test_4"]

    def test_describes_pixels_and_label_when_asked_for_the_element_structure(self, default_split):
        train, test, _, _ = default_split
        expected = collections.OrderedDict(
            pixels=tf.TensorSpec([8, 8], tf.float32), label=tf.TensorSpec([], tf.int32)
        )

        assert train.element_type_structure == expected
        assert test.element_type_structure == expected

    def test_uses_every_image_once_when_split(self, default_split):
        _, _, train, test = default_split
        from sklearn import datasets as sklearn_datasets

        original = {
            row.tobytes()
            for row in (sklearn_datasets.load_digits().images / 16.0).astype(np.float32)
        }
        train_images = [row.tobytes() for pixels, _ in train.values() for row in pixels]
        test_images = [row.tobytes() for pixels, _ in test.values() for row in pixels]

        assert (len(train_images), len(test_images)) == (1438, 359)
        assert len(train_images) + len(test_images) == 1797
        assert set(train_images).isdisjoint(test_images)
        assert set(train_images) | set(test_images) == original

    def test_scales_pixels_to_the_unit_interval(self, default_split):
        _, _, train, _ = default_split
        pixels = np.concatenate([pixels for pixels, _ in train.values()])

        assert (pixels.min(), pixels.max()) == (0.0, 1.0)
        assert sorted(set((pixels * 16).round().astype(int).ravel()))[:3] == [0, 1, 2]

    def test_gives_each_train_client_two_labels_when_defaults_are_used(self, default_split):
        _, _, train, _ = default_split

        for client_id, (_, labels) in train.items():
            counts = np.sort(np.bincount(labels, minlength=10))[::-1]
            assert counts[:2].sum() / counts.sum() >= 0.8, client_id
            assert np.count_nonzero(counts) == 2, client_id
        assert sorted(len(labels) for _, labels in train.values())[::19] == [70, 73]

    def test_stratifies_the_test_split_by_label(self, default_split):
        _, _, _, test = default_split
        labels = np.concatenate([labels for _, labels in test.values()])

        assert np.bincount(labels).tolist() == [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]
        assert [len(labels) for _, labels in test.values()] == [72, 72, 72, 72, 71]

    @pytest.mark.parametrize(
        "num_clients, labels_per_client",
        [
            pytest.param(5, 2, id="few-clients"),
            pytest.param(40, 3, id="three-labels"),
            pytest.param(10, 10, id="all-labels"),
        ],
    )
    def test_gives_distinct_labels_to_each_client_when_sizes_vary(
        self, num_clients, labels_per_client
    ):
        train, _ = digits.load_data(num_clients, labels_per_client, seed=4)

        for client_id, (_, labels) in _examples(train).items():
            assert len(set(labels.tolist())) == labels_per_client, client_id

    def test_gives_the_same_split_when_the_seed_repeats(self, default_split):
        _, _, train, _ = default_split
        again, _ = digits.load_data()
        other, _ = digits.load_data(seed=1)

        first_client = train["00"][1].tolist()
        assert _client(again, "00")[1].tolist() == first_client
        assert _client(other, "00")[1].tolist() != first_client

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            pytest.param(
                dict(test_fraction=1.0),
                "digits.load_data: expected 0 < test_fraction < 1, got 1.0",
                id="test-fraction",
            ),
            pytest.param(
                dict(labels_per_client=11),
                "digits.load_data: expected 1 <= labels_per_client <= 10, got 11",
                id="labels-per-client",
            ),
            pytest.param(
                dict(num_clients=4),
                "digits.load_data: num_clients * labels_per_client = 8 shards cannot cover "
                "the 10 labels; expected at least 10",
                id="too-few-shards",
            ),
            pytest.param(
                dict(num_clients=800),
                "digits.load_data: 1600 shards leave label 0 (142 training images) with "
                "empty shards; use fewer clients or labels per client",
                id="too-many-shards",
            ),
            pytest.param(
                dict(num_test_clients=0),
                "digits.load_data: expected 1 <= num_test_clients <= 359 (the held-out "
                "images), got 0",
                id="test-clients",
            ),
        ],
    )
    def test_raises_when_an_argument_is_out_of_range(self, kwargs, message):
        with pytest.raises(ValueError) as raised:
            digits.load_data(**kwargs)

        assert str(raised.value) == message


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(digits, globs=dict(vars(digits))):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0
