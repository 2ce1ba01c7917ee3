"""Lowered programs on real workers: the server side on the driver, client loops on workers.

Results must match the local executor stack; programs that do not lower, and
datasets that cannot be materialized, run on the composing stack instead.
"""

import collections
import logging
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.compiler import lowering
from tffl.core import context_stack
from tffl.testing import intrinsic_programs
from tffl.testing import workers

NOT_LOWERED = {"select", "secure_sum", "secure_sum_bitwidth", "secure_modular_sum", "sequences"}


def _addresses(workers, count):
    return [w.address for w in workers[:count]]


def _run(context, computation, *args):
    with context_stack.install(context):
        return computation(*args)


@pytest.mark.parametrize("case", intrinsic_programs.all_cases(), ids=lambda c: c.name)
def test_intrinsic_program_gives_the_local_result_on_two_workers(remote_workers, case):
    computation = case.build()
    remote = tffl.backends.remote.create_context(
        _addresses(remote_workers, 2), num_clients=case.num_clients
    )
    local = tffl.backends.local.create_context(num_clients=case.num_clients, lowering=False)

    got = _run(remote, computation, *case.args)

    expected = _run(local, computation, *case.args)
    assert str(got) == str(expected)
    lowered = case.name not in NOT_LOWERED and case.name != "sequences_at_clients"
    assert remote.sharded.lowered_calls == (1 if lowered else 0)


def _datasets(shuffle=False):
    rng = np.random.default_rng(5)
    datasets = []
    for num_examples in (9, 4, 13, 6, 1):
        x = rng.normal(size=(num_examples, 6)).astype(np.float32)
        y = (x[:, :3].argmax(axis=1)).astype(np.int32)
        dataset = tf.data.Dataset.from_tensor_slices(collections.OrderedDict(x=x, y=y))
        if shuffle:
            dataset = dataset.shuffle(20, seed=1)
        datasets.append(dataset.batch(4))
    return datasets


