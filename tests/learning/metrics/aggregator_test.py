"""Tests for tffl/learning/metrics/aggregator.py: summing metrics, then finalizing once."""

import collections
import re

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.learning import metrics
from tffl.learning import models
from tffl.learning.metrics import aggregator
from tffl.learning.models import model_signature

UNFINALIZED_TYPE = (
    "<sparse_categorical_accuracy=<float32,float32>,loss=<float32,float32>,"
    "num_examples=<int64>,num_batches=<int64>>"
)
FINALIZED_TYPE = (
    "<sparse_categorical_accuracy=float32,loss=float32,num_examples=int64,num_batches=int64>"
)


def classifier():
    return models.from_keras_model(
        tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,))]),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=(tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int32)),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def client_metrics(correct, examples, loss_total, batches):
    """One client's `report_local_unfinalized_metrics()`."""
    return collections.OrderedDict(
        sparse_categorical_accuracy=[np.float32(correct), np.float32(examples)],
        loss=[np.float32(loss_total), np.float32(examples)],
        num_examples=[np.int64(examples)],
        num_batches=[np.int64(batches)],
    )


@pytest.fixture(scope="module")
def signature():
    return model_signature.inspect_model(classifier)


@pytest.fixture(scope="module")
def sum_then_finalize(signature):
    return metrics.sum_then_finalize(
        signature.metric_finalizers, signature.unfinalized_metrics_type
    )


class TestSumThenFinalize:
    def test_type_signature_maps_client_states_to_server_results_when_built(
        self, sum_then_finalize
    ):
        assert str(sum_then_finalize.type_signature) == (
            f"({{{UNFINALIZED_TYPE}}}@CLIENTS -> {FINALIZED_TYPE}@SERVER)"
        )

    def test_accuracy_is_total_correct_over_total_examples_when_three_clients_report(
        self, sum_then_finalize
    ):
        # Client accuracies 1/1, 1/4 and 0/5: their mean would be 0.4166..., while
        # over all ten examples 2 are correct.
        result = sum_then_finalize(
            [
                client_metrics(correct=1, examples=1, loss_total=2.0, batches=1),
                client_metrics(correct=1, examples=4, loss_total=4.0, batches=2),
                client_metrics(correct=0, examples=5, loss_total=9.0, batches=3),
            ]
        )

        assert list(result) == [
            "sparse_categorical_accuracy",
            "loss",
            "num_examples",
            "num_batches",
        ]
        assert result["sparse_categorical_accuracy"] == np.float32(2.0) / np.float32(10.0)
        assert result["loss"] == np.float32(1.5)  # 15 over 10 examples
        assert result["num_examples"] == 10
        assert result["num_batches"] == 6

    def test_result_is_the_clients_own_metrics_when_one_client_reports(self, sum_then_finalize):
        result = sum_then_finalize(
            [client_metrics(correct=3, examples=4, loss_total=2.0, batches=2)]
        )

        assert dict(result) == {
            "sparse_categorical_accuracy": np.float32(0.75),
            "loss": np.float32(0.5),
            "num_examples": 4,
            "num_batches": 2,
        }

    @pytest.mark.parametrize(
        "unfinalized_type, message",
        [
            (
                tffl.to_type(collections.OrderedDict(b=[np.float32])),
                "local_unfinalized_metrics_type: expected a struct of the metrics ['a'], "
                "got <b=<float32>>",
            ),
            (
                tffl.to_type(np.float32),
                "local_unfinalized_metrics_type: expected a struct of the metrics ['a'], "
                "got float32",
            ),
            (
                tffl.to_type(collections.OrderedDict(a=[np.float32], b=[np.float32])),
                "local_unfinalized_metrics_type: expected a struct of the metrics ['a'], "
                "got <a=<float32>,b=<float32>>",
            ),
        ],
        ids=["other-name", "not-a-struct", "extra-name"],
    )
    def test_raises_when_names_of_finalizers_and_type_differ(self, unfinalized_type, message):
        finalizers = collections.OrderedDict(a=lambda values: values[0])

        with pytest.raises(tffl.TypeMismatchError, match=re.escape(message)):
            metrics.sum_then_finalize(finalizers, unfinalized_type)


class TestBuildFinalizer:
    def test_finalizer_applies_each_metric_finalizer_when_given_summed_values(self, signature):
        finalize = aggregator.build_finalizer(
            signature.metric_finalizers, signature.unfinalized_metrics_type
        )

        result = finalize(client_metrics(correct=1, examples=8, loss_total=4.0, batches=3))

        assert str(finalize.type_signature) == f"({UNFINALIZED_TYPE} -> {FINALIZED_TYPE})"
        assert dict(result) == {
            "sparse_categorical_accuracy": np.float32(0.125),
            "loss": np.float32(0.5),
            "num_examples": 8,
            "num_batches": 3,
        }

    def test_raises_when_names_are_in_another_order(self, signature):
        finalizers = collections.OrderedDict(reversed(signature.metric_finalizers.items()))

        with pytest.raises(
            tffl.TypeMismatchError,
            match=re.escape(
                "local_unfinalized_metrics_type: expected a struct of the metrics "
                "['num_batches', 'num_examples', 'loss', 'sparse_categorical_accuracy'], "
                f"got {UNFINALIZED_TYPE}"
            ),
        ):
            aggregator.build_finalizer(finalizers, signature.unfinalized_metrics_type)
