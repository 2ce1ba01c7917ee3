"""Smoke tests of the benchmark runner at tiny sizes (timings are never asserted)."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port

from tests.benchmarks import fedavg
from tests.benchmarks import measure
from tests.benchmarks import remote
from tests.benchmarks import run
from tffl.executors import cpu_affinity


class TestRunner:
    def test_report_has_medians_ratios_and_machine_when_run_tiny(self, tmp_path):
        config = run.Config(mode="tiny", w1_sizes=(10,), w1_repeats=2)
        report = run.run_benchmarks(config, ["W1"], log=lambda line: None)
        path = tmp_path / "report.json"
        run.write_json(report, str(path))

        written = json.loads(path.read_text())
        assert set(written) >= {"mode", "machine", "results", "checks", "seconds", "peak_rss_mib"}
        assert set(written["machine"]) >= {"date", "cores", "tensorflow", "numpy", "python"}
        assert list(written["results"]) == ["W1/N=10"]
        result = written["results"]["W1/N=10"]
        assert set(result) >= {"tffl_s", "baseline_s", "ratio", "repeats"}
        assert result["repeats"] == 2
        assert result["ratio"] == pytest.approx(result["tffl_s"] / result["baseline_s"])
        assert written["checks"]["W1"] == {"max_difference": 0.0}
        assert "| W1 federated_mean N=10 |" in run.format_table(report)

    def test_parse_args_refuses_an_unknown_workload(self, capsys):
        with pytest.raises(SystemExit):
            run.parse_args(["--only=W1,W9"])
        assert "unknown workloads ['W9']" in capsys.readouterr().err

    def test_parse_args_reads_quick_only_and_json(self):
        args = run.parse_args(["--quick", "--only=w1,M1", "--json=/tmp/report.json"])
        assert (args.quick, args.only, args.json) == (True, ["W1", "M1"], "/tmp/report.json")


class TestCpuTime:
    def test_counts_another_process_busy_while_this_one_sleeps(self):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            while (measure.cpu_seconds(spinner.pid) or 0.0) < 0.05:
                time.sleep(0.01)

            cpu = measure.cpu_per_call(lambda: time.sleep(0.1), 3, [spinner.pid])
        finally:
            spinner.kill()
            spinner.wait()

        assert cpu["own"] < 0.01
        # A core's worth while this one slept, less what the machine's load took.
        assert 0.03 < cpu["others"][0] < 0.12
        assert measure.cpu_seconds(spinner.pid) is None

    def test_notes_each_process_of_a_remote_round_and_the_local_round(self):
        cpu = {"remote_driver": 0.0054, "remote_workers": [0.0053, 0.0049], "local": 0.006}

        assert run._cpu_note(cpu) == (
            "; CPU per round: remote 5.4 ms (driver) + 5.3 ms + 4.9 ms (workers), local 6.0 ms"
        )
        assert run._cpu_note({**cpu, "remote_workers": [0.0053, None]}) == (
            "; CPU per round: remote 5.4 ms (driver) + unknown (workers), local 6.0 ms"
        )
        assert run._cpu_note(None) == ""

    def test_notes_a_small_tf_call_back_to_back_and_after_a_wait(self):
        cost = {"back_to_back": 6.1e-05, "after_idle": 0.00045, "idle_s": 0.005}

        assert run._idle_note(cost) == (
            "; a small TF call: 61 µs back to back, 450 µs after 5 ms asleep"
        )
        assert run._idle_note(None) == ""

    def test_idle_cost_times_calls_in_pairs_with_a_sleep_between(self, monkeypatch):
        events = []
        monkeypatch.setattr(measure.time, "sleep", lambda seconds: events.append(seconds))

        cost = measure.idle_cost(lambda: events.append("call"), idle_s=0.004, calls=3)

        # Per pair: the sleep, the call timed after it, ten untimed calls, the one timed.
        assert events == ([0.004] + ["call"] * 12) * 3
        assert set(cost) == {"back_to_back", "after_idle", "idle_s"}
        assert cost["idle_s"] == 0.004
        assert cost["back_to_back"] >= 0 and cost["after_idle"] >= 0

    def test_small_tf_call_sums_the_doubled_weights_plus_one(self):
        assert float(remote.small_tf_call()()) == 784 * 62 * 3.0

    def test_splits_the_cores_between_the_workers_when_there_are_enough(self, monkeypatch):
        monkeypatch.setattr(cpu_affinity, "usable", lambda: frozenset({7, 3, 1}))
        assert remote.worker_cpus() == ["1", "3"]
        monkeypatch.setattr(cpu_affinity, "usable", lambda: frozenset(range(16)))
        assert remote.worker_cpus() == ["0-7", "8-15"]
        monkeypatch.setattr(cpu_affinity, "usable", lambda: frozenset({5}))
        assert remote.worker_cpus() is None


class TestFedAvgBaseline:
    def test_baseline_round_equals_tffl_round_when_linear_with_two_clients(self):
        # 20 examples in batches of 8: two full batches and a partial one.
        config = fedavg.RoundConfig(
            model="linear", num_clients=2, examples_per_client=20, batch_size=8
        )
        initial, tffl_weights, baselines = fedavg.one_round_each(config)

        assert fedavg.max_difference(initial, tffl_weights) > 1e-3  # The round trained.
        assert set(baselines) == {"loop", "batched"}
        for weights in baselines.values():
            assert [w.shape for w in weights] == [w.shape for w in tffl_weights]
            assert fedavg.max_difference(tffl_weights, weights) <= run.EQUIVALENCE_TOLERANCE
            assert all(np.isfinite(w).all() for w in weights)


class TestPoolGradientsOnOneDnn:
    def test_counts_the_max_pool_gradients_of_the_functions_a_call_instantiates(self):
        @tf.function
        def pooled_gradient(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.reduce_sum(tf.nn.max_pool2d(x, 2, 2, "VALID"))
            return tape.gradient(total, x)

        x = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
        gradient, counts = measure.pool_gradients_on_onednn(lambda: pooled_gradient(x))
        again, counts_again = measure.pool_gradients_on_onednn(lambda: pooled_gradient(x))

        # Each 2x2 window's maximum is its bottom-right pixel: 5, 7, 13 and 15.
        expected = np.zeros(16, np.float32)
        expected[[5, 7, 13, 15]] = 1.0
        np.testing.assert_array_equal(gradient.numpy().ravel(), expected)
        np.testing.assert_array_equal(again.numpy().ravel(), expected)
        # Without a loop the pass sees the forward pool first and always rewrites both.
        assert counts == ((1, 1) if _pywrap_util_port.IsMklEnabled() else (0, 1))
        assert counts_again == (0, 0)  # Instantiated by the first call.

    def test_traces_again_until_the_goal_or_the_last_try(self):
        def tries(counts, goal):
            calls = []

            def again():
                calls.append(None)
                return f"trace {len(calls) + 1}"

            return fedavg._traced_until("trace 1", counts, again, goal, max_traces=3)

        # `again` instantiates no TF function: each new trace counts (0, 0).
        assert tries((1, 2), lambda c: c == (0, 0)) == ("trace 2", (0, 0), 2)
        assert tries((1, 2), lambda c: c == (2, 2)) == ("trace 3", (0, 0), 3)
        assert tries((2, 2), lambda c: c == (2, 2)) == ("trace 1", (2, 2), 1)
