"""Norms, clipping and zeroing of nested structures of tensors.

Norms are global (over every leaf of a structure, as one vector) and computed in
float32, whatever the leaves' dtypes (integers are cast), which is the dtype of
clipping and zeroing thresholds in tffl's aggregators.
"""

from __future__ import annotations

from typing import Any
from typing import Tuple

import numpy as np
import tensorflow as tf

from tffl_ops import structure as structure_lib

NORM_DTYPE = tf.float32


def _leaves_as_norm_dtype(value: Any):
    leaves = structure_lib.flatten(value)
    return [tf.cast(tf.convert_to_tensor(leaf), NORM_DTYPE) for leaf in leaves]


def global_l2_norm(value: Any) -> tf.Tensor:
    """The L2 norm of all leaves of `value` taken together, as a float32 scalar.

    >>> float(global_l2_norm([tf.constant([3.0]), {"b": tf.constant(4)}]))
    5.0
    """
    squares = [tf.reduce_sum(tf.square(leaf)) for leaf in _leaves_as_norm_dtype(value)]
    if not squares:
        return tf.constant(0.0, NORM_DTYPE)
    return tf.sqrt(tf.add_n(squares))


def global_l1_norm(value: Any) -> tf.Tensor:
    """The sum of the absolute values of all leaves of `value`, as a float32 scalar.

    >>> float(global_l1_norm([tf.constant([3.0, -1.0]), tf.constant(-4)]))
    8.0
    """
    sums = [tf.reduce_sum(tf.abs(leaf)) for leaf in _leaves_as_norm_dtype(value)]
    if not sums:
        return tf.constant(0.0, NORM_DTYPE)
    return tf.add_n(sums)


def global_inf_norm(value: Any) -> tf.Tensor:
    """The largest absolute value among all leaves of `value` (0 when it has none).

    >>> float(global_inf_norm([tf.constant([3.0, -7.0]), tf.constant(4)]))
    7.0
    """
    maxima = [tf.reduce_max(tf.abs(tf.reshape(leaf, [-1]))) for leaf in _nonempty(value)]
    if not maxima:
        return tf.constant(0.0, NORM_DTYPE)
    return tf.reduce_max(tf.stack(maxima))


def _nonempty(value: Any):
    """The leaves of `value` as float32, leaving out those with no elements."""
    return [leaf for leaf in _leaves_as_norm_dtype(value) if leaf.shape.num_elements() != 0]


def global_norm(value: Any, order: float = 2.0) -> tf.Tensor:
    """The global norm of `value` of order 1, 2 or infinity, as a float32 scalar.

    Raises:
      ValueError: for any other order.

    >>> float(global_norm([tf.constant([3.0, -4.0])], order=np.inf))
    4.0
    """
    if order == 1.0:
        return global_l1_norm(value)
    if order == 2.0:
        return global_l2_norm(value)
    if order == np.inf:
        return global_inf_norm(value)
    raise ValueError(f"global_norm: expected order 1.0, 2.0 or inf, got {order}")


def clip_by_global_l2_norm(value: Any, clip_norm: Any) -> Tuple[Any, tf.Tensor]:
    """Scales `value` so that its global L2 norm is at most `clip_norm`.

    Every leaf is multiplied by `min(1, clip_norm / norm)`: a value within the
    bound (a zero value included) comes back unchanged, bit for bit. A negative
    `clip_norm` acts as 0. The leaves must be floating point.

    Returns:
      The clipped value (same containers) and the global L2 norm before clipping.

    Raises:
      TypeError: if a leaf is not floating point.

    >>> clipped, norm = clip_by_global_l2_norm([tf.constant([6.0, 8.0])], 5.0)
    >>> clipped[0].numpy().tolist(), float(norm)
    ([3.0, 4.0], 10.0)
    """
    for leaf in structure_lib.flatten(value):
        dtype = tf.convert_to_tensor(leaf).dtype
        if not dtype.is_floating:
            raise TypeError(f"clip_by_global_l2_norm: expected floating-point leaves, got {dtype}")
    norm = global_l2_norm(value)
    clip_norm = tf.maximum(tf.cast(clip_norm, NORM_DTYPE), 0.0)
    # tf.where drops the unselected quotient, which is inf or NaN for a zero norm.
    scale = tf.where(norm > clip_norm, clip_norm / norm, 1.0)
    clipped = structure_lib.map_structure(lambda leaf: leaf * tf.cast(scale, leaf.dtype), value)
    return clipped, norm


def any_non_finite(value: Any) -> tf.Tensor:
    """Whether any floating-point leaf of `value` holds a NaN or an infinity.

    >>> bool(any_non_finite([tf.constant([1.0, float("nan")]), tf.constant(2)]))
    True
    """
    flags = []
    for leaf in structure_lib.flatten(value):
        leaf = tf.convert_to_tensor(leaf)
        if leaf.dtype.is_floating:
            flags.append(tf.reduce_any(tf.logical_not(tf.math.is_finite(leaf))))
    if not flags:
        return tf.constant(False)
    return tf.reduce_any(tf.stack(flags))


def zero_if(condition: Any, value: Any) -> Any:
    """`value` with every leaf replaced by zeros where the scalar `condition` holds.

    A select, not arithmetic: NaN and infinite leaves become exact zeros too.

    >>> zero_if(tf.constant(True), [tf.constant([1.0, float("nan")])])[0].numpy().tolist()
    [0.0, 0.0]
    """
    return structure_lib.map_structure(
        lambda leaf: tf.where(condition, tf.zeros_like(leaf), leaf), value
    )
