"""Private quantile estimation: track a quantile of the clients' values over rounds.

Wraps a tensorflow-privacy `QuantileEstimatorQuery` (Andrew et al., "Differentially
Private Learning with Adaptive Clipping", https://arxiv.org/abs/1905.03871). Each
round the server broadcasts the current estimate, each client records whether its
value is at most the estimate, the records are summed, and the query moves the
estimate toward the target quantile. Adaptive clipping and zeroing use it as their
norm: `report(state)` is this round's norm, `next` sees the clients' norms.

tensorflow-privacy is imported on first use, not with `tffl`: it adds about a
second to an import, and only this module needs it.
"""

from __future__ import annotations

import importlib
from typing import Any
from typing import Optional

import numpy as np
import tensorflow as tf

from tffl.aggregators import factory
from tffl.aggregators import sum_factory
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.templates import aggregation_process
from tffl.templates import estimation_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_errors

_NORM_TYPE = computation_types.TensorType(np.float32)


def _quantile_estimator_query_module():
    """tensorflow-privacy's quantile_estimator_query module, imported on first use.

    Only the dp_query modules are imported. `sys.skip_tf_privacy_import` is not
    set: it would leave the top-level `tensorflow_privacy` package of this process
    without its names for the user's own imports.
    """
    return importlib.import_module("tensorflow_privacy.privacy.dp_query.quantile_estimator_query")


def _check_number(value: Any, name: str, expected: str, in_range) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not in_range(value):
        raise ValueError(
            f"PrivateQuantileEstimationProcess.no_noise {name}: expected {expected}, got {value!r}"
        )
    return float(value)


class _SecureRecordSumFactory(factory.UnweightedAggregationFactory):
    """Sums the records of a no-noise quantile query with `federated_secure_sum_bitwidth`.

    A record is `(below - 0.5, 1.0)` with `below` in {0, 1}: both parts are sent as
    1-bit integers (`below` and 1), so the server sees only their sums, and it
    rebuilds the summed record `(sum(below) - 0.5 * count, count)`.
    """

    def create(self, value_type: Any) -> aggregation_process.AggregationProcess:
        record_type = computation_types.to_type(value_type)
        expected = computation_types.StructType([_NORM_TYPE, _NORM_TYPE], container=tuple)
        if not expected.is_assignable_from(record_type):
            raise type_errors.TypeMismatchError(
                expected, record_type, "secure quantile record sum value_type"
            )

        @tensorflow_computation.tf_computation(record_type)
        def to_bits(record):
            below, count = record
            return tf.cast(tf.round(below + 0.5), tf.int32), tf.cast(tf.round(count), tf.int32)

        @tensorflow_computation.tf_computation(to_bits.type_signature.result)
        def to_record(bit_sums):
            below, count = (tf.cast(bits, tf.float32) for bits in bit_sums)
            return below - 0.5 * count, count

        @federated_computation.federated_computation()
        def init_fn():
            return intrinsics.federated_value((), placements.SERVER)

        @federated_computation.federated_computation(
            init_fn.type_signature.result,
            computation_types.FederatedType(record_type, placements.CLIENTS),
        )
        def next_fn(state, value):
            bit_sums = intrinsics.federated_secure_sum_bitwidth(
                intrinsics.federated_map(to_bits, value), np.int32(1)
            )
            return measured_process.MeasuredProcessOutput(
                state=state,
                result=intrinsics.federated_map(to_record, bit_sums),
                measurements=intrinsics.federated_value((), placements.SERVER),
            )

        return aggregation_process.AggregationProcess(init_fn, next_fn)


