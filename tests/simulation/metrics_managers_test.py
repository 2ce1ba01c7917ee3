"""Tests for tffl/simulation/metrics_managers.py: CSV, TensorBoard and progress output."""

import collections
import doctest
import glob
import io
import os

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.simulation import metrics_managers

Pair = collections.namedtuple("Pair", ["low", "high"])


def _round_metrics(loss, accuracy):
    return collections.OrderedDict(
        distributor=(),
        client_work=collections.OrderedDict(
            train=collections.OrderedDict(
                sparse_categorical_accuracy=np.float32(accuracy),
                loss=np.float32(loss),
                num_examples=np.int64(12),
            )
        ),
        aggregator=collections.OrderedDict(mean_value=(), mean_weight=()),
        round_time_in_seconds=0.125,
    )


class _FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class TestExports:
    def test_exports_the_managers_when_reached_from_simulation(self):
        assert tffl.simulation.CSVMetricsManager is metrics_managers.CSVMetricsManager
        assert tffl.simulation.TensorBoardManager is metrics_managers.TensorBoardManager
        assert tffl.simulation.ProgressReporter is metrics_managers.ProgressReporter
        assert tffl.simulation.MetricsManager is metrics_managers.MetricsManager


class TestFlattenMetrics:
    def test_joins_names_with_slashes_when_metrics_are_nested(self):
        metrics = collections.OrderedDict(
            b=collections.OrderedDict(z=1, a=Pair(2, 3)), a=[4, (5,)], empty={}, none=()
        )

        assert metrics_managers.flatten_metrics(metrics) == collections.OrderedDict(
            [("b/z", 1), ("b/a/low", 2), ("b/a/high", 3), ("a/0", 4), ("a/1/0", 5)]
        )


class TestMetricsManager:
    def test_keeps_everything_when_the_default_clear_metrics_is_called(self):
        class Recorder(tffl.simulation.MetricsManager):
            def __init__(self):
                self.released = []

            def release(self, metrics, round_num):
                self.released.append(round_num)

        recorder = Recorder()
        recorder.release({}, 1)
        recorder.clear_metrics(0)

        assert recorder.released == [1]


