"""Tests for tffl/compiler/padded_sequences.py: reading client datasets into padded arrays."""

import collections
import doctest
import gc
import weakref

import numpy as np
import pytest
import tensorflow as tf

from tffl.compiler import padded_sequences
from tffl.types import computation_types

_X = np.arange(14, dtype=np.float32).reshape(7, 2)
_Y = np.arange(7, dtype=np.int32)


def _batches(num_examples=7, batch_size=3):
    data = collections.OrderedDict(x=_X[:num_examples], y=_Y[:num_examples])
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


_BATCH_TYPE = computation_types.SequenceType(
    collections.OrderedDict(x=(np.float32, [None, 2]), y=(np.int32, [None]))
)


def _slices():
    return tf.data.Dataset.from_tensor_slices(np.arange(6, dtype=np.float32))


def _with_options(dataset, **settings):
    options = tf.data.Options()
    for name, value in settings.items():
        setattr(options, name, value)
    return dataset.with_options(options)


class TestIsDeterministic:
    @pytest.mark.parametrize(
        "make_dataset",
        [
            pytest.param(
                lambda: _slices().batch(3).map(lambda v: v * 2).repeat(2).take(5),
                id="slices-batch-map-repeat-take",
            ),
            pytest.param(lambda: tf.data.Dataset.range(5).filter(lambda v: v > 1), id="filter"),
            pytest.param(lambda: _slices().cache(), id="cache-in-memory"),
            pytest.param(
                lambda: _slices().map(lambda v: v + tf.random.stateless_uniform([], seed=[1, 2])),
                id="stateless-random",
            ),
            pytest.param(
                lambda: _slices().shuffle(4, seed=1, reshuffle_each_iteration=False),
                id="shuffle-once-with-seed",
            ),
            pytest.param(
                lambda: _slices().shuffle(4, reshuffle_each_iteration=False), id="shuffle-once"
            ),
            pytest.param(lambda: _slices().map(tf.sqrt, num_parallel_calls=2), id="parallel-map"),
            pytest.param(
                lambda: _slices().flat_map(lambda v: tf.data.Dataset.from_tensors(v).repeat(2)),
                id="flat-map-of-nested-dataset",
            ),
            pytest.param(lambda: _batches().prefetch(2), id="prefetch"),
        ],
    )
    def test_is_true_when_the_graph_only_reads_its_inputs(self, make_dataset):
        assert padded_sequences.is_deterministic(make_dataset())

    @pytest.mark.parametrize(
        "make_dataset",
        [
            pytest.param(lambda: _slices().shuffle(4), id="shuffle"),
            pytest.param(lambda: _slices().shuffle(4, seed=1), id="shuffle-each-epoch-with-seed"),
            pytest.param(lambda: _slices().map(lambda v: v + tf.random.uniform([])), id="random"),
            pytest.param(
                lambda: tf.data.Dataset.from_generator(
                    lambda: iter([1, 2]), output_signature=tf.TensorSpec([], tf.int32)
                ),
                id="from-generator",
            ),
            pytest.param(
                lambda: _slices().map(
                    lambda v: tf.numpy_function(np.negative, [v], tf.float32, stateful=False)
                ),
                id="stateless-numpy-function",
            ),
            pytest.param(lambda: tf.data.TFRecordDataset(["/nonexistent.tfrecord"]), id="tfrecord"),
            pytest.param(lambda: tf.data.TextLineDataset(["/nonexistent.txt"]), id="text-lines"),
            pytest.param(
                lambda: _slices().map(tf.sqrt, num_parallel_calls=2, deterministic=False),
                id="parallel-map-any-order",
            ),
            pytest.param(
                lambda: _with_options(_slices(), deterministic=False), id="options-any-order"
            ),
            pytest.param(
                lambda: _slices().interleave(
                    tf.data.Dataset.from_tensors, num_parallel_calls=2, deterministic=False
                ),
                id="interleave-any-order",
            ),
            pytest.param(lambda: _slices().cache("/nonexistent/cache"), id="cache-to-file"),
            pytest.param(
                lambda: tf.data.Dataset.sample_from_datasets([_slices(), _slices()]),
                id="sample-from-datasets",
            ),
        ],
    )
    def test_is_false_when_elements_depend_on_more_than_the_graph(self, make_dataset):
        assert not padded_sequences.is_deterministic(make_dataset())

    def test_is_false_when_a_map_reads_a_variable(self):
        variable = tf.Variable(2.0)
        assert not padded_sequences.is_deterministic(_slices().map(lambda v: v * variable))

    @pytest.mark.parametrize("seed", [None, 7])
    def test_keeps_one_order_when_a_shuffle_does_not_reshuffle(self, seed):
        # The rule that counts these shuffles as deterministic rests on this behaviour.
        dataset = tf.data.Dataset.range(50).shuffle(50, seed=seed, reshuffle_each_iteration=False)
        first = list(dataset.as_numpy_iterator())
        assert list(dataset.as_numpy_iterator()) == first
        assert list(dataset.repeat(2).as_numpy_iterator()) == first + first
        assert tf.function(lambda d: d.reduce(tf.constant(0, tf.int64), lambda s, x: s * 3 + x))(
            dataset
        ) == tf.data.Dataset.from_tensor_slices(np.array(first, np.int64)).reduce(
            tf.constant(0, tf.int64), lambda s, x: s * 3 + x
        )
        assert sorted(first) == list(range(50)) and first != list(range(50))


