"""Metric aggregation: sum the clients' unfinalized metrics, finalize once on the server."""

from __future__ import annotations

import collections
from typing import Callable
from typing import Mapping

from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.learning.models import variable_model
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors

MetricsAggregator = Callable[
    [Mapping[str, variable_model.MetricFinalizer], computation_types.Type], object
]


def sum_then_finalize(
    metric_finalizers: Mapping[str, variable_model.MetricFinalizer],
    local_unfinalized_metrics_type: computation_types.Type,
):
    """A federated computation `({U}@CLIENTS -> F@SERVER)` that sums, then finalizes.

    Summing the metric variables (a total and a count, say) before finalizing makes
    the result the metric over all clients' examples together: accuracy is total
    correct over total examples, not a mean of the clients' accuracies.

    >>> import collections, numpy as np
    >>> finalizers = collections.OrderedDict(accuracy=lambda v: v[0] / v[1])
    >>> aggregate = sum_then_finalize(
    ...     finalizers, collections.OrderedDict(accuracy=[np.float32, np.float32]))
    >>> clients = [collections.OrderedDict(accuracy=[1.0, 1.0]),
    ...            collections.OrderedDict(accuracy=[0.0, 3.0])]
    >>> float(aggregate(clients)['accuracy'])
    0.25

    Args:
      metric_finalizers: for each metric name, a function from its summed values to
        its value (see `VariableModel.metric_finalizers`).
      local_unfinalized_metrics_type: the type of one client's
        `report_local_unfinalized_metrics()`, a struct with the same names.

    Raises:
      TypeMismatchError: if the names of the finalizers and of the type differ.
    """
    unfinalized_type = computation_types.to_type(local_unfinalized_metrics_type)

    finalize = build_finalizer(metric_finalizers, unfinalized_type)

    @federated_computation.federated_computation(
        computation_types.FederatedType(unfinalized_type, placements.CLIENTS)
    )
    def aggregate(unfinalized):
        return intrinsics.federated_map(finalize, intrinsics.federated_sum(unfinalized))

    return aggregate


def build_finalizer(
    metric_finalizers: Mapping[str, variable_model.MetricFinalizer],
    unfinalized_metrics_type: computation_types.Type,
):
    """A `tf_computation` `(U -> F)` applying each metric's finalizer to its summed values.

    Raises:
      TypeMismatchError: if the names of the finalizers and of the type differ.
    """
    unfinalized_type = computation_types.to_type(unfinalized_metrics_type)
    names = (
        list(unfinalized_type.names())
        if isinstance(unfinalized_type, computation_types.StructType)
        else None
    )
    if names != list(metric_finalizers):
        raise type_errors.TypeMismatchError(
            f"a struct of the metrics {list(metric_finalizers)}",
            unfinalized_type,
            "local_unfinalized_metrics_type",
        )

    @tensorflow_computation.tf_computation(unfinalized_type)
    def finalize(summed):
        return collections.OrderedDict(
            (name, fn(list(summed[name]))) for name, fn in metric_finalizers.items()
        )

    return finalize
