"""Runs the benchmarks in one process and prints tffl against its plain-TF floor.

    python -m tests.benchmarks.run [--quick] [--only=W1,W3] [--json=PATH]

Workloads (see WORKSPACE.md, Benchmarks): W1 `federated_mean` latency, W2
broadcast/map/sum of a 1e6 vector, W3 FedAvg rounds (linear and CNN, K=10 and
50), W4 W1 and W3 on two local workers against local runs, M1 memory growth over
many calls. Each timing is the median of repeats taken in turns with its
baseline after a warm-up; a ratio is tffl/baseline (W4: remote/local) from the
same run. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tests.benchmarks import fedavg  # noqa: E402
from tests.benchmarks import intrinsics  # noqa: E402
from tests.benchmarks import measure  # noqa: E402
from tests.benchmarks import memory  # noqa: E402
from tests.benchmarks import remote  # noqa: E402
import tffl  # noqa: E402

WORKLOADS = ("W1", "W2", "W3", "W4", "M1")
# Weights of tffl's and the baseline's round agree to this (float32 arithmetic in
# the same order; the difference is rounding).
EQUIVALENCE_TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and repeats of one run (`quick()` or `full()`).

    Attributes:
      mode: a name for the report.
      w1_sizes: the N of W1.
      w1_repeats, w2_repeats: samples of W1 and W2 (each sample lasts >= 20 ms).
      w3: `(model, K, timed rounds)` per W3 workload.
      w4_w1_clients, w4_repeats: N of W4's W1, and samples of it (each >= 20 ms).
      w4_w3_repeats: samples (one round each) of W4's W3, remote and local.
      m1_clients, m1_calls, m1_rounds: M1's W1 size and call count, and W3-linear rounds.
    """

    mode: str
    w1_sizes: Tuple[int, ...] = (10, 100, 1_000)
    w1_repeats: int = 10
    w2_repeats: int = 10
    w3: Tuple[Tuple[str, int, int], ...] = ()
    w4_w1_clients: int = 1_000
    w4_repeats: int = 5
    # A W3 round is short and the remote one moves a lot: a median needs many.
    w4_w3_repeats: int = 21
    m1_clients: int = 100
    m1_calls: int = 200
    m1_rounds: int = 50

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            mode="quick",
            # CNN rounds vary by ±15% here: medians of fewer repeats read from 0.8× to 1.3×.
            w3=(("linear", 10, 21), ("linear", 50, 15), ("cnn", 10, 15), ("cnn", 50, 7)),
        )

    @classmethod
    def full(cls) -> "Config":
        return cls(
            mode="full",
            w1_repeats=30,
            w2_repeats=30,
            w3=(("linear", 10, 31), ("linear", 50, 21), ("cnn", 10, 21), ("cnn", 50, 9)),
            w4_repeats=15,
            w4_w3_repeats=31,
            m1_calls=1_000,
            m1_rounds=200,
        )


@dataclasses.dataclass
class Row:
    """One line of the table (W4: `tffl_s` is remote, `baseline_s` tffl run locally)."""

    key: str
    label: str
    tffl_s: float
    baseline_s: float
    repeats: int
    notes: str = ""

    @property
    def ratio(self) -> float:
        return self.tffl_s / self.baseline_s


@dataclasses.dataclass
class Report:
    """What a run measured; `as_dict()` is the JSON form."""

    mode: str
    workloads: List[str]
    machine: dict
    rows: List[Row] = dataclasses.field(default_factory=list)
    checks: Dict[str, dict] = dataclasses.field(default_factory=dict)
    memory: Dict[str, dict] = dataclasses.field(default_factory=dict)
    w3_details: Dict[str, dict] = dataclasses.field(default_factory=dict)
    # W4-W3's CPU time per round by process, remote and local (`remote.benchmark`).
    w4_cpu_per_round_s: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    peak_rss_mib: float = 0.0

    def as_dict(self) -> dict:
        """Medians and ratios by workload key, checks, memory, machine."""
        return {
            "mode": self.mode,
            "workloads": self.workloads,
            "machine": self.machine,
            "results": {
                row.key: {
                    "label": row.label,
                    "tffl_s": row.tffl_s,
                    "baseline_s": row.baseline_s,
                    "ratio": row.ratio,
                    "repeats": row.repeats,
                    "notes": row.notes,
                }
                for row in self.rows
            },
            "checks": self.checks,
            "memory": self.memory,
            "w3_details": self.w3_details,
            "w4_cpu_per_round_s": self.w4_cpu_per_round_s,
            "seconds": self.seconds,
            "peak_rss_mib": self.peak_rss_mib,
        }


