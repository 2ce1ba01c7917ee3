"""Tests for tffl.backends.worker: the `tffl-worker` binary as a real process.

One worker serves TLS (a certificate made here with the openssl CLI), requires a
token, has a 1 MiB message limit and keeps no tensors; garbage is sent to one of
the shared workers.
"""

import os
import queue
import re
import subprocess

import grpc
import numpy as np
import pytest

import tffl
from tffl.backends import remote
from tffl.core import context_stack
from tffl.executors import cpu_affinity
from tffl.executors import executor_errors
from tffl.executors import executor_service
from tffl.executors import remote_executor
from tffl.executors import value_serialization
from tffl.proto import executor_pb2
from tffl.testing import workers

C = tffl.CLIENTS
F = tffl.FederatedType
TOKEN = "a-shared-secret"
MIB = 2**20


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


@tffl.federated_computation(F(np.int32, C))
def doubled_total(values):
    return tffl.federated_sum(tffl.federated_map(double, values))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert path, key path)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def secure_worker(certificate, tmp_path_factory):
    cert, key = certificate
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN + "\n")
    (worker,) = workers.start_workers(
        1,
        [
            f"--tls_cert={cert}",
            f"--tls_key={key}",
            f"--auth_token_file={token_file}",
            "--max_message_mb=1",
            "--tensor_cache_mb=0",
        ],
    )
    yield worker
    worker.kill()


def _secure_context(worker, certificate, token=TOKEN, lowering=True):
    return remote.create_context(
        [worker.address], tls_root_cert=str(certificate[0]), auth_token=token, lowering=lowering
    )


def _create_cached(channel, cached, with_content, metadata=()):
    """The answer to creating `cached` in a new session, sent with its content or its key alone."""
    request = executor_pb2.ExecuteRequest(id=1)
    known = set() if with_content else {cached.key}
    value_serialization.write_value(
        request.create_value.value, cached, tffl.TensorType(np.int32, [4]), known
    )
    stream = Stream(channel, metadata)
    answer = executor_pb2.ExecuteResponse.FromString(stream.send(request.SerializeToString()))
    stream.close()
    return answer


