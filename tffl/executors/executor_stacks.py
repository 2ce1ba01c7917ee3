"""Factories for executor stacks.

The local stack, from the top: a reference-resolving executor over a federating
executor, whose server and clients are each a reference-resolving executor over
a TensorFlow executor. All TensorFlow executors share one thread pool (the bound
on concurrent client work) and the process-wide compiled-function cache.

The composing stack (a driver of remote workers) is a reference-resolving
executor over a composing executor, whose server is the local stack's server leaf
and whose workers are given as factories.
"""

from __future__ import annotations

import concurrent.futures
from typing import Optional
from typing import Sequence
import weakref

from tffl.executors import composing_executor
from tffl.executors import cpu_affinity
from tffl.executors import executor_base
from tffl.executors import federating_executor
from tffl.executors import reference_resolving_executor
from tffl.executors import secure_aggregation as secure_aggregation_lib
from tffl.executors import tensorflow_executor


class LocalExecutorFactory:
    """Builds a fresh local executor stack for each invocation.

    Args:
      max_concurrency: how many clients' TensorFlow work may run at once
        (default: the number of CPUs the process may run on).
      secure_aggregation: dropouts and the survivor threshold of secure sums
        (default: no dropouts).
    """

    def __init__(
        self,
        max_concurrency: Optional[int] = None,
        secure_aggregation: Optional[secure_aggregation_lib.SecureAggregationConfig] = None,
    ):
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency: expected a positive int, got {max_concurrency}")
        self.max_concurrency = max_concurrency or len(cpu_affinity.usable())
        if secure_aggregation is not None and not isinstance(
            secure_aggregation, secure_aggregation_lib.SecureAggregationConfig
        ):
            raise TypeError(
                "secure_aggregation: expected a SecureAggregationConfig, got "
                f"{type(secure_aggregation).__name__}"
            )
        self.secure_aggregation = secure_aggregation
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.max_concurrency, thread_name_prefix="tffl-client"
        )
        # A replaced context's pool stops its threads once the factory is collected.
        weakref.finalize(self, self._pool.shutdown, wait=False)

    def create_leaf(self, index: Optional[int] = None) -> executor_base.Executor:
        """A server or client executor: reference-resolving over TensorFlow."""
        del index
        return reference_resolving_executor.ReferenceResolvingExecutor(
            tensorflow_executor.TensorFlowExecutor(self._pool)
        )

    def create(self, num_clients: Optional[int]) -> executor_base.Executor:
        federating = federating_executor.FederatingExecutor(
            server=self.create_leaf(),
            client_factory=self.create_leaf,
            num_clients=num_clients,
            max_concurrency=self.max_concurrency,
            secure_aggregation_config=self.secure_aggregation,
        )
        return reference_resolving_executor.ReferenceResolvingExecutor(federating)

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def create_composing_executor(
    local: LocalExecutorFactory,
    workers: Sequence[composing_executor.WorkerFactory],
    num_clients: Optional[int],
) -> executor_base.Executor:
    """A driver stack over workers (factories of shard executors, in worker order).

    SERVER and unplaced values live in a leaf of `local`, on its thread pool.
    """
    composing = composing_executor.ComposingExecutor(
        server=local.create_leaf(), workers=workers, num_clients=num_clients
    )
    return reference_resolving_executor.ReferenceResolvingExecutor(composing)