def run_benchmarks(config: Config, only: Sequence[str] = WORKLOADS, log=print) -> Report:
    """Runs the selected workloads of `config`.

    The order is W1, W2, the linear W3 workloads, M1, the other W3 workloads, the
    W3 checks, W4: the first W3 workload is the process's first FedAvg (its cold
    time is cold), and M1 runs before the CNN's peak leaves memory that the
    process keeps and that would absorb growth.
    """
    started = time.perf_counter()
    report = Report(config.mode, list(only), measure.machine_info())
    if "W1" in only:
        _run_w1(config, report, log)
    if "W2" in only:
        _run_w2(config, report, log)
    if "W3" in only:
        _run_w3([w for w in config.w3 if w[0] == "linear"], report, log)
    if "M1" in only:
        _run_m1(config, report, log)
    if "W3" in only:
        _run_w3([w for w in config.w3 if w[0] != "linear"], report, log)
        _check_w3(report, log)
    if "W4" in only:
        _run_w4(config, report, log)
    report.peak_rss_mib = measure.peak_rss_mib()
    report.seconds = time.perf_counter() - started
    return report


def _run_w1(config: Config, report: Report, log) -> None:
    log("W1: federated_mean")
    report.checks["W1"] = {"max_difference": intrinsics.w1_check(max(config.w1_sizes))}
    for n in config.w1_sizes:
        tffl_fn, baseline_fn = intrinsics.w1_functions(n)
        timings = measure.interleaved({"tffl": tffl_fn, "baseline": baseline_fn}, config.w1_repeats)
        report.rows.append(
            Row(
                f"W1/N={n}",
                f"W1 federated_mean N={n}",
                timings["tffl"].median,
                timings["baseline"].median,
                config.w1_repeats,
            )
        )


def _run_w2(config: Config, report: Report, log) -> None:
    log("W2: broadcast, map, sum")
    context = tffl.backends.local.create_context(num_clients=intrinsics.W2_CLIENTS)
    report.checks["W2"] = {"max_difference": intrinsics.w2_check(context)}
    tffl_fn, baseline_fn = intrinsics.w2_functions(context)
    timings = measure.interleaved({"tffl": tffl_fn, "baseline": baseline_fn}, config.w2_repeats)
    report.rows.append(
        Row(
            "W2",
            f"W2 broadcast+1+sum 1e6 K={intrinsics.W2_CLIENTS}",
            timings["tffl"].median,
            timings["baseline"].median,
            config.w2_repeats,
        )
    )


def _run_w3(workloads: Sequence[Tuple[str, int, int]], report: Report, log) -> None:
    for model, clients, repeats in workloads:
        log(f"W3: FedAvg {model} K={clients}")
        result = fedavg.benchmark(fedavg.RoundConfig(model=model, num_clients=clients), repeats)
        key = f"W3/{model}/K={clients}"
        report.rows.append(
            Row(
                key,
                f"W3 {model} K={clients} round",
                result["tffl_s"],
                result["baseline_s"],
                repeats,
                f"baseline: {result['baseline_form']}; "
                f"{_pool_note(result)}"
                f"peak RSS so far {result['peak_rss_mib']:.0f} MiB",
            )
        )
        report.rows.append(
            Row(
                f"{key}/cold",
                f"W3 {model} K={clients} cold",
                result["tffl_cold_s"],
                result["baseline_cold_s"],
                1,
                "build + first round",
            )
        )
        report.w3_details[key] = result


def _pool_note(result: dict) -> str:
    """How many max-pool gradients ran on oneDNN on each side, after how many traces
    ('' for models without them)."""
    pools, traces = result["pool_gradients_on_onednn"], result["traces"]
    if not pools["tffl"][1] and not pools["baseline"][1]:
        return ""
    sides = [
        f"{side} {pools[side][0]}/{pools[side][1]} ({traces[side]} "
        f"trace{'s' if traces[side] > 1 else ''})"
        for side in ("tffl", "baseline")
    ]
    return f"max-pool gradients on oneDNN: {', '.join(sides)}; "


def _check_w3(report: Report, log) -> None:
    report.checks["W3"] = {}
    for model in fedavg.MODELS:
        small = fedavg.RoundConfig(model=model, num_clients=2, examples_per_client=20)
        differences = fedavg.max_weight_difference(small)
        report.checks["W3"][model] = {
            "max_difference": differences,
            "equal": max(differences.values()) <= EQUIVALENCE_TOLERANCE,
        }
        log(f"W3 check, {model} K=2 n=20: max |tffl - baseline| = {differences}")


