"""The hello example runs as a real subprocess and prints exact results."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello_federated.py"


def _run(*flags):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


class TestHelloFederated:
    def test_prints_signatures_and_results_when_run_with_four_clients(self):
        done = _run("--num_clients=4")
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines == [
            "mean_celsius: ({float32}@CLIENTS -> float32@SERVER)",
            "  (temperatures -> federated_mean(federated_map(<to_celsius,temperatures>)))",
            "  mean_celsius([68.5, 70.3, 69.8]) = 20.8519",
            "fraction_above: (<readings={float32}@CLIENTS,threshold=float32@SERVER>"
            " -> float32@SERVER)",
            "  fraction_above([68.5, 70.3, 69.8], 70.0) = 0.3333",
            "broadcast_add_sum: (float32@SERVER -> float32@SERVER)",
            "  broadcast_add_sum(2.0) over 4 clients = 12.0",
        ]

    def test_help_lists_the_flag_when_asked(self):
        done = _run("--helpfull")
        # absl prints the help and exits with status 1 by design.
        assert "Traceback" not in done.stderr, done.stderr
        assert "--num_clients: Clients the broadcast reaches." in done.stdout
