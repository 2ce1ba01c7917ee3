"""Differentially private aggregation: a tensorflow-privacy `DPQuery` run as a process.

Per round the server derives the query's sample parameters from its global
state and broadcasts them; each client preprocesses its value with them
(clipping happens here, on the client); the records are summed by an inner
factory; the server adds the noise once, with `get_noised_result`, which also
gives the next global state. The Gaussian mechanisms follow McMahan et al.,
"Learning Differentially Private Recurrent Language Models"
(https://arxiv.org/abs/1710.06963); adaptive clipping follows Andrew et al.,
"Differentially Private Learning with Adaptive Clipping"
(https://arxiv.org/abs/1905.03871).

For a `SumAggregationDPQuery` a preprocessed record has the structure of the
sample state, and accumulating records into `initial_sample_state` adds them,
so the sum of the clients' records is the sample state the query would have
accumulated itself. The query's own `accumulate_preprocessed_record` and
`merge_sample_states` therefore never run: the record aggregation replaces
them, and must be a sum that does not increase the records' norms.
"""

from __future__ import annotations

import collections
import importlib
from typing import Any
from typing import Optional
from typing import Tuple
import warnings

import numpy as np

from tffl.aggregators import factory
from tffl.aggregators import sum_factory
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.templates import aggregation_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements


def _dp_query_module(name: str):
    """A tensorflow-privacy dp_query module, imported on first use (see quantile_estimation)."""
    return importlib.import_module(f"tensorflow_privacy.privacy.dp_query.{name}")


def _check_number(value: Any, context: str, expected: str, in_range) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not in_range(value)
    ):
        raise ValueError(f"{context}: expected {expected}, got {value!r}")
    return float(value)


def _non_negative(value: Any, context: str) -> float:
    return _check_number(value, context, "a non-negative float", lambda x: 0 <= x < np.inf)


def _positive(value: Any, context: str) -> float:
    return _check_number(value, context, "a positive float", lambda x: 0 < x < np.inf)


def _clients_per_round(value: Any, context: str) -> float:
    return _check_number(value, context, "a number at least 1", lambda x: 1 <= x < np.inf)


def adaptive_clip_noise_params(
    noise_multiplier: float,
    clients_per_round: float,
    clipped_count_stddev: Optional[float] = None,
) -> Tuple[float, float]:
    """The value noise multiplier and clipped-count stddev of adaptive clipping.

    Adaptive clipping also releases a noised count of unclipped clients, whose
    sensitivity is 1/2, so its noise multiplier is `2 * clipped_count_stddev`.
    The two Gaussian mechanisms compose to `noise_multiplier` when the values get
    `(noise_multiplier**-2 - (2 * clipped_count_stddev)**-2) ** -0.5`, slightly
    more than `noise_multiplier` (as in TFF).

    Args:
      noise_multiplier: the total (effective) noise multiplier, non-negative.
      clients_per_round: the expected number of clients per round.
      clipped_count_stddev: the stddev of the count's noise; default
        `0.05 * clients_per_round`, or 0 without noise.

    Returns:
      `(value_noise_multiplier, clipped_count_stddev)`.

    Raises:
      ValueError: if `clipped_count_stddev` is too small for `noise_multiplier`
        (`noise_multiplier >= 2 * clipped_count_stddev`).

    >>> value_noise, count_stddev = adaptive_clip_noise_params(0.5, 10)
    >>> round(value_noise, 6), count_stddev
    (0.57735, 0.5)
    """
    if noise_multiplier == 0:
        return 0.0, 0.0 if clipped_count_stddev is None else float(clipped_count_stddev)
    if clipped_count_stddev is None:
        clipped_count_stddev = 0.05 * clients_per_round
    if noise_multiplier >= 2 * clipped_count_stddev:
        raise ValueError(
            f"DifferentiallyPrivateFactory.gaussian_adaptive clipped_count_stddev: "
            f"{clipped_count_stddev} (default 0.05 * clients_per_round) is too small for "
            f"noise_multiplier {noise_multiplier}: it must exceed noise_multiplier / 2"
        )
    value_noise_multiplier = (noise_multiplier**-2 - (2 * clipped_count_stddev) ** -2) ** -0.5
    if value_noise_multiplier >= 2 * noise_multiplier:
        warnings.warn(
            f"adaptive clipping adds {value_noise_multiplier / noise_multiplier:.2f}x the noise "
            f"of noise_multiplier {noise_multiplier} to the values; a larger "
            "clipped_count_stddev or more clients per round would need less",
            UserWarning,
            stacklevel=3,
        )
    return value_noise_multiplier, float(clipped_count_stddev)


