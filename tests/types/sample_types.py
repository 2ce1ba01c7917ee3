"""The type builders and one-of-every-kind sample types the computation_types tests share."""

import collections

import numpy as np
import pytest

from tffl.types import computation_types
from tffl.types import placements

# Record containers live at module level so that pickling finds them by name.
Point = collections.namedtuple("Point", ["x", "y"])


def make_tensor(dtype, shape=()):
    return computation_types.TensorType(dtype, shape)


def make_struct(elements, container=None):
    return computation_types.StructType(elements, container=container)


def make_clients(member, all_equal=None):
    return computation_types.FederatedType(member, placements.CLIENTS, all_equal)


def make_server(member, all_equal=None):
    return computation_types.FederatedType(member, placements.SERVER, all_equal)


def make_function(parameter, result):
    return computation_types.FunctionType(parameter, result)


def make_sequence(element):
    return computation_types.SequenceType(element)


# One or more of every kind of type, for properties that must hold for all of them.
ALL_KINDS = [
    pytest.param(make_tensor(np.float32), id="scalar"),
    pytest.param(make_tensor(np.int32, [10]), id="vector"),
    pytest.param(make_tensor(np.float32, [None, 784]), id="partly_known_shape"),
    pytest.param(make_tensor(np.float32, None), id="unknown_rank"),
    pytest.param(make_struct([]), id="empty_struct"),
    pytest.param(make_struct([("a", np.int32), ("b", np.float32)]), id="named_struct"),
    pytest.param(make_struct([np.int32, np.float32]), id="unnamed_struct"),
    pytest.param(
        make_struct([("a", np.int32)], container=collections.OrderedDict), id="ordered_dict"
    ),
    pytest.param(make_struct([("x", np.int32), ("y", np.int32)], container=Point), id="namedtuple"),
    pytest.param(make_sequence(np.int32), id="sequence"),
    pytest.param(make_function(np.int32, np.float32), id="function"),
    pytest.param(make_function(None, np.int32), id="function_of_nothing"),
    pytest.param(make_clients(np.float32), id="clients"),
    pytest.param(make_clients(np.float32, all_equal=True), id="clients_all_equal"),
    pytest.param(make_server(np.float32), id="server"),
    pytest.param(computation_types.PlacementType(), id="placement"),
    pytest.param(computation_types.AbstractType("T"), id="abstract"),
]
