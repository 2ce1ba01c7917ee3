"""The shorthands, records and computations the federating executor tests share."""

import collections

import numpy as np

import tffl

C = tffl.CLIENTS
S = tffl.SERVER
F = tffl.FederatedType
OD = collections.OrderedDict

Reading = collections.namedtuple("Reading", ["celsius", "count"])


@tffl.tf_computation(np.float32, np.float32)
def add(a, b):
    return a + b
