"""Workers on 127.0.0.1 for tests and for trying remote execution.

Real `tffl-worker` processes (`start_workers`), or an executor service served from
a thread of this process (`InProcessWorker`), which starts in milliseconds.

>>> workers = start_workers(2)                    # doctest: +SKIP
>>> tffl.backends.remote.set_context([w.address for w in workers])  # doctest: +SKIP
>>> stop_workers(workers)                         # doctest: +SKIP

Worker processes run this process's tffl (its source folder goes first on
PYTHONPATH) with TensorFlow's start-up logging silenced; their output (stdout and
stderr) is kept in `WorkerProcess.lines`.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
from typing import List
from typing import Optional
from typing import Sequence

from tffl.executors import executor_service
from tffl.executors import executor_stacks

_LISTENING = re.compile(r"tffl-worker listening on (\S+):(\d+)")
# The folder that holds the `tffl` package this module belongs to.
_SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
# How long a stopping in-process worker waits for its cancelled tasks to end.
FINISH_TIMEOUT_S = 10.0


class WorkerProcess:
    """A worker subprocess and the address it listens on.

    Attributes:
      process: the `subprocess.Popen`.
      port: the port it listens on (known once `wait_listening` returns).
      lines: its output so far, line by line.
    """

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.port: Optional[int] = None
        self.lines: List[str] = []
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _read(self) -> None:
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            match = _LISTENING.search(line)
            if match and self.port is None:
                self.port = int(match.group(2))
                self._listening.set()
        self._listening.set()  # It exited: stop waiting.

    def wait_listening(self, timeout: float = START_TIMEOUT_S) -> "WorkerProcess":
        """Waits for the worker's `listening on` line.

        Raises:
          RuntimeError: with the worker's output, if it exits or takes too long.
        """
        if not self._listening.wait(timeout) or self.port is None:
            self.kill()
            output = "\n".join(self.lines[-20:])
            raise RuntimeError(f"the worker did not start listening; its output:\n{output}")
        return self

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 10.0) -> str:
        """The first output line (from now on, or already seen) matching the regex `pattern`.

        Raises:
          TimeoutError: if no line matches within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            for line in list(self.lines):
                if compiled.search(line):
                    return line
            if time.monotonic() > deadline:
                raise TimeoutError(f"no line of the worker's output matches {pattern!r}")
            time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILLs the worker (as a crash would) and waits for it to go."""
        if self.process.poll() is None:
            self.process.kill()
        self._finish()

    def _finish(self, timeout: float = 30.0) -> None:
        self.process.wait()
        self._reader.join(timeout)
        self.process.stdout.close()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERMs the worker and returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._finish(timeout)
        return self.process.returncode


def launch_worker(flags: Sequence[str] = (), port: int = 0) -> WorkerProcess:
    """Starts a worker on 127.0.0.1 without waiting for it (see `wait_listening`)."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable,
        "-m",
        "tffl.backends.worker",
        "--host=127.0.0.1",
        f"--port={port}",
        *flags,
    ]
    process = subprocess.Popen(
        command,
        cwd=str(_SOURCE_ROOT),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return WorkerProcess(process)


def start_workers(
    count: int, flags: Sequence[str] = (), cpus: Optional[Sequence[str]] = None
) -> List[WorkerProcess]:
    """Starts `count` workers at once on free ports and waits until they all listen.

    Args:
      count: how many.
      flags: the flags of every worker.
      cpus: None, or each worker's `--cpus` (a CPU list such as `'0'` or `'2-3'`).
    """
    if cpus is not None and len(cpus) != count:
        raise ValueError(f"cpus: expected a CPU list for each of {count} workers, got {len(cpus)}")
    per_worker = [()] * count if cpus is None else [(f"--cpus={c}",) for c in cpus]
    workers = [launch_worker([*flags, *extra]) for extra in per_worker]
    try:
        for worker in workers:
            worker.wait_listening()
    except RuntimeError:
        stop_workers(workers)
        raise
    return workers


def restart_worker(worker: WorkerProcess, flags: Sequence[str] = ()) -> WorkerProcess:
    """A new worker on the port of one that died (waits until the port is free again)."""
    worker.kill()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        restarted = launch_worker(flags, port=worker.port)
        try:
            return restarted.wait_listening()
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_workers(workers: Sequence[WorkerProcess]) -> None:
    """Kills the workers (teardown: their exit status does not matter)."""
    for worker in workers:
        worker.kill()


async def _finish_tasks() -> None:
    """Cancels the loop's other tasks and waits until they have ended.

    A session cut off by the server's stop cancels its requests' tasks without
    waiting for them; a task the loop never resumes again stays suspended and,
    collected later in another loop's time, runs its cleanup with no loop to run on.
    """
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=FINISH_TIMEOUT_S)


class InProcessWorker:
    """An executor service on 127.0.0.1, served by an event loop in a thread of its own.

    Args:
      max_concurrency: for the local executor stack of each session.
      port: the port to listen on (0 picks a free one).
      **service_args: for `ExecutorService` (`auth_token`, `max_message_bytes`).
    """

    def __init__(self, max_concurrency: int = 2, port: int = 0, **service_args):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.factory = executor_stacks.LocalExecutorFactory(max_concurrency)
        self.service = executor_service.ExecutorService(self.factory, **service_args)
        self._server, self.port = self._run(
            executor_service.start_server(self.service, f"127.0.0.1:{port}")
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(START_TIMEOUT_S)

    def stop(self, grace: Optional[float] = None) -> None:
        """Stops serving: idle sessions end at once, busy ones when their requests are
        answered or after `grace` seconds (at once with None)."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self.service.drain)
        self._run(self._server.stop(grace))
        self._run(_finish_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self.factory.close()
