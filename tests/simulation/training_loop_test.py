"""Tests for tffl/simulation/training_loop.py: rounds, resuming, metrics and progress."""

import collections
import csv
import doctest
import io
import re

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.simulation import training_loop
from tffl_ops import structure

INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 2], tf.float32), y=tf.TensorSpec([None], tf.int32)
)


def _model_fn():
    keras_model = tf.keras.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(2,)),
            tf.keras.layers.Dense(2, kernel_initializer=tf.keras.initializers.GlorotUniform(0)),
        ]
    )
    return tffl.learning.models.from_keras_model(
        keras_model,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=INPUT_SPEC,
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def _examples(seed, count):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 2)).astype(np.float32)
    return collections.OrderedDict(x=x, y=(x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int32))


@pytest.fixture(scope="module")
def fed_avg():
    return tffl.learning.algorithms.build_weighted_fed_avg(
        _model_fn,
        tffl.learning.optimizers.build_sgdm(learning_rate=0.5),
        server_optimizer_fn=tffl.learning.optimizers.build_adam(learning_rate=0.05),
    )


@pytest.fixture(scope="module")
def client_datasets_fn():
    client_data = tffl.simulation.ClientData.from_tensor_slices(
        {f"c{k}": _examples(k, 6 + k) for k in range(3)}
    )
    return tffl.simulation.build_client_datasets_fn(
        client_data, 2, random_seed=0, preprocess_fn=lambda ds: ds.shuffle(10, seed=1).batch(3)
    )


@pytest.fixture(scope="module")
def evaluation_fn(fed_avg):
    test_batches = tf.data.Dataset.from_tensor_slices(_examples(99, 20)).batch(10)

    def evaluate(state, round_num):
        del round_num
        return tffl.learning.baselines.evaluate_centralized(
            _model_fn, fed_avg.get_model_weights(state), test_batches
        )

    return evaluate


@pytest.fixture(scope="module")
def adder():
    """A process whose state is the sum of the round numbers it was given."""
    init = tffl.tf_computation(lambda: np.int32(0))
    step = tffl.tf_computation(
        lambda s, x: (s + x, collections.OrderedDict(loss=tf.cast(s + x, tf.float32) / 4)),
        np.int32,
        np.int32,
    )
    return tffl.templates.IterativeProcess(init, step)


class _Recorder(tffl.simulation.MetricsManager):
    def __init__(self):
        self.released = []
        self.cleared = []

    def release(self, metrics, round_num):
        self.released.append((round_num, metrics))

    def clear_metrics(self, round_num):
        self.cleared.append(round_num)


class _FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def _csv_column(path, name):
    with open(path, newline="") as f:
        return [row[name] for row in csv.DictReader(f)]


def _round(round_num):
    return round_num


class TestExports:
    def test_exports_run_training_when_reached_from_simulation(self):
        assert tffl.simulation.run_training is training_loop.run_training
        assert tffl.simulation.TrainingResult is training_loop.TrainingResult


