"""Random Hadamard rotation: spreads a vector's mass evenly before it is quantized.

`rotate` flattens a tensor, pads it with zeros to a power of two `n`, flips the
sign of each element at random (±1 from a stateless seed) and applies the
orthonormal Walsh–Hadamard transform `H / sqrt(n)`. The rotation preserves the
L2 norm, and afterwards every coordinate is about `norm / sqrt(n)`, so the range
a quantizer must cover shrinks from the largest element to about
`norm * sqrt(2 log n / n)` (Suresh et al., 2017, "Distributed Mean Estimation
with Limited Communication", https://arxiv.org/abs/1611.00429). `unrotate`
applies the inverse, `D H / sqrt(n)`, with the same seed.

The transform is a butterfly written with reshapes: `log2(n)` steps of `O(n)`
additions, standard TensorFlow ops only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf


def padded_size(num_elements: int) -> int:
    """The smallest power of two at least `num_elements` (1 for an empty tensor).

    >>> padded_size(640), padded_size(4096), padded_size(1)
    (1024, 4096, 1)
    """
    if num_elements <= 1:
        return 1
    return 1 << (num_elements - 1).bit_length()


def walsh_hadamard_transform(vector: tf.Tensor) -> tf.Tensor:
    """The orthonormal Walsh–Hadamard transform `H x / sqrt(n)` of a vector of length 2**m.

    `H` is Sylvester's (natural) ordering; the transform is its own inverse.

    Raises:
      ValueError: if the length is not a known power of two.

    >>> walsh_hadamard_transform(tf.constant([1.0, 0.0, 1.0, 0.0])).numpy().tolist()
    [1.0, 1.0, 0.0, 0.0]
    """
    vector = tf.convert_to_tensor(vector)
    size = vector.shape.num_elements() if vector.shape.rank == 1 else None
    if not size or size & (size - 1):
        raise ValueError(
            f"walsh_hadamard_transform: expected a vector whose length is a power of two, "
            f"got shape {vector.shape}"
        )
    half = 1
    while half < size:
        # Pairs (x[i], x[i + half]) in each block of 2 * half become (sum, difference).
        blocks = tf.reshape(vector, [size // (2 * half), 2, half])
        first, second = blocks[:, 0, :], blocks[:, 1, :]
        vector = tf.reshape(tf.stack([first + second, first - second], axis=1), [size])
        half *= 2
    return vector * tf.constant(1.0 / np.sqrt(size), vector.dtype)


def random_signs(size: int, seed: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """`size` independent ±1 values of `dtype`, a function of `seed` (shape [2] integers)."""
    bits = tf.random.stateless_uniform([size], seed, minval=0, maxval=2, dtype=tf.int32)
    return tf.cast(2 * bits - 1, dtype)


def rotate(value: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """`value` flattened, zero-padded to `padded_size`, sign-flipped and Hadamard-transformed.

    Args:
      value: a float tensor with a fully defined shape.
      seed: a shape [2] int32 or int64 tensor choosing the signs.

    Returns:
      A vector of length `padded_size(value's number of elements)`, of the same
      L2 norm as `value` (up to rounding).

    Raises:
      ValueError: if the shape of `value` is not fully defined.
    """
    value = tf.convert_to_tensor(value)
    if not value.shape.is_fully_defined():
        raise ValueError(f"rotate: expected a fully defined shape, got {value.shape}")
    size = value.shape.num_elements()
    padded = padded_size(size)
    vector = tf.pad(tf.reshape(value, [size]), [[0, padded - size]])
    return walsh_hadamard_transform(vector * random_signs(padded, seed, value.dtype))


def unrotate(rotated: tf.Tensor, seed: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
    """The inverse of `rotate`: the tensor of `shape` that `rotate(·, seed)` maps to `rotated`.

    >>> x = tf.constant([[3.0, -1.0, 2.0]])
    >>> seed = tf.constant([7, 1])
    >>> bool(tf.reduce_max(tf.abs(unrotate(rotate(x, seed), seed, [1, 3]) - x)) < 1e-6)
    True
    """
    rotated = tf.convert_to_tensor(rotated)
    padded = rotated.shape.num_elements()
    vector = walsh_hadamard_transform(rotated) * random_signs(padded, seed, rotated.dtype)
    size = int(np.prod(shape, dtype=np.int64))
    return tf.reshape(vector[:size], shape)
