"""Computations that wait for a signal, to fail workers or drivers in the middle of a call.

A `Gate` is a pair of files in a folder: its computations write the first when
a client starts and then wait, polling every 20 ms, until the second exists. A
test starts a call, waits for `started()`, kills what it wants to kill, and
`open()`s the gate so that the survivors finish. The polling is TensorFlow ops
only (no Python callback), so the computations run on any worker.

>>> gate = Gate(tmp_path)                          # doctest: +SKIP
>>> program = gate.doubled_sum()                   # ({int32}@CLIENTS -> int32@SERVER)
"""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np
import tensorflow as tf

from tffl.core import computation_impl
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.types import computation_types
from tffl.types import placements

_POLL_MICROSECONDS = 20_000


def _nap() -> tf.Tensor:
    """Sleeps one poll interval inside the graph (a one-element sleeping dataset); gives 0."""
    slept = tf.raw_ops.SleepDataset(
        input_dataset=tf.data.experimental.to_variant(tf.data.Dataset.range(1)),
        sleep_microseconds=_POLL_MICROSECONDS,
        output_types=[tf.int64],
        output_shapes=[[]],
    )
    dataset = tf.data.experimental.from_variant(slept, tf.TensorSpec([], tf.int64))
    return dataset.reduce(tf.constant(0, tf.int64), lambda total, x: total + x)


class Gate:
    """A signal between a test and the computations it runs (see the module docstring)."""

    def __init__(self, folder):
        folder = pathlib.Path(folder)
        self.started_path = str(folder / "gate-started")
        self.open_path = str(folder / "gate-open")

    def started(self) -> bool:
        return os.path.exists(self.started_path)

    def wait_started(self, timeout: float = 30.0) -> None:
        """Waits until a client of a gated computation has started.

        Raises:
          TimeoutError: if none starts within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while not self.started():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no gated computation started within {timeout} s")
            time.sleep(0.01)

    def open(self) -> None:
        pathlib.Path(self.open_path).touch()

    def wait_then_double(self) -> computation_impl.ConcreteComputation:
        """`(int32 -> int32)`: notes that it started, waits for the gate, doubles."""
        started_path, open_path = self.started_path, self.open_path

        @tensorflow_computation.tf_computation(np.int32)
        def wait_then_double(x):
            with tf.control_dependencies([tf.io.write_file(started_path, "")]):
                start = tf.constant(0, tf.int64)

            def closed(naps):
                # A pattern that depends on the loop variable, so that the check is
                # not hoisted out of the loop as an invariant.
                suffix = tf.strings.substr(tf.strings.as_string(naps), 0, 0)
                pattern = tf.strings.join([open_path, suffix])
                return tf.equal(tf.size(tf.io.matching_files(pattern)), 0)

            naps = tf.while_loop(closed, lambda naps: naps + 1 + _nap(), [start])[0]
            return x * 2 + tf.cast(tf.minimum(naps, 0), tf.int32)

        return wait_then_double

    def doubled_sum(self) -> computation_impl.ConcreteComputation:
        """`({int32}@CLIENTS -> int32@SERVER)`: the sum of doubles, each client gated."""
        wait_then_double = self.wait_then_double()

        @federated_computation.federated_computation(
            computation_types.FederatedType(np.int32, placements.CLIENTS)
        )
        def doubled_sum(values):
            return intrinsics.federated_sum(intrinsics.federated_map(wait_then_double, values))

        return doubled_sum
