"""Tests for tffl/learning/models/keras_metrics.py: the metrics a model reports."""

import re

import numpy as np
import pytest
import tensorflow as tf

from tffl.learning.models import keras_metrics

LABELS = np.array([1, 0], np.int32)
PREDICTIONS = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
MORE_LABELS = np.array([2], np.int32)
MORE_PREDICTIONS = np.array([[0.0, 0.0, 1.0]], np.float32)


def as_numpy(unfinalized):
    return {name: [np.asarray(v).item() for v in values] for name, values in unfinalized.items()}


def updated_twice():
    """Accuracy plus the built-in metrics, after batches of 2 and 1 examples (2 correct)."""
    metrics = keras_metrics.KerasMetrics([tf.keras.metrics.SparseCategoricalAccuracy])
    metrics.update(LABELS, PREDICTIONS, tf.constant(2.0), tf.constant(2))
    metrics.update(MORE_LABELS, MORE_PREDICTIONS, tf.constant(4.0), tf.constant(1))
    return metrics


class TestKerasMetrics:
    @pytest.mark.parametrize(
        "spec",
        [
            tf.keras.metrics.SparseCategoricalAccuracy(),
            tf.keras.metrics.SparseCategoricalAccuracy,
            lambda: tf.keras.metrics.SparseCategoricalAccuracy(),
        ],
        ids=["instance", "class", "function"],
    )
    def test_reports_user_metrics_then_loss_num_examples_num_batches_when_given_any_form(
        self, spec
    ):
        metrics = keras_metrics.KerasMetrics([spec])

        assert list(metrics.report()) == [
            "sparse_categorical_accuracy",
            "loss",
            "num_examples",
            "num_batches",
        ]
        assert list(metrics.finalizers()) == list(metrics.report())

    def test_reports_only_the_built_in_metrics_when_given_none(self):
        metrics = keras_metrics.KerasMetrics(None)

        assert list(metrics.report()) == ["loss", "num_examples", "num_batches"]
        assert len(metrics.variables) == 4  # loss total and count, two sums

    def test_update_accumulates_example_weighted_values_when_called_twice(self):
        metrics = updated_twice()

        assert as_numpy(metrics.report()) == {
            "sparse_categorical_accuracy": [2.0, 3.0],
            "loss": [8.0, 3.0],  # 2.0 * 2 examples + 4.0 * 1 example
            "num_examples": [3],
            "num_batches": [2],
        }

    def test_finalizers_give_each_metric_result_when_applied_to_the_report(self):
        metrics = updated_twice()
        report = metrics.report()

        finalized = {name: fn(report[name]).numpy() for name, fn in metrics.finalizers().items()}

        assert finalized == {
            "sparse_categorical_accuracy": np.float32(2.0) / np.float32(3.0),
            "loss": np.float32(8.0) / np.float32(3.0),
            "num_examples": 3,
            "num_batches": 2,
        }

    def test_finalizers_use_a_fresh_metric_when_the_original_was_reset(self):
        metrics = updated_twice()
        report = metrics.report()

        metrics.reset()

        assert metrics.finalizers()["loss"](report["loss"]).numpy() == np.float32(8.0 / 3.0)

    def test_reset_zeroes_every_metric_when_after_updates(self):
        metrics = updated_twice()

        metrics.reset()

        assert as_numpy(metrics.report()) == {
            "sparse_categorical_accuracy": [0.0, 0.0],
            "loss": [0.0, 0.0],
            "num_examples": [0],
            "num_batches": [0],
        }

    @pytest.mark.parametrize(
        "make, values",
        [
            pytest.param(tf.keras.metrics.Mean, [[1.0, 2.0, 4.5]], id="mean"),
            pytest.param(tf.keras.metrics.Sum, [[1.0, 2.0, 4.5]], id="sum"),
            pytest.param(lambda: tf.keras.metrics.Sum(dtype=tf.int64), [[3, 4]], id="int_sum"),
            pytest.param(
                tf.keras.metrics.SparseCategoricalAccuracy, [LABELS, PREDICTIONS], id="accuracy"
            ),
            pytest.param(
                tf.keras.metrics.MeanSquaredError, [[1.0, 2.0], [0.5, 4.0]], id="mean_squared"
            ),
        ],
    )
    def test_a_keras_reduction_finalizes_as_keras_does_without_variables(self, make, values):
        metric = make()
        metric.update_state(*values)
        unfinalized = [tf.identity(v) for v in metric.variables]
        finalize = keras_metrics._finalizer_for(metric)

        graph = tf.function(finalize).get_concrete_function(unfinalized).graph

        assert finalize(unfinalized).numpy() == metric.result().numpy()
        assert finalize(unfinalized).dtype == metric.result().dtype
        assert not {op.type for op in graph.get_operations()} & {"VarHandleOp", "AssignVariableOp"}

    def test_a_mean_of_nothing_finalizes_to_zero(self):
        finalize = keras_metrics._finalizer_for(tf.keras.metrics.Mean())

        assert finalize([tf.constant(0.0), tf.constant(0.0)]).numpy() == 0.0

    def test_a_metric_with_its_own_result_finalizes_through_it(self):
        class Halved(tf.keras.metrics.Mean):
            def result(self):
                return super().result() / 2.0

        finalize = keras_metrics._finalizer_for(Halved())

        assert finalize([tf.constant(6.0), tf.constant(2.0)]).numpy() == 1.5

    def test_finalizer_raises_when_given_the_wrong_number_of_values(self):
        finalize = keras_metrics.KerasMetrics(None).finalizers()["loss"]

        with pytest.raises(
            ValueError, match=re.escape("metric 'loss': expected 2 values to finalize, got 1")
        ):
            finalize([tf.constant(1.0)])

    @pytest.mark.parametrize(
        "specs, error, message",
        [
            (
                [tf.keras.metrics.Sum(name="num_batches")],
                ValueError,
                "metrics: expected distinct names, got ['num_batches'] more than once "
                "(loss, num_examples and num_batches are always reported)",
            ),
            (
                [
                    tf.keras.metrics.Mean(name="b"),
                    tf.keras.metrics.Mean(name="a"),
                    tf.keras.metrics.Sum(name="b"),
                    tf.keras.metrics.Sum(name="a"),
                ],
                ValueError,
                "metrics: expected distinct names, got ['a', 'b'] more than once "
                "(loss, num_examples and num_batches are always reported)",
            ),
            (
                [None],
                TypeError,
                "metrics[0]: expected a tf.keras.metrics.Metric or a no-argument function "
                "returning one, got NoneType",
            ),
            (
                [tf.keras.metrics.Mean(), lambda: "mean"],
                TypeError,
                "metrics[1]: expected a tf.keras.metrics.Metric or a no-argument function "
                "returning one, got str",
            ),
        ],
        ids=["built-in-name", "two-names-twice", "none", "function-returning-a-string"],
    )
    def test_raises_when_metrics_are_wrong(self, specs, error, message):
        with pytest.raises(error, match=re.escape(message)):
            keras_metrics.KerasMetrics(specs)
