"""Test-wide settings: quiet TensorFlow; real worker processes shared by the remote tests."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def remote_workers():
    """Three `tffl-worker` processes on 127.0.0.1, started once for the whole run.

    A test that kills one of them restarts it on the same port before it ends
    (the list is updated in place), so later tests find three again.
    """
    from tffl.testing import workers

    started = workers.start_workers(3)
    yield started
    workers.stop_workers(started)