def _run_m1(config: Config, report: Report, log) -> None:
    log("M1: memory")
    report.memory = {
        f"W1/N={config.m1_clients}": memory.w1_growth(config.m1_clients, config.m1_calls),
        "W3/linear/K=10": memory.w3_growth(
            fedavg.RoundConfig(model="linear", num_clients=10), config.m1_rounds
        ),
    }


def _run_w4(config: Config, report: Report, log) -> None:
    log(f"W4: on {remote.NUM_WORKERS} local workers")
    w3_config = fedavg.RoundConfig(model="linear", num_clients=10)
    result = remote.benchmark(
        config.w4_w1_clients, w3_config, config.w4_repeats, config.w4_w3_repeats
    )
    report.checks["W4"] = {
        name: {"max_difference": result[name]["max_difference"]} for name in ("w1", "w3")
    }
    cpus = result["worker_cpus"]
    placement = "each on every CPU" if cpus is None else f"on CPUs {' and '.join(cpus)}"
    report.w4_cpu_per_round_s = result["w3"].get("cpu_per_round_s", {})
    for key, label, name in (
        (f"W4/W1/N={config.w4_w1_clients}", f"W4 W1 N={config.w4_w1_clients}", "w1"),
        ("W4/W3/linear/K=10", "W4 W3 linear K=10", "w3"),
    ):
        repeats = result[name]["repeats"]
        report.rows.append(
            Row(
                key,
                f"{label} remote/local",
                result[name]["remote_s"],
                result[name]["local_s"],
                repeats,
                f"{remote.NUM_WORKERS} workers {placement}; baseline = tffl local"
                f"{_cpu_note(result[name].get('cpu_per_round_s'))}"
                f"{_idle_note(result[name].get('idle_cost'))}",
            )
        )


def _cpu_note(cpu: Optional[dict]) -> str:
    """What a W4 round's processes spent of the CPU, for the notes column."""
    if cpu is None:
        return ""
    workers = cpu["remote_workers"]
    if any(w is None for w in workers):
        shown = "unknown"
    else:
        shown = " + ".join(_duration(w) for w in workers)
    return (
        f"; CPU per round: remote {_duration(cpu['remote_driver'])} (driver) + {shown}"
        f" (workers), local {_duration(cpu['local'])}"
    )


def _idle_note(cost: Optional[dict]) -> str:
    """What a small TF call costs after a wait, for W4-W3's notes column."""
    if cost is None:
        return ""
    return (
        f"; a small TF call: {_duration(cost['back_to_back'])} back to back, "
        f"{_duration(cost['after_idle'])} after {cost['idle_s'] * 1e3:.0f} ms asleep"
    )


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def format_table(report: Report) -> str:
    """The report as Markdown tables: timings, then memory and checks."""
    lines = [
        "| workload | tffl | baseline | ratio | repeats | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in report.rows:
        lines.append(
            f"| {row.label} | {_duration(row.tffl_s)} | {_duration(row.baseline_s)} | "
            f"{row.ratio:.2f} | {row.repeats} | {row.notes} |"
        )
    if report.memory:
        lines += [
            "",
            "| memory (M1) | calls | RSS before | RSS after | growth | per call |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, result in report.memory.items():
            lines.append(
                f"| {name} | {result['calls']} | {result['rss_before_mib']:.0f} MiB | "
                f"{result['rss_after_mib']:.0f} MiB | {result['growth_percent']:+.1f}% | "
                f"{result['growth_per_call_kib']:+.1f} KiB |"
            )
    if report.checks:
        lines += ["", "checks (max |tffl - baseline|; W4: |remote - local|):"]
        lines += [f"- {name}: {json.dumps(check)}" for name, check in report.checks.items()]
    machine = report.machine
    lines.append(
        f"{report.mode} run, {machine['date']}, {machine['cores']} cores "
        f"({machine['cpu']}), TF {machine['tensorflow']}, load average at start "
        f"{machine.get('load_average')}, {report.seconds:.0f} s, "
        f"peak RSS {report.peak_rss_mib:.0f} MiB"
    )
    return "\n".join(lines)


def write_json(report: Report, path: str) -> None:
    """Writes `report.as_dict()` (medians, ratios, checks, memory, machine) as JSON."""
    with open(path, "w") as file:
        json.dump(report.as_dict(), file, indent=2, sort_keys=True)
        file.write("\n")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats and rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help=f"comma-separated workloads to run, of {','.join(WORKLOADS)}",
    )
    args = parser.parse_args(argv)
    args.only = [name.strip().upper() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(WORKLOADS))
    if unknown:
        parser.error(f"--only: unknown workloads {unknown}; expected some of {WORKLOADS}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    config = Config.quick() if args.quick else Config.full()
    report = run_benchmarks(config, args.only, log=lambda line: print(line, file=sys.stderr))
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