class DifferentiallyPrivateFactory(factory.UnweightedAggregationFactory):
    """Aggregates CLIENTS values with a tensorflow-privacy `SumAggregationDPQuery`.

    The process: `initialize: ( -> <Q,A>@SERVER)` and `next: (<state=<Q,A>@SERVER,
    value={V}@CLIENTS> -> <state=<Q,A>@SERVER,result=V@SERVER,
    measurements=<dp_query_metrics=M,dp=N>@SERVER>)`, where `Q` is the query's
    global state (a namedtuple of scalars), `A` the record aggregation's state,
    `M` the query's `derive_metrics` of the new global state (`<clip=float32>`
    for adaptive clipping, `<>` for fixed) and `N` the record aggregation's
    measurements.

    Args:
      query: a `tensorflow_privacy.SumAggregationDPQuery` (e.g. a
        `NormalizedQuery` over a `GaussianSumQuery`).
      record_aggregation_factory: sums the preprocessed records; `SumFactory()`
        by default. It must compute a sum and must not increase the records'
        norms, or the query's privacy guarantee does not hold.

    Raises:
      TypeError: if the query or the factory is of the wrong kind.

    >>> import numpy as np, tffl
    >>> aggregator = tffl.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
    ...     noise_multiplier=0.0, clients_per_round=2, clip=1.0)
    >>> process = aggregator.create((np.float32, [2]))
    >>> process.next(process.initialize(), [[3.0, 4.0], [0.2, 0.0]]).result.tolist()
    [0.4000000059604645, 0.4000000059604645]
    """

    @classmethod
    def gaussian_fixed(
        cls, noise_multiplier: float, clients_per_round: float, clip: float
    ) -> DifferentiallyPrivateFactory:
        """Fixed clipping and Gaussian noise: a noised mean over `clients_per_round`.

        Each client's value is clipped to global L2 norm `clip`; the server adds
        Gaussian noise of stddev `noise_multiplier * clip` to the sum and divides
        by `clients_per_round`, so the result's noise has stddev
        `noise_multiplier * clip / clients_per_round`.

        Args:
          noise_multiplier: the ratio of the noise's stddev to `clip`; non-negative.
          clients_per_round: the (expected) number of clients per round, at least 1.
          clip: the clipping norm, positive.

        Raises:
          ValueError: naming the argument out of range and its value.
        """
        context = "DifferentiallyPrivateFactory.gaussian_fixed"
        noise_multiplier = _non_negative(noise_multiplier, f"{context} noise_multiplier")
        clients_per_round = _clients_per_round(clients_per_round, f"{context} clients_per_round")
        clip = _positive(clip, f"{context} clip")
        sum_query = _dp_query_module("gaussian_query").GaussianSumQuery(
            l2_norm_clip=clip, stddev=clip * noise_multiplier
        )
        return cls(
            _dp_query_module("normalized_query").NormalizedQuery(
                sum_query, denominator=clients_per_round
            )
        )

    @classmethod
    def gaussian_adaptive(
        cls,
        noise_multiplier: float,
        clients_per_round: float,
        initial_l2_norm_clip: float = 0.1,
        target_unclipped_quantile: float = 0.5,
        learning_rate: float = 0.2,
        clipped_count_stddev: Optional[float] = None,
    ) -> DifferentiallyPrivateFactory:
        """Adaptive clipping and Gaussian noise: a noised mean over `clients_per_round`.

        The clipping norm starts at `initial_l2_norm_clip` and follows the
        geometric update toward the `target_unclipped_quantile` of the clients'
        norms, estimated from a noised count of unclipped clients.
        `noise_multiplier` is the effective total (see `adaptive_clip_noise_params`):
        the values get slightly more noise, so that the values and the count
        together cost what a Gaussian mechanism of `noise_multiplier` costs.

        Args:
          noise_multiplier: the effective noise multiplier; non-negative.
          clients_per_round: the (expected) number of clients per round, at least 1.
          initial_l2_norm_clip: the first clipping norm, positive.
          target_unclipped_quantile: the fraction of clients left unclipped, in [0, 1].
          learning_rate: the step of the geometric update, non-negative.
          clipped_count_stddev: the stddev of the count's noise; default
            `0.05 * clients_per_round`, or 0 when `noise_multiplier` is 0.

        Raises:
          ValueError: naming the argument out of range and its value.
        """
        context = "DifferentiallyPrivateFactory.gaussian_adaptive"
        noise_multiplier = _non_negative(noise_multiplier, f"{context} noise_multiplier")
        clients_per_round = _clients_per_round(clients_per_round, f"{context} clients_per_round")
        initial_l2_norm_clip = _positive(initial_l2_norm_clip, f"{context} initial_l2_norm_clip")
        target_unclipped_quantile = _check_number(
            target_unclipped_quantile,
            f"{context} target_unclipped_quantile",
            "a float in [0, 1]",
            lambda x: 0 <= x <= 1,
        )
        learning_rate = _non_negative(learning_rate, f"{context} learning_rate")
        if clipped_count_stddev is not None:
            clipped_count_stddev = _non_negative(
                clipped_count_stddev, f"{context} clipped_count_stddev"
            )
        value_noise_multiplier, clipped_count_stddev = adaptive_clip_noise_params(
            noise_multiplier, clients_per_round, clipped_count_stddev
        )
        adaptive_query_module = _dp_query_module("quantile_adaptive_clip_sum_query")
        sum_query = adaptive_query_module.QuantileAdaptiveClipSumQuery(
            initial_l2_norm_clip=initial_l2_norm_clip,
            noise_multiplier=value_noise_multiplier,
            target_unclipped_quantile=target_unclipped_quantile,
            learning_rate=learning_rate,
            clipped_count_stddev=clipped_count_stddev,
            expected_num_records=clients_per_round,
            geometric_update=True,
        )
        return cls(
            _dp_query_module("normalized_query").NormalizedQuery(
                sum_query, denominator=clients_per_round
            )
        )

    def __init__(
        self,
        query: Any,
        record_aggregation_factory: Optional[factory.UnweightedAggregationFactory] = None,
    ):
        query_class = _dp_query_module("dp_query").SumAggregationDPQuery
        if not isinstance(query, query_class):
            raise TypeError(
                "DifferentiallyPrivateFactory query: expected a tensorflow_privacy "
                f"SumAggregationDPQuery, got {type(query).__name__}"
            )
        if record_aggregation_factory is None:
            record_aggregation_factory = sum_factory.SumFactory()
        factory.check_unweighted_factory(
            record_aggregation_factory, "DifferentiallyPrivateFactory record_aggregation_factory"
        )
        self._query = query
        self._record_aggregation_factory = record_aggregation_factory

    def create(self, value_type: Any) -> aggregation_process.AggregationProcess:
        """The private aggregation process for float values of `value_type`.

        Raises:
          TypeMismatchError: if `value_type` is not a float tensor or a (nested)
            struct of them.
        """
        value_type = factory.check_value_type(
            value_type, "DifferentiallyPrivateFactory.create value_type", floats_only=True
        )
        query = self._query

        # Lambdas, not the bound methods: tf_computation traces a method without its self.
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
            value_type,
        )
        record_process = self._record_aggregation_factory.create(
            preprocess_record.type_signature.result
        )

        def noised_result(sample_state, global_state):
            # The DpEvent is for accounting in Python; `tffl.learning.privacy` does that.
            result, new_global_state, _ = query.get_noised_result(sample_state, global_state)
            return result, new_global_state

        get_noised_result = tensorflow_computation.tf_computation(
            noised_result, record_process.result_type, query_state_type
        )
        derive_metrics = tensorflow_computation.tf_computation(
            lambda global_state: query.derive_metrics(global_state), query_state_type
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
            computation_types.FederatedType(value_type, placements.CLIENTS),
        )
        def next_fn(state, value):
            query_state, record_state = state[0], state[1]
            params = intrinsics.federated_broadcast(
                intrinsics.federated_map(derive_sample_params, query_state)
            )
            records = intrinsics.federated_map(preprocess_record, (params, value))
            record_output = record_process.next(record_state, records)
            result, new_query_state = intrinsics.federated_map(
                get_noised_result, (record_output.result, query_state)
            )
            return measured_process.MeasuredProcessOutput(
                state=intrinsics.federated_zip((new_query_state, record_output.state)),
                result=result,
                measurements=intrinsics.federated_zip(
                    collections.OrderedDict(
                        dp_query_metrics=intrinsics.federated_map(derive_metrics, new_query_state),
                        dp=record_output.measurements,
                    )
                ),
            )

        return aggregation_process.AggregationProcess(init_fn, next_fn)
