"""Tests for tffl/learning/models/variable_model.py: the interface the algorithms train."""

import pytest

from tffl.learning import models


class TestVariableModel:
    def test_every_part_of_the_interface_is_abstract_when_subclassed(self):
        assert models.VariableModel.__abstractmethods__ == {
            "trainable_variables",
            "non_trainable_variables",
            "local_variables",
            "input_spec",
            "forward_pass",
            "predict_on_batch",
            "report_local_unfinalized_metrics",
            "metric_finalizers",
            "reset_metrics",
        }

    def test_cannot_be_built_when_a_subclass_leaves_methods_out(self):
        class OnlyVariables(models.VariableModel):
            trainable_variables = non_trainable_variables = local_variables = []

        with pytest.raises(TypeError):
            OnlyVariables()


class TestBatchOutput:
    def test_fields_are_loss_predictions_num_examples_when_built(self):
        output = models.BatchOutput(loss=1.0, predictions=[2.0], num_examples=3)

        assert models.BatchOutput._fields == ("loss", "predictions", "num_examples")
        assert tuple(output) == (1.0, [2.0], 3)
