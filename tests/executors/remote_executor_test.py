"""Tests for tffl.executors.remote_executor, against executor services in this process."""

import asyncio
import collections
import logging
import socket
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.executors import executor_errors
from tffl.executors import executor_service
from tffl.executors import remote_executor
from tffl.executors import value_serialization
from tffl.testing import gates
from tffl.testing import workers

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType
OD = collections.OrderedDict
MIB = 2**20


@pytest.fixture(scope="module")
def worker():
    worker = workers.InProcessWorker()
    yield worker
    worker.stop()


@pytest.fixture
def channel(worker):
    with remote_executor.create_channel(worker.address) as channel:
        yield channel


def _run(coroutine_fn, executor):
    """Runs `coroutine_fn(executor)` on a fresh loop and closes the executor."""

    async def run():
        try:
            return await coroutine_fn(executor)
        finally:
            executor.close()

    return asyncio.run(run())


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


@tffl.federated_computation(F(np.int32, C))
def doubles_and_total(values):
    doubled = tffl.federated_map(double, values)
    return doubled, tffl.federated_sum(doubled)


class TestRemoteExecutor:
    @pytest.mark.parametrize(
        "value, type_spec",
        [
            pytest.param(np.float32(1.5), np.float32, id="float32"),
            pytest.param(b"abc", np.bytes_, id="string"),
            pytest.param(np.int64(-3), np.int64, id="int64"),
        ],
    )
    def test_computes_the_value_it_was_given(self, channel, value, type_spec):
        async def round_trip(executor):
            return await (await executor.create_value(value, type_spec)).compute()

        result = _run(round_trip, remote_executor.RemoteExecutor(channel, "w"))

        assert result == value
        assert type(result) is type(value)

    def test_computes_the_value_it_was_given_when_it_is_a_nested_struct(self, channel):
        value = OD(a=1, b=OD(c=[1.0, 2.0], d=b"z"))
        type_spec = OD(a=np.int32, b=OD(c=(np.float32, [2]), d=np.bytes_))

        async def round_trip(executor):
            return await (await executor.create_value(value, type_spec)).compute()

        result = _run(round_trip, remote_executor.RemoteExecutor(channel, "w"))

        assert result["a"] == 1
        assert result["b"]["c"].tolist() == [1.0, 2.0]
        assert result["b"]["d"] == b"z"

    def test_calls_a_federated_computation_on_a_clients_value(self, channel):
        async def call(executor):
            fn = await executor.create_value(doubles_and_total, doubles_and_total.type_signature)
            arg = await executor.create_value([1, 2, 3], F(np.int32, C))
            result = await executor.create_call(fn, arg)
            assert str(result.type_signature) == "<{int32}@CLIENTS,int32@SERVER>"
            return await result.compute()

        executor = remote_executor.RemoteExecutor(channel, "w", num_clients=3)

        assert _run(call, executor) == ([2, 4, 6], 12)

    def test_builds_structs_and_selects_from_them(self, channel):
        async def struct_then_select(executor):
            a = await executor.create_value(1, np.int32)
            b = await executor.create_value(2.5, np.float32)
            pair = await executor.create_struct([("a", a), ("b", b)])
            return await pair.compute(), await (await executor.create_selection(pair, 1)).compute()

        pair, selected = _run(struct_then_select, remote_executor.RemoteExecutor(channel, "w"))

        assert pair == OD(a=1, b=2.5)
        assert selected == np.float32(2.5)

    def test_runs_requests_concurrently(self, channel):
        async def many(executor):
            values = await asyncio.gather(*(executor.create_value(i, np.int32) for i in range(50)))
            return await asyncio.gather(*(v.compute() for v in values))

        assert _run(many, remote_executor.RemoteExecutor(channel, "w")) == list(range(50))

    def test_disposed_values_are_gone_from_the_worker(self, channel):
        async def dispose_then_compute(executor):
            kept, dropped = [await executor.create_value(i, np.int32) for i in (1, 2)]
            await executor.dispose([dropped])
            assert await kept.compute() == 1
            await dropped.compute()

        with pytest.raises(executor_errors.FatalError) as caught:
            _run(dispose_then_compute, remote_executor.RemoteExecutor(channel, "w"))

        assert str(caught.value) == "worker w: compute: no value with reference 2 in this session"

    def test_evaluates_a_call_in_one_request(self, worker, channel):
        async def evaluate_twice(executor):
            fn = await executor.create_value(doubles_and_total, doubles_and_total.type_signature)
            first = await executor.evaluate(fn, [1, 2, 3])
            second = await executor.evaluate(fn, [4, 5, 6])
            # Neither call kept a value in the session: the next reference is 2.
            later = await executor.create_value(0, np.int32)
            return first, second, later.ref

        executor = remote_executor.RemoteExecutor(channel, "w", num_clients=3)
        first, second, ref = _run(evaluate_twice, executor)

        assert first == ([2, 4, 6], 12)
        assert second == ([8, 10, 12], 30)
        assert ref == 2

    def test_evaluate_sends_a_cached_argument_again_when_the_worker_lost_it(self, worker, channel):
        cached = value_serialization.Cached(np.arange(2**18, dtype=np.int64) * 3)

        async def evaluate_twice(executor):
            fn = await executor.create_value(big_sum, big_sum.type_signature)
            first = await executor.evaluate(fn, cached)
            worker.service.tensor_cache.clear()
            return first, await executor.evaluate(fn, cached)

        misses = worker.service.tensor_cache.misses
        sums = _run(evaluate_twice, remote_executor.RemoteExecutor(channel, worker.address))

        assert sums == (np.int64(103078821888), np.int64(103078821888))
        # The second call's key missed once; the content sent after it is kept again.
        assert worker.service.tensor_cache.misses == misses + 1
        assert cached.key in worker.service.tensor_cache

    def test_one_session_serves_calls_from_several_event_loops(self, worker, channel):
        executor = remote_executor.RemoteExecutor(channel, "w", num_clients=2)

        async def create_function():
            return await executor.create_value(doubles_and_total, doubles_and_total.type_signature)

        fn = asyncio.run(create_function())
        results = {}

        def call_in_thread(values):
            results[tuple(values)] = asyncio.run(executor.evaluate(fn, values))

        threads = [threading.Thread(target=call_in_thread, args=([i, i + 1],)) for i in range(4)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert not executor.broken
        finally:
            executor.close()

        assert results == {(i, i + 1): ([2 * i, 2 * i + 2], 4 * i + 2) for i in range(4)}

    def test_is_broken_once_its_worker_stops(self):
        stopping = workers.InProcessWorker()
        with remote_executor.create_channel(stopping.address) as channel:
            executor = remote_executor.RemoteExecutor(channel, stopping.address)
            asyncio.run(executor.create_value(1, np.int32))
            assert not executor.broken
            stopping.stop()
            for _ in range(500):  # The reader thread learns of the end asynchronously.
                if executor.broken:
                    break
                threading.Event().wait(0.01)
            assert executor.broken
            executor.close()

    def test_ends_the_session_when_closed(self, worker, channel):
        async def one_value(executor):
            await executor.create_value(1, np.int32)
            assert worker.service.open_sessions == 1

        _run(one_value, remote_executor.RemoteExecutor(channel, "w"))

        for _ in range(100):  # The worker learns of the end asynchronously.
            if worker.service.open_sessions == 0:
                break
            threading.Event().wait(0.01)
        assert worker.service.open_sessions == 0


BIG = tffl.TensorType(np.int64, [2**18])  # 2 MiB


@tffl.tf_computation(BIG)
def big_sum(x):
    return tf.reduce_sum(x)


def _sum_remotely(channel, address, value, max_message_bytes=512 * MIB):
    async def call(executor):
        fn = await executor.create_value(big_sum, big_sum.type_signature)
        arg = await executor.create_value(value, BIG)
        return await (await executor.create_call(fn, arg)).compute()

    executor = remote_executor.RemoteExecutor(channel, address, max_message_bytes=max_message_bytes)
    return _run(call, executor)


class TestCachedTensors:
    # Each test has a worker of its own, at an address no other test uses: the driver
    # remembers what it sent to each address for the whole process.

    def test_sends_only_the_key_when_the_worker_was_sent_the_tensor_before(self):
        worker = workers.InProcessWorker()
        cached = value_serialization.Cached(np.arange(2**18, dtype=np.int64))
        try:
            with remote_executor.create_channel(worker.address) as channel:
                first = _sum_remotely(channel, worker.address, cached)
                # Far below the tensor's 2 MiB: only a request without its content fits.
                second = _sum_remotely(channel, worker.address, cached, max_message_bytes=MIB // 8)
        finally:
            worker.stop()

        assert first == second == np.int64(34359607296)
        cache = worker.service.tensor_cache
        assert (len(cache), cache.hits, cache.misses) == (1, 1, 0)

    def test_sends_the_content_again_when_the_worker_no_longer_keeps_it(self):
        worker = workers.InProcessWorker()
        cached = value_serialization.Cached(np.arange(2**18, dtype=np.int64) * 2)
        try:
            with remote_executor.create_channel(worker.address) as channel:
                first = _sum_remotely(channel, worker.address, cached)
                worker.service.tensor_cache.clear()
                second = _sum_remotely(channel, worker.address, cached)
        finally:
            worker.stop()

        assert first == second == np.int64(68719214592)
        cache = worker.service.tensor_cache
        assert (cached.key in cache, cache.hits, cache.misses) == (True, 0, 1)

    def test_sends_the_content_at_once_every_time_when_the_worker_keeps_nothing(self, caplog):
        worker = workers.InProcessWorker(cache_bytes=0)
        cached = value_serialization.Cached(np.ones([2**18], np.int64))
        with caplog.at_level(logging.INFO, logger=executor_service.__name__):
            try:
                with remote_executor.create_channel(worker.address) as channel:
                    sums = [_sum_remotely(channel, worker.address, cached) for _ in range(3)]
                    pinged = remote_executor.ping(channel)
            finally:
                worker.stop()

        assert sums == [2**18] * 3
        assert pinged.tensor_cache_bytes == 0
        # Configure, two create_values, create_call and compute: no key-only attempt first.
        ended = [r.getMessage() for r in caplog.records if " ended (ok)" in r.getMessage()]
        assert [m.split(": ")[1].split(",")[0] for m in ended] == ["5 requests"] * 3

    def test_raises_a_type_mismatch_when_a_cached_tensor_does_not_fit_the_type(self, channel):
        cached = value_serialization.Cached(np.zeros([3], np.int64))

        with pytest.raises(tffl.types.TypeMismatchError) as caught:
            _sum_remotely(channel, "w", cached)

        assert str(caught.value) == "value: expected int64[262144], got int64[3]"


class TestErrors:
    def test_raises_a_fatal_error_naming_the_worker_when_a_request_is_ill_typed(self, channel):
        async def call_a_tensor(executor):
            tensor = await executor.create_value(1, np.int32)
            await executor.create_call(tensor)

        with pytest.raises(executor_errors.FatalError) as caught:
            _run(call_a_tensor, remote_executor.RemoteExecutor(channel, "127.0.0.1:1234"))

        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert str(caught.value) == (
            "worker 127.0.0.1:1234: create_call: expected a function, got a value of type int32 "
            "(reference 1)"
        )

    def test_raises_worker_unreachable_naming_the_worker_when_nothing_listens(self):
        address = f"127.0.0.1:{_free_port()}"
        with remote_executor.create_channel(address) as channel:
            executor = remote_executor.RemoteExecutor(channel, address)

            with pytest.raises(executor_errors.WorkerUnreachableError) as caught:
                _run(lambda e: e.create_value(1, np.int32), executor)

        assert caught.value.address == address
        assert str(caught.value).startswith(f"worker {address} is unreachable: UNAVAILABLE: ")
        assert isinstance(caught.value, executor_errors.WorkerLostError)
        assert isinstance(caught.value, executor_errors.RetryableError)

    def test_raises_worker_lost_when_the_worker_stops_during_a_call(self, tmp_path):
        gate = gates.Gate(tmp_path)
        program = gate.doubled_sum()
        worker = workers.InProcessWorker()
        channel = remote_executor.create_channel(worker.address)
        executor = remote_executor.RemoteExecutor(channel, worker.address, num_clients=1)

        async def call(executor):
            fn = await executor.create_value(program, program.type_signature)
            arg = await executor.create_value([1], F(np.int32, C))
            return await (await executor.create_call(fn, arg)).compute()

        stopper = threading.Thread(target=lambda: (gate.wait_started(), worker.stop(0)))
        stopper.start()
        try:
            with pytest.raises(executor_errors.WorkerLostError) as caught:
                _run(call, executor)
        finally:
            gate.open()
            stopper.join()
            channel.close()

        assert caught.value.address == worker.address

    def test_refuses_a_request_over_the_driver_limit_naming_the_setting(self, channel):
        executor = remote_executor.RemoteExecutor(channel, "w", max_message_bytes=MIB)
        big = np.zeros([MIB // 4 + 10], np.float32)

        with pytest.raises(executor_errors.FatalError) as caught:
            _run(lambda e: e.create_value(big, tffl.TensorType(np.float32, big.shape)), executor)

        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert str(caught.value) == (
            "a request to worker w is 1.0 MiB, over the message limit of 1 MiB "
            "(raise max_message_mb on the driver)"
        )

    def test_refuses_a_request_over_the_worker_limit_naming_its_flag(self):
        worker = workers.InProcessWorker(max_message_bytes=MIB)
        big = np.zeros([MIB // 4 + 10], np.float32)
        try:
            with remote_executor.create_channel(worker.address) as channel:
                executor = remote_executor.RemoteExecutor(channel, "w")

                with pytest.raises(executor_errors.FatalError) as caught:
                    _run(
                        lambda e: e.create_value(big, tffl.TensorType(np.float32, big.shape)),
                        executor,
                    )
        finally:
            worker.stop()

        assert str(caught.value) == (
            "a request to worker w is 1.0 MiB, over the message limit of 1 MiB "
            "(raise --max_message_mb on the worker)"
        )

    def test_raises_a_fatal_error_when_the_token_is_refused(self):
        worker = workers.InProcessWorker(auth_token="right")
        try:
            with remote_executor.create_channel(worker.address) as channel:
                executor = remote_executor.RemoteExecutor(channel, "w", auth_token="wrong")

                with pytest.raises(executor_errors.FatalError) as caught:
                    _run(lambda e: e.create_value(1, np.int32), executor)
        finally:
            worker.stop()

        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert str(caught.value) == (
            "worker w refused the call: the worker requires an auth token; the call carried a "
            "wrong auth token"
        )


class TestPing:
    def test_tells_the_version_and_the_message_limit(self, channel):
        pong = remote_executor.ping(channel)

        assert pong.max_message_bytes == 512 * MIB
        assert pong.version


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
