"""Tests for tffl.executors.executor_service, served in-process on a free port.

Requests are sent as raw protocol messages, one at a time, so each test reads
exactly the answer the service gives to what it sent.
"""

import asyncio
import queue
import re

import grpc
import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.executors import executor_service
from tffl.executors import value_serialization
from tffl.proto import executor_pb2
from tffl.testing import workers

C = tffl.CLIENTS
F = tffl.FederatedType
INVALID = grpc.StatusCode.INVALID_ARGUMENT.value[0]
TOKEN = "s3cret"


class Session:
    """One `Execute` stream, driven request by request."""

    def __init__(self, channel, metadata=()):
        execute = channel.stream_stream(
            executor_service.EXECUTE_METHOD, request_serializer=None, response_deserializer=None
        )
        self._requests = queue.SimpleQueue()
        self._responses = execute(iter(self._requests.get, None), metadata=metadata)
        self._ids = iter(range(1, 1000))

    def send_bytes(self, data: bytes) -> bytes:
        self._requests.put(data)
        return next(self._responses)

    def ask(self, fill) -> executor_pb2.ExecuteResponse:
        request = executor_pb2.ExecuteRequest(id=next(self._ids))
        fill(request)
        response = executor_pb2.ExecuteResponse.FromString(
            self.send_bytes(request.SerializeToString())
        )
        assert response.id == request.id
        return response

    def configure(self, num_clients=None, max_message_bytes=0):
        def fill(r):
            r.configure.SetInParent()
            if num_clients is not None:
                r.configure.num_clients = num_clients
            r.configure.max_message_bytes = max_message_bytes

        return self.ask(fill)

    def value(self, value, type_spec, known_keys=frozenset()) -> executor_pb2.ExecuteResponse:
        proto = value_serialization.serialize_value(value, type_spec, known_keys)
        return self.ask(lambda r: r.create_value.value.CopyFrom(proto))

    def call(self, function, argument=0):
        def fill(r):
            r.create_call.function = function
            r.create_call.argument = argument

        return self.ask(fill)

    def compute(self, ref):
        return _computed(self.ask(lambda r: setattr(r.compute, "value", ref)))

    def evaluate(self, function, value=None, type_spec=None, known_keys=frozenset()):
        def fill(r):
            r.evaluate.function = function
            if type_spec is not None:
                proto = value_serialization.serialize_value(value, type_spec, known_keys)
                r.evaluate.argument.CopyFrom(proto)

        return _computed(self.ask(fill))

    def close(self):
        self._requests.put(None)
        for _ in self._responses:
            pass


def _computed(response):
    """The computed value an answer carries, or the answer itself if it carries none."""
    if response.WhichOneof("response") != "computed":
        return response
    value, type_spec = value_serialization.deserialize_value(response.computed)
    return value_serialization.materialize(value, type_spec)


@pytest.fixture(scope="module")
def server():
    server = workers.InProcessWorker()
    yield server
    server.stop()


@pytest.fixture
def channel(server):
    with grpc.insecure_channel(server.address) as channel:
        yield channel


