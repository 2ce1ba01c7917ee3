"""Tests for tffl/simulation/datasets/synthetic.py: shapes, determinism, learnable labels."""

import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.simulation.datasets import synthetic


def _client(data, client_id):
    batch = next(data.create_tf_dataset_for_client(client_id).batch(10_000).as_numpy_iterator())
    return batch["pixels"], batch["label"]


class TestLoadData:
    def test_shapes_elements_like_emnist_when_defaults_are_used(self):
        train, test = synthetic.load_data()

        assert train.client_ids == [str(k) for k in range(10)]
        assert test.client_ids == train.client_ids
        assert train.element_type_structure == collections.OrderedDict(
            pixels=tf.TensorSpec([28, 28, 1], tf.float32), label=tf.TensorSpec([], tf.int32)
        )
        pixels, labels = _client(train, "3")
        assert pixels.shape == (100, 28, 28, 1)
        assert 0.0 <= pixels.min() and pixels.max() <= 1.0
        assert 0 <= labels.min() and labels.max() < 62
        assert _client(test, "3")[0].shape == (20, 28, 28, 1)

    def test_gives_the_same_data_when_the_seed_repeats(self):
        first, _ = synthetic.load_data(num_clients=3, examples_per_client=5, seed=2)
        again, _ = synthetic.load_data(num_clients=5, examples_per_client=5, seed=2)
        other, _ = synthetic.load_data(num_clients=3, examples_per_client=5, seed=3)

        pixels, labels = _client(first, "1")
        np.testing.assert_array_equal(_client(again, "1")[0], pixels)
        assert _client(again, "1")[1].tolist() == labels.tolist()
        assert not np.array_equal(_client(other, "1")[0], pixels)

    def test_pins_the_labels_when_the_seed_is_zero(self):
        train, _ = synthetic.load_data(num_clients=2, examples_per_client=6, num_classes=5)

        assert _client(train, "0")[1].tolist() == [3, 1, 3, 3, 3, 4]

    def test_labels_are_a_linear_function_of_the_pixels(self):
        train, test = synthetic.load_data(
            num_clients=4, examples_per_client=50, num_classes=3, image_shape=(4, 4)
        )
        pixels = np.concatenate([_client(train, c)[0] for c in train.client_ids]).reshape(-1, 16)
        labels = np.concatenate([_client(train, c)[1] for c in train.client_ids])
        weights = np.random.default_rng(0).standard_normal((16, 3))

        assert labels.tolist() == np.argmax((pixels - 0.5) @ weights, axis=1).tolist()
        test_pixels, test_labels = _client(test, "2")
        assert (
            test_labels.tolist()
            == np.argmax((test_pixels.reshape(-1, 16) - 0.5) @ weights, axis=1).tolist()
        )

    def test_skews_clients_label_mix_when_styles_differ(self):
        train, _ = synthetic.load_data(num_clients=2, examples_per_client=400, num_classes=4)

        mixes = [np.bincount(_client(train, c)[1], minlength=4) for c in train.client_ids]

        assert [mix.tolist() for mix in mixes] != [mixes[0].tolist()] * 2
        assert all(mix.sum() == 400 for mix in mixes)

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            pytest.param(
                dict(num_clients=0),
                "synthetic.load_data: expected num_clients >= 1, got 0",
                id="clients",
            ),
            pytest.param(
                dict(num_classes=1),
                "synthetic.load_data: expected num_classes >= 2, got 1",
                id="classes",
            ),
        ],
    )
    def test_raises_when_a_count_is_out_of_range(self, kwargs, message):
        with pytest.raises(ValueError) as raised:
            synthetic.load_data(**kwargs)

        assert str(raised.value) == message


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        globs = {**vars(synthetic), "tffl": tffl}
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(synthetic, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0
