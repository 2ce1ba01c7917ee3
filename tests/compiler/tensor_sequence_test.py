"""Tests for tffl/compiler/tensor_sequence.py: the in-graph stand-in for client datasets."""

import collections
import doctest

import numpy as np
import pytest
import tensorflow as tf

from tffl.compiler import padded_sequences
from tffl.compiler import tensor_sequence
from tffl.types import computation_types

_X = np.arange(14, dtype=np.float32).reshape(7, 2) / 4
_Y = np.arange(7, dtype=np.int32) % 3


def _batches(num_examples=7, batch_size=3):
    """Dict batches of 3, 3 and 1 examples: the last batch is ragged."""
    data = collections.OrderedDict(x=_X[:num_examples], y=_Y[:num_examples])
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


def _sequence_type(dataset):
    return computation_types.SequenceType(computation_types.to_type(dataset.element_spec))


def _run_on_sequences(fn, datasets):
    """Runs `fn(sequence)` for each dataset inside one tf.function, as the lowering does."""
    sequence_type = _sequence_type(datasets[0])
    padded = padded_sequences.materialize(datasets, sequence_type)
    elements, sizes, counts = tensor_sequence.input_specs(sequence_type)

    @tf.function(input_signature=[elements, sizes, counts])
    def run(elements, sizes, counts):
        return [
            fn(tensor_sequence.client_sequence(sequence_type, elements, sizes, counts, k))
            for k in range(len(datasets))
        ]

    return tf.nest.map_structure(lambda t: t.numpy(), run(*padded))


def _run_on_datasets(fn, datasets):
    return [tf.nest.map_structure(lambda t: t.numpy(), tf.function(fn)(d)) for d in datasets]


def _int_sequence(values, count=None):
    values = np.asarray(values, np.int64)
    count = len(values) if count is None else count
    return tensor_sequence.TensorSequence(
        computation_types.TensorType(np.int64), [tf.constant(values)], [None], tf.constant(count)
    )


def _elements(sequence):
    """The elements of a sequence (or dataset) of int64 scalars, read inside a tf.function."""

    @tf.function
    def read():
        out = tf.TensorArray(tf.int64, size=0, dynamic_size=True, element_shape=[])
        for x in sequence:
            out = out.write(out.size(), x)
        return out.stack()

    return read().numpy().tolist()


def _sum_of_elements(dataset):
    total = tf.constant(0.0)
    for batch in dataset:
        total += tf.reduce_sum(batch["x"]) + tf.cast(tf.reduce_sum(batch["y"]), tf.float32)
    return total


def _sum_over_iterator(dataset):
    total = tf.constant(0.0)
    for batch in iter(dataset):
        total += tf.reduce_sum(batch["x"] * 2.0)
    return total


def _count_batches_and_examples(dataset):
    batches, examples = tf.constant(0), tf.constant(0)
    for batch in dataset:
        batches += 1
        examples += tf.shape(batch["y"])[0]
    return batches, examples


def _sgd_state(dataset):
    weight, steps = tf.constant([0.5, -0.25]), tf.constant(0)
    for batch in iter(dataset):
        prediction = tf.linalg.matvec(batch["x"], weight)
        error = prediction - tf.cast(batch["y"], tf.float32)
        gradient = tf.linalg.matvec(batch["x"], error, transpose_a=True)
        weight = weight - 0.01 * gradient / tf.cast(tf.shape(error)[0], tf.float32)
        steps += 1
    return weight, steps


def _until_small_batch(dataset):
    seen = tf.constant(0)
    for batch in dataset:
        if tf.shape(batch["y"])[0] < 3:
            break
        seen += tf.reduce_sum(batch["y"])
    return seen


def _last_element(dataset):
    batch = collections.OrderedDict(x=tf.zeros([0, 2]), y=tf.zeros([0], tf.int32))
    for batch in dataset:
        pass
    return batch["y"]


def _labels_in_order(dataset):
    labels = tf.zeros([0], tf.int32)
    for batch in dataset:
        labels = tf.concat([labels, batch["y"]], 0)
    return labels


def _labels_with_shape_invariant(dataset):
    labels = tf.zeros([0], tf.int32)
    for batch in dataset:
        tf.autograph.experimental.set_loop_options(
            shape_invariants=[(labels, tf.TensorShape(None))]
        )
        labels = tf.concat([labels, batch["y"]], 0)
    return labels