class TestMaterialize:
    def test_pads_the_ragged_last_batch_when_clients_differ(self):
        padded = padded_sequences.materialize([_batches(), _batches(4, 2)], _BATCH_TYPE)
        x, y = padded.elements
        assert x.dtype == np.float32 and y.dtype == np.int32
        assert x.tolist() == [
            [[[0, 1], [2, 3], [4, 5]], [[6, 7], [8, 9], [10, 11]], [[12, 13], [0, 0], [0, 0]]],
            [[[0, 1], [2, 3], [0, 0]], [[4, 5], [6, 7], [0, 0]], [[0, 0], [0, 0], [0, 0]]],
        ]
        assert y.tolist() == [[[0, 1, 2], [3, 4, 5], [6, 0, 0]], [[0, 1, 0], [2, 3, 0], [0, 0, 0]]]
        assert [s.tolist() for s in padded.sizes] == [
            [[[3], [3], [1]], [[2], [2], [0]]],
            [[[3], [3], [1]], [[2], [2], [0]]],
        ]
        assert padded.sizes[0].dtype == np.int32
        assert padded.counts.tolist() == [3, 2]
        assert padded.counts.dtype == np.int32

    def test_records_every_unknown_dimension_when_a_leaf_has_several(self):
        dataset = tf.data.Dataset.from_tensors(np.full([2, 3], 1, np.int32)).concatenate(
            tf.data.Dataset.from_tensors(np.full([1, 4], 2, np.int32))
        )
        sequence_type = computation_types.SequenceType((np.int32, [None, None]))
        padded = padded_sequences.materialize([dataset], sequence_type)
        assert padded.elements[0].tolist() == [
            [[[1, 1, 1, 0], [1, 1, 1, 0]], [[2, 2, 2, 2], [0, 0, 0, 0]]]
        ]
        assert padded.sizes[0].tolist() == [[[2, 3], [1, 4]]]

    def test_has_no_sizes_when_the_type_fixes_every_dimension(self):
        dataset = tf.data.Dataset.from_tensor_slices(_X).batch(2, drop_remainder=True)
        sequence_type = computation_types.SequenceType((np.float32, [2, 2]))
        padded = padded_sequences.materialize([dataset, dataset.take(1)], sequence_type)
        assert padded.sizes == [None]
        assert padded.elements[0].shape == (2, 3, 2, 2)
        assert padded.elements[0][1, 1:].tolist() == [[[0, 0], [0, 0]], [[0, 0], [0, 0]]]
        assert padded.counts.tolist() == [3, 1]

    def test_gives_count_zero_when_a_dataset_is_empty(self):
        padded = padded_sequences.materialize([_batches(0), _batches(1)], _BATCH_TYPE)
        assert padded.counts.tolist() == [0, 1]
        assert padded.elements[0].tolist() == [[[[0, 0]]], [[[0, 1]]]]
        assert padded.sizes[1].tolist() == [[[0]], [[1]]]

    def test_gives_zero_sized_arrays_when_every_dataset_is_empty(self):
        padded = padded_sequences.materialize([_batches(0), _batches(0)], _BATCH_TYPE)
        assert [e.shape for e in padded.elements] == [(2, 0, 0, 2), (2, 0, 0)]
        assert [s.shape for s in padded.sizes] == [(2, 0, 1), (2, 0, 1)]
        assert padded.counts.tolist() == [0, 0]
        padded = padded_sequences.materialize([], _BATCH_TYPE)
        assert [e.shape for e in padded.elements] == [(0, 0, 0, 2), (0, 0, 0)]
        assert padded.counts.shape == (0,)

    def test_pads_strings_with_empty_bytes_when_leaves_are_strings(self):
        dataset = tf.data.Dataset.from_tensor_slices([b"a", b"bc", b"def"]).batch(2)
        sequence_type = computation_types.SequenceType((tf.string, [None]))
        padded = padded_sequences.materialize([dataset], sequence_type)
        assert padded.elements[0].tolist() == [[[b"a", b"bc"], [b"def", b""]]]
        assert padded.sizes[0].tolist() == [[[2], [1]]]

    def test_reads_a_dataset_when_its_cardinality_is_unknown(self):
        dataset = tf.data.Dataset.range(6).filter(lambda v: v % 2 == 0)
        sequence_type = computation_types.SequenceType(np.int64)
        padded = padded_sequences.materialize([dataset], sequence_type)
        assert padded.elements[0].tolist() == [[0, 2, 4]]
        assert padded.sizes == [None]

    @pytest.mark.parametrize(
        "make_dataset, sequence_type",
        [
            pytest.param(lambda: _batches().shuffle(3), _BATCH_TYPE, id="shuffle"),
            pytest.param(
                lambda: _batches().map(
                    lambda b: {"x": b["x"] + tf.random.uniform([]), "y": b["y"]}
                ),
                _BATCH_TYPE,
                id="random",
            ),
            pytest.param(lambda: _batches().repeat(), _BATCH_TYPE, id="infinite"),
            pytest.param(
                lambda: tf.data.Dataset.range(3).repeat().filter(lambda v: v < 5),
                computation_types.SequenceType(np.int64),
                id="infinite-of-unknown-cardinality",
            ),
            pytest.param(
                _batches,
                computation_types.SequenceType(
                    collections.OrderedDict(
                        x=computation_types.TensorType(np.float32, None), y=(np.int32, [None])
                    )
                ),
                id="type-of-unknown-rank",
            ),
            pytest.param(
                lambda: tf.data.Dataset.range(3).map(
                    lambda v: tf.fill(tf.ones(v % 2 + 1, tf.int32), v)
                ),
                computation_types.SequenceType((np.int64, [None])),
                id="dataset-of-unknown-rank",
            ),
            pytest.param(
                _batches,
                computation_types.SequenceType(
                    collections.OrderedDict(x=(np.float32, [None, 2]), y=(np.int64, [None]))
                ),
                id="other-dtype",
            ),
            pytest.param(lambda: [1, 2, 3], computation_types.SequenceType(np.int32), id="list"),
        ],
    )
    def test_returns_none_when_a_dataset_cannot_be_read_once(self, make_dataset, sequence_type):
        datasets = (
            [_batches(), make_dataset()] if sequence_type == _BATCH_TYPE else [make_dataset()]
        )
        assert padded_sequences.materialize(datasets, sequence_type) is None

    def test_gives_up_when_a_dataset_of_unknown_length_is_longer_than_the_limit(self, monkeypatch):
        monkeypatch.setattr(padded_sequences, "_UNKNOWN_LENGTH_LIMIT", 5)
        sequence_type = computation_types.SequenceType(np.int64)
        five = tf.data.Dataset.range(5).filter(lambda v: v >= 0)
        assert padded_sequences.materialize([five], sequence_type).counts.tolist() == [5]
        six = tf.data.Dataset.range(6).filter(lambda v: v >= 0)
        assert padded_sequences.materialize([six], sequence_type) is None
        known_length = tf.data.Dataset.range(6)
        assert padded_sequences.materialize([known_length], sequence_type).counts.tolist() == [6]

    def test_returns_none_when_padded_arrays_exceed_the_budget(self):
        # Each client alone is small; padding both to 3 batches of 3 is not:
        # 2 clients * 3 batches * 3 rows * (2 floats + 1 int) * 4 bytes + sizes 2*3*4*2.
        datasets = [_batches(), _batches(7, 3)]
        assert padded_sequences.materialize(datasets, _BATCH_TYPE, max_bytes=264) is not None
        assert padded_sequences.materialize(datasets, _BATCH_TYPE, max_bytes=263) is None
        assert padded_sequences.materialize([_batches()], _BATCH_TYPE, max_bytes=50) is None