class TestResume:
    def test_ends_with_the_same_state_when_a_run_is_interrupted_and_resumed(
        self, fed_avg, client_datasets_fn, evaluation_fn, tmp_path
    ):
        selected = []

        def run(name, total_rounds):
            selected.clear()
            return tffl.simulation.run_training(
                fed_avg,
                lambda round_num: selected.append(round_num) or client_datasets_fn(round_num),
                total_rounds,
                evaluation_fn=evaluation_fn,
                checkpoint_dir=str(tmp_path / name),
                metrics_managers=[tffl.simulation.CSVMetricsManager(str(tmp_path / f"{name}.csv"))],
                rounds_per_evaluation=2,
                progress=False,
            )

        straight = run("straight", 6)
        first_part = run("resumed", 3)
        resumed = run("resumed", 6)

        assert selected == [4, 5, 6]

        resumed_leaves = structure.flatten(resumed.state)
        assert len(resumed_leaves) == len(structure.flatten(straight.state)) == 11
        for actual, expected in zip(resumed_leaves, structure.flatten(straight.state)):
            np.testing.assert_array_equal(actual, expected)
        assert not np.array_equal(
            first_part.state.global_model_weights.trainable[0],
            straight.state.global_model_weights.trainable[0],
        )
        rounds = [str(r) for r in range(7)]
        assert _csv_column(tmp_path / "resumed.csv", "round_num") == rounds
        assert _csv_column(tmp_path / "straight.csv", "round_num") == rounds
        loss = "client_work/train/loss"
        assert _csv_column(tmp_path / "resumed.csv", loss) == _csv_column(
            tmp_path / "straight.csv", loss
        )
        accuracy = "evaluation/sparse_categorical_accuracy"
        assert [bool(cell) for cell in _csv_column(tmp_path / "resumed.csv", accuracy)] == [
            True,
            False,
            True,
            True,
            True,
            False,
            True,
        ]
        assert (
            resumed.metrics["evaluation"]["sparse_categorical_accuracy"]
            == (straight.metrics["evaluation"]["sparse_categorical_accuracy"])
        )

    def test_records_each_round_once_when_a_run_crashes_between_checkpoints(self, adder, tmp_path):
        def failing_at_round_4(round_num):
            if round_num == 4:
                raise RuntimeError("client data lost")
            return round_num

        csv_path = str(tmp_path / "metrics.csv")
        checkpoint_dir = str(tmp_path / "checkpoints")
        with pytest.raises(RuntimeError):
            tffl.simulation.run_training(
                adder,
                failing_at_round_4,
                6,
                checkpoint_dir=checkpoint_dir,
                metrics_managers=[tffl.simulation.CSVMetricsManager(csv_path)],
                rounds_per_checkpoint=2,
                progress=False,
            )
        manager = tffl.program.FileProgramStateManager(checkpoint_dir)
        assert manager.get_versions() == [0, 2]
        assert _csv_column(csv_path, "round_num") == ["1", "2", "3"]

        result = tffl.simulation.run_training(
            adder,
            _round,
            6,
            checkpoint_dir=checkpoint_dir,
            metrics_managers=[tffl.simulation.CSVMetricsManager(csv_path)],
            rounds_per_checkpoint=2,
            progress=False,
        )

        assert int(result.state) == 21
        assert _csv_column(csv_path, "round_num") == ["1", "2", "3", "4", "5", "6"]
        assert _csv_column(csv_path, "loss") == ["0.25", "0.75", "1.5", "2.5", "3.75", "5.25"]
        assert manager.get_versions() == [0, 2, 4, 6]

    def test_returns_the_saved_state_when_it_is_already_at_total_rounds(self, adder, tmp_path):
        tffl.simulation.run_training(adder, _round, 3, checkpoint_dir=str(tmp_path), progress=False)
        recorder = _Recorder()

        result = tffl.simulation.run_training(
            adder,
            _round,
            2,
            checkpoint_dir=str(tmp_path),
            metrics_managers=[recorder],
            progress=False,
        )

        assert int(result.state) == 6
        assert result.metrics == {}
        assert recorder.cleared == [4] and recorder.released == []

    def test_saves_with_the_given_manager_when_a_program_state_manager_is_given(
        self, adder, tmp_path
    ):
        manager = tffl.program.FileProgramStateManager(str(tmp_path), prefix="round_")

        tffl.simulation.run_training(
            adder, _round, 2, program_state_manager=manager, progress=False
        )

        assert manager.get_versions() == [0, 1, 2]
        assert manager.load_latest(np.int32(0)) == (3, 2)