class TestForLoops:
    @pytest.mark.parametrize(
        "fn, expected",
        [
            pytest.param(_sum_of_elements, [28.75, 10.0, 0.0], id="for-x-in-seq"),
            pytest.param(_sum_over_iterator, [45.5, 14.0, 0.0], id="for-x-in-iter-seq"),
            pytest.param(_count_batches_and_examples, [(3, 7), (2, 4), (0, 0)], id="batch-count"),
            pytest.param(_until_small_batch, [6, 3, 0], id="break"),
        ],
    )
    def test_matches_tf_data_when_looping_over_dict_batches(self, fn, expected):
        datasets = [_batches(), _batches(4), _batches(0)]
        on_sequences = _run_on_sequences(fn, datasets)
        assert on_sequences == _run_on_datasets(fn, datasets)
        assert [tuple(r) if isinstance(r, list) else r for r in on_sequences] == expected

    def test_matches_tf_data_when_the_state_is_a_tuple_updated_per_batch(self):
        datasets = [_batches(), _batches(5, 2)]
        on_sequences = _run_on_sequences(_sgd_state, datasets)
        on_datasets = _run_on_datasets(_sgd_state, datasets)
        for (weight, steps), (expected_weight, expected_steps) in zip(on_sequences, on_datasets):
            np.testing.assert_array_equal(weight, expected_weight)
            assert steps == expected_steps
        assert [steps for _, steps in on_sequences] == [3, 3]

    def test_keeps_the_last_element_when_the_target_is_read_after_the_loop(self):
        datasets = [_batches(), _batches(4)]
        on_sequences = _run_on_sequences(_last_element, datasets)
        assert [y.tolist() for y in on_sequences] == [[0], [0]]
        assert [y.tolist() for y in _run_on_datasets(_last_element, datasets)] == [[0], [0]]

    @pytest.mark.parametrize("fn", [_labels_in_order, _labels_with_shape_invariant])
    def test_matches_tf_data_when_a_loop_variable_changes_shape(self, fn):
        datasets = [_batches(), _batches(4), _batches(0)]
        on_sequences = [labels.tolist() for labels in _run_on_sequences(fn, datasets)]
        assert on_sequences == [labels.tolist() for labels in _run_on_datasets(fn, datasets)]
        assert on_sequences == [[0, 1, 2, 0, 1, 2, 0], [0, 1, 2, 0], []]

    def test_runs_as_a_python_loop_when_autograph_runs_eagerly(self):
        sequence = _int_sequence([4, 5, 6, 7], count=3)

        def total(sequence):
            result = tf.constant(0, tf.int64)
            for x in sequence:
                result += x
            return result

        assert int(tf.autograph.to_graph(total)(sequence)) == 15


def _sums_and_shapes(dataset):
    """Each element's sum and shape, in order, as a tensor of rows [sum, rows, columns]."""
    out = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[3])
    for x in dataset:
        shape = tf.cast(tf.shape(x), tf.float32)
        out = out.write(out.size(), tf.concat([[tf.reduce_sum(x)], shape], axis=0))
    return out.stack()


class TestPadding:
    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(lambda n: tf.fill([n, n + 1], tf.cast(n, tf.float32)), id="leading"),
            pytest.param(lambda n: tf.fill([2, n], tf.cast(n, tf.float32)), id="trailing"),
            pytest.param(lambda n: tf.fill([n, 2], tf.cast(n, tf.float32)), id="first_only"),
        ],
    )
    def test_cuts_each_element_to_its_own_shape_when_unknown_dimensions_vary(self, make):
        datasets = [
            tf.data.Dataset.range(1, 4).map(make),
            tf.data.Dataset.range(2, 3).map(make),
        ]

        got = _run_on_sequences(_sums_and_shapes, datasets)

        expected = _run_on_datasets(_sums_and_shapes, datasets)
        assert [g.tolist() for g in got] == [e.tolist() for e in expected]
        assert len(got[0]) == 3 and len(got[1]) == 1


