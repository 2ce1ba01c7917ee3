"""Tests for tffl.executors.cpu_affinity: CPU lists, and pinning a process's threads."""

import os
import pathlib
import subprocess
import sys

import pytest

from tffl.executors import cpu_affinity


class TestParse:
    @pytest.mark.parametrize(
        "text, expected",
        [
            ("0", {0}),
            ("0-3,8", {0, 1, 2, 3, 8}),
            (" 2 , 4-5", {2, 4, 5}),
            ("3,1,3", {1, 3}),
            ("7-7", {7}),
        ],
    )
    def test_reads_numbers_and_ranges(self, text, expected):
        assert cpu_affinity.parse(text) == frozenset(expected)

    @pytest.mark.parametrize("text", ["", "a", "1-", "-1", "1,,2", "0x1", "1.5"])
    def test_refuses_what_is_not_a_cpu_list_naming_it(self, text):
        with pytest.raises(ValueError) as caught:
            cpu_affinity.parse(text)
        assert str(caught.value) == (
            f"expected a CPU list such as 0-3,8 (numbers and ranges), got {text!r}"
        )

    def test_refuses_a_decreasing_range_naming_it(self):
        with pytest.raises(ValueError) as caught:
            cpu_affinity.parse("0,3-1")
        assert str(caught.value) == "expected increasing ranges in the CPU list, got '3-1'"


class TestFormatList:
    @pytest.mark.parametrize(
        "cpus, expected",
        [({0, 1, 2, 5}, "0-2,5"), ({7}, "7"), ({1, 3, 5}, "1,3,5"), ({4, 5, 0}, "0,4-5"), ((), "")],
    )
    def test_joins_runs_into_ranges(self, cpus, expected):
        assert cpu_affinity.format_list(cpus) == expected

    def test_reads_back_what_it_writes(self):
        cpus = frozenset({0, 2, 3, 4, 9, 11, 12})
        assert cpu_affinity.parse(cpu_affinity.format_list(cpus)) == cpus


class TestPin:
    def test_usable_is_this_process_affinity(self):
        assert cpu_affinity.usable() == frozenset(os.sched_getaffinity(0))

    def test_refuses_cpus_the_process_may_not_use_naming_both(self):
        usable = cpu_affinity.usable()
        outside = max(usable) + 1
        with pytest.raises(ValueError) as caught:
            cpu_affinity.pin(frozenset({outside}))
        assert str(caught.value) == (
            f"expected CPUs among {cpu_affinity.format_list(usable)}, got {outside}"
        )
        with pytest.raises(ValueError, match=r", got none$"):
            cpu_affinity.pin(frozenset())
        assert cpu_affinity.usable() == usable

    def test_pins_threads_started_before_and_after(self):
        # In a child process: pinning this one would pin the rest of the test run.
        cpu = min(cpu_affinity.usable())
        script = f"""
import os, threading
from tffl.executors import cpu_affinity
before = threading.Event(); stop = threading.Event()
def run():
    before.set(); stop.wait()
early = threading.Thread(target=run); early.start(); before.wait()
cpu_affinity.pin(frozenset({{{cpu}}}))
late = threading.Thread(target=stop.wait); late.start()
tasks = os.listdir("/proc/self/task")
print(len(tasks), sorted({{c for t in tasks for c in os.sched_getaffinity(int(t))}}))
stop.set(); early.join(); late.join()
"""
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=pathlib.Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        count, cpus = done.stdout.split(" ", 1)
        assert int(count) >= 3  # The main thread and the two started here.
        assert cpus.strip() == f"[{cpu}]"
