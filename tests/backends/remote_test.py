"""Tests for tffl.backends.remote: computations on real worker processes, faults included."""

import asyncio
import collections
import doctest
import socket
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.backends import remote
from tffl.core import context_stack
from tffl.executors import executor_errors
from tffl.executors import value_serialization
from tffl.proto import executor_pb2
from tffl.testing import gates
from tffl.testing import reference_programs
from tffl.testing import workers

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType
MIB = 2**20


def _addresses(processes, count=3):
    return [w.address for w in processes[:count]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


@tffl.federated_computation(F(np.int32, C))
def doubled_total(values):
    return tffl.federated_sum(tffl.federated_map(double, values))


class TestCreateContext:
    def test_gives_a_synchronous_context_over_the_workers_by_default(self):
        context = remote.create_context(["127.0.0.1:8000", "127.0.0.1:8001"], num_clients=4)

        assert type(context) is remote.RemoteExecutionContext
        assert context.pool.addresses == ("127.0.0.1:8000", "127.0.0.1:8001")
        assert (context.num_clients, context.retries) == (4, 1)

    def test_gives_an_asynchronous_context_when_asked(self):
        context = remote.create_context("127.0.0.1:8000,127.0.0.1:8001", asynchronous=True)

        assert type(context) is remote.AsyncRemoteExecutionContext
        assert context.pool.addresses == ("127.0.0.1:8000", "127.0.0.1:8001")

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            pytest.param(
                dict(workers=["localhost"]),
                "workers: expected 'host:port' addresses, got ['localhost']",
                id="no_port",
            ),
            pytest.param(
                dict(workers=["h:99999"]),
                "workers: expected 'host:port' addresses, got 'h:99999'",
                id="bad_port",
            ),
            pytest.param(
                dict(workers=[]), "workers: expected 'host:port' addresses, got []", id="none"
            ),
            pytest.param(
                dict(workers=["h:1"], retries=-1),
                "retries: expected a non-negative int, got -1",
                id="negative_retries",
            ),
            pytest.param(
                dict(workers=["h:1"], max_message_mb=4096),
                "max_message_mb: expected 1 to 2047, got 4096",
                id="message_limit_too_large",
            ),
        ],
    )
    def test_raises_when_a_setting_is_malformed(self, kwargs, message):
        with pytest.raises(ValueError) as caught:
            remote.create_context(**kwargs)

        assert str(caught.value) == message

    def test_set_context_installs_it_as_the_default(self):
        try:
            tffl.backends.remote.set_context(["127.0.0.1:8000"], retries=0)

            assert type(context_stack.current()) is remote.RemoteExecutionContext
            assert context_stack.current().retries == 0
        finally:
            tffl.backends.local.set_context()


class TestPrograms:
    @pytest.mark.parametrize("num_workers", [1, 3])
    def test_reference_programs_give_the_local_results(self, remote_workers, num_workers):
        rng = np.random.default_rng(7)
        model = collections.OrderedDict(
            w=rng.normal(size=(784, 10)).astype(np.float32) * 0.01, b=np.zeros(10, np.float32)
        )
        data = [
            tf.data.Dataset.from_tensor_slices(
                collections.OrderedDict(
                    x=rng.normal(size=(n, 784)).astype(np.float32),
                    y=rng.integers(0, 10, size=n).astype(np.int32),
                )
            ).batch(4)
            for n in (9, 4, 6)
        ]
        calls = [
            (reference_programs.build_mean_program(), ([68.5, 70.3, 69.8],)),
            (reference_programs.build_threshold_program(), ([1.0, 5.0, 3.0, 7.0], 4.0)),
            (reference_programs.build_fedavg_round(), (model, data)),
        ]
        context = remote.create_context(_addresses(remote_workers, num_workers))

        expected = [program(*args) for program, args in calls]
        with context_stack.install(context):
            actual = [program(*args) for program, args in calls]

        # At most one client per shard: sums add in the same order as locally.
        assert actual[:2] == expected[:2]
        for name in ("w", "b"):
            assert actual[2][name].tolist() == expected[2][name].tolist()

    @pytest.mark.parametrize("lowering", [True, False], ids=["lowered", "executors"])
    def test_runs_100_clients_on_3_workers(self, remote_workers, lowering):
        @tffl.federated_computation(F(np.float32, C), F(np.int32, C))
        def statistics(values, weights):
            return (
                tffl.federated_map(tffl.tf_computation(lambda x: x + 1.0, np.float32), values),
                tffl.federated_sum(values),
                tffl.federated_mean(values),
                tffl.federated_mean(values, weight=weights),
            )

        values = [i * 0.25 for i in range(100)]
        weights = [1 + i % 2 for i in range(100)]
        context = remote.create_context(_addresses(remote_workers), lowering=lowering)

        with context_stack.install(context):
            plus_one, total, mean, weighted = statistics(values, weights)

        assert plus_one == [v + 1.0 for v in values]
        assert total == np.float32(1237.5)
        assert mean == np.float32(12.375)
        # Σ wᵢxᵢ = 1237.5 + Σ over odd i of i/4 = 1237.5 + 625 = 1862.5; Σ wᵢ = 150.
        assert weighted == np.float32(1862.5 / 150)
        assert context.pool.last_served == tuple(_addresses(remote_workers))
        if lowering:
            assert context.sharded.lowered_calls == 1
        else:
            # Sessions of the executor stack are configured with their shard's size.
            remote_workers[0].wait_for_line("started: num_clients=34$")
            remote_workers[2].wait_for_line("started: num_clients=33$")

    def test_runs_in_an_asynchronous_context(self, remote_workers):
        context = remote.create_context(_addresses(remote_workers), asynchronous=True)

        async def call():
            with context_stack.install(context):
                return await doubled_total([1, 2, 3, 4])

        assert asyncio.run(call()) == np.int32(20)