class TestGraphLoop:
    def test_stages_one_while_loop_when_the_body_reads_elements(self):
        sequence_type = _sequence_type(_batches())
        elements, sizes, counts = tensor_sequence.input_specs(sequence_type)

        @tf.function(input_signature=[elements, sizes, counts])
        def run(elements, sizes, counts):
            return _sum_of_elements(
                tensor_sequence.client_sequence(sequence_type, elements, sizes, counts, 0)
            )

        graph = run.get_concrete_function().graph.as_graph_def()
        ops = [node.op for node in graph.node]
        assert ops.count("StatelessWhile") + ops.count("While") == 1
        assert "Slice" not in ops  # Element slicing happens inside the loop body.

    def test_serves_different_counts_and_padding_when_traced_once(self):
        sequence_type = _sequence_type(_batches())
        elements, sizes, counts = tensor_sequence.input_specs(sequence_type)
        traces = []

        @tf.function(input_signature=[elements, sizes, counts])
        def run(elements, sizes, counts):
            traces.append(1)
            return _count_batches_and_examples(
                tensor_sequence.client_sequence(sequence_type, elements, sizes, counts, 1)
            )

        small = padded_sequences.materialize([_batches(), _batches(2)], sequence_type)
        large = padded_sequences.materialize([_batches(1), _batches(7, 2)], sequence_type)
        assert [int(t) for t in run(*small)] == [1, 2]
        assert [int(t) for t in run(*large)] == [4, 7]
        assert len(traces) == 1
        assert small.elements[0].shape == (2, 3, 3, 2)
        assert large.elements[0].shape == (2, 4, 2, 2)


_INT64_TWO = tf.constant(2, tf.int64)

_VIEWS = [
    pytest.param(lambda d: d, id="identity"),
    pytest.param(lambda d: d.repeat(2), id="repeat-2"),
    pytest.param(lambda d: d.repeat(0), id="repeat-0"),
    pytest.param(lambda d: d.repeat().take(7), id="repeat-forever-take-7"),
    pytest.param(lambda d: d.repeat(-1).take(4), id="repeat-minus-1-take-4"),
    pytest.param(lambda d: d.repeat(2).take(7), id="repeat-2-take-7"),
    pytest.param(lambda d: d.take(3), id="take-3"),
    pytest.param(lambda d: d.take(0), id="take-0"),
    pytest.param(lambda d: d.take(-1), id="take-minus-1"),
    pytest.param(lambda d: d.take(10), id="take-past-end"),
    pytest.param(lambda d: d.skip(2), id="skip-2"),
    pytest.param(lambda d: d.skip(-1), id="skip-minus-1"),
    pytest.param(lambda d: d.skip(9), id="skip-past-end"),
    pytest.param(lambda d: d.skip(2).repeat(2), id="skip-then-repeat"),
    pytest.param(lambda d: d.repeat(3).skip(4).take(5), id="repeat-skip-take"),
    pytest.param(lambda d: d.repeat().skip(3).take(4), id="forever-skip-take"),
    pytest.param(
        lambda d: d.take(tf.constant(2, tf.int64)).repeat(tf.constant(2, tf.int64)),
        id="tensor-counts",
    ),
    pytest.param(lambda d: d.map(lambda x: x * 2).take(3), id="map-take"),
    pytest.param(lambda d: d.take(3).map(lambda x: x + 1).map(lambda x: x * 3), id="two-maps"),
    pytest.param(lambda d: d.map(lambda x: tf.where(x > 11, x, -x)), id="map-tf-where"),
    pytest.param(lambda d: d.with_options(tf.data.Options()).prefetch(2).cache(), id="no-ops"),
]


def _branchy(x):
    # Python control flow on a tensor: only works once AutoGraph converts the function.
    if x > 2:
        y = x * 10
    else:
        y = -x
    return y