class TestRounds:
    def test_releases_each_round_metrics_and_time_when_there_is_no_evaluation(self, adder):
        recorder = _Recorder()

        result = tffl.simulation.run_training(
            adder, _round, 3, metrics_managers=[recorder], progress=False
        )

        assert int(result.state) == 6
        assert recorder.cleared == [0]
        assert [round_num for round_num, _ in recorder.released] == [1, 2, 3]
        for _, metrics in recorder.released:
            assert list(metrics) == ["loss", "round_time_in_seconds"]
            assert metrics["round_time_in_seconds"] > 0
        assert [float(m["loss"]) for _, m in recorder.released] == [0.25, 0.75, 1.5]
        assert result.metrics is recorder.released[-1][1]

    def test_evaluates_every_rounds_per_evaluation_and_at_the_ends(self, adder):
        recorder = _Recorder()
        evaluated = []

        def evaluation_fn(state, round_num):
            evaluated.append((round_num, int(state)))
            return {"accuracy": round_num / 10}

        result = tffl.simulation.run_training(
            adder,
            _round,
            5,
            evaluation_fn=evaluation_fn,
            metrics_managers=[recorder],
            rounds_per_evaluation=2,
            progress=False,
        )

        assert evaluated == [(0, 0), (2, 3), (4, 10), (5, 15)]
        assert [(r, m.get("evaluation")) for r, m in recorder.released] == [
            (0, {"accuracy": 0.0}),
            (1, None),
            (2, {"accuracy": 0.2}),
            (3, None),
            (4, {"accuracy": 0.4}),
            (5, {"accuracy": 0.5}),
        ]
        assert list(recorder.released[0][1]) == ["evaluation"]
        assert result.metrics["evaluation"] == {"accuracy": 0.5}

    def test_saves_every_rounds_per_checkpoint_and_at_the_ends(self, adder, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path), keep_total=0)

        tffl.simulation.run_training(
            adder,
            _round,
            5,
            program_state_manager=manager,
            rounds_per_checkpoint=2,
            progress=False,
        )

        assert manager.get_versions() == [0, 2, 4, 5]
        assert [int(manager.load(v, np.int32(0))) for v in (0, 2, 4, 5)] == [0, 3, 10, 15]

    def test_returns_the_initial_state_when_total_rounds_is_zero(self, adder, tmp_path):
        result = tffl.simulation.run_training(
            adder, _round, 0, checkpoint_dir=str(tmp_path), progress=False
        )

        assert int(result.state) == 0 and result.metrics == {}
        assert tffl.program.FileProgramStateManager(str(tmp_path)).get_versions() == [0]

    def test_accepts_an_output_with_state_and_metrics_when_process_is_a_learning_process(
        self, fed_avg, client_datasets_fn
    ):
        result = tffl.simulation.run_training(fed_avg, client_datasets_fn, 1, progress=False)

        assert type(result.state).__name__ == "LearningAlgorithmState"
        assert list(result.metrics) == [
            "distributor",
            "client_work",
            "aggregator",
            "finalizer",
            "round_time_in_seconds",
        ]


class TestProgress:
    def test_writes_one_line_per_round_when_the_stream_is_not_a_terminal(self, adder):
        stream = io.StringIO()

        tffl.simulation.run_training(adder, _round, 3, progress=stream)

        lines = stream.getvalue().splitlines(keepends=True)
        assert [re.sub(r"time=\d+\.\d\ds", "time=T", line) for line in lines] == [
            "round 1/3 time=T loss=0.2500\n",
            "round 2/3 time=T loss=0.7500\n",
            "round 3/3 time=T loss=1.5000\n",
        ]

    def test_rewrites_one_line_when_the_stream_is_a_terminal(self, adder):
        stream = _FakeTerminal()

        tffl.simulation.run_training(adder, _round, 3, progress=stream)

        text = re.sub(r"time=\d+\.\d\ds", "time=T", stream.getvalue())
        assert text == (
            "\r[######--------------] round 1/3 time=T loss=0.2500"
            "\r[#############-------] round 2/3 time=T loss=0.7500"
            "\r[####################] round 3/3 time=T loss=1.5000\n"
        )

    def test_ends_the_terminal_line_when_a_round_fails(self, adder):
        stream = _FakeTerminal()

        def failing(round_num):
            if round_num == 2:
                raise RuntimeError("stop")
            return round_num

        with pytest.raises(RuntimeError):
            tffl.simulation.run_training(adder, failing, 3, progress=stream)

        assert stream.getvalue().endswith("loss=0.2500\n")
        assert stream.getvalue().count("\n") == 1

    def test_writes_to_stderr_by_default_and_nothing_when_progress_is_false(self, adder, capsys):
        tffl.simulation.run_training(adder, _round, 2)
        default = capsys.readouterr().err
        tffl.simulation.run_training(adder, _round, 2, progress=False)

        assert len(default.splitlines()) == 2 and default.startswith("round 1/2 time=")
        assert capsys.readouterr().err == ""