@pytest.fixture
def threaded_evaluates(monkeypatch):
    """The `Evaluate`s the service sent to a thread, whole or only their call (one entry
    each), not run on its loop."""
    threaded = []
    to_thread = asyncio.to_thread

    async def noting(fn, *args, **kwargs):
        if fn.__name__ in ("evaluate", "call"):
            threaded.append(fn)
        return await to_thread(fn, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", noting)
    return threaded


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


@tffl.federated_computation(F(np.int32, C))
def total_of_doubles(values):
    return tffl.federated_sum(tffl.federated_map(double, values))


def _run_total(session, values):
    fn = session.value(total_of_doubles, total_of_doubles.type_signature).value_ref.ref
    arg = session.value(values, F(np.int32, C)).value_ref.ref
    result = session.call(fn, arg)
    return session.compute(result.value_ref.ref)


class TestSession:
    def test_answers_each_request_when_running_a_federated_computation(self, channel):
        session = Session(channel)

        configured = session.configure(3).configured
        assert (configured.max_message_bytes, configured.tensor_cache_bytes) == (
            512 * 2**20,
            256 * 2**20,
        )
        assert _run_total(session, [1, 2, 3]) == np.int32(12)
        session.close()

    def test_evaluates_a_call_in_one_request_keeping_nothing(self, channel):
        session = Session(channel)
        session.configure(3)
        fn = session.value(total_of_doubles, total_of_doubles.type_signature).value_ref.ref

        assert session.evaluate(fn, [1, 2, 3], F(np.int32, C)) == np.int32(12)
        assert session.evaluate(fn, [4, 5, 6], F(np.int32, C)) == np.int32(30)
        # Neither argument nor result took a reference: the next value gets 2.
        assert session.value(7, np.int32).value_ref.ref == 2
        session.close()

    def test_evaluates_a_function_of_no_parameter(self, channel):
        @tffl.tf_computation
        def seven():
            return tf.constant(7)

        session = Session(channel)
        fn = session.value(seven, seven.type_signature).value_ref.ref

        assert session.evaluate(fn) == np.int32(7)
        session.close()

    def test_answers_not_found_to_an_evaluate_with_a_key_it_does_not_hold(self, channel):
        vector = np.arange(6, dtype=np.int32)
        cached = value_serialization.Cached(vector)
        vector_type = tffl.TensorType(np.int32, [6])
        negate = tffl.tf_computation(lambda x: -x, vector_type)
        session = Session(channel)
        fn = session.value(negate, negate.type_signature).value_ref.ref

        missed = session.evaluate(fn, cached, vector_type, known_keys={cached.key})
        sent = session.evaluate(fn, cached, vector_type)
        by_key = session.evaluate(fn, cached, vector_type, known_keys={cached.key})

        assert missed.error.code == grpc.StatusCode.NOT_FOUND.value[0]
        assert missed.error.message.startswith("not cached:")
        assert sent.tolist() == by_key.tolist() == (-vector).tolist()
        session.close()

    @pytest.mark.parametrize(
        "inline_seconds, inline_bytes, threaded",
        [
            pytest.param(60.0, 2**20, [True, False, False], id="short_runs_on_the_loop"),
            pytest.param(0.0, 2**20, [True, True, True], id="long_runs_in_a_thread"),
            pytest.param(60.0, 16, [True, True, True], id="large_argument_in_a_thread"),
        ],
    )
    def test_evaluates_in_a_thread_first_then_on_the_loop_while_short(
        self, channel, monkeypatch, threaded_evaluates, inline_seconds, inline_bytes, threaded
    ):
        monkeypatch.setattr(executor_service, "_INLINE_SECONDS", inline_seconds)
        monkeypatch.setattr(executor_service, "_INLINE_BYTES", inline_bytes)
        vector_type = tffl.TensorType(np.int32, [8])
        negate = tffl.tf_computation(lambda x: -x, vector_type)
        session = Session(channel)
        fn = session.value(negate, negate.type_signature).value_ref.ref

        results, in_thread = [], []
        for i in range(3):
            before = len(threaded_evaluates)
            results.append(session.evaluate(fn, np.arange(8, dtype=np.int32) + i, vector_type))
            in_thread.append(len(threaded_evaluates) > before)

        assert in_thread == threaded
        assert [r.tolist() for r in results] == [[-i - j for j in range(8)] for i in range(3)]
        session.close()

    def test_an_argument_of_other_sizes_runs_in_a_thread_after_short_runs(
        self, channel, monkeypatch, threaded_evaluates
    ):
        monkeypatch.setattr(executor_service, "_INLINE_SECONDS", 60.0)
        vector_type = tffl.TensorType(np.int32, [None])
        negate = tffl.tf_computation(lambda x: -x, vector_type)
        session = Session(channel)
        fn = session.value(negate, negate.type_signature).value_ref.ref
        short, long = np.arange(4, dtype=np.int32), np.arange(1000, dtype=np.int32)

        results, in_thread = [], []
        for vector in (short, short, long, long, short):
            before = len(threaded_evaluates)
            results.append(session.evaluate(fn, vector, vector_type))
            in_thread.append(len(threaded_evaluates) > before)

        assert in_thread == [True, False, True, False, True]
        assert [r.tolist() for r in results] == [
            (-v).tolist() for v in (short, short, long, long, short)
        ]
        session.close()

    def test_a_longer_tensor_sent_by_its_key_runs_in_a_thread(
        self, channel, monkeypatch, threaded_evaluates
    ):
        # Sent by key, the request is as small as before: only the tensor it names differs.
        monkeypatch.setattr(executor_service, "_INLINE_SECONDS", 60.0)
        vector_type = tffl.TensorType(np.int32, [None])
        total = tffl.tf_computation(lambda x: tf.reduce_sum(x), vector_type)
        short = value_serialization.Cached(np.arange(4, dtype=np.int32))
        long = value_serialization.Cached(np.arange(1000, dtype=np.int32))
        session = Session(channel)
        fn = session.value(total, total.type_signature).value_ref.ref
        session.evaluate(fn, short, vector_type)
        session.evaluate(fn, long, vector_type)

        results, in_thread = [], []
        for cached in (short, short, long, long):
            before = len(threaded_evaluates)
            results.append(session.evaluate(fn, cached, vector_type, known_keys={cached.key}))
            in_thread.append(len(threaded_evaluates) > before)

        assert in_thread == [True, False, True, False]
        assert results == [6, 6, 499500, 499500]
        session.close()

    def test_a_function_of_no_parameter_runs_on_the_loop_once_short(
        self, channel, monkeypatch, threaded_evaluates
    ):
        monkeypatch.setattr(executor_service, "_INLINE_SECONDS", 60.0)
        seven = tffl.tf_computation(lambda: tf.constant(7))
        session = Session(channel)
        fn = session.value(seven, seven.type_signature).value_ref.ref

        assert [session.evaluate(fn) for _ in range(3)] == [7, 7, 7]
        assert len(threaded_evaluates) == 1
        session.close()

    def test_a_count_of_other_value_runs_in_a_thread(
        self, channel, monkeypatch, threaded_evaluates
    ):
        # An integer scalar sizes the work as a shape does (a shard loop's client count).
        monkeypatch.setattr(executor_service, "_INLINE_SECONDS", 60.0)
        count_type = tffl.StructType([np.int32, np.float32])
        repeat = tffl.tf_computation(lambda n, x: tf.reduce_sum(tf.fill([n], x)), count_type)
        session = Session(channel)
        fn = session.value(repeat, repeat.type_signature).value_ref.ref

        results, in_thread = [], []
        for count, x in ((3, 0.5), (3, 1.5), (7, 1.5)):
            before = len(threaded_evaluates)
            results.append(session.evaluate(fn, (count, x), count_type))
            in_thread.append(len(threaded_evaluates) > before)

        assert in_thread == [True, False, True]
        assert results == [1.5, 4.5, 10.5]
        session.close()

    def test_a_function_disposed_and_created_again_starts_in_a_thread(
        self, channel, monkeypatch, threaded_evaluates
    ):
        monkeypatch.setattr(executor_service, "_INLINE_SECONDS", 60.0)
        increment = tffl.tf_computation(lambda x: x + 1, np.int32)
        session = Session(channel)
        first = session.value(increment, increment.type_signature).value_ref.ref
        assert [session.evaluate(first, 1, np.int32) for _ in range(2)] == [2, 2]
        session.ask(lambda r: r.dispose.value.append(first))
        second = session.value(increment, increment.type_signature).value_ref.ref

        assert session.evaluate(second, 5, np.int32) == 6
        assert len(threaded_evaluates) == 2  # The first call of each function.
        session.close()

    def test_drain_ends_an_idle_session_and_refuses_new_ones_without_an_error(self):
        draining = workers.InProcessWorker()
        try:
            with grpc.insecure_channel(draining.address) as channel:
                idle = Session(channel)
                assert idle.configure(1).WhichOneof("response") == "configured"
                draining._loop.call_soon_threadsafe(draining.service.drain)
                # The stream ends with an OK status: no answer, and no error.
                assert list(idle._responses) == []
                late = Session(channel)
                late._requests.put(executor_pb2.ExecuteRequest(id=1).SerializeToString())
                assert list(late._responses) == []
                assert draining.service.open_sessions == 0
        finally:
            draining.stop()

    def test_stopping_an_in_process_worker_ends_every_task_of_its_loop(self):
        stopping = workers.InProcessWorker()
        # A task the server's stop does not end (as a request's task cut off mid-call).
        waiting = asyncio.run_coroutine_threadsafe(asyncio.sleep(3600), stopping._loop)

        stopping.stop()

        assert waiting.cancelled()
        assert asyncio.all_tasks(stopping._loop) == set()

    def test_gives_references_with_their_types(self, channel):
        session = Session(channel)
        session.configure(2)

        response = session.value([1, 2], F(np.int32, C))

        assert response.value_ref.ref == 1
        assert str(tffl.types.deserialize_type(response.value_ref.type)) == "{int32}@CLIENTS"
        session.close()

    def test_builds_structs_and_selects_from_them(self, channel):
        session = Session(channel)
        a = session.value(1.5, np.float32).value_ref.ref
        b = session.value(2, np.int32).value_ref.ref

        def struct(r):
            r.create_struct.element.add(name="a", value=a)
            r.create_struct.element.add(name="b", value=b)

        pair = session.ask(struct).value_ref.ref

        def select(r):
            r.create_selection.source = pair
            r.create_selection.index = 1

        assert session.compute(pair) == {"a": 1.5, "b": 2}
        assert session.compute(session.ask(select).value_ref.ref) == 2
        session.close()

    def test_forgets_disposed_values(self, channel):
        session = Session(channel)
        ref = session.value(1, np.int32).value_ref.ref

        ack = session.ask(lambda r: r.dispose.value.append(ref))
        response = session.compute(ref)

        assert ack.WhichOneof("response") == "ack"
        assert response.error.message == "compute: no value with reference 1 in this session"
        session.close()

    def test_drops_the_session_when_the_stream_ends(self, server, channel):
        session = Session(channel)
        session.value(1, np.int32)

        session.close()
        pong = executor_pb2.PingResponse.FromString(
            channel.unary_unary(executor_service.PING_METHOD)(b"")
        )

        assert pong.sessions == 0


class TestIllTypedRequests:
    """Each is answered with INVALID_ARGUMENT, and the session goes on."""

    @pytest.mark.parametrize(
        "make_request, message",
        [
            pytest.param(
                lambda s: s.compute(99),
                "compute: no value with reference 99 in this session",
                id="unknown_reference",
            ),
            pytest.param(
                lambda s: s.call(s.value(1, np.int32).value_ref.ref),
                "create_call: expected a function, got a value of type int32 (reference 1)",
                id="call_of_a_non_function",
            ),
            pytest.param(
                lambda s: s.call(
                    s.value(double, double.type_signature).value_ref.ref,
                    s.value(1.0, np.float32).value_ref.ref,
                ),
                "create_call argument: expected int32, got float32",
                id="argument_of_another_type",
            ),
            pytest.param(
                lambda s: s.evaluate(99, 1, np.int32),
                "evaluate function: no value with reference 99 in this session",
                id="evaluate_of_an_unknown_reference",
            ),
            pytest.param(
                lambda s: s.evaluate(s.value(1, np.int32).value_ref.ref, 1, np.int32),
                "evaluate: expected a function, got a value of type int32 (reference 1)",
                id="evaluate_of_a_non_function",
            ),
            pytest.param(
                lambda s: s.evaluate(
                    s.value(double, double.type_signature).value_ref.ref, 1.0, np.float32
                ),
                "evaluate argument: expected int32, got float32",
                id="evaluate_on_an_argument_of_another_type",
            ),
            pytest.param(
                lambda s: s.evaluate(s.value(double, double.type_signature).value_ref.ref),
                "evaluate argument: expected int32, got no argument",
                id="evaluate_with_no_argument",
            ),
            pytest.param(
                lambda s: s.value([1, 2], F(np.int32, C)),
                "expected 3 clients for a value of type {int32}@CLIENTS, got 2",
                id="clients_value_of_another_size",
            ),
            pytest.param(
                lambda s: s.ask(
                    lambda r: r.create_value.value.CopyFrom(
                        _retyped(value_serialization.serialize_value(1.5, np.float32), np.int32)
                    )
                ),
                "value: expected int32, got float32",
                id="value_not_of_its_type",
            ),
            pytest.param(
                lambda s: s.ask(lambda r: None),
                "request 2 names no operation",
                id="no_operation",
            ),
            pytest.param(
                lambda s: s.configure(2),
                "configure: the session is already in use; configure it first",
                id="configure_after_use",
            ),
        ],
    )
    def test_answers_invalid_argument_and_keeps_the_session(self, channel, make_request, message):
        session = Session(channel)
        session.configure(3)
        if "configure" in message:
            session.value(1, np.int32)

        response = make_request(session)

        assert response.WhichOneof("response") == "error"
        assert (response.error.code, response.error.message) == (INVALID, message)
        assert _run_total(session, [1, 2, 3]) == np.int32(12)
        session.close()

    def test_aborts_the_stream_with_invalid_argument_when_given_garbage_bytes(self, channel):
        session = Session(channel)

        with pytest.raises(grpc.RpcError) as caught:
            session.send_bytes(b"\xff\xff\xff\xff")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details() == (
            "request 1 of the session is not an ExecuteRequest message"
        )
        served = Session(channel)
        served.configure(3)
        assert _run_total(served, [1, 2, 3]) == np.int32(12)
        served.close()

    def test_refuses_a_ping_of_garbage_bytes_with_invalid_argument(self, channel):
        ping = channel.unary_unary(executor_service.PING_METHOD)

        with pytest.raises(grpc.RpcError) as caught:
            ping(b"\xff\xff")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _retyped(proto, type_spec):
    proto.type.CopyFrom(tffl.types.serialize_type(tffl.to_type(type_spec)))
    return proto


class TestMessageLimit:
    def test_answers_resource_exhausted_naming_the_flag_when_an_answer_is_too_large(self, channel):
        session = Session(channel)
        session.configure(1, max_message_bytes=1000)
        ref = session.value(np.zeros([1000], np.float32), tffl.TensorType(np.float32, [1000]))

        response = session.compute(ref.value_ref.ref)

        assert response.error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
        assert re.fullmatch(
            r"the answer to request 3 is \d+ bytes, over the message limit of 1000 bytes "
            r"\(raise --max_message_mb on the worker and max_message_mb on the driver\)",
            response.error.message,
        )
        session.close()


VECTOR = tffl.TensorType(np.int64, [1000])


@tffl.tf_computation(VECTOR)
def vector_sum(x):
    return tf.reduce_sum(x)


def _sum_of(session, ref):
    fn = session.value(vector_sum, vector_sum.type_signature).value_ref.ref
    return session.compute(session.call(fn, ref).value_ref.ref)


class TestTensorCache:
    def test_answers_a_key_alone_with_the_tensor_kept_from_another_session(self):
        server = workers.InProcessWorker()
        cached = value_serialization.Cached(np.arange(1000, dtype=np.int64))
        try:
            with grpc.insecure_channel(server.address) as channel:
                first = Session(channel)
                first.value(cached, VECTOR)
                first.close()
                second = Session(channel)

                response = second.value(cached, VECTOR, known_keys={cached.key})

                assert _sum_of(second, response.value_ref.ref) == np.int64(499500)
                second.close()
        finally:
            server.stop()

        cache = server.service.tensor_cache
        assert (len(cache), cache.hits, cache.misses) == (1, 1, 0)

    def test_answers_not_found_naming_the_key_and_keeps_the_session_when_not_kept(self, channel):
        session = Session(channel)
        cached = value_serialization.Cached(np.arange(1000, 2000, dtype=np.int64))

        missed = session.value(cached, VECTOR, known_keys={cached.key})
        sent = session.value(cached, VECTOR)

        assert missed.error.code == grpc.StatusCode.NOT_FOUND.value[0]
        assert missed.error.message == f"not cached: {cached.key.hex()}"
        assert _sum_of(session, sent.value_ref.ref) == np.int64(1499500)
        session.close()

    def test_keeps_nothing_when_its_cache_is_off(self):
        server = workers.InProcessWorker(cache_bytes=0)
        cached = value_serialization.Cached(np.arange(1000, dtype=np.int64))
        try:
            with grpc.insecure_channel(server.address) as channel:
                session = Session(channel)
                sent = session.value(cached, VECTOR)
                missed = session.value(cached, VECTOR, known_keys={cached.key})

                assert _sum_of(session, sent.value_ref.ref) == np.int64(499500)
                session.close()
        finally:
            server.stop()

        assert server.service.tensor_cache is None
        assert missed.error.code == grpc.StatusCode.NOT_FOUND.value[0]

    def test_answers_invalid_argument_when_the_key_is_not_the_digest(self, channel):
        session = Session(channel)
        proto = value_serialization.serialize_value(
            value_serialization.Cached(np.zeros([1000], np.int64)), VECTOR
        )
        proto.cache_key = bytes(32)

        response = session.ask(lambda r: r.create_value.value.CopyFrom(proto))

        assert response.error.code == INVALID
        assert response.error.message == f"cache_key does not match the tensor ({'00' * 32})"
        session.close()


@pytest.fixture(scope="module")
def token_server():
    server = workers.InProcessWorker(auth_token=TOKEN)
    yield server
    server.stop()


class TestAuthToken:
    @pytest.mark.parametrize(
        "metadata",
        [
            pytest.param((), id="missing"),
            pytest.param((("authorization", "Bearer wrong"),), id="wrong"),
            pytest.param((("authorization", TOKEN),), id="without_bearer"),
        ],
    )
    def test_refuses_with_unauthenticated_when_the_token_is_not_right(self, token_server, metadata):
        with grpc.insecure_channel(token_server.address) as channel:
            with pytest.raises(grpc.RpcError) as execute_error:
                Session(channel, metadata).configure(1)
            with pytest.raises(grpc.RpcError) as ping_error:
                channel.unary_unary(executor_service.PING_METHOD)(b"", metadata=metadata)

        assert execute_error.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert ping_error.value.code() == grpc.StatusCode.UNAUTHENTICATED

    def test_serves_when_the_token_is_right(self, token_server):
        metadata = (("authorization", f"Bearer {TOKEN}"),)
        with grpc.insecure_channel(token_server.address) as channel:
            session = Session(channel, metadata)
            session.configure(2)

            assert _run_total(session, [4, 5]) == np.int32(18)
            session.close()
