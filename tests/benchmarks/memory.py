"""M1: does memory grow with calls? Many W1 calls and many W3 rounds, RSS before and after.

Each workload is warmed up first (tracing and caches fill on the first calls), so
growth between "before" and "after" is what repeated calls keep: a leak shows as
growth that scales with the number of calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from typing import Callable

from tests.benchmarks import fedavg
from tests.benchmarks import intrinsics
from tests.benchmarks import measure

WARMUP_CALLS = 5


def _release_free_memory() -> None:
    """Collects garbage and hands free heap back to the system, so RSS counts live memory.

    Without this, heap freed by an earlier, larger workload would absorb a leak
    and hide it.
    """
    gc.collect()
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        try:
            ctypes.CDLL(libc_name).malloc_trim(0)
        except (OSError, AttributeError):
            pass  # Not glibc.


def rss_growth(fn: Callable[[], object], calls: int) -> dict:
    """Resident memory before and after `calls` calls of `fn` (after a warm-up)."""
    for _ in range(WARMUP_CALLS):
        fn()
    _release_free_memory()
    before = measure.current_rss_mib()
    for _ in range(calls):
        fn()
    _release_free_memory()
    after = measure.current_rss_mib()
    return {
        "calls": calls,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "growth_percent": 100.0 * (after - before) / before,
        "growth_per_call_kib": 1024.0 * (after - before) / calls,
    }


def w1_growth(num_clients: int, calls: int) -> dict:
    """M1 for W1 calls of N = `num_clients`."""
    tffl_fn, _ = intrinsics.w1_functions(num_clients)
    return rss_growth(tffl_fn, calls)


def w3_growth(config: fedavg.RoundConfig, rounds: int) -> dict:
    """M1 for W3 rounds of `config`."""
    datasets, _, _ = fedavg.client_data(config)
    process = fedavg.build_process(config)
    runner = fedavg.RoundRunner(lambda s: process.next(s, datasets).state, process.initialize())
    return rss_growth(runner, rounds)
