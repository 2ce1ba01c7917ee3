"""Test-wide settings: quiet TensorFlow; real worker processes shared by the remote tests."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def remote_workers():
    """Three `tffl-worker` processes on 127.0.0.1, started once for the whole run.

    Tests that kill or restart workers start their own instead.
    """
    from tffl.testing import workers

    workers = workers.start_workers(3)
    yield workers
    workers.stop_workers(workers)
