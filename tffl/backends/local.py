"""The local backend: runs computations in this process (the default context).

>>> import tffl
>>> tffl.backends.local.set_context(num_clients=3)
"""

from __future__ import annotations

from typing import Optional

from tffl.backends import execution_context
from tffl.backends import lowered_execution
from tffl.core import context_stack
from tffl.executors import executor_stacks
from tffl.executors import secure_aggregation as secure_aggregation_lib


def create_context(
    num_clients: Optional[int] = None,
    max_concurrency: Optional[int] = None,
    asynchronous: bool = False,
    secure_aggregation: Optional[secure_aggregation_lib.SecureAggregationConfig] = None,
    lowering: bool = True,
) -> context_stack.Context:
    """A local execution context.

    Args:
      num_clients: clients to use when the arguments do not say (for a computation
        whose CLIENTS values all come from broadcasts, evals or federated_value).
      max_concurrency: how many clients' work may run at once (default: CPU cores).
      asynchronous: return coroutines to `await` instead of results.
      secure_aggregation: how secure sums simulate dropped clients, and how many
        must survive (`tffl.executors.secure_aggregation.SecureAggregationConfig`;
        default: none drop).
      lowering: run a computation that lowers (`tffl.compiler.lowering`: broadcast,
        map, sum, mean, aggregate and zip over TensorFlow computations) as one
        TensorFlow function over a client axis; False always uses the executors.
    """
    factory = executor_stacks.LocalExecutorFactory(max_concurrency, secure_aggregation)
    lowered = lowered_execution.LoweredRunner() if lowering else None
    if asynchronous:
        return execution_context.AsyncExecutionContext(factory, num_clients, lowered)
    return execution_context.ExecutionContext(factory, num_clients, lowered)


def set_context(
    num_clients: Optional[int] = None,
    max_concurrency: Optional[int] = None,
    asynchronous: bool = False,
    secure_aggregation: Optional[secure_aggregation_lib.SecureAggregationConfig] = None,
    lowering: bool = True,
) -> None:
    """Makes a local context (see `create_context`) the default one."""
    context_stack.set_default_context(
        create_context(num_clients, max_concurrency, asynchronous, secure_aggregation, lowering)
    )