class TestCache:
    def test_reads_each_dataset_once_when_materialized_again(self, monkeypatch):
        reads = []
        read_elements = padded_sequences._read_elements

        def counting_read(dataset, *args):
            reads.append(dataset)
            return read_elements(dataset, *args)

        monkeypatch.setattr(padded_sequences, "_read_elements", counting_read)
        datasets = [_batches(), _batches(4)]
        first = padded_sequences.materialize(datasets, _BATCH_TYPE)
        second = padded_sequences.materialize(datasets, _BATCH_TYPE)
        assert reads == datasets
        for a, b in zip(first.elements + first.sizes, second.elements + second.sizes):
            np.testing.assert_array_equal(a, b)
        padded_sequences.materialize([datasets[1], _batches(2)], _BATCH_TYPE)
        assert len(reads) == 3

    def test_never_reads_a_dataset_when_it_is_not_deterministic(self, monkeypatch):
        reads = []
        monkeypatch.setattr(padded_sequences, "_read_elements", lambda *args: reads.append(args))
        shuffled = _batches().shuffle(3)
        assert padded_sequences.materialize([shuffled], _BATCH_TYPE) is None
        assert padded_sequences.materialize([shuffled], _BATCH_TYPE) is None
        assert reads == []

    def test_lets_a_dataset_be_collected_when_it_was_materialized(self):
        dataset = _batches()
        assert padded_sequences.materialize([dataset], _BATCH_TYPE) is not None
        reference = weakref.ref(dataset)
        del dataset
        gc.collect()
        assert reference() is None


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        globs = {**vars(padded_sequences), "np": np, "tf": tf}
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(padded_sequences, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
