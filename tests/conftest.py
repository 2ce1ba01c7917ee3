"""Test-wide settings: quiet TensorFlow; real worker processes shared by the remote tests;
the local context's setter, with the default context restored after each test."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The shared workers, launched as soon as collection shows a test needs them: each
# takes seconds to import TensorFlow, time that overlaps the tests that run first.
_SHARED_WORKERS = []


def pytest_collection_modifyitems(session, config, items):
    del session, config
    if any("remote_workers" in getattr(item, "fixturenames", ()) for item in items):
        from tffl.testing import workers

        _SHARED_WORKERS.extend(workers.launch_worker() for _ in range(3))


def pytest_sessionfinish(session, exitstatus):
    del session, exitstatus
    from tffl.testing import workers

    workers.stop_workers(_SHARED_WORKERS)


@pytest.fixture(scope="session")
def remote_workers():
    """Three `tffl-worker` processes on 127.0.0.1, shared by the whole run.

    A test that kills one of them restarts it on the same port before it ends
    (the list is updated in place), so later tests find three again.
    """
    from tffl.testing import workers

    if not _SHARED_WORKERS:
        _SHARED_WORKERS.extend(workers.launch_worker() for _ in range(3))
    for worker in _SHARED_WORKERS:
        worker.wait_listening()
    yield _SHARED_WORKERS
    workers.stop_workers(_SHARED_WORKERS)


@pytest.fixture
def set_context():
    """`tffl.backends.local.set_context`, with the default context restored afterwards."""
    from tffl.backends import local

    yield local.set_context
    local.set_context()
