"""The lowered path and the executor stack give the same results on the same programs.

Every program of `tffl.testing.intrinsic_programs` and `reference_programs` runs
twice, in a local context that lowers and in one that does not; so do rounds of
the learning algorithms. Results must agree: exactly where the values are
integers or exactly representable, to float tolerance where training is involved.
"""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import intrinsic_defs as defs
from tffl.compiler import lowering
from tffl.core import context_stack
from tffl.testing import intrinsic_programs
from tffl.testing import reference_programs

# The programs that run lowered; the others say why not.
NOT_LOWERED = {
    "select": "federated_select",
    "secure_sum": "secure sums",
    "secure_sum_bitwidth": "secure sums",
    "secure_modular_sum": "secure sums",
    "sequences": "no federated values",
    "sequences_at_clients": "its shape is not known",
}


def _contexts(num_clients=None):
    lowered = tffl.backends.local.create_context(num_clients=num_clients)
    plain = tffl.backends.local.create_context(num_clients=num_clients, lowering=False)
    return lowered, plain


def _run_both(computation, *args, num_clients=None):
    lowered, plain = _contexts(num_clients)
    with context_stack.install(plain):
        expected = computation(*args)
    with context_stack.install(lowered):
        got = computation(*args)
    return got, expected, lowered


def _assert_same(got, expected, rtol=0.0, atol=0.0):
    got_leaves = tf.nest.flatten(got)
    expected_leaves = tf.nest.flatten(expected)
    assert tf.nest.map_structure(lambda _: 0, got) == tf.nest.map_structure(lambda _: 0, expected)
    assert [type(g) for g in got_leaves] == [type(e) for e in expected_leaves]
    for g, e in zip(got_leaves, expected_leaves):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def test_every_intrinsic_has_a_lowering_rule():
    assert set(lowering.RULES) == set(defs.ALL)


@pytest.mark.parametrize("case", intrinsic_programs.all_cases(), ids=lambda c: c.name)
def test_intrinsic_program_gives_the_executor_result(case):
    computation = case.build()

    got, expected, context = _run_both(computation, *case.args, num_clients=case.num_clients)

    _assert_same(got, expected)
    if case.name in NOT_LOWERED:
        assert context.lowered.lowered_calls == 0
        assert NOT_LOWERED[case.name] in context.lowered.reason(computation)
    else:
        assert context.lowered.lowered_calls == 1


def test_reference_mean_program_runs_lowered():
    program = reference_programs.build_mean_program()

    got, expected, context = _run_both(program, [68.5, 70.3, 69.8])

    assert got == expected == np.float32(20.851852)
    assert context.lowered.lowered_calls == 1


def test_reference_threshold_program_runs_lowered():
    program = reference_programs.build_threshold_program()

    got, expected, context = _run_both(program, [1.0, 5.0, 3.0, 7.0], 4.0)

    assert got == expected == np.float32(0.5)
    assert context.lowered.lowered_calls == 1


def _batches(seed, num_examples, batch_size=10):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_examples, 784)).astype(np.float32)
    y = (np.arange(num_examples) % 10).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices(collections.OrderedDict(x=x, y=y)).batch(batch_size)


def test_reference_fedavg_round_runs_lowered():
    program = reference_programs.build_fedavg_round()
    model = collections.OrderedDict(w=np.zeros([784, 10], np.float32), b=np.zeros([10], np.float32))
    data = [_batches(seed, n) for seed, n in ((1, 30), (2, 25), (3, 0))]

    got, expected, context = _run_both(program, model, data)

    _assert_same(got, expected, atol=1e-6)
    assert context.lowered.lowered_calls == 1


class TestFallbacks:
    def test_weights_summing_to_zero_raise_the_executor_error(self):
        @tffl.federated_computation(
            tffl.FederatedType(np.float32, tffl.CLIENTS),
            tffl.FederatedType(np.float32, tffl.CLIENTS),
        )
        def weighted(values, weights):
            return tffl.federated_mean(values, weight=weights)

        with pytest.raises(ValueError, match="client weights sum to zero"):
            weighted([1.0, 2.0], [0.0, 0.0])

    def test_clients_values_of_different_shapes_run_on_executors(self):
        @tffl.tf_computation(tffl.TensorType(np.int32, [None]))
        def total(values):
            return tf.reduce_sum(values)

        @tffl.federated_computation(
            tffl.FederatedType(tffl.TensorType(np.int32, [None]), tffl.CLIENTS)
        )
        def sum_of_totals(values):
            return tffl.federated_sum(tffl.federated_map(total, values))

        got, expected, context = _run_both(sum_of_totals, [[1, 2], [3], [4, 5, 6]])

        assert got == expected == 21
        assert context.lowered.lowered_calls == 0

    def test_zero_clients_raise_the_executor_error(self):
        @tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
        def total(values):
            return tffl.federated_sum(values)

        with pytest.raises(ValueError, match="federated_sum over zero clients"):
            total([])

    def test_a_shuffled_dataset_runs_lowered_on_its_dataset(self):
        @tffl.tf_computation(tffl.SequenceType(np.int64))
        def first_two(dataset):
            return dataset.take(2).reduce(np.int64(0), lambda total, x: total * 10 + x)

        @tffl.federated_computation(tffl.FederatedType(tffl.SequenceType(np.int64), tffl.CLIENTS))
        def program(datasets):
            return tffl.federated_sum(tffl.federated_map(first_two, datasets))

        datasets = [
            tf.data.Dataset.range(5).shuffle(5, seed=seed, reshuffle_each_iteration=False)
            for seed in (1, 2)
        ]
        expected = sum(
            int("".join(str(int(x)) for x in list(d.take(2).as_numpy_iterator()))) for d in datasets
        )

        got, _, context = _run_both(program, datasets)

        assert got == expected
        assert context.lowered.lowered_calls == 1


