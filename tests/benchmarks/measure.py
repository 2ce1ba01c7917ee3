"""Timing, memory and machine facts shared by the benchmark workloads.

Timings interleave the sides being compared (tffl, baseline, tffl, baseline, ...)
so that a change in the machine's load during a run reaches both sides alike; a
workload's figure is the median of its samples.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import resource
import statistics
import sys
import time
from typing import Callable
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context as eager_context

from tffl.core import context_stack

# A sample of a fast call repeats it until the sample lasts at least this long, so
# that the timer's resolution and one-off hiccups weigh little.
MIN_SAMPLE_S = 0.02


@dataclasses.dataclass(frozen=True)
class Timing:
    """The samples of one side of a comparison.

    Attributes:
      samples: seconds per call, one value per sample.
      calls_per_sample: how many calls each sample averaged.
    """

    samples: List[float]
    calls_per_sample: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def calls_per_sample(fn: Callable[[], object], min_sample_s: float = MIN_SAMPLE_S) -> int:
    """How many calls of `fn` (1, 2, 5, 10, 20, ...) make one sample last `min_sample_s`."""
    number, scale = 1, 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - started >= min_sample_s or number >= 10_000:
            return number
        if number == 5 * scale:
            scale *= 10
            number = scale
        else:
            number = 2 * scale if number == scale else 5 * scale


def interleaved(
    fns: Dict[str, Callable[[], object]],
    repeats: int,
    warmup: int = 1,
    min_sample_s: float = MIN_SAMPLE_S,
) -> Dict[str, Timing]:
    """Times each of `fns` `repeats` times, in turns, after `warmup` calls of each.

    Args:
      fns: name -> a no-argument function (one call is what is timed).
      repeats: samples per function.
      warmup: untimed calls of each function first (tracing, caches).
      min_sample_s: calls shorter than this are repeated within one sample
        (0 times every call on its own).

    Returns:
      name -> `Timing` of seconds per call.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    numbers = {
        name: calls_per_sample(fn, min_sample_s) if min_sample_s else 1 for name, fn in fns.items()
    }
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            number = numbers[name]
            started = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - started) / number)
    return {name: Timing(samples[name], numbers[name]) for name in fns}


def called_in(context: context_stack.Context, fn: Callable[[], object]) -> Callable[[], object]:
    """`fn` made to run with `context` installed (the context is what is measured)."""

    def call():
        with context_stack.install(context):
            return fn()

    return call


def timed(fn: Callable[[], object]):
    """`(result, seconds)` of one call of `fn`."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


# Untimed calls between a call after a sleep and the back-to-back call timed next.
_WARMING_CALLS = 10


def idle_cost(fn: Callable[[], object], idle_s: float = 0.005, calls: int = 40) -> dict:
    """Median seconds of a call of `fn` made right after the last one (`back_to_back`)
    and made after sleeping `idle_s` (`after_idle`).

    On some machines, virtual ones especially, a call after the process slept for a
    few milliseconds costs several times more: its core's caches and branch history
    hold other work by then, and an idle virtual CPU has to be woken. A remote round
    has such gaps in every process (a worker waits for the driver, the driver for
    the workers), where a local round runs as one call.
    """
    back_to_back, after_idle = [], []
    for _ in range(calls):
        time.sleep(idle_s)
        started = time.perf_counter()
        fn()
        after_idle.append(time.perf_counter() - started)
        for _ in range(_WARMING_CALLS):
            fn()
        started = time.perf_counter()
        fn()
        back_to_back.append(time.perf_counter() - started)
    return {
        "back_to_back": statistics.median(back_to_back),
        "after_idle": statistics.median(after_idle),
        "idle_s": idle_s,
    }


def pool_gradients_on_onednn(fn: Callable[[], object]) -> Tuple[object, Tuple[int, int]]:
    """`(fn(), (rewritten, total))`: of the max-pool gradients in the TF functions that
    `fn` instantiates, how many TF's oneDNN layout pass moved to its own kernel.

    The pass rewrites a `MaxPoolGrad` only if it has already rewritten the forward
    `MaxPool` that feeds it, and in a graph loop the order in which it visits the
    two follows the addresses of the graph's edges: each trace of the same
    function gets one of the outcomes, by chance. A gradient left to the Eigen
    kernel makes a CNN round about 20% slower (see WORKSPACE.md, Benchmarks).
    Functions instantiated before the call are not seen.
    """
    context = eager_context.context()
    context.enable_run_metadata()
    try:
        result = fn()
        metadata = context.export_run_metadata()
    finally:
        context.disable_run_metadata()
    ops = [
        node.op
        for function in metadata.function_graphs
        for graph in function.partition_graphs
        for node in graph.node
    ]
    rewritten = sum(op.endswith("MaxPoolGrad") and op.startswith("_Mkl") for op in ops)
    total = sum(op.endswith("MaxPoolGrad") for op in ops)
    return result, (rewritten, total)


def cpu_seconds(pid: Optional[int] = None) -> Optional[float]:
    """CPU time (user + system, every thread) a process has used so far: this one's
    by default; another's from /proc (None where there is none, or it has ended)."""
    if pid is None:
        return time.process_time()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The fields after the command name (which may hold spaces) in its parentheses.
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_call(fn: Callable[[], object], calls: int, pids: Sequence[int] = ()) -> dict:
    """CPU time per call of `fn` over `calls` calls, in seconds: this process's
    (`own`) and that of each process in `pids` (`others`, None where unknown).

    /proc counts other processes' time in clock ticks (10 ms, usually), so `calls`
    should make each total far longer than that.
    """
    own, others = cpu_seconds(), [cpu_seconds(pid) for pid in pids]
    for _ in range(calls):
        fn()
    own_after, others_after = cpu_seconds(), [cpu_seconds(pid) for pid in pids]
    return {
        "own": (own_after - own) / calls,
        "others": [
            None if a is None or b is None else (b - a) / calls
            for a, b in zip(others, others_after)
        ],
    }


def peak_rss_mib() -> float:
    """The peak resident memory of this process so far, in MiB (`ru_maxrss`)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mib() -> float:
    """The resident memory of this process now, in MiB (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()


def machine_info() -> dict:
    """What the numbers were measured on."""
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
    }
    try:
        info["load_average"] = [round(load, 2) for load in os.getloadavg()]
    except OSError:
        pass
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