class TestSecureWorker:
    def test_serves_over_tls_when_the_token_is_right(self, secure_worker, certificate):
        with context_stack.install(_secure_context(secure_worker, certificate)):
            assert doubled_total([1, 2]) == np.int32(6)

    def test_refuses_a_wrong_token_with_unauthenticated(self, secure_worker, certificate):
        with context_stack.install(_secure_context(secure_worker, certificate, "wrong")):
            with pytest.raises(executor_errors.FatalError) as caught:
                doubled_total([1, 2])
        with remote_executor.create_channel(
            secure_worker.address, certificate[0].read_bytes()
        ) as channel:
            with pytest.raises(grpc.RpcError) as ping_error:
                remote_executor.ping(channel, auth_token="wrong")

        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert str(caught.value) == (
            f"worker {secure_worker.address} refused the call: the worker requires an auth "
            "token; the call carried a wrong auth token"
        )
        assert ping_error.value.code() == grpc.StatusCode.UNAUTHENTICATED

    def test_refuses_a_plaintext_connection(self, secure_worker):
        with remote_executor.create_channel(secure_worker.address) as channel:
            with pytest.raises(grpc.RpcError) as caught:
                remote_executor.ping(channel, auth_token=TOKEN)

        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

    def test_refuses_a_value_over_its_message_limit_naming_its_flag(
        self, secure_worker, certificate
    ):
        vector = tffl.TensorType(np.float32, [MIB // 2])

        @tffl.federated_computation(F(vector, C))
        def total(values):
            # Client work, so that the values travel to the worker.
            negate = tffl.tf_computation(lambda x: -x, vector)
            return tffl.federated_sum(tffl.federated_map(negate, values))

        with context_stack.install(_secure_context(secure_worker, certificate)):
            with pytest.raises(executor_errors.FatalError) as caught:
                total([np.zeros(vector.shape, np.float32)])

        assert str(caught.value) == (
            f"a request to worker {secure_worker.address} is 2.0 MiB, over the message limit "
            "of 1 MiB (raise --max_message_mb on the worker)"
        )

    def test_logs_a_line_when_each_session_starts_and_ends(self, secure_worker, certificate):
        # The executor stack's sessions last one call, configured with the shard's size.
        context = _secure_context(secure_worker, certificate, lowering=False)
        with context_stack.install(context):
            doubled_total([1, 2, 3, 4, 5])

        started = secure_worker.wait_for_line(
            r"session \d+ from ipv4:127\.0\.0\.1:\d+ started: num_clients=5$"
        )
        session = started.split("] ")[1].split(" ")[1]
        ended = secure_worker.wait_for_line(rf"session {session} ended \(ok\): ")
        assert re.search(r"ended \(ok\): \d+ requests, \d+\.\d\d s$", ended)

    def test_answers_not_found_to_a_key_alone_when_run_with_no_tensor_cache(
        self, secure_worker, certificate
    ):
        cached = value_serialization.Cached(np.array([7, 1, 2, 6], np.int32))
        metadata = remote_executor.auth_metadata(TOKEN)
        with remote_executor.create_channel(
            secure_worker.address, certificate[0].read_bytes()
        ) as channel:
            answers = [
                _create_cached(channel, cached, with_content, metadata)
                for with_content in (True, False)
            ]

        assert answers[0].WhichOneof("response") == "value_ref"
        assert answers[1].error.code == grpc.StatusCode.NOT_FOUND.value[0]
        assert answers[1].error.message == f"not cached: {cached.key.hex()}"

    def test_exits_with_status_0_on_sigterm_ending_a_kept_session_at_once(
        self, secure_worker, certificate
    ):
        # A lowered call leaves its session open for the next call.
        seen = len(secure_worker.lines)
        context = _secure_context(secure_worker, certificate)
        with context_stack.install(context):
            assert doubled_total([1, 2]) == np.int32(6)
        secure_worker.wait_for_line(r"started: num_clients=None$")
        (kept,) = [
            line for line in list(secure_worker.lines)[seen:] if "started: num_clients=None" in line
        ]
        session = kept.split("] ")[1].split(" ")[1]

        assert secure_worker.stop() == 0

        # Ended when the worker began stopping, not after the 5 s grace period.
        ended = secure_worker.wait_for_line(rf"session {session} ended ")
        assert re.search(r"ended \(the worker is stopping\): 3 requests, 0\.\d\d s$", ended)
        assert secure_worker.lines[-1].endswith("] stopped")
        assert any("stopping (grace 5.0 s)" in line for line in secure_worker.lines)


class Stream:
    """A raw `Execute` stream to a worker."""

    def __init__(self, channel, metadata=()):
        execute = channel.stream_stream(
            executor_service.EXECUTE_METHOD, request_serializer=None, response_deserializer=None
        )
        self._requests = queue.SimpleQueue()
        self._answers = execute(iter(self._requests.get, None), metadata=metadata)

    def send(self, data: bytes) -> bytes:
        self._requests.put(data)
        return next(self._answers)

    def close(self):
        self._requests.put(None)


class TestMalformedRequests:
    def test_aborts_with_invalid_argument_on_garbage_and_then_serves(self, remote_workers):
        worker = remote_workers[0]
        with grpc.insecure_channel(worker.address) as channel:
            with pytest.raises(grpc.RpcError) as execute_error:
                Stream(channel).send(b"\x0a\xff\xff\xff\xff\xff")
            with pytest.raises(grpc.RpcError) as ping_error:
                channel.unary_unary(executor_service.PING_METHOD)(b"\xff")

        assert execute_error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert ping_error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with context_stack.install(remote.create_context([worker.address])):
            assert doubled_total([1, 2]) == np.int32(6)

    def test_answers_an_ill_typed_request_with_invalid_argument_and_goes_on(self, remote_workers):
        with grpc.insecure_channel(remote_workers[0].address) as channel:
            stream = Stream(channel)
            call = executor_pb2.ExecuteRequest(id=1)
            call.create_call.function = 42
            value = executor_pb2.ExecuteRequest(id=2)
            value.create_value.value.tensor = b"\x08\x03"  # An int32 TensorProto with no type.

            answers = [executor_pb2.ExecuteResponse.FromString(stream.send(r.SerializeToString()))
                       for r in (call, value)]  # fmt: skip
            ping = executor_pb2.ExecuteRequest(id=3)
            ping.create_struct.SetInParent()
            served = executor_pb2.ExecuteResponse.FromString(stream.send(ping.SerializeToString()))
            stream.close()

        assert [(a.id, a.error.code) for a in answers] == [(1, 3), (2, 3)]
        assert answers[0].error.message == (
            "create_call function: no value with reference 42 in this session"
        )
        assert answers[1].error.message == "the value has no type"
        assert served.WhichOneof("response") == "value_ref"


class TestTensorCache:
    def test_serves_a_key_alone_in_a_later_session_once_sent_the_tensor(self, remote_workers):
        cached = value_serialization.Cached(np.array([7, 1, 2, 5], np.int32))
        with grpc.insecure_channel(remote_workers[0].address) as channel:
            answers = [
                _create_cached(channel, cached, with_content) for with_content in (True, False)
            ]

        assert [a.WhichOneof("response") for a in answers] == ["value_ref", "value_ref"]


class TestCpus:
    def test_a_pinned_worker_runs_on_its_cpu_with_one_client_at_a_time(self):
        cpu = str(min(os.sched_getaffinity(0)))
        (worker,) = workers.start_workers(1, cpus=[cpu])
        try:
            assert os.sched_getaffinity(worker.process.pid) == {int(cpu)}
            serving = worker.wait_for_line(r"\] serving on ")
            assert serving.endswith(f"max concurrency 1, CPUs {cpu})")
            with context_stack.install(remote.create_context([worker.address])):
                assert doubled_total([1, 2, 3]) == np.int32(12)
        finally:
            assert worker.stop() == 0

    def test_refuses_cpus_it_may_not_use_naming_them(self):
        usable = sorted(os.sched_getaffinity(0))
        worker = workers.launch_worker([f"--cpus={usable[-1] + 1}"])
        with pytest.raises(RuntimeError, match="did not start listening"):
            worker.wait_listening()
        assert worker.process.returncode == 1
        allowed = cpu_affinity.format_list(usable)
        assert f"--cpus: expected CPUs among {allowed}, got {usable[-1] + 1}" in worker.output(), (
            worker.output()
        )

    def test_start_workers_wants_a_cpu_list_per_worker(self):
        with pytest.raises(ValueError) as caught:
            workers.start_workers(2, cpus=["0"])
        assert str(caught.value) == "cpus: expected a CPU list for each of 2 workers, got 1"
