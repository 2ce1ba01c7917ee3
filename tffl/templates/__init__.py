"""Processes built from computations: iterative, measured, aggregation and estimation."""

from tffl.templates.aggregation_process import AggregationProcess
from tffl.templates.estimation_process import EstimationProcess
from tffl.templates.iterative_process import IterativeProcess
from tffl.templates.measured_process import MeasuredProcess
from tffl.templates.measured_process import MeasuredProcessOutput

__all__ = [
    "AggregationProcess",
    "EstimationProcess",
    "IterativeProcess",
    "MeasuredProcess",
    "MeasuredProcessOutput",
]
