"""W4: W1 (N=1,000) and W3-linear (K=10) on two local `tffl-worker`s, against local runs.

The workers are real processes on 127.0.0.1 (`tffl.testing.workers`) reached over
gRPC through `tffl.backends.remote`; they share this machine's cores with the
driver. Remote and local calls are timed in turns, so the ratio remote/local
is what the remote stack adds (serialization, gRPC, sharding) on this machine.
Each worker runs on cores of its own (`tffl-worker --cpus`: the machine's cores
split between the workers), as workers sharing a machine should: TensorFlow sizes
a worker's thread pools to its cores rather than having both workers contend for
every core. The driver runs on any core.

W3 also counts the CPU time a round takes in each process, remote (the driver and
each worker) and local. Where the processes' sum is more than the machine's
cores can give in the local round's time, the remote round cannot keep up
however it is scheduled. And it times a small TensorFlow call made back to back
and made after 5 ms asleep (`measure.idle_cost`): every process of a remote round
waits in turn for the others, and each TensorFlow call after a wait pays that
difference.
"""

from __future__ import annotations

from typing import Dict
from typing import List
from typing import Optional

import numpy as np
import tensorflow as tf

from tests.benchmarks import fedavg
from tests.benchmarks import intrinsics
from tests.benchmarks import measure
import tffl
from tffl.executors import cpu_affinity
from tffl.testing import workers as workers_lib

NUM_WORKERS = 2
# Rounds over which W3's CPU time is counted: /proc counts a worker's in 10 ms ticks.
CPU_ROUNDS = 60


def benchmark(
    w1_clients: int, w3_config: fedavg.RoundConfig, w1_repeats: int, w3_repeats: int
) -> Dict[str, dict]:
    """Remote and local medians of W1 and W3 (see the module docstring).

    Returns:
      `{'w1': {...}, 'w3': {...}, 'worker_cpus': [...] or None}`; W1 and W3 each
      with `remote_s`, `local_s`, `repeats`, `max_difference` (remote against local
      results) and, for W3, `remote_cold_s` (the first remote round of a process
      already built and run locally), `cpu_per_round_s` and `idle_cost` (of
      `small_tf_call`, in the driver).
    """
    cpus = worker_cpus()
    workers = workers_lib.start_workers(NUM_WORKERS, cpus=cpus)
    try:
        remote = tffl.backends.remote.create_context([w.address for w in workers])
        local = tffl.backends.local.create_context()
        pids = [w.process.pid for w in workers]
        return {
            "w1": _w1(remote, local, w1_clients, w1_repeats),
            "w3": _w3(remote, local, w3_config, w3_repeats, pids),
            "worker_cpus": cpus,
        }
    finally:
        workers_lib.stop_workers(workers)


def worker_cpus() -> Optional[List[str]]:
    """Each worker's `--cpus`: this process's CPUs split into as many equal runs as there
    are workers; None (every worker on every CPU) when there are fewer CPUs than workers."""
    usable = sorted(cpu_affinity.usable())
    share = len(usable) // NUM_WORKERS
    if not share:
        return None
    return [
        cpu_affinity.format_list(usable[i * share : (i + 1) * share]) for i in range(NUM_WORKERS)
    ]


def _w1(remote, local, num_clients: int, repeats: int) -> dict:
    tffl_fn, _ = intrinsics.w1_functions(num_clients)
    fns = {"remote": measure.called_in(remote, tffl_fn), "local": measure.called_in(local, tffl_fn)}
    difference = abs(float(fns["remote"]()) - float(fns["local"]()))
    timings = measure.interleaved(fns, repeats)
    return {
        "remote_s": timings["remote"].median,
        "local_s": timings["local"].median,
        "repeats": repeats,
        "max_difference": difference,
    }


def _w3(remote, local, config: fedavg.RoundConfig, repeats: int, pids=()) -> dict:
    datasets, _, _ = fedavg.client_data(config)
    process = fedavg.build_process(config)
    start = process.initialize()
    local_state = measure.called_in(local, lambda: process.next(start, datasets).state)()
    remote_state, remote_cold_s = measure.timed(
        measure.called_in(remote, lambda: process.next(start, datasets).state)
    )
    difference = fedavg.max_difference(
        fedavg.trainable_weights(process, remote_state),
        fedavg.trainable_weights(process, local_state),
    )
    runners = {
        name: fedavg.RoundRunner(_stepper(context, process, datasets), state)
        for name, context, state in (
            ("remote", remote, remote_state),
            ("local", local, local_state),
        )
    }
    timings = measure.interleaved(runners, repeats, min_sample_s=0)
    remote_cpu = measure.cpu_per_call(runners["remote"], CPU_ROUNDS, pids)
    local_cpu = measure.cpu_per_call(runners["local"], CPU_ROUNDS)
    return {
        "remote_s": timings["remote"].median,
        "local_s": timings["local"].median,
        "remote_cold_s": remote_cold_s,
        "repeats": repeats,
        "max_difference": difference,
        "cpu_per_round_s": {
            "remote_driver": remote_cpu["own"],
            "remote_workers": remote_cpu["others"],
            "local": local_cpu["own"],
        },
        "idle_cost": measure.idle_cost(small_tf_call()),
    }


def small_tf_call():
    """A call of a small TF function: a few elementwise ops over the linear model's
    weights (784 x 62 float32)."""
    weights = tf.constant(np.ones([784, 62], np.float32))
    fn = tf.function(lambda x: tf.reduce_sum(x * 2.0 + 1.0))
    return lambda: fn(weights)


def _stepper(context, process, datasets):
    def step(state):
        return measure.called_in(context, lambda: process.next(state, datasets).state)()

    return step
