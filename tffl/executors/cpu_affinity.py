"""Which CPUs a process runs on: Linux CPU lists (`0-3,8`), read and applied.

A worker that shares a machine with other workers (or with its driver) runs best
on CPUs of its own: TensorFlow sizes its thread pools to the CPUs the process may
use, so a worker pinned to one core runs its ops on one thread instead of
contending with the others for every core.
"""

from __future__ import annotations

import os
from typing import FrozenSet
from typing import Iterable


def usable() -> FrozenSet[int]:
    """The CPUs this process may run on (all of them where affinity is not supported)."""
    if hasattr(os, "sched_getaffinity"):
        return frozenset(os.sched_getaffinity(0))
    return frozenset(range(os.cpu_count() or 1))


def parse(text: str) -> FrozenSet[int]:
    """The CPUs of a Linux CPU list: comma-separated numbers and ranges, as `0-3,8`.

    Raises:
      ValueError: naming the part that is not a CPU number or an increasing range.
    """
    cpus = set()
    for part in text.split(","):
        part = part.strip()
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(
                f"expected a CPU list such as 0-3,8 (numbers and ranges), got {text!r}"
            )
        start, stop = int(first), int(last) if dash else int(first)
        if stop < start:
            raise ValueError(f"expected increasing ranges in the CPU list, got {part!r}")
        cpus.update(range(start, stop + 1))
    return frozenset(cpus)


def format_list(cpus: Iterable[int]) -> str:
    """`cpus` as a Linux CPU list, ranges joined: {0, 1, 2, 5} -> '0-2,5'."""
    ordered = sorted(set(cpus))
    parts = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        low, high = ordered[start], ordered[end]
        parts.append(str(low) if low == high else f"{low}-{high}")
        start = end + 1
    return ",".join(parts)


def pin(cpus: FrozenSet[int]) -> None:
    """Runs every thread of this process, and every thread it starts later, on `cpus`.

    Call it before TensorFlow runs its first op: its thread pools are sized then.

    Raises:
      ValueError: when some of `cpus` are not among the CPUs the process may use
        (naming both), or the platform cannot pin threads.
    """
    if not hasattr(os, "sched_setaffinity"):
        raise ValueError("pinning to CPUs needs Linux (os.sched_setaffinity)")
    allowed = usable()
    if not cpus or not cpus <= allowed:
        raise ValueError(
            f"expected CPUs among {format_list(allowed)}, got {format_list(cpus) or 'none'}"
        )
    # Linux sets a thread's affinity, and threads inherit it from the one that starts them.
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), cpus)
        except ProcessLookupError:  # The thread ended meanwhile.
            pass