class TestCSVMetricsManager:
    def test_writes_one_row_per_round_when_metrics_are_released(self, tmp_path):
        path = tmp_path / "out" / "metrics.csv"
        manager = tffl.simulation.CSVMetricsManager(str(path))

        manager.release(_round_metrics(0.5361207, 0.75), 1)
        manager.release(_round_metrics(0.25, 1.0), 2)

        assert path.read_text() == (
            "round_num,client_work/train/sparse_categorical_accuracy,client_work/train/loss,"
            "client_work/train/num_examples,round_time_in_seconds\n"
            "1,0.75,0.5361207,12,0.125\n"
            "2,1.0,0.25,12,0.125\n"
        )
        assert manager.latest_round_num == 2

    def test_rewrites_the_file_with_a_wider_header_when_new_names_appear(self, tmp_path):
        path = tmp_path / "metrics.csv"
        manager = tffl.simulation.CSVMetricsManager(str(path))

        manager.release({"evaluation": {"accuracy": 0.1}}, 0)
        manager.release({"loss": 2.0}, 1)
        manager.release({"loss": 1.5, "evaluation": {"accuracy": 0.5}}, 2)

        assert path.read_text() == (
            "round_num,evaluation/accuracy,loss\n0,0.1,\n1,,2.0\n2,0.5,1.5\n"
        )

    @pytest.mark.parametrize(
        "value, cell",
        [
            pytest.param(np.float32(0.1), "0.1", id="float32"),
            pytest.param(np.float64(1 / 3), "0.3333333333333333", id="float64"),
            pytest.param(np.array(7, np.int32), "7", id="zero_d_array"),
            pytest.param(np.array([1, 2]), '"[1, 2]"', id="array"),
            pytest.param(b"text", "text", id="bytes"),
            pytest.param(tf.constant(2.5), "2.5", id="tensor"),
            pytest.param(True, "True", id="bool"),
        ],
    )
    def test_writes_values_as_str_writes_them_when_they_are_numpy(self, tmp_path, value, cell):
        path = tmp_path / "metrics.csv"

        tffl.simulation.CSVMetricsManager(str(path)).release({"m": value}, 1)

        assert path.read_text() == f"round_num,m\n1,{cell}\n"

    def test_keeps_existing_rows_when_constructed_on_an_existing_file(self, tmp_path):
        path = tmp_path / "metrics.csv"
        first = tffl.simulation.CSVMetricsManager(str(path))
        first.release({"loss": 2.0}, 1)
        first.release({"loss": 1.0}, 2)

        second = tffl.simulation.CSVMetricsManager(str(path))
        second.release({"loss": 0.5, "accuracy": 0.9}, 3)

        assert second.latest_round_num == 3
        assert path.read_text() == ("round_num,loss,accuracy\n1,2.0,\n2,1.0,\n3,0.5,0.9\n")

    def test_drops_rows_from_a_round_on_when_clear_metrics_is_called(self, tmp_path):
        path = tmp_path / "metrics.csv"
        manager = tffl.simulation.CSVMetricsManager(str(path))
        for round_num in range(1, 5):
            manager.release({"loss": float(round_num)}, round_num)

        resumed = tffl.simulation.CSVMetricsManager(str(path))
        resumed.clear_metrics(3)
        resumed.release({"loss": 30.0}, 3)

        assert path.read_text() == "round_num,loss\n1,1.0\n2,2.0\n3,30.0\n"

    def test_leaves_the_file_alone_when_clear_metrics_drops_nothing(self, tmp_path):
        path = tmp_path / "metrics.csv"
        manager = tffl.simulation.CSVMetricsManager(str(path))
        manager.clear_metrics(0)
        assert not path.exists()
        manager.release({"loss": 1.0}, 1)
        before = os.stat(path).st_mtime_ns

        manager.clear_metrics(2)

        assert os.stat(path).st_mtime_ns == before
        assert manager.latest_round_num == 1

    def test_raises_when_a_round_is_not_after_the_last_one_written(self, tmp_path):
        manager = tffl.simulation.CSVMetricsManager(str(tmp_path / "metrics.csv"))
        manager.release({"loss": 1.0}, 2)

        with pytest.raises(ValueError) as raised:
            manager.release({"loss": 1.0}, 2)

        assert str(raised.value) == (
            "CSVMetricsManager: round 2 is not after the last round written (2); "
            "call clear_metrics(2) first"
        )

    @pytest.mark.parametrize(
        "round_num, error, message",
        [
            pytest.param(-1, ValueError, "expected round_num >= 0, got -1", id="negative"),
            pytest.param(1.0, TypeError, "expected an int round_num, got 1.0", id="float"),
        ],
    )
    def test_raises_when_round_num_is_not_a_non_negative_int(
        self, tmp_path, round_num, error, message
    ):
        manager = tffl.simulation.CSVMetricsManager(str(tmp_path / "metrics.csv"))

        with pytest.raises(error) as raised:
            manager.release({}, round_num)

        assert str(raised.value) == f"CSVMetricsManager: {message}"

    def test_raises_when_the_existing_file_is_not_a_metrics_file(self, tmp_path):
        path = tmp_path / "other.csv"
        path.write_text("a,b\n1,2\n")

        with pytest.raises(ValueError) as raised:
            tffl.simulation.CSVMetricsManager(str(path))

        assert str(raised.value) == (
            f"CSVMetricsManager: {path} is not a metrics file (its first column is not round_num)"
        )

    def test_raises_when_the_path_is_empty(self):
        with pytest.raises(ValueError) as raised:
            tffl.simulation.CSVMetricsManager("")

        assert str(raised.value) == "CSVMetricsManager: expected a csv_filepath, got an empty path"