class TestErrors:
    def test_raises_when_both_a_checkpoint_dir_and_a_manager_are_given(self, adder, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))

        with pytest.raises(ValueError) as raised:
            tffl.simulation.run_training(
                adder, _round, 1, program_state_manager=manager, checkpoint_dir=str(tmp_path)
            )

        assert str(raised.value) == (
            "run_training: expected a checkpoint_dir or a program_state_manager, got both"
        )

    @pytest.mark.parametrize(
        "arguments, error, message",
        [
            pytest.param(
                {"process": object()},
                TypeError,
                "run_training process: expected an IterativeProcess, got object",
                id="process",
            ),
            pytest.param(
                {"client_selection_fn": None},
                TypeError,
                "run_training client_selection_fn: expected a callable, got NoneType",
                id="client_selection_fn",
            ),
            pytest.param(
                {"evaluation_fn": 3},
                TypeError,
                "run_training evaluation_fn: expected a callable, got int",
                id="evaluation_fn",
            ),
            pytest.param(
                {"total_rounds": -1},
                ValueError,
                "run_training: expected total_rounds >= 0, got -1",
                id="total_rounds",
            ),
            pytest.param(
                {"rounds_per_checkpoint": 0},
                ValueError,
                "run_training: expected rounds_per_checkpoint >= 1, got 0",
                id="rounds_per_checkpoint",
            ),
            pytest.param(
                {"rounds_per_evaluation": 1.5},
                ValueError,
                "run_training: expected rounds_per_evaluation >= 1, got 1.5",
                id="rounds_per_evaluation",
            ),
            pytest.param(
                {"metrics_managers": ["metrics.csv"]},
                TypeError,
                "run_training metrics_managers: expected MetricsManagers, got str",
                id="metrics_managers",
            ),
            pytest.param(
                {"program_state_manager": "dir"},
                TypeError,
                "run_training program_state_manager: expected a ProgramStateManager, got str",
                id="program_state_manager",
            ),
            pytest.param(
                {"progress": "stderr"},
                TypeError,
                "run_training progress: expected None, False or a stream, got str",
                id="progress",
            ),
            pytest.param(
                {"evaluation_fn": lambda state, round_num: 0.5},
                TypeError,
                "run_training evaluation_fn: expected a mapping of metrics, got float",
                id="evaluation_result",
            ),
        ],
    )
    def test_raises_when_an_argument_is_of_the_wrong_kind(self, adder, arguments, error, message):
        call = dict(process=adder, client_selection_fn=_round, total_rounds=1, progress=False)
        call.update(arguments)

        with pytest.raises(error) as raised:
            tffl.simulation.run_training(**call)

        assert str(raised.value) == message

    @pytest.mark.parametrize(
        "result, message",
        [
            pytest.param(
                lambda s, x: s + x,
                "run_training: expected process.next to return (state, metrics), got int32",
                id="state_only",
            ),
            pytest.param(
                lambda s, x: (s + x, x),
                "run_training: expected process.next's metrics to be a mapping, got int32",
                id="metrics_not_mapping",
            ),
        ],
    )
    def test_raises_when_process_next_returns_something_else(self, result, message):
        process = tffl.templates.IterativeProcess(
            tffl.tf_computation(lambda: np.int32(0)),
            tffl.tf_computation(result, np.int32, np.int32),
        )

        with pytest.raises(TypeError) as raised:
            tffl.simulation.run_training(process, _round, 1, progress=False)

        assert str(raised.value) == message


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(training_loop, globs=dict(vars(training_loop))):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0


class TestRoundMetrics:
    def test_releases_the_extra_metrics_of_each_round(self):
        init = tffl.tf_computation(lambda: np.int32(0))
        add = tffl.tf_computation(lambda s, x: (s + x, {"sum": s + x}), np.int32, np.int32)
        process = tffl.templates.IterativeProcess(init, add)
        released = []

        class Recorder(tffl.simulation.MetricsManager):
            def release(self, metrics, round_num):
                released.append((round_num, dict(metrics)))

            def clear_metrics(self, round_num):
                del round_num

        tffl.simulation.run_training(
            process,
            lambda r: r,
            total_rounds=2,
            metrics_managers=[Recorder()],
            progress=False,
            round_metrics_fn=lambda r: {"epsilon": r * 0.5},
        )
        assert [(r, m["epsilon"]) for r, m in released] == [(1, 0.5), (2, 1.0)]

    def test_raises_when_round_metrics_fn_is_not_a_function(self):
        init = tffl.tf_computation(lambda: np.int32(0))
        add = tffl.tf_computation(lambda s, x: (s + x, {"sum": s + x}), np.int32, np.int32)
        with pytest.raises(TypeError, match="round_metrics_fn: expected a function"):
            tffl.simulation.run_training(
                tffl.templates.IterativeProcess(init, add),
                lambda r: r,
                total_rounds=1,
                progress=False,
                round_metrics_fn=3,
            )