class PrivateQuantileEstimationProcess(estimation_process.EstimationProcess):
    """An `EstimationProcess` estimating a quantile of float32 client values.

    `initialize: ( -> <Q,A>@SERVER)`, `next: (<state=<Q,A>@SERVER,value={float32}@CLIENTS>
    -> <Q,A>@SERVER)` and `report: (<Q,A>@SERVER -> float32@SERVER)`, where `Q` is
    the query's global state (a namedtuple of scalars: current estimate, target
    quantile, learning rate, and the inner query's state) and `A` the state of
    the record aggregation.

    Per round: `derive_sample_params` at the server, broadcast; each client's
    `preprocess_record(params, value)`; the records summed by the record
    aggregation (their sum is the query's sample state, since a quantile query
    aggregates by summing); `get_noised_result` at the server gives the next
    global state.

    Args:
      quantile_estimator_query: a `tensorflow_privacy.QuantileEstimatorQuery`.
      record_aggregation_factory: sums the clients' records; `SumFactory()` by default.

    Raises:
      TypeError: if the query or the factory is of the wrong kind.

    >>> import tffl
    >>> process = tffl.aggregators.PrivateQuantileEstimationProcess.no_noise(
    ...     initial_estimate=1.0, target_quantile=0.5, learning_rate=0.5)
    >>> state = process.next(process.initialize(), [2.0, 3.0, 4.0, 5.0])
    >>> round(float(process.report(state)), 6)  # 1.0 * exp(-0.5 * (0.0 - 0.5))
    1.284025
    """

    @classmethod
    def no_noise(
        cls,
        initial_estimate: float,
        target_quantile: float,
        learning_rate: float,
        multiplier: float = 1.0,
        increment: float = 0.0,
        secure_estimation: bool = False,
    ) -> estimation_process.EstimationProcess:
        """An estimator without noise (no privacy) of `C`, reporting `multiplier * C + increment`.

        `C` follows the geometric update of Andrew et al.:
        `C <- C * exp(-learning_rate * (fraction of values <= C - target_quantile))`.

        Args:
          initial_estimate: the first estimate of `C` (positive).
          target_quantile: the quantile `C` moves toward, in [0, 1].
          learning_rate: the step of the geometric update (positive).
          multiplier: the factor of the reported affine map (positive).
          increment: the offset of the reported affine map (non-negative).
          secure_estimation: whether the clients' records are summed with
            `federated_secure_sum_bitwidth` (each record as 1-bit integers).

        Returns:
          A `PrivateQuantileEstimationProcess`, or, with a multiplier or increment,
          an `EstimationProcess` whose `report` applies the affine map (as in TFF).

        Raises:
          ValueError: if a number is out of its range.
        """
        positive, non_negative = "a positive float", "a non-negative float"
        initial_estimate = _check_number(
            initial_estimate, "initial_estimate", positive, lambda x: 0 < x < np.inf
        )
        target_quantile = _check_number(
            target_quantile, "target_quantile", "a float in [0, 1]", lambda x: 0 <= x <= 1
        )
        learning_rate = _check_number(
            learning_rate, "learning_rate", positive, lambda x: 0 < x < np.inf
        )
        multiplier = _check_number(multiplier, "multiplier", positive, lambda x: 0 < x < np.inf)
        increment = _check_number(increment, "increment", non_negative, lambda x: 0 <= x < np.inf)
        query = _quantile_estimator_query_module().NoPrivacyQuantileEstimatorQuery(
            initial_estimate=initial_estimate,
            target_quantile=target_quantile,
            learning_rate=learning_rate,
            geometric_update=True,
        )
        record_factory = _SecureRecordSumFactory() if secure_estimation else None
        process = cls(query, record_factory)
        if multiplier == 1.0 and increment == 0.0:
            return process
        affine = tensorflow_computation.tf_computation(
            lambda estimate: estimate * multiplier + increment, _NORM_TYPE
        )
        return process.map(
            federated_computation.federated_computation(
                lambda estimate: intrinsics.federated_map(affine, estimate),
                computation_types.FederatedType(_NORM_TYPE, placements.SERVER),
            )
        )

    def __init__(
        self,
        quantile_estimator_query: Any,
        record_aggregation_factory: Optional[factory.UnweightedAggregationFactory] = None,
    ):
        query_class = _quantile_estimator_query_module().QuantileEstimatorQuery
        if not isinstance(quantile_estimator_query, query_class):
            raise TypeError(
                "PrivateQuantileEstimationProcess quantile_estimator_query: expected a "
                "tensorflow_privacy QuantileEstimatorQuery, got "
                f"{type(quantile_estimator_query).__name__}"
            )
        if record_aggregation_factory is None:
            record_aggregation_factory = sum_factory.SumFactory()
        factory.check_unweighted_factory(
            record_aggregation_factory,
            "PrivateQuantileEstimationProcess record_aggregation_factory",
        )
        query = quantile_estimator_query

        # Functions, not the bound methods: tf_computation traces a method without its self.
        initial_state_fn = tensorflow_computation.tf_computation(
            lambda: query.initial_global_state()
        )
        query_state_type = initial_state_fn.type_signature.result
        derive_sample_params = tensorflow_computation.tf_computation(
            lambda global_state: query.derive_sample_params(global_state), query_state_type
        )
        preprocess_record = tensorflow_computation.tf_computation(
            lambda params, value: query.preprocess_record(params, value),
            derive_sample_params.type_signature.result,
            _NORM_TYPE,
        )
        record_type = preprocess_record.type_signature.result
        record_process = record_aggregation_factory.create(record_type)

        def next_global_state(sample_state, global_state):
            # The result and the privacy event are dropped: only the new state is kept.
            _, new_global_state, _ = query.get_noised_result(sample_state, global_state)
            return new_global_state

        next_query_state = tensorflow_computation.tf_computation(
            next_global_state, record_process.result_type, query_state_type
        )
        current_estimate = tensorflow_computation.tf_computation(
            lambda global_state: global_state.current_estimate, query_state_type
        )

        @federated_computation.federated_computation()
        def init_fn():
            return intrinsics.federated_zip(
                (
                    intrinsics.federated_eval(initial_state_fn, placements.SERVER),
                    record_process.initialize(),
                )
            )

        @federated_computation.federated_computation(
            init_fn.type_signature.result,
            computation_types.FederatedType(_NORM_TYPE, placements.CLIENTS),
        )
        def next_fn(state, value):
            query_state, record_state = state[0], state[1]
            params = intrinsics.federated_broadcast(
                intrinsics.federated_map(derive_sample_params, query_state)
            )
            records = intrinsics.federated_map(preprocess_record, (params, value))
            record_output = record_process.next(record_state, records)
            new_query_state = intrinsics.federated_map(
                next_query_state, (record_output.result, query_state)
            )
            return intrinsics.federated_zip((new_query_state, record_output.state))

        @federated_computation.federated_computation(init_fn.type_signature.result)
        def report_fn(state):
            return intrinsics.federated_map(current_estimate, state[0])

        super().__init__(init_fn, next_fn, report_fn)