class TestViews:
    @pytest.mark.parametrize("view", _VIEWS)
    def test_matches_tf_data_elements_and_cardinality(self, view):
        sequence = view(_int_sequence([10, 11, 12, 13, 14, 99], count=5))
        dataset = view(tf.data.Dataset.range(10, 15))
        assert _elements(sequence) == _elements(dataset)
        assert int(sequence.cardinality()) == int(dataset.cardinality())

    @pytest.mark.parametrize("view", _VIEWS)
    def test_matches_tf_data_when_the_sequence_is_empty(self, view):
        sequence = view(_int_sequence([7], count=0))
        dataset = view(tf.data.Dataset.range(0))
        assert _elements(sequence) == _elements(dataset) == []
        assert int(sequence.cardinality()) == int(dataset.cardinality()) == 0

    def test_reports_infinite_cardinality_when_repeated_forever(self):
        sequence = _int_sequence([1, 2])
        assert int(sequence.repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
        assert int(sequence.repeat().skip(5).cardinality()) == -1
        assert int(sequence.repeat().take(5).cardinality()) == 5

    def test_converts_map_functions_with_autograph_when_called_in_a_tf_function(self):
        sequence = _int_sequence([1, 2, 3, 4]).map(_branchy)
        dataset = tf.data.Dataset.range(1, 5).map(_branchy)
        assert _elements(sequence) == _elements(dataset) == [-1, -2, 30, 40]

    def test_passes_tuple_elements_as_arguments_when_mapping(self):
        sequence_type = computation_types.SequenceType((np.int64, np.int64))
        sequence = tensor_sequence.TensorSequence(
            sequence_type.element,
            [tf.constant([1, 2, 3], tf.int64), tf.constant([10, 20, 30], tf.int64)],
            [None, None],
            tf.constant(3),
        )
        assert _elements(sequence.map(lambda a, b: a + b)) == [11, 22, 33]

    def test_returns_itself_when_options_prefetch_or_cache_are_requested(self):
        sequence = _int_sequence([1])
        assert sequence.with_options(tf.data.Options()) is sequence
        assert sequence.prefetch(tf.data.AUTOTUNE) is sequence
        assert sequence.cache("/tmp/unused") is sequence

    def test_gives_tf_data_element_spec_when_elements_are_dict_batches(self):
        dataset = _batches()
        sequence_type = _sequence_type(dataset)
        padded = padded_sequences.materialize([dataset], sequence_type)
        sequence = tensor_sequence.client_sequence(sequence_type, *padded, 0)
        assert sequence.element_spec == dataset.element_spec
        assert iter(sequence).element_spec == dataset.element_spec

    def test_gives_traced_element_spec_when_mapped(self):
        dataset = _batches()
        sequence_type = _sequence_type(dataset)
        padded = padded_sequences.materialize([dataset], sequence_type)
        sequence = tensor_sequence.client_sequence(sequence_type, *padded, 0)

        def to_pair(batch):
            return [batch["x"] * 2.0, tf.reduce_sum(batch["y"])]

        assert sequence.map(to_pair).element_spec == dataset.map(to_pair).element_spec
        assert sequence.map(to_pair).element_spec == (
            tf.TensorSpec([None, 2], tf.float32),
            tf.TensorSpec([], tf.int32),
        )


class TestReduce:
    @pytest.mark.parametrize(
        "initial, fn",
        [
            pytest.param(0, lambda total, x: total + tf.cast(x, tf.int32), id="sum"),
            pytest.param(
                (tf.constant(0, tf.int64), tf.constant(1, tf.int64)),
                lambda state, x: (state[0] + x, state[1] * (x % 3 + 1)),
                id="tuple-state",
            ),
            pytest.param(
                tf.zeros([0], tf.int64), lambda s, x: tf.concat([s, [x * x]], 0), id="growing"
            ),
        ],
    )
    def test_matches_tf_data_when_folding_elements(self, initial, fn):
        sequence = _int_sequence([3, 4, 5, 6, 100], count=4).repeat(2)
        dataset = tf.data.Dataset.range(3, 7).repeat(2)

        @tf.function
        def both():
            return sequence.reduce(initial, fn), dataset.reduce(initial, fn)

        on_sequence, on_dataset = tf.nest.map_structure(lambda t: t.numpy().tolist(), both())
        assert on_sequence == on_dataset

    def test_gives_the_initial_state_when_the_sequence_is_empty(self):
        assert int(_int_sequence([5], count=0).reduce(7, lambda s, x: s + 1)) == 7


class TestUnsupported:
    @pytest.mark.parametrize(
        "name",
        [
            "batch",
            "shuffle",
            "unbatch",
            "filter",
            "padded_batch",
            "flat_map",
            "interleave",
            "zip",
            "concatenate",
            "enumerate",
            "window",
            "options",
        ],
    )
    def test_names_the_method_when_a_dataset_method_is_missing(self, name):
        with pytest.raises(tensor_sequence.UnsupportedSequenceOperation) as raised:
            getattr(_int_sequence([1]), name)
        assert str(raised.value) == (
            f"TensorSequence does not support Dataset.{name}; "
            "the computation runs on real datasets instead"
        )

    def test_is_a_type_error_when_caught_generally(self):
        assert issubclass(tensor_sequence.UnsupportedSequenceOperation, TypeError)

    def test_raises_attribute_error_when_the_name_is_not_a_dataset_attribute(self):
        with pytest.raises(AttributeError, match="no attribute 'not_a_method'"):
            _int_sequence([1]).not_a_method

    def test_raises_when_iterated_by_python(self):
        message = "TensorSequence elements are only read by for loops inside tf.function"
        with pytest.raises(tensor_sequence.UnsupportedSequenceOperation, match=message):
            for _ in _int_sequence([1]):
                pass
        with pytest.raises(tensor_sequence.UnsupportedSequenceOperation, match=message):
            next(iter(_int_sequence([1])))
        with pytest.raises(tensor_sequence.UnsupportedSequenceOperation) as raised:
            iter(_int_sequence([1])).get_next()
        assert str(raised.value) == (
            "TensorSequence does not support Iterator.get_next; "
            "the computation runs on real datasets instead"
        )

    def test_raises_while_tracing_when_an_infinite_sequence_is_looped_over(self):
        with pytest.raises(tensor_sequence.UnsupportedSequenceOperation) as raised:
            _elements(_int_sequence([1, 2]).repeat())
        assert "a for loop over an infinite sequence (repeat() with no take())" in str(raised.value)
        with pytest.raises(tensor_sequence.UnsupportedSequenceOperation, match="reduce over"):
            _int_sequence([1, 2]).repeat().take(-1).reduce(0, lambda s, x: s)

    def test_fails_at_run_time_when_a_tensor_count_leaves_the_sequence_infinite(self):
        @tf.function(input_signature=[tf.TensorSpec([], tf.int64)])
        def total(repeats):
            result = tf.constant(0, tf.int64)
            for x in _int_sequence([1, 2]).repeat(repeats):
                result += x
            return result

        assert int(total(tf.constant(3, tf.int64))) == 9
        with pytest.raises(tf.errors.InvalidArgumentError, match="cannot iterate an infinite"):
            total(tf.constant(-1, tf.int64))

    def test_raises_when_an_iterator_is_looped_over_twice(self):
        sequence = _int_sequence([1, 2])

        @tf.function
        def twice():
            iterator = iter(sequence)
            total = tf.constant(0, tf.int64)
            for x in iterator:
                total += x
            for x in iterator:
                total += x
            return total

        with pytest.raises(tensor_sequence.UnsupportedSequenceOperation, match="looped over twice"):
            twice()

    def test_raises_when_sizes_do_not_match_the_element_type(self):
        element_type = computation_types.TensorType(np.int32, [None])
        with pytest.raises(ValueError) as raised:
            tensor_sequence.TensorSequence(
                element_type, [tf.zeros([2, 3], tf.int32)], [None], tf.constant(2)
            )
        assert str(raised.value) == (
            "TensorSequence leaf 0 of type int32[?]: expected sizes tensor, got None"
        )
        with pytest.raises(ValueError) as raised:
            tensor_sequence.TensorSequence(element_type, [], [], tf.constant(2))
        assert str(raised.value) == (
            "TensorSequence: expected 1 element and size tensors for int32[?], got 0 and 0"
        )

    def test_raises_when_a_leaf_has_unknown_rank(self):
        sequence_type = computation_types.SequenceType(computation_types.TensorType(np.int32, None))
        with pytest.raises(tensor_sequence.UnsupportedSequenceOperation) as raised:
            tensor_sequence.input_specs(sequence_type)
        assert str(raised.value) == "TensorSequence leaf: expected a known rank, got int32[*]"


class TestClientSequence:
    def test_round_trips_each_client_when_datasets_differ_in_length_and_padding(self):
        datasets = [_batches(), _batches(0), _batches(5, 2), _batches(2, 4)]
        sequence_type = _sequence_type(datasets[0])
        padded = padded_sequences.materialize(datasets, sequence_type)
        for k, dataset in enumerate(datasets):
            sequence = tensor_sequence.client_sequence(sequence_type, *padded, k)

            @tf.function
            def read():
                xs = tf.TensorArray(
                    tf.float32, 0, dynamic_size=True, infer_shape=False, element_shape=[None, 2]
                )
                ys = tf.TensorArray(
                    tf.int32, 0, dynamic_size=True, infer_shape=False, element_shape=[None]
                )
                shapes = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
                for batch in sequence:
                    shapes = shapes.write(shapes.size(), tf.shape(batch["x"]))
                    xs = xs.write(xs.size(), batch["x"])
                    ys = ys.write(ys.size(), batch["y"])
                return xs.concat(), ys.concat(), shapes.stack()

            xs, ys, shapes = read()
            expected = list(dataset.as_numpy_iterator())
            assert shapes.numpy().reshape([-1, 2]).tolist() == [
                list(batch["x"].shape) for batch in expected
            ]
            if expected:
                np.testing.assert_array_equal(xs, np.concatenate([b["x"] for b in expected]))
                np.testing.assert_array_equal(ys, np.concatenate([b["y"] for b in expected]))


def _train_linear_model(dataset, weight, bias):
    """Local training as client work writes it: a few SGD steps with a gradient tape."""
    loss_sum, num_batches = tf.constant(0.0), tf.constant(0)
    for batch in iter(dataset):
        with tf.GradientTape() as tape:
            tape.watch([weight, bias])
            prediction = tf.linalg.matvec(batch["x"], weight) + bias
            loss = tf.reduce_mean(tf.square(prediction - tf.cast(batch["y"], tf.float32)))
        weight_gradient, bias_gradient = tape.gradient(loss, [weight, bias])
        weight = weight - 0.1 * weight_gradient
        bias = bias - 0.1 * bias_gradient
        loss_sum += loss
        num_batches += 1
    return weight, bias, loss_sum, num_batches


class TestLoweredRound:
    def test_matches_real_datasets_when_each_client_trains_in_one_tf_function(self):
        datasets = [_batches(), _batches(4), _batches(0), _batches(6, 4)]
        sequence_type = _sequence_type(datasets[0])
        padded = padded_sequences.materialize(datasets, sequence_type)
        elements, sizes, counts = tensor_sequence.input_specs(sequence_type)
        options = tf.data.Options()
        options.experimental_optimization.apply_default_optimizations = False
        initial_weight, initial_bias = tf.constant([0.1, -0.2]), tf.constant(0.3)

        @tf.function(input_signature=[elements, sizes, counts])
        def round_on_sequences(elements, sizes, counts):
            weight_sum, bias_sum = tf.zeros([2]), tf.constant(0.0)
            loss_sum, batches = tf.constant(0.0), tf.constant(0)
            for k in tf.range(tf.shape(counts)[0]):
                sequence = tensor_sequence.client_sequence(
                    sequence_type, elements, sizes, counts, k
                )
                sequence = sequence.with_options(options).repeat(2).take(7)
                weight, bias, loss, num_batches = _train_linear_model(
                    sequence, initial_weight, initial_bias
                )
                weight_sum += weight
                bias_sum += bias
                loss_sum += loss
                batches += num_batches
            return weight_sum, bias_sum, loss_sum, batches

        @tf.function
        def client_on_dataset(dataset):
            dataset = dataset.with_options(options).repeat(2).take(7)
            return _train_linear_model(dataset, initial_weight, initial_bias)

        expected = [tf.zeros([2]), tf.constant(0.0), tf.constant(0.0), tf.constant(0)]
        for dataset in datasets:
            expected = [a + b for a, b in zip(expected, client_on_dataset(dataset))]
        result = round_on_sequences(*padded)
        for value, expected_value in zip(result, expected):
            np.testing.assert_array_equal(value.numpy(), expected_value.numpy())
        assert int(result[3]) == 6 + 4 + 0 + 4


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        globs = {**vars(tensor_sequence), "np": np, "tf": tf}
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(tensor_sequence, globs=globs):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
