"""Unbiased stochastic uniform quantization of a tensor to a few bits per element.

A tensor's range `[min, max]` is cut into `2**bits - 1` equal steps; each element
is rounded to the level below or above it, up with probability equal to its
fractional position between the two, so `E[dequantize(quantize(x))] == x` and the
error of each element is less than one step (Suresh et al., 2017, "Distributed
Mean Estimation with Limited Communication", https://arxiv.org/abs/1611.00429).
What travels is the integer codes (uint8 for at most 8 bits, int32 above) and the
two range bounds in the tensor's dtype.

The rounding is drawn with `tf.random.stateless_uniform` from an explicit seed (an
int32 or int64 vector of two elements): the same value and seed give the same
codes, in any graph. Callers derive a different seed for every client, round
and tensor (`tffl.aggregators.EncodedSumFactory` folds in a round counter and a
fingerprint of the client's value).
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

MAX_BITS = 16


class QuantizedTensor(NamedTuple):
    """A quantized tensor: codes in `[0, 2**bits - 1]`, and the range that decodes them."""

    codes: tf.Tensor
    minimum: tf.Tensor
    maximum: tf.Tensor


def check_bits(bits: int, context: str) -> int:
    """`bits`, checked to be an integer in [1, 16].

    Raises:
      TypeError: if `bits` is not an integer.
      ValueError: if it is out of range.
    """
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"{context}: expected an integer in [1, {MAX_BITS}], got {bits!r}")
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"{context}: expected an integer in [1, {MAX_BITS}], got {bits}")
    return bits


def code_dtype(bits: int) -> tf.DType:
    """The dtype of the codes of `bits`-bit quantization: uint8 up to 8 bits, else int32.

    >>> code_dtype(8).name, code_dtype(9).name
    ('uint8', 'int32')
    """
    return tf.uint8 if bits <= 8 else tf.int32


def _compute_dtype(dtype: tf.DType) -> tf.DType:
    # Positions reach 2**16 - 1, more than half precision resolves.
    return tf.float64 if dtype == tf.float64 else tf.float32


def quantize(value: tf.Tensor, bits: int, seed: tf.Tensor) -> QuantizedTensor:
    """Quantizes a float tensor to `bits` bits per element, rounding at random without bias.

    Args:
      value: a float tensor of any shape (its elements must be finite).
      bits: bits per element, 1 to 16.
      seed: a shape [2] int32 or int64 tensor; the rounding is a function of it.

    Returns:
      A `QuantizedTensor`: codes of `value`'s shape (`code_dtype(bits)`), and the
      minimum and maximum of `value` (scalars of its dtype; 0 for an empty tensor).

    Raises:
      TypeError: if `value` is not floating point or `bits` not an integer.
      ValueError: if `bits` is not in [1, 16].

    >>> q = quantize(tf.constant([0.0, 1.5, 3.0]), 2, tf.constant([0, 0]))
    >>> q.codes.numpy().tolist(), float(q.minimum), float(q.maximum)
    ([0, 1, 3], 0.0, 3.0)
    """
    bits = check_bits(bits, "quantize bits")
    value = tf.convert_to_tensor(value)
    if not value.dtype.is_floating:
        raise TypeError(f"quantize: expected a floating-point tensor, got {value.dtype.name}")
    if value.shape.num_elements() == 0:
        zero = tf.zeros([], value.dtype)
        return QuantizedTensor(tf.zeros(tf.shape(value), code_dtype(bits)), zero, zero)
    compute = _compute_dtype(value.dtype)
    minimum = tf.reduce_min(value)
    maximum = tf.reduce_max(value)
    levels = float(2**bits - 1)
    low = tf.cast(minimum, compute)
    step = (tf.cast(maximum, compute) - low) / levels
    # A constant tensor has a zero step: every element is at position 0, decoded exactly.
    position = tf.clip_by_value(
        tf.math.divide_no_nan(tf.cast(value, compute) - low, step), 0.0, levels
    )
    below = tf.floor(position)
    uniform = tf.random.stateless_uniform(tf.shape(value), seed, dtype=compute)
    rounded = below + tf.cast(uniform < position - below, compute)
    return QuantizedTensor(tf.cast(rounded, code_dtype(bits)), minimum, maximum)


def dequantize(quantized: QuantizedTensor, bits: int) -> tf.Tensor:
    """The values the codes stand for: `minimum + code * (maximum - minimum) / (2**bits - 1)`.

    Returns a tensor of the codes' shape in the dtype of `minimum`.

    >>> q = QuantizedTensor(tf.constant([0, 1, 3], tf.uint8), tf.constant(0.0), tf.constant(3.0))
    >>> dequantize(q, 2).numpy().tolist()
    [0.0, 1.0, 3.0]
    """
    bits = check_bits(bits, "dequantize bits")
    dtype = quantized.minimum.dtype
    compute = _compute_dtype(dtype)
    low = tf.cast(quantized.minimum, compute)
    step = (tf.cast(quantized.maximum, compute) - low) / float(2**bits - 1)
    return tf.cast(low + tf.cast(quantized.codes, compute) * step, dtype)
