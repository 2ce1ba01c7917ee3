"""Top-k sparsification: keep a tensor's k largest elements by magnitude, with error feedback.

`top_k` sends the flat indices (int32) and the values of the `k` elements of
largest absolute value; `densify` puts them back into zeros. Dropping the rest is
biased; error feedback (Stich et al., 2018, "Sparsified SGD with Memory",
https://arxiv.org/abs/1809.07599) carries what was dropped, `x - densify(top_k(x))`,
into the next round's value, so that every element is sent eventually:
`top_k_with_error_feedback(value, residual, k) -> (encoded, new_residual)`
is a pure function, and the caller keeps the residual between rounds.
"""

from __future__ import annotations

from typing import NamedTuple
from typing import Sequence
from typing import Tuple
from typing import Union

import numpy as np
import tensorflow as tf

Count = Union[int, float]


class TopKValues(NamedTuple):
    """The kept elements of a tensor: flat int32 `indices` and their `values`."""

    indices: tf.Tensor
    values: tf.Tensor


def kept_count(num_elements: int, k: Count) -> int:
    """How many elements `k` keeps of `num_elements`.

    An int `k` is a count (at most `num_elements`); a float is a fraction in
    (0, 1], rounded to the nearest count and at least 1 (0 for an empty tensor).

    Raises:
      TypeError: if `k` is neither an int nor a float.
      ValueError: if a count is below 1 or a fraction outside (0, 1].

    >>> kept_count(640, 0.1), kept_count(10, 0.01), kept_count(10, 64)
    (64, 1, 10)
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.integer, np.floating)):
        raise TypeError(f"kept_count k: expected an int count or a float fraction, got {k!r}")
    if isinstance(k, (int, np.integer)):
        if k < 1:
            raise ValueError(f"kept_count k: expected a count of at least 1, got {k}")
        return min(int(k), num_elements)
    if not 0.0 < k <= 1.0:
        raise ValueError(f"kept_count k: expected a fraction in (0, 1], got {k}")
    return min(num_elements, max(1, int(np.floor(k * num_elements + 0.5))))


def top_k(value: tf.Tensor, k: Count) -> TopKValues:
    """The `k` elements of `value` of largest magnitude, by flat index, largest first.

    Ties keep the lower index. The shape of `value` must be fully defined.

    >>> kept = top_k(tf.constant([[0.5, -3.0], [2.0, 1.0]]), 2)
    >>> kept.indices.numpy().tolist(), kept.values.numpy().tolist()
    ([1, 2], [-3.0, 2.0])
    """
    value = tf.convert_to_tensor(value)
    if not value.shape.is_fully_defined():
        raise ValueError(f"top_k: expected a fully defined shape, got {value.shape}")
    flat = tf.reshape(value, [-1])
    count = kept_count(value.shape.num_elements(), k)
    _, indices = tf.math.top_k(tf.abs(flat), count, sorted=True)
    return TopKValues(indices, tf.gather(flat, indices))


def densify(kept: TopKValues, shape: Sequence[int]) -> tf.Tensor:
    """A tensor of `shape` holding `kept.values` at `kept.indices` and zeros elsewhere.

    >>> densify(TopKValues(tf.constant([1, 2]), tf.constant([-3.0, 2.0])), [2, 2]).numpy().tolist()
    [[0.0, -3.0], [2.0, 0.0]]
    """
    size = int(np.prod(shape, dtype=np.int64))
    flat = tf.scatter_nd(kept.indices[:, tf.newaxis], kept.values, [size])
    return tf.reshape(flat, shape)


def top_k_with_error_feedback(
    value: tf.Tensor, residual: tf.Tensor, k: Count
) -> Tuple[TopKValues, tf.Tensor]:
    """Top-k of `value + residual`, and what it leaves out as the next residual.

    `densify(encoded) + new_residual == value + residual` exactly: the kept
    elements are sent whole and the others stay in the residual unchanged.

    Args:
      value: this round's tensor.
      residual: what earlier rounds left out (zeros at first), of `value`'s shape.
      k: a count or a fraction, as for `top_k`.

    Returns:
      `(encoded, new_residual)`.

    >>> encoded, residual = top_k_with_error_feedback(
    ...     tf.constant([1.0, 2.0, 3.0]), tf.constant([2.5, 0.0, -1.0]), 1)
    >>> encoded.indices.numpy().tolist(), residual.numpy().tolist()
    ([0], [0.0, 2.0, 2.0])
    """
    corrected = tf.convert_to_tensor(value) + residual
    encoded = top_k(corrected, k)
    return encoded, corrected - densify(encoded, corrected.shape.as_list())
