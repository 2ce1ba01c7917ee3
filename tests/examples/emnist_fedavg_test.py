"""The main job runs as a real subprocess: a few rounds, its outputs, resume, --help."""

import csv
import os
import pathlib
import re
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "emnist_fedavg.py"
FINAL = re.compile(
    r"^final: rounds=(\d+) test_accuracy=(\d\.\d{4}) train_loss=(\d+\.\d{4}) seconds=(\d+\.\d)$"
)


def _free_port_pair() -> int:
    """A port p such that p and p + 1 are both free (now)."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port


def _run(*flags):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


class TestEmnistFedAvg:
    def test_trains_a_few_rounds_and_leaves_metrics_events_and_checkpoints(self, tmp_path):
        done = _run("--rounds=3", "--clients_per_round=4", f"--root_output_dir={tmp_path}")
        assert done.returncode == 0, done.stderr
        final = FINAL.match(done.stdout.splitlines()[-1])
        assert final, done.stdout
        assert final.group(1) == "3"
        rounds = re.findall(r"^round (\d+)/3 time=", done.stderr, re.MULTILINE)
        assert rounds == ["1", "2", "3"]
        with open(tmp_path / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        assert [row["round_num"] for row in rows] == ["0", "1", "2", "3"]
        assert "client_work/train/loss" in rows[1]
        assert os.listdir(tmp_path / "tensorboard")
        assert "program_state_3" in os.listdir(tmp_path / "checkpoints")

    def test_resumes_after_the_last_checkpoint_when_run_again(self, tmp_path):
        first = _run("--rounds=2", "--clients_per_round=3", f"--root_output_dir={tmp_path}")
        assert first.returncode == 0, first.stderr
        second = _run("--rounds=4", "--clients_per_round=3", f"--root_output_dir={tmp_path}")
        assert second.returncode == 0, second.stderr
        assert re.findall(r"^round (\d+)/4 time=", second.stderr, re.MULTILINE) == ["3", "4"]
        assert FINAL.match(second.stdout.splitlines()[-1]).group(1) == "4"
        # Run again once finished: no rounds, the final evaluation, no loss to report.
        third = _run("--rounds=4", "--clients_per_round=3", f"--root_output_dir={tmp_path}")
        assert third.returncode == 0, third.stderr
        assert not re.findall(r"^round \d+/4 time=", third.stderr, re.MULTILINE)
        assert re.match(
            r"^final: rounds=4 test_accuracy=\d\.\d{4} seconds=\d+\.\d$",
            third.stdout.splitlines()[-1],
        )

    @pytest.mark.parametrize(
        "aggregator, extra",
        [
            ("dp", ["--dp_clip=0.5"]),
            # Adaptive clipping needs enough clients for its clipped-count noise.
            ("dp", ["--clients_per_round=10"]),
            ("secure", []),
            ("quantized", []),
        ],
        ids=["dp-fixed-clip", "dp-adaptive", "secure", "quantized"],
    )
    def test_trains_a_round_with_each_aggregator(self, tmp_path, aggregator, extra):
        done = _run(
            "--rounds=1",
            "--clients_per_round=3",
            f"--aggregator={aggregator}",
            *extra,  # Later flags win.
            f"--root_output_dir={tmp_path}",
        )
        assert done.returncode == 0, done.stderr
        last = done.stdout.splitlines()[-1]
        if aggregator == "dp":
            assert re.search(r" epsilon=\d+\.\d\d$", last), last
            last = last.rsplit(" epsilon=", 1)[0]
            with open(tmp_path / "metrics.csv") as f:
                rows = list(csv.DictReader(f))
            assert float(rows[-1]["epsilon"]) > 0
        assert FINAL.match(last), last

    def test_help_lists_the_flags(self):
        done = _run("--help")
        # absl prints the help and exits with status 1 by design.
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stdout.startswith("The main job: federated training")
        for flag in ("--dataset", "--model", "--aggregator", "--executor", "--workers", "--seed"):
            assert flag in done.stdout, flag


class TestRunFedAvgOnLocalWorkers:
    def test_trains_on_two_workers_started_by_the_script(self, tmp_path):
        script = ROOT / "examples" / "remote" / "run_fedavg.sh"
        env = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHON=sys.executable,
            BASE_PORT=str(_free_port_pair()),
            # The workers' logs go under the test's folder, not the machine's /tmp.
            TMPDIR=str(tmp_path),
        )
        done = subprocess.run(
            [
                str(script),
                "2",
                "--rounds=2",
                "--clients_per_round=4",
                f"--root_output_dir={tmp_path}",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert re.search(r"^workers: 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$", done.stderr, re.MULTILINE)
        assert re.findall(r"^round (\d+)/2 time=", done.stderr, re.MULTILINE) == ["1", "2"]
        assert FINAL.match(done.stdout.splitlines()[-1]).group(1) == "2"