def _events(summary_dir):
    """`(tag, step, value)` of every summary in the event files of `summary_dir`."""
    found = []
    for path in sorted(glob.glob(os.path.join(summary_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.append((value.tag, event.step, tf.make_ndarray(value.tensor)))
    return found


class TestTensorBoardManager:
    def test_writes_a_scalar_per_numeric_metric_when_metrics_are_released(self, tmp_path):
        manager = tffl.simulation.TensorBoardManager(str(tmp_path))

        manager.release(_round_metrics(0.5, 0.75), 1)
        manager.release({"client_work": {"train": {"loss": 0.25}}, "note": "text"}, 2)

        scalars = [(tag, step, float(value)) for tag, step, value in _events(tmp_path)]
        assert scalars == [
            ("client_work/train/sparse_categorical_accuracy", 1, 0.75),
            ("client_work/train/loss", 1, 0.5),
            ("client_work/train/num_examples", 1, 12.0),
            ("round_time_in_seconds", 1, 0.125),
            ("client_work/train/loss", 2, 0.25),
        ]

    def test_writes_a_histogram_when_a_metric_is_an_array(self, tmp_path):
        manager = tffl.simulation.TensorBoardManager(str(tmp_path))

        manager.release({"per_class": np.array([1.0, 3.0])}, 4)

        [(tag, step, value)] = _events(tmp_path)
        assert (tag, step) == ("per_class", 4)
        assert value.shape[-1] == 3  # histogram buckets: left edge, right edge, count
        assert float(value[:, 2].sum()) == 2.0

    def test_raises_when_the_summary_dir_is_empty(self):
        with pytest.raises(ValueError) as raised:
            tffl.simulation.TensorBoardManager("")

        assert str(raised.value) == (
            "TensorBoardManager: expected a summary_dir, got an empty path"
        )


class TestProgressLine:
    @pytest.mark.parametrize(
        "metrics, expected",
        [
            pytest.param(
                _round_metrics(0.43214, 0.88115),
                "round 3/10 time=0.12s loss=0.4321 accuracy=0.8812",
                id="fed_avg",
            ),
            pytest.param(
                {"train": {"binary_accuracy": 0.5, "loss": 1.0}},
                "round 3/10 loss=1.0000 accuracy=0.5000",
                id="other_names",
            ),
            pytest.param(
                {"evaluation": {"loss": 0.3, "sparse_categorical_accuracy": 0.9}},
                "round 3/10 eval_loss=0.3000 eval_accuracy=0.9000",
                id="evaluation_only",
            ),
            pytest.param(
                {"client_work": {"train": {"loss": np.array([1.0, 2.0])}}, "x": "text"},
                "round 3/10",
                id="nothing_numeric",
            ),
            pytest.param(
                {**_round_metrics(0.5, 0.75), "evaluation": {"accuracy": np.float32(0.8)}},
                "round 3/10 time=0.12s loss=0.5000 accuracy=0.7500 eval_accuracy=0.8000",
                id="with_evaluation",
            ),
        ],
    )
    def test_formats_the_round_when_metrics_hold_loss_and_accuracy(self, metrics, expected):
        assert metrics_managers.progress_line(metrics, 3, 10) == expected


class TestProgressReporter:
    def test_writes_one_line_per_round_when_the_stream_is_not_a_terminal(self):
        stream = io.StringIO()
        reporter = tffl.simulation.ProgressReporter(2, stream)

        reporter.release(_round_metrics(0.5, 0.25), 1)
        reporter.release(_round_metrics(0.25, 0.5), 2)
        reporter.close()

        assert stream.getvalue() == (
            "round 1/2 time=0.12s loss=0.5000 accuracy=0.2500\n"
            "round 2/2 time=0.12s loss=0.2500 accuracy=0.5000\n"
        )

    def test_rewrites_one_bar_in_place_when_the_stream_is_a_terminal(self):
        stream = _FakeTerminal()
        reporter = tffl.simulation.ProgressReporter(4, stream)

        reporter.release({"evaluation": {"accuracy": 0.125}}, 0)
        reporter.release(_round_metrics(0.5, 0.25), 1)
        reporter.release({"round_time_in_seconds": 1.0}, 4)

        first = "[--------------------] round 0/4 eval_accuracy=0.1250"
        second = "[#####---------------] round 1/4 time=0.12s loss=0.5000 accuracy=0.2500"
        third = "[####################] round 4/4 time=1.00s"
        assert stream.getvalue() == (f"\r{first}\r{second}\r{third.ljust(len(second))}\n")

    def test_ends_the_bar_with_a_newline_when_closed_before_the_last_round(self):
        stream = _FakeTerminal()
        reporter = tffl.simulation.ProgressReporter(4, stream)

        reporter.release({}, 1)
        reporter.close()
        reporter.close()

        assert stream.getvalue() == "\r[#####---------------] round 1/4\n"

    def test_writes_to_stderr_when_no_stream_is_given(self, capsys):
        tffl.simulation.ProgressReporter(1).release({}, 1)

        assert capsys.readouterr().err == "round 1/1\n"


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(
            metrics_managers, globs=dict(vars(metrics_managers))
        ):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0