def _model_fn():
    keras_model = tf.keras.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(6,)),
            tf.keras.layers.Dense(3, kernel_initializer=tf.keras.initializers.GlorotUniform(5)),
        ]
    )
    return tffl.learning.models.from_keras_model(
        keras_model,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=collections.OrderedDict(
            x=tf.TensorSpec([None, 6], tf.float32), y=tf.TensorSpec([None], tf.int32)
        ),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def _fed_avg():
    return tffl.learning.algorithms.build_weighted_fed_avg(
        _model_fn,
        tffl.learning.optimizers.build_sgdm(0.1),
        tffl.learning.optimizers.build_sgdm(1.0),
    )


@pytest.mark.parametrize("num_workers", [1, 3])
def test_fed_avg_rounds_match_the_local_executor_stack(remote_workers, num_workers):
    process = _fed_avg()
    datasets = _datasets()
    remote = tffl.backends.remote.create_context(_addresses(remote_workers, num_workers))
    local = tffl.backends.local.create_context(lowering=False)

    def two_rounds(context):
        with context_stack.install(context):
            state = process.initialize()
            metrics = []
            for _ in range(2):
                output = process.next(state, datasets)
                state, metrics = output.state, metrics + [output.metrics]
            return process.get_model_weights(state), metrics

    got = two_rounds(remote)
    expected = two_rounds(local)

    for g, e in zip(tf.nest.flatten(got), tf.nest.flatten(expected)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    assert remote.sharded.lowered_calls == 3  # initialize, then two rounds.


def test_a_round_on_the_same_datasets_again_sends_them_by_key():
    # In-process workers: the test reads their tensor caches.
    process = _fed_avg()
    datasets = _datasets()
    in_process = [workers.InProcessWorker() for _ in range(2)]
    try:
        remote = tffl.backends.remote.create_context([w.address for w in in_process])
        with context_stack.install(remote):
            state = process.initialize()
            first = process.next(state, datasets)
            kept_after_first = [len(w.service.tensor_cache) for w in in_process]
            hits_after_first = [w.service.tensor_cache.hits for w in in_process]
            second = process.next(first.state, datasets)
    finally:
        for worker in in_process:
            worker.stop()
    local = tffl.backends.local.create_context(lowering=False)
    with context_stack.install(local):
        expected_first = process.next(process.initialize(), datasets)
        expected_second = process.next(expected_first.state, datasets)

    # Each worker's shard: x, y, the padded sizes of each (equal, so one key) and the
    # batch counts; the second round names all five by key.
    assert kept_after_first == [4, 4]
    assert hits_after_first == [0, 0]
    assert [w.service.tensor_cache.hits for w in in_process] == [5, 5]
    assert [w.service.tensor_cache.misses for w in in_process] == [0, 0]
    assert remote.sharded.lowered_calls == 3
    for got, expected in ((first, expected_first), (second, expected_second)):
        for g, e in zip(tf.nest.flatten(got), tf.nest.flatten(expected)):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def _two_rounds(process, datasets):
    state = process.initialize()
    for _ in range(2):
        state = process.next(state, datasets).state
    return process.get_model_weights(state)


def _wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_rounds_run_in_one_session_per_worker_that_creates_the_shard_loop_once(caplog):
    caplog.set_level(logging.INFO, logger="tffl.executors.executor_service")
    process = _fed_avg()
    datasets = _datasets()
    in_process = [workers.InProcessWorker() for _ in range(2)]
    try:
        remote = tffl.backends.remote.create_context([w.address for w in in_process])
        got = _run(remote, _two_rounds, process, datasets)
        open_while_kept = [w.service.open_sessions for w in in_process]
        remote.pool.close()
        _wait_until(lambda: all(w.service.open_sessions == 0 for w in in_process))
    finally:
        for worker in in_process:
            worker.stop()
    expected = _run(
        tffl.backends.local.create_context(lowering=False), _two_rounds, process, datasets
    )

    assert open_while_kept == [1, 1]
    # Per worker: Configure, the shard loop's CreateValue, and one Evaluate per round
    # (initialize needs no client work and runs on the driver).
    ended = [r.getMessage() for r in caplog.records if " ended " in r.getMessage()]
    assert [m.split(": ")[1].split(",")[0] for m in ended] == ["4 requests", "4 requests"]
    assert remote.sharded.lowered_calls == 3
    for g, e in zip(tf.nest.flatten(got), tf.nest.flatten(expected)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_a_worker_restarted_between_rounds_serves_the_next_in_a_new_session():
    process = _fed_avg()
    datasets = _datasets()
    in_process = [workers.InProcessWorker() for _ in range(2)]
    try:
        remote = tffl.backends.remote.create_context([w.address for w in in_process], retries=0)
        with context_stack.install(remote):
            state = process.next(process.initialize(), datasets).state
            kept = remote.pool.session(in_process[1].address)
            port = in_process[1].port
            in_process[1].stop()
            _wait_until(lambda: kept.broken)
            in_process[1] = workers.InProcessWorker(port=port)
            state = process.next(state, datasets).state
            restarted_sessions = in_process[1].service.open_sessions
    finally:
        for worker in in_process:
            worker.stop()
    expected = _run(
        tffl.backends.local.create_context(lowering=False), _two_rounds, process, datasets
    )

    # No retry was spent (retries=0) and both workers served the second round.
    assert remote.pool.lost == ()
    assert remote.pool.last_served == tuple(w.address for w in in_process)
    assert restarted_sessions == 1
    got = process.get_model_weights(state)
    for g, e in zip(tf.nest.flatten(got), tf.nest.flatten(expected)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


@tffl.tf_computation(np.float32)
def _plus_one(x):
    return x + 1.0


@tffl.tf_computation(np.float32)
def _doubled(x):
    return x * 2.0


@tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
def _sum_plus_one(values):
    return tffl.federated_sum(tffl.federated_map(_plus_one, values))


@tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
def _sum_doubled(values):
    return tffl.federated_sum(tffl.federated_map(_doubled, values))


def test_a_session_keeps_at_most_so_many_shard_loops_dropping_the_oldest(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="tffl.executors.executor_service")
    monkeypatch.setattr(tffl.backends.sharded_lowering, "_FUNCTIONS_KEPT", 1)
    worker = workers.InProcessWorker()
    try:
        remote = tffl.backends.remote.create_context([worker.address])
        with context_stack.install(remote):
            results = [
                _sum_plus_one([1.0, 2.0, 3.0]),
                _sum_doubled([1.0, 2.0, 3.0]),
                _sum_plus_one([4.0, 5.0]),
            ]
        remote.pool.close()
        _wait_until(lambda: worker.service.open_sessions == 0)
    finally:
        worker.stop()

    assert results == [np.float32(9.0), np.float32(12.0), np.float32(11.0)]
    assert remote.sharded.lowered_calls == 3
    # Configure; then per call: the shard loop created, the other one disposed (from the
    # second call on), and the Evaluate: 1 + 2 + 3 + 3.
    (ended,) = [r.getMessage() for r in caplog.records if " ended " in r.getMessage()]
    assert ": 9 requests, " in ended


def test_calls_from_several_threads_share_one_session_per_worker():
    in_process = [workers.InProcessWorker() for _ in range(2)]
    results = {}
    try:
        remote = tffl.backends.remote.create_context([w.address for w in in_process])

        def call(start):
            with context_stack.install(remote):
                results[start] = _sum_plus_one([float(start + i) for i in range(5)])

        threads = [threading.Thread(target=call, args=(start,)) for start in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        sessions = [w.service.open_sessions for w in in_process]
    finally:
        for worker in in_process:
            worker.stop()

    # Σ (start + i + 1) over i < 5 = 5·start + 15.
    assert results == {start: np.float32(5 * start + 15) for start in range(4)}
    assert sessions == [1, 1]
    assert remote.sharded.lowered_calls == 4


@tffl.tf_computation
def _draw():
    return tf.random.uniform([], 1.0, 2.0)


@tffl.tf_computation(np.float32, np.float32)
def _scaled(x, factor):
    return x * factor


@tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
def _two_loops(values):
    factor = tffl.federated_eval(_draw, tffl.SERVER)

    def scaled_sum(scale):
        scaled = tffl.federated_map(
            _scaled, tffl.federated_zip([values, tffl.federated_broadcast(scale)])
        )
        return tffl.federated_sum(scaled)

    first = scaled_sum(factor)
    return factor, first, scaled_sum(first)


def test_two_client_loops_run_between_driver_stages_that_draw_randoms_once():
    in_process = [workers.InProcessWorker() for _ in range(2)]
    try:
        remote = tffl.backends.remote.create_context([w.address for w in in_process])
        with context_stack.install(remote):
            factor, first, second = _two_loops([1.0, 2.0, 3.0, 4.0])
    finally:
        for worker in in_process:
            worker.stop()

    def scaled_sum(scale):
        # Each worker sums its two clients from zero; the driver adds the two sums.
        f32 = np.float32
        return (f32(0) + f32(1) * scale + f32(2) * scale) + (
            f32(0) + f32(3) * scale + f32(4) * scale
        )

    # The factor the clients were sent is the one returned: it was drawn once.
    assert 1.0 <= factor < 2.0
    assert first == scaled_sum(factor)
    assert second == scaled_sum(first)
    assert remote.sharded.lowered_calls == 1


@tffl.tf_computation(np.float32, np.float32)
def _times(x, scale):
    return x * scale


def _scaled_total(scale_fn=None):
    F, C, S = tffl.FederatedType, tffl.CLIENTS, tffl.SERVER

    @tffl.federated_computation(F(np.float32, S), F(np.float32, C))
    def scaled_total(scale, values):
        if scale_fn is not None:
            scale = tffl.federated_map(scale_fn, scale)
        scales = tffl.federated_broadcast(scale)
        return tffl.federated_sum(tffl.federated_map(_times, tffl.federated_zip([values, scales])))

    return scaled_total


def _driver_stage_calls(monkeypatch):
    """The number of inputs of each driver stage called from now on."""
    calls = []
    call_concrete = lowering.call_concrete

    def counted(concrete, specs, flat, what):
        if what == "driver stage":
            calls.append(len(flat))
        return call_concrete(concrete, specs, flat, what)

    monkeypatch.setattr(lowering, "call_concrete", counted)
    return calls


def test_a_driver_stage_that_only_passes_inputs_on_is_not_called(remote_workers, monkeypatch):
    remote = tffl.backends.remote.create_context(_addresses(remote_workers, 2))
    calls = _driver_stage_calls(monkeypatch)

    got = _run(remote, _scaled_total(), 2.0, [1.0, 2.0, 3.0])

    assert got == np.float32(12.0)
    assert remote.sharded.lowered_calls == 1
    assert len(calls) == 1  # The last stage; stage 0 only passed the scale on.


def test_a_driver_stage_that_computes_before_a_loop_is_called(remote_workers, monkeypatch):
    remote = tffl.backends.remote.create_context(_addresses(remote_workers, 2))
    calls = _driver_stage_calls(monkeypatch)

    got = _run(remote, _scaled_total(_plus_one), 2.0, [1.0, 2.0, 3.0])

    assert got == np.float32(18.0)
    assert remote.sharded.lowered_calls == 1
    assert len(calls) == 2


def test_a_call_whose_lowered_checks_fail_runs_on_the_composing_stack(remote_workers):
    F, C = tffl.FederatedType, tffl.CLIENTS

    @tffl.federated_computation(F(np.float32, C), F(np.float32, C))
    def sum_and_weighted_mean(values, weights):
        return (
            tffl.federated_sum(tffl.federated_map(_plus_one, values)),
            tffl.federated_mean(values, weight=weights),
        )

    # All weights 0: the lowered program's check fails, so the executors decide.
    remote = tffl.backends.remote.create_context(_addresses(remote_workers, 2))

    with pytest.raises(ValueError) as caught:
        _run(remote, sum_and_weighted_mean, [1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0])

    assert str(caught.value) == (
        "federated_mean: the client weights sum to zero (per-worker sums [0.0, 0.0])"
    )
    assert remote.sharded.lowered_calls == 0


def test_shuffled_datasets_run_on_the_composing_stack(remote_workers):
    process = _fed_avg()
    datasets = _datasets(shuffle=True)
    remote = tffl.backends.remote.create_context(_addresses(remote_workers, 2))

    with context_stack.install(remote):
        output = process.next(process.initialize(), datasets)

    assert remote.sharded.lowered_calls == 1  # initialize only: `next` went to executors.
    assert output.metrics["client_work"]["train"]["num_examples"] == 33


def test_lowering_false_uses_the_composing_stack(remote_workers):
    @tffl.federated_computation(tffl.FederatedType(np.int32, tffl.CLIENTS))
    def total(values):
        return tffl.federated_sum(values)

    remote = tffl.backends.remote.create_context(_addresses(remote_workers, 2), lowering=False)

    assert _run(remote, total, [1, 2, 3]) == 6
    assert remote.sharded is None


def test_a_client_that_cannot_hold_values_runs_with_resource_variables(remote_workers):
    @tffl.tf_computation(tffl.SequenceType(np.float32))
    def client(dataset):
        total = tf.Variable(0.0)
        for x in dataset:
            if x > 2.0:  # An assignment in a branch: not carried as a value.
                total.assign_add(x)
        return total.read_value()

    @tffl.federated_computation(tffl.FederatedType(tffl.SequenceType(np.float32), tffl.CLIENTS))
    def program(datasets):
        return tffl.federated_sum(tffl.federated_map(client, datasets))

    datasets = [tf.data.Dataset.from_tensor_slices(np.float32(v)) for v in ([1, 2, 3], [4, 5])]
    remote = tffl.backends.remote.create_context(_addresses(remote_workers, 2))

    assert _run(remote, program, datasets) == 12.0
    assert remote.sharded.lowered_calls == 1
    entry = remote.sharded._local.entry(program)  # noqa: SLF001
    assert entry.program.local_variables == {"padded": False}
