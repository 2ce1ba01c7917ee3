"""Tests for tffl/simulation/datasets/emnist.py on small databases in TFF's SQLite format."""

import collections
import lzma
import os
import sqlite3

import numpy as np
import pytest
import tensorflow as tf

from tffl.simulation.datasets import emnist

# (split, client id, label); each example's pixels are all label / 10.
ROWS = [
    ("digits_only_train", "f0002_31", 3),
    ("digits_only_train", "f0001_07", 1),
    ("digits_only_train", "f0001_07", 4),
    ("digits_only_test", "f0001_07", 9),
    ("digits_only_test", "f0002_31", 0),
    ("all_train", "f0001_07", 37),
    ("all_train", "it's", 12),
    ("all_test", "it's", 61),
]
UNREACHABLE = "http://127.0.0.1:1/emnist_all.sqlite.lzma"


def _example(label):
    features = {
        "pixels": tf.train.Feature(float_list=tf.train.FloatList(value=[label / 10] * 784)),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _write_database(path, rows=ROWS, tables=("examples", "client_metadata")):
    with sqlite3.connect(path) as db:
        if "examples" in tables:
            db.execute(
                "CREATE TABLE examples (split_name TEXT NOT NULL, client_id TEXT NOT NULL, "
                "serialized_example_proto BLOB NOT NULL)"
            )
            db.executemany(
                "INSERT INTO examples VALUES (?, ?, ?)",
                [(split, client, _example(label)) for split, client, label in rows],
            )
        if "client_metadata" in tables:
            db.execute(
                "CREATE TABLE client_metadata (client_id TEXT NOT NULL, "
                "split_name TEXT NOT NULL, num_examples INTEGER NOT NULL)"
            )
            counts = collections.Counter((client, split) for split, client, _ in rows)
            db.executemany(
                "INSERT INTO client_metadata VALUES (?, ?, ?)",
                [(client, split, count) for (client, split), count in counts.items()],
            )
    db.close()


def _write_compressed(directory, **kwargs):
    os.makedirs(directory, exist_ok=True)
    database = os.path.join(directory, "plain.sqlite")
    _write_database(database, **kwargs)
    with open(database, "rb") as source:
        data = lzma.compress(source.read())
    os.remove(database)
    compressed = os.path.join(directory, "emnist_all.sqlite.lzma")
    with open(compressed, "wb") as target:
        target.write(data)
    return compressed


def _labels(dataset):
    return [int(element["label"]) for element in dataset]


@pytest.fixture
def unreachable(monkeypatch):
    monkeypatch.setattr(emnist, "_ORIGIN", UNREACHABLE)


class TestLoadData:
    def test_reads_the_digits_splits_when_the_compressed_file_is_cached(
        self, tmp_path, unreachable
    ):
        _write_compressed(tmp_path)

        train, test = emnist.load_data(cache_dir=str(tmp_path))

        assert train.client_ids == ["f0001_07", "f0002_31"]
        assert test.client_ids == ["f0001_07", "f0002_31"]
        assert _labels(train.create_tf_dataset_for_client("f0001_07")) == [1, 4]
        assert _labels(test.create_tf_dataset_for_client("f0002_31")) == [0]
        assert (tmp_path / "emnist_all.sqlite").is_file()

    def test_parses_pixels_and_label_like_tff(self, tmp_path, unreachable):
        _write_compressed(tmp_path)
        train, _ = emnist.load_data(cache_dir=str(tmp_path))

        element = next(iter(train.create_tf_dataset_for_client("f0002_31")))

        expected = collections.OrderedDict(
            label=tf.TensorSpec([], tf.int32), pixels=tf.TensorSpec([28, 28], tf.float32)
        )
        assert train.element_type_structure == expected
        assert list(element) == ["label", "pixels"]
        assert element["label"].dtype == tf.int32
        np.testing.assert_array_equal(element["pixels"], np.full([28, 28], 0.3, np.float32))

    def test_reads_letters_and_digits_when_only_digits_is_false(self, tmp_path, unreachable):
        _write_compressed(tmp_path)

        train, test = emnist.load_data(only_digits=False, cache_dir=str(tmp_path))

        assert train.client_ids == ["f0001_07", "it's"]
        assert _labels(train.create_tf_dataset_for_client("it's")) == [12]
        assert _labels(test.create_tf_dataset_for_client("it's")) == [61]

    def test_joins_every_client_when_read_inside_tf_data(self, tmp_path, unreachable):
        _write_compressed(tmp_path)
        train, _ = emnist.load_data(only_digits=False, cache_dir=str(tmp_path))

        assert _labels(train.create_tf_dataset_from_all_clients()) == [37, 12]

    def test_reuses_the_decompressed_file_when_loaded_again(self, tmp_path, unreachable):
        compressed = _write_compressed(tmp_path)
        emnist.load_data(cache_dir=str(tmp_path))
        os.remove(compressed)

        train, _ = emnist.load_data(cache_dir=str(tmp_path))

        assert len(train.client_ids) == 2

    def test_downloads_and_decompresses_when_the_cache_is_empty(self, tmp_path, monkeypatch):
        served = _write_compressed(tmp_path / "server")
        monkeypatch.setattr(emnist, "_ORIGIN", "file://" + served)
        cache = tmp_path / "cache"

        train, _ = emnist.load_data(cache_dir=str(cache))

        assert train.client_ids == ["f0001_07", "f0002_31"]
        assert sorted(os.listdir(cache)) == ["emnist_all.sqlite"]

    def test_names_the_files_and_url_when_offline_and_nothing_is_cached(
        self, tmp_path, unreachable
    ):
        with pytest.raises(FileNotFoundError) as raised:
            emnist.load_data(cache_dir=str(tmp_path))

        assert str(raised.value) == (
            f"federated EMNIST: neither {tmp_path}/emnist_all.sqlite nor "
            f"{tmp_path}/emnist_all.sqlite.lzma exists, and downloading {UNREACHABLE} failed "
            f"({raised.value.__cause__}). Fetch that file where there is network access and "
            f"put it in {tmp_path}."
        )
        assert os.listdir(tmp_path) == []

    def test_caches_under_home_when_no_cache_dir_is_given(self, tmp_path, monkeypatch, unreachable):
        monkeypatch.setenv("HOME", str(tmp_path))

        with pytest.raises(FileNotFoundError, match="put it in .*/.tffl/datasets.$"):
            emnist.load_data()

    def test_raises_when_a_table_is_missing(self, tmp_path, unreachable):
        _write_database(tmp_path / "emnist_all.sqlite", tables=("examples",))

        with pytest.raises(ValueError) as raised:
            emnist.load_data(cache_dir=str(tmp_path))

        assert str(raised.value) == (
            f"federated EMNIST: {tmp_path}/emnist_all.sqlite lacks the tables "
            "['client_metadata'] of TFF's SQLite format"
        )

    def test_raises_when_the_split_has_no_clients(self, tmp_path, unreachable):
        _write_database(tmp_path / "emnist_all.sqlite", rows=ROWS[:3])

        with pytest.raises(ValueError) as raised:
            emnist.load_data(cache_dir=str(tmp_path))

        assert str(raised.value) == (
            f"federated EMNIST: {tmp_path}/emnist_all.sqlite has no clients in split "
            "'digits_only_test'"
        )