# Learning processes: a round of each algorithm, lowered and on executors.

INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 16], tf.float32), y=tf.TensorSpec([None], tf.int32)
)


def _model_fn():
    keras_model = tf.keras.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(16,)),
            tf.keras.layers.Dense(4, kernel_initializer=tf.keras.initializers.GlorotUniform(3)),
        ]
    )
    return tffl.learning.models.from_keras_model(
        keras_model,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=INPUT_SPEC,
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def _client_datasets():
    rng = np.random.default_rng(7)
    datasets = []
    for num_examples in (12, 7, 20, 5):
        x = rng.normal(size=(num_examples, 16)).astype(np.float32)
        y = (x[:, :4].argmax(axis=1)).astype(np.int32)
        datasets.append(
            tf.data.Dataset.from_tensor_slices(collections.OrderedDict(x=x, y=y)).batch(5)
        )
    return datasets


_SGD = tffl.learning.optimizers.build_sgdm

ALGORITHMS = {
    "fed_avg": lambda: tffl.learning.algorithms.build_weighted_fed_avg(
        _model_fn, _SGD(0.1), _SGD(1.0)
    ),
    "fed_avg_unweighted_two_epochs": lambda: tffl.learning.algorithms.build_unweighted_fed_avg(
        _model_fn, _SGD(0.1), _SGD(1.0, momentum=0.9), client_epochs=2
    ),
    "fed_avg_keras_optimizer": lambda: tffl.learning.algorithms.build_weighted_fed_avg(
        _model_fn, lambda: tf.keras.optimizers.SGD(0.1), _SGD(1.0)
    ),
    "fed_avg_keras_momentum": lambda: tffl.learning.algorithms.build_weighted_fed_avg(
        _model_fn, lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9), _SGD(1.0)
    ),
    "fed_sgd": lambda: tffl.learning.algorithms.build_fed_sgd(_model_fn, _SGD(0.5)),
    "fed_prox": lambda: tffl.learning.algorithms.build_fed_prox(
        _model_fn, 0.5, _SGD(0.1), _SGD(1.0)
    ),
}


def _rounds(process, datasets, rounds):
    state = process.initialize()
    outputs = []
    for _ in range(rounds):
        output = process.next(state, datasets)
        state = output.state
        outputs.append(output.metrics)
    return process.get_model_weights(state), outputs


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_learning_rounds_match_the_executor_stack(name):
    process = ALGORITHMS[name]()
    datasets = _client_datasets()
    lowered, plain = _contexts()

    with context_stack.install(plain):
        expected = _rounds(process, datasets, 2)
    with context_stack.install(lowered):
        got = _rounds(process, datasets, 2)

    _assert_same(got, expected, rtol=1e-5, atol=1e-6)
    assert lowered.lowered.lowered_calls >= 2
    assert lowered.lowered.reason(process.next) is None
    # Clients' variables were plain values: the client loop holds no state.
    program = lowered.lowered.entry(process.next).program
    assert program.local_variables.get(lowering.PADDED, True)
    assert "StatelessWhile" in _op_types(program.trace(lowering.PADDED))


def _op_types(concrete):
    types = {op.type for op in concrete.graph.get_operations()}
    for function in concrete.graph.as_graph_def().library.function:
        types.update(node.op for node in function.node_def)
    return types


class TestClientVariables:
    """Clients' variables are plain values where they can be carried, resource ones elsewhere."""

    @staticmethod
    def _program(client_fn):
        client = tffl.tf_computation(client_fn, tffl.SequenceType(np.float32))

        @tffl.federated_computation(tffl.FederatedType(tffl.SequenceType(np.float32), tffl.CLIENTS))
        def program(datasets):
            return tffl.federated_sum(tffl.federated_map(client, datasets))

        return program

    @staticmethod
    def _datasets():
        return [tf.data.Dataset.from_tensor_slices(np.float32(v)) for v in ([1, 2, 3], [4, 5])]

    def test_a_variable_summed_in_the_dataset_loop_is_a_value(self):
        def client(dataset):
            total = tf.Variable(0.0)
            for x in dataset:
                total.assign_add(x * x)
            return total.read_value()

        program = self._program(client)

        got, expected, context = _run_both(program, self._datasets())

        assert got == expected == 55.0
        lowered = context.lowered.entry(program).program
        assert lowered.local_variables.get(lowering.PADDED, True)
        assert not _op_types(lowered.trace(lowering.PADDED)) & {"VarHandleOp", "AssignVariableOp"}

    def test_an_assignment_in_a_branch_runs_with_resource_variables(self):
        def client(dataset):
            total = tf.Variable(0.0)
            for x in dataset:
                if x > 2.0:
                    total.assign_add(x)
            return total.read_value()

        program = self._program(client)

        got, expected, context = _run_both(program, self._datasets())

        assert got == expected == 12.0
        assert context.lowered.lowered_calls == 1
        assert context.lowered.entry(program).program.local_variables[lowering.PADDED] is False


def test_evaluation_matches_the_executor_stack():
    evaluation = tffl.learning.algorithms.build_fed_eval(_model_fn)
    datasets = _client_datasets()
    lowered, plain = _contexts()

    with context_stack.install(plain):
        expected = evaluation.next(evaluation.initialize(), datasets).metrics
    with context_stack.install(lowered):
        got = evaluation.next(evaluation.initialize(), datasets).metrics

    _assert_same(got, expected, rtol=1e-6)
    assert lowered.lowered.lowered_calls >= 1
