"""One small program per intrinsic, with arguments, for conformance suites.

Every context must give the same results on these (the local one is the
reference). Values are integers or exactly representable floats, so results do
not depend on the order in which a context adds clients. `CASES` maps each
intrinsic definition to its programs; a test checks that none is missing.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import NamedTuple
from typing import Optional

import numpy as np
import tensorflow as tf

from tffl.compiler import intrinsic_defs as defs
from tffl.core import computation_impl
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.types import computation_types
from tffl.types import placements

_F = computation_types.FederatedType
_C = placements.CLIENTS
_S = placements.SERVER
_OD = collections.OrderedDict
_INTS = computation_types.SequenceType(np.int32)


class Case(NamedTuple):
    """A program, the arguments to call it with, and the clients it needs.

    Attributes:
      name: a readable test id.
      build: traces the program.
      args: positional arguments of the call.
      num_clients: the context's number of clients, for programs whose CLIENTS
        values do not come from the arguments.
    """

    name: str
    build: Callable[[], computation_impl.ConcreteComputation]
    args: tuple = ()
    num_clients: Optional[int] = None


def _tf(*types):
    return lambda fn: tensorflow_computation.tf_computation(fn, *types)


def _fc(*types):
    return lambda fn: federated_computation.federated_computation(fn, *types)


@_tf(np.float32)
def _add_half(x):
    return x + 0.5


@_tf(np.int32)
def _double(x):
    return x * 2


@_tf(np.int32, np.int32)
def _add_ints(a, b):
    return a + b


def _broadcast():
    @_fc(_F(np.float32, _S))
    def program(value):
        broadcast = intrinsics.federated_broadcast(value)
        return broadcast, intrinsics.federated_map(_add_half, broadcast)

    return program


def _map():
    @_fc(_F(np.int32, _C))
    def program(values):
        return intrinsics.federated_map(_double, values)

    return program


def _map_lambda_with_sequences():
    @_fc(_F(_INTS, _C))
    def program(data):
        return intrinsics.federated_map(
            lambda d: intrinsics.sequence_reduce(d, np.int32(0), _add_ints), data
        )

    return program


def _apply():
    @_fc(_F(np.int32, _S))
    def program(value):
        return intrinsics.federated_map(_double, value)

    return program


def _sum():
    member = _OD(a=np.int32, b=(np.float32, [2]))

    @_fc(_F(member, _C))
    def program(values):
        return intrinsics.federated_sum(values)

    return program


def _mean():
    @_fc(_F(np.float32, _C))
    def program(values):
        return intrinsics.federated_mean(values)

    return program


def _weighted_mean():
    member = _OD(a=np.float32, b=(np.float64, [2]))

    @_fc(_F(member, _C), _F(np.int32, _C))
    def program(values, weights):
        return intrinsics.federated_mean(values, weight=weights)

    return program


_ACCUMULATOR = computation_types.to_type((np.float32, np.int32))


@_tf(_ACCUMULATOR, np.float32)
def _accumulate(total, value):
    return (total[0] + value, total[1] + 1)


@_tf(_ACCUMULATOR, _ACCUMULATOR)
def _merge(a, b):
    return (a[0] + b[0], a[1] + b[1])


@_tf(_ACCUMULATOR)
def _report(total):
    return total[0] / tf.cast(total[1], tf.float32)


def _aggregate():
    @_fc(_F(np.float32, _C))
    def program(values):
        zero = (np.float32(0.0), np.int32(0))
        return intrinsics.federated_aggregate(values, zero, _accumulate, _merge, _report)

    return program


def _zip_at_clients():
    @_fc(_F(np.int32, _C), _F(np.float32, _C))
    def program(a, b):
        return intrinsics.federated_zip(_OD(a=a, b=b))

    return program


def _zip_at_server():
    @_fc(_F(np.int32, _S), _F(np.float32, _S))
    def program(a, b):
        return intrinsics.federated_zip((a, b))

    return program


def _value_at_clients():
    @_fc()
    def program():
        at_clients = intrinsics.federated_value(np.int32(3), _C)
        return at_clients, intrinsics.federated_sum(at_clients)

    return program


def _value_at_server():
    @_fc()
    def program():
        return intrinsics.federated_value(np.float32(1.5), _S)

    return program


@_tf()
def _seven():
    return np.int32(7)


def _eval_at_clients():
    @_fc()
    def program():
        return intrinsics.federated_eval(_seven, _C)

    return program


def _eval_at_server():
    @_fc()
    def program():
        return intrinsics.federated_eval(_seven, _S)

    return program


_SERVER_VALUES = computation_types.TensorType(np.float32, [5])


@_tf(_SERVER_VALUES, np.int32)
def _pick(values, key):
    return values[key]


def _select():
    @_fc(_F(computation_types.TensorType(np.int32, [None]), _C), _F(_SERVER_VALUES, _S))
    def program(keys, values):
        max_key = intrinsics.federated_value(np.int32(5), _S)
        return intrinsics.federated_select(keys, max_key, values, _pick)

    return program


def _secure_sum():
    @_fc(_F((np.int32, np.int64), _C))
    def program(values):
        return intrinsics.federated_secure_sum(values, (9, 1000))

    return program


def _secure_sum_bitwidth():
    @_fc(_F((np.int32, np.int32), _C))
    def program(values):
        return intrinsics.federated_secure_sum_bitwidth(values, (4, 8))

    return program


def _secure_modular_sum():
    @_fc(_F(np.int32, _C))
    def program(values):
        return intrinsics.federated_secure_modular_sum(values, 5)

    return program


def _sequence_operators():
    @_fc(_INTS)
    def program(values):
        return (
            intrinsics.sequence_map(_double, values),
            intrinsics.sequence_reduce(values, np.int32(0), _add_ints),
            intrinsics.sequence_sum(values),
        )

    return program


def _sequence_operators_at_clients():
    @_fc(_F(_INTS, _C))
    def program(values):
        return (
            intrinsics.sequence_map(_double, values),
            intrinsics.sequence_reduce(values, np.int32(0), _add_ints),
            intrinsics.sequence_sum(values),
        )

    return program


def _floats(count: int) -> List[float]:
    return [float(i) * 0.5 for i in range(count)]


def _sequences(count: int) -> List[List[int]]:
    return [list(range(i % 4)) for i in range(count)]


def cases(num_clients: int = 7) -> Dict[defs.IntrinsicDef, List[Case]]:
    """The programs of every intrinsic, with arguments for `num_clients` clients."""
    n = num_clients
    sequences = [Case("sequences", _sequence_operators, ([1, 2, 3, 4],))]
    return {
        defs.FEDERATED_BROADCAST: [Case("broadcast", _broadcast, (2.5,), n)],
        defs.FEDERATED_MAP: [
            Case("map", _map, (list(range(n)),)),
            Case("map_lambda", _map_lambda_with_sequences, (_sequences(n),)),
        ],
        defs.FEDERATED_APPLY: [Case("apply", _apply, (21,))],
        defs.FEDERATED_SUM: [
            Case("sum", _sum, ([_OD(a=i, b=[i * 0.5, -i]) for i in range(n)],)),
        ],
        defs.FEDERATED_MEAN: [Case("mean", _mean, (_floats(n),))],
        defs.FEDERATED_WEIGHTED_MEAN: [
            Case(
                "weighted_mean",
                _weighted_mean,
                (
                    [_OD(a=i * 1.0, b=[i * 2.0, 1.0]) for i in range(n)],
                    [1 + i % 3 for i in range(n)],
                ),
            )
        ],
        defs.FEDERATED_AGGREGATE: [Case("aggregate", _aggregate, (_floats(n),))],
        defs.FEDERATED_ZIP_AT_CLIENTS: [
            Case("zip_at_clients", _zip_at_clients, (list(range(n)), _floats(n)))
        ],
        defs.FEDERATED_ZIP_AT_SERVER: [Case("zip_at_server", _zip_at_server, (3, 0.25))],
        defs.FEDERATED_VALUE_AT_CLIENTS: [Case("value_at_clients", _value_at_clients, (), n)],
        defs.FEDERATED_VALUE_AT_SERVER: [Case("value_at_server", _value_at_server)],
        defs.FEDERATED_EVAL_AT_CLIENTS: [Case("eval_at_clients", _eval_at_clients, (), n)],
        defs.FEDERATED_EVAL_AT_SERVER: [Case("eval_at_server", _eval_at_server)],
        defs.FEDERATED_SELECT: [
            Case(
                "select",
                _select,
                ([[i % 5, (i + 2) % 5][: i % 3] for i in range(n)], [10.0, 11.0, 12.0, 13.0, 14.0]),
            )
        ],
        defs.FEDERATED_SECURE_SUM: [
            Case(
                "secure_sum", _secure_sum, ([(9 - i % 10, 1000 - 7 * i % 1001) for i in range(n)],)
            )
        ],
        defs.FEDERATED_SECURE_SUM_BITWIDTH: [
            Case(
                "secure_sum_bitwidth",
                _secure_sum_bitwidth,
                ([(i % 16, 3 * i % 256) for i in range(n)],),
            )
        ],
        defs.FEDERATED_SECURE_MODULAR_SUM: [
            Case("secure_modular_sum", _secure_modular_sum, ([i % 5 for i in range(n)],))
        ],
        defs.SEQUENCE_MAP: sequences
        + [Case("sequences_at_clients", _sequence_operators_at_clients, (_sequences(n),))],
        defs.SEQUENCE_REDUCE: sequences,
        defs.SEQUENCE_SUM: sequences,
    }


def all_cases(num_clients: int = 7) -> List[Case]:
    """Every distinct case of `cases`, once each."""
    seen: Dict[str, Case] = {}
    for found in cases(num_clients).values():
        for case in found:
            seen.setdefault(case.name, case)
    return list(seen.values())


def call(case: Case) -> Any:
    """Traces the case's program and calls it in the current context."""
    return case.build()(*case.args)
