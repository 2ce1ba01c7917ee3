"""Federated EMNIST (LEAF's writers as clients) from TFF's published SQLite file.

TFF publishes the dataset as one LZMA-compressed SQLite database,
`emnist_all.sqlite.lzma`, holding both variants (digits only, and digits and
letters) as splits `digits_only_train`, `digits_only_test`, `all_train` and
`all_test`. Its tables are `examples(split_name, client_id,
serialized_example_proto)`, one row per example, each a serialized
`tf.train.Example` with features `pixels` (784 floats, a 28x28 image) and `label`
(one int64), and `client_metadata(client_id, split_name, num_examples)`. The
file is read with Python's `sqlite3` (client ids) and TensorFlow's `SqlDataset`
(each client's examples, lazily), so the 4.7 GB database never sits in memory.
"""

from __future__ import annotations

import collections
import contextlib
import lzma
import os
import sqlite3
from typing import Any
from typing import Optional
from typing import Tuple
import urllib.parse

import tensorflow as tf

from tffl.simulation import client_data

_ORIGIN = "https://storage.googleapis.com/tff-datasets-public/emnist_all.sqlite.lzma"
# Seconds to wait for the server to connect or send the next chunk.
_TIMEOUT_S = 15
_CHUNK_BYTES = 1 << 20
_REQUIRED_TABLES = ("client_metadata", "examples")

_PARSE_SPEC = {
    "pixels": tf.io.FixedLenFeature(shape=(28, 28), dtype=tf.float32),
    "label": tf.io.FixedLenFeature(shape=(), dtype=tf.int64),
}


def load_data(
    only_digits: bool = True, cache_dir: Optional[str] = None
) -> Tuple[client_data.ClientData, client_data.ClientData]:
    """Loads federated EMNIST as (train, test) ClientData, downloading it when absent.

    Derived by TFF from LEAF (Caldas et al., "LEAF: A Benchmark for Federated
    Settings", 2018), examples grouped by writer. Every writer has examples in
    both splits. Digits only: 3,383 writers, 341,873 train and 40,832 test
    examples, labels 0-9. All: 3,400 writers, 671,585 and 77,483 examples,
    labels 0-9 digits, 10-35 upper case, 36-61 lower case letters. Pixels are in
    [0, 1] with 1.0 the background (the inverse of MNIST's convention).

    Elements are `OrderedDict(label=int32, pixels=float32[28,28])`, as in TFF.

    The decompressed database is `<cache_dir>/emnist_all.sqlite`. When it is
    absent, `<cache_dir>/emnist_all.sqlite.lzma` is decompressed if present;
    otherwise the file is downloaded from
    `https://storage.googleapis.com/tff-datasets-public/emnist_all.sqlite.lzma`
    and decompressed on the fly (170 MB to download, 4.7 GB on disk).

    Args:
      only_digits: the digits-only variant (10 labels) if True, else digits and
        letters (62 labels).
      cache_dir: where the database is kept; `~/.tffl/datasets` by default.

    Returns:
      `(train, test)`, each a `ClientData` keyed by writer id.

    Raises:
      FileNotFoundError: if the database is absent and cannot be downloaded; the
        message names the expected paths and the URL.
      ValueError: if the database lacks the tables or the split.

    >>> train, test = load_data(cache_dir='/data/tff')  # doctest: +SKIP
    >>> train.element_type_structure  # doctest: +SKIP
    OrderedDict([('label', TensorSpec(shape=(), dtype=tf.int32, name=None)),
                 ('pixels', TensorSpec(shape=(28, 28), dtype=tf.float32, name=None))])
    """
    database = _cached_database(cache_dir)
    prefix = "digits_only" if only_digits else "all"
    return (
        _split(database, f"{prefix}_train"),
        _split(database, f"{prefix}_test"),
    )


def _cached_database(cache_dir: Optional[str]) -> str:
    """The path of the decompressed database, decompressing or downloading it if needed."""
    if cache_dir is None:
        cache_dir = os.path.join(os.path.expanduser("~"), ".tffl", "datasets")
    compressed_name = os.path.basename(urllib.parse.urlparse(_ORIGIN).path)
    compressed = os.path.join(cache_dir, compressed_name)
    database = os.path.join(cache_dir, os.path.splitext(compressed_name)[0])
    if os.path.exists(database):
        return database
    os.makedirs(cache_dir, exist_ok=True)
    partial = database + ".partial"
    try:
        if os.path.exists(compressed):
            with open(compressed, "rb") as source:
                _decompress(source, partial)
        else:
            _download(_ORIGIN, partial)
    except (OSError, lzma.LZMAError) as error:
        with contextlib.suppress(OSError):
            os.remove(partial)
        if os.path.exists(compressed):
            raise
        raise FileNotFoundError(
            f"federated EMNIST: neither {database} nor {compressed} exists, and "
            f"downloading {_ORIGIN} failed ({error}). Fetch that file where there is "
            f"network access and put it in {cache_dir}."
        ) from error
    os.replace(partial, database)
    return database


def _download(origin: str, destination: str) -> None:
    import urllib.request  # imported here: only a download needs it

    with urllib.request.urlopen(origin, timeout=_TIMEOUT_S) as response:
        _decompress(response, destination)


def _decompress(source: Any, destination: str) -> None:
    decompressor = lzma.LZMADecompressor()
    with open(destination, "wb") as target:
        while True:
            chunk = source.read(_CHUNK_BYTES)
            if not chunk:
                break
            target.write(decompressor.decompress(chunk))
    if not decompressor.eof:
        raise lzma.LZMAError("the compressed data ends early")


def _parse(serialized: tf.Tensor) -> collections.OrderedDict:
    parsed = tf.io.parse_single_example(serialized, _PARSE_SPEC)
    return collections.OrderedDict(
        label=tf.cast(parsed["label"], tf.int32), pixels=parsed["pixels"]
    )


def _split(database: str, split_name: str) -> client_data.ClientData:
    """One split of a database in TFF's SQLite format, parsed into EMNIST elements."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        missing = [table for table in _REQUIRED_TABLES if table not in tables]
        if missing:
            raise ValueError(
                f"federated EMNIST: {database} lacks the tables {missing} of TFF's SQLite format"
            )
        rows = db.execute(
            "SELECT DISTINCT client_id FROM client_metadata WHERE split_name = ?", (split_name,)
        )
        client_ids = [row[0] for row in rows]
    if not client_ids:
        raise ValueError(f"federated EMNIST: {database} has no clients in split {split_name!r}")

    def dataset_fn(client_id: Any) -> tf.data.Dataset:
        # Quotes are doubled so that any id is a literal, never SQL.
        quoted = tf.strings.regex_replace(client_id, "'", "''")
        query = tf.strings.join(
            [
                "SELECT serialized_example_proto FROM examples WHERE client_id = '",
                quoted,
                f"' AND split_name = '{split_name}' ORDER BY rowid",
            ]
        )
        examples = tf.data.experimental.SqlDataset("sqlite", database, query, tf.string)
        return examples.map(_parse)

    return client_data.ClientData.from_clients_and_tf_fn(client_ids, dataset_fn)
