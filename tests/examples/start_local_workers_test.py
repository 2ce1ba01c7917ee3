"""examples/remote/start_local_workers.sh starts workers that serve calls, and stops them."""

import os
import pathlib
import signal
import socket
import subprocess
import sys

import numpy as np

import tffl
from tffl.backends import remote
from tffl.core import context_stack

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "remote" / "start_local_workers.sh"


def _free_port_pair() -> int:
    """A port p such that p and p + 1 are both free (now)."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port


@tffl.tf_computation(np.int32)
def double(x):
    return x * 2


@tffl.federated_computation(tffl.FederatedType(np.int32, tffl.CLIENTS))
def doubled_total(values):
    return tffl.federated_sum(tffl.federated_map(double, values))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class TestStartLocalWorkers:
    def test_starts_2_workers_that_serve_a_call_and_stops_them_on_ctrl_c(self, tmp_path):
        base_port = _free_port_pair()
        pid_file = tmp_path / "workers.pids"
        env = dict(os.environ, PYTHON=sys.executable, PID_FILE=str(pid_file), TMPDIR=str(tmp_path))
        script = subprocess.Popen(
            ["bash", str(SCRIPT), "2", str(base_port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            lines = []
            for line in script.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith("ready: "):
                    break
            assert lines and lines[-1].startswith("ready: "), "\n".join(lines)
            addresses = lines[-1][len("ready: ") :].split(",")
            pids = [int(p) for p in pid_file.read_text().split()]

            context = remote.create_context(addresses)
            with context_stack.install(context):
                assert doubled_total([1, 2, 3]) == np.int32(12)

            script.send_signal(signal.SIGINT)
            assert script.wait(60) == 130
        finally:
            if script.poll() is None:
                script.kill()
                script.wait()
            script.stdout.close()

        assert addresses == [f"127.0.0.1:{base_port}", f"127.0.0.1:{base_port + 1}"]
        assert context.pool.last_served == tuple(addresses)
        assert len(pids) == 2
        assert not any(_alive(pid) for pid in pids)
        assert not pid_file.exists()