class TestLargeValues:
    def test_passes_a_50_mib_value_both_ways(self, remote_workers):
        big = np.arange(50 * MIB // 4, dtype=np.float32)

        @tffl.federated_computation(F(tffl.TensorType(np.float32, big.shape), C))
        def negated(values):
            return tffl.federated_map(
                tffl.tf_computation(lambda x: -x, tffl.TensorType(np.float32, big.shape)), values
            )

        with context_stack.install(remote.create_context(_addresses(remote_workers, 1))):
            (result,) = negated([big])

        assert result.dtype == np.float32
        assert np.array_equal(result, -big)

    def test_raises_naming_the_limit_and_the_setting_when_a_value_is_too_large(
        self, remote_workers
    ):
        vector = tffl.TensorType(np.float32, [MIB // 2])

        @tffl.federated_computation(F(vector, C))
        def total(values):
            # Client work, so that the values travel to the worker.
            negate = tffl.tf_computation(lambda x: -x, vector)
            return tffl.federated_sum(tffl.federated_map(negate, values))

        context = remote.create_context(_addresses(remote_workers, 1), max_message_mb=1)
        with context_stack.install(context):
            with pytest.raises(executor_errors.FatalError) as caught:
                total([np.zeros(vector.shape, np.float32)])

        assert str(caught.value) == (
            f"a request to worker {remote_workers[0].address} is 2.0 MiB, over the message "
            "limit of 1 MiB (raise max_message_mb on the driver)"
        )


class TestUnreachableWorkers:
    def test_goes_on_without_a_worker_unreachable_at_the_start_spending_no_retry(
        self, remote_workers
    ):
        dead = f"127.0.0.1:{_free_port()}"
        context = remote.create_context([dead, remote_workers[0].address], retries=0)

        with context_stack.install(context):
            assert doubled_total([1, 2]) == np.int32(6)

        assert context.pool.lost == (dead,)
        assert context.pool.last_served == (remote_workers[0].address,)

    def test_raises_listing_the_addresses_when_no_worker_answers(self):
        addresses = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
        context = remote.create_context(addresses, retries=1)

        with context_stack.install(context):
            with pytest.raises(executor_errors.NoWorkersError) as caught:
                doubled_total([1, 2])

        assert str(caught.value) == f"no tffl worker answered; tried {', '.join(addresses)}"


def _call_in_thread(context, program, args):
    """Starts `program(*args)` in `context` on a thread; returns (thread, outcome dict)."""
    outcome = {}

    def run():
        with context_stack.install(context):
            try:
                outcome["result"] = program(*args)
            except Exception as error:  # noqa: BLE001 - handed to the test.
                outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.fixture(scope="module")
def lost_worker(remote_workers):
    """The shared workers, with the second one back on its port after the tests."""
    yield remote_workers
    if remote_workers[1].process.poll() is not None:
        remote_workers[1] = workers.restart_worker(remote_workers[1])


class TestLostWorker:
    VALUES = list(range(9))  # Shards [0,1,2], [3,4,5], [6,7,8]: doubled and summed, 72.

    def _kill_during_call(self, processes, tmp_path, retries):
        gate = gates.Gate(tmp_path)
        context = remote.create_context(_addresses(processes), retries=retries)
        thread, outcome = _call_in_thread(context, gate.doubled_sum(), (self.VALUES,))
        gate.wait_started()
        processes[1].kill()
        gate.open()  # The survivors finish; the lost worker's clients never will.
        thread.join(60)
        return context, outcome

    def test_completes_on_the_others_when_a_worker_dies_during_the_call(
        self, lost_worker, tmp_path
    ):
        context, outcome = self._kill_during_call(lost_worker, tmp_path, retries=1)

        assert outcome == {"result": np.int32(72)}
        assert context.pool.lost == (lost_worker[1].address,)
        assert context.pool.last_served == (lost_worker[0].address, lost_worker[2].address)

    def test_fails_naming_the_worker_when_it_dies_and_retries_is_0(self, lost_worker, tmp_path):
        if lost_worker[1].process.poll() is not None:
            lost_worker[1] = workers.restart_worker(lost_worker[1])

        context, outcome = self._kill_during_call(lost_worker, tmp_path, retries=0)

        error = outcome["error"]
        assert isinstance(error, executor_errors.WorkerLostError)
        assert str(error).startswith(f"worker {lost_worker[1].address} was lost during the call")
        with context_stack.install(context):
            assert doubled_total(self.VALUES) == np.int32(72)
        assert context.pool.last_served == (lost_worker[0].address, lost_worker[2].address)

    def test_uses_a_worker_again_when_it_is_restarted_on_its_port(self, lost_worker):
        lost_worker[1].kill()
        context = remote.create_context(_addresses(lost_worker), retries=1)
        with context_stack.install(context):
            assert doubled_total(self.VALUES) == np.int32(72)
            assert context.pool.lost == (lost_worker[1].address,)

            lost_worker[1] = workers.restart_worker(lost_worker[1])
            assert doubled_total(self.VALUES) == np.int32(72)

        assert context.pool.lost == ()
        assert context.pool.last_served == tuple(_addresses(lost_worker))
        assert any("session 1 " in line for line in lost_worker[1].lines)


# A driver that speaks the protocol with nothing but grpc (it starts in a fraction of
# a second): it sends the requests of a file one by one, each after the answer to
# the one before; after sending the last (the call, whose answer comes only when the
# computation ends) it says so and waits until it is killed.
_RAW_DRIVER = textwrap.dedent(
    """
    import queue, struct, sys
    import grpc
    data = open(sys.argv[2], "rb").read()
    messages, at = [], 0
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        messages.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    channel = grpc.insecure_channel(sys.argv[1])
    execute = channel.stream_stream(
        "/tffl.ExecutorGroup/Execute", request_serializer=None, response_deserializer=None
    )
    requests = queue.SimpleQueue()
    answers = execute(iter(requests.get, None))
    for message in messages[:-1]:
        requests.put(message)
        next(answers)
    requests.put(messages[-1])
    print("computing", flush=True)
    next(answers)
    """
)


def _session_requests(program, values) -> bytes:
    """Configure, the program, its argument and the call, length-prefixed."""
    requests = [executor_pb2.ExecuteRequest(id=i) for i in range(1, 5)]
    requests[0].configure.num_clients = len(values)
    requests[1].create_value.value.CopyFrom(
        value_serialization.serialize_value(program, program.type_signature)
    )
    requests[2].create_value.value.CopyFrom(
        value_serialization.serialize_value(values, F(np.int32, C))
    )
    requests[3].create_call.function = 1  # The worker hands out references 1, 2 in turn.
    requests[3].create_call.argument = 2
    return b"".join(
        len(data).to_bytes(4, "big") + data for data in (r.SerializeToString() for r in requests)
    )


class TestDriverCrash:
    def test_worker_serves_a_new_driver_when_a_driver_dies_during_a_call(
        self, remote_workers, tmp_path
    ):
        worker = remote_workers[2]
        gate = gates.Gate(tmp_path)
        requests = tmp_path / "requests.bin"
        requests.write_bytes(_session_requests(gate.doubled_sum(), [1, 2, 3]))
        driver = subprocess.Popen(
            [sys.executable, "-c", _RAW_DRIVER, worker.address, str(requests)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert driver.stdout.readline() == "computing\n"
            gate.wait_started()
        finally:
            driver.kill()
            driver.wait()
            driver.stdout.close()
        gate.open()

        with context_stack.install(remote.create_context([worker.address])):
            assert doubled_total([1, 2, 3]) == np.int32(12)
        # The dead driver's session ended (other tests' drivers may keep sessions open).
        assert any("(cancelled by the driver)" in line for line in worker.lines)


def test_docstring_examples_pass():
    results = doctest.testmod(remote, verbose=False, report=True)

    assert (results.attempted, results.failed) == (3, 0)
