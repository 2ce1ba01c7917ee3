"""`EncodedSumFactory`: clients send their values encoded (quantized, sparsified); the sum decodes.

Each tensor of a client's value is encoded on the client by a `TensorEncoding`
chosen per tensor by an `encoder_fn` (as in TFF): uniform quantization, top-k
sparsification, or none. What leaves the client is the encoded form only; the
sum is a `federated_aggregate` whose `accumulate` decodes each client's message
and adds it to the running total, so decoding happens inside the aggregation, on
the server side, never at the clients. Measurements report the bytes one client
sends per round, encoded and raw, read from the types of the encoded tensors.

Randomness is stateless and seeded, so a run is reproducible. The state is a
round counter, broadcast each round; a client's seed is
`[seed, round]` with a 64-bit fingerprint of each of its value's tensors folded in
(`tf.random.experimental.stateless_fold_in`), and tensor `i` uses that seed with
`i` folded in. Seeds therefore differ between rounds and between clients whose
values differ; clients holding identical values in one round draw the same
rounding (each is still unbiased). An encoding whose decoding needs the seed (a
Hadamard rotation's signs) sends it along: 16 bytes per client.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
from typing import Any
from typing import Callable
from typing import List
from typing import Tuple

import numpy as np
import tensorflow as tf

from tffl.aggregators import factory
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.templates import aggregation_process
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements
from tffl.types import type_conversions
from tffl.types import type_errors
from tffl_ops import hadamard as hadamard_lib
from tffl_ops import quantization
from tffl_ops import sparsification
from tffl_ops import structure

_ROUND_TYPE = computation_types.TensorType(np.int64)
_STATIC_FLOATS = "a float tensor with a fully defined shape, or a (nested) struct of them"


class TensorEncoding(abc.ABC):
    """How one float tensor travels from a client: encoded there, decoded in the aggregation."""

    decode_needs_seed: bool = False

    @abc.abstractmethod
    def encode(self, value: tf.Tensor, seed: tf.Tensor) -> Any:
        """The tensor, or (named) tuple of tensors, that the client sends for `value`.

        Args:
          value: a float tensor with a fully defined shape.
          seed: a shape [2] int64 tensor, different for each client, round and tensor.
        """

    @abc.abstractmethod
    def decode(self, encoded: Any, seed: tf.Tensor, spec: tf.TensorSpec) -> tf.Tensor:
        """The tensor of `spec` that `encoded` stands for.

        `seed` is the one given to `encode` when `decode_needs_seed` (the client
        sends it), else None.
        """


@dataclasses.dataclass(frozen=True)
class PlainEncoding(TensorEncoding):
    """Sends the tensor unchanged."""

    def encode(self, value: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        del seed  # Nothing random.
        return value

    def decode(self, encoded: tf.Tensor, seed: tf.Tensor, spec: tf.TensorSpec) -> tf.Tensor:
        del seed, spec  # The tensor itself.
        return encoded


@dataclasses.dataclass(frozen=True)
class UniformQuantizationEncoding(TensorEncoding):
    """Unbiased stochastic quantization to `bits` bits, after a random Hadamard rotation if asked.

    Sends `<codes,minimum,maximum>` (`tffl_ops.quantization`); with `hadamard`,
    the codes are of the rotated vector, zero-padded to a power of two
    (`tffl_ops.hadamard`), and decoding needs the client's seed.
    """

    bits: int = 8
    hadamard: bool = False

    def __post_init__(self):
        quantization.check_bits(self.bits, "UniformQuantizationEncoding bits")

    @property
    def decode_needs_seed(self) -> bool:
        return self.hadamard

    def encode(self, value: tf.Tensor, seed: tf.Tensor) -> quantization.QuantizedTensor:
        rounding_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        if self.hadamard:
            value = hadamard_lib.rotate(value, tf.random.experimental.stateless_fold_in(seed, 0))
        return quantization.quantize(value, self.bits, rounding_seed)

    def decode(
        self, encoded: quantization.QuantizedTensor, seed: tf.Tensor, spec: tf.TensorSpec
    ) -> tf.Tensor:
        decoded = quantization.dequantize(quantization.QuantizedTensor(*encoded), self.bits)
        if self.hadamard:
            rotation_seed = tf.random.experimental.stateless_fold_in(seed, 0)
            return hadamard_lib.unrotate(decoded, rotation_seed, spec.shape.as_list())
        return decoded


@dataclasses.dataclass(frozen=True)
class TopKEncoding(TensorEncoding):
    """Sends the `k` largest elements by magnitude (a count or a fraction) as `<indices,values>`.

    Biased: the other elements are dropped. Error feedback would need a residual
    kept on each client between rounds, which clients here do not keep; see
    `tffl_ops.sparsification.top_k_with_error_feedback`.
    """

    k: sparsification.Count = 0.1

    def __post_init__(self):
        sparsification.kept_count(1, self.k)  # Checks the kind and range of k.

    def encode(self, value: tf.Tensor, seed: tf.Tensor) -> sparsification.TopKValues:
        del seed  # Nothing random.
        return sparsification.top_k(value, self.k)

    def decode(
        self, encoded: sparsification.TopKValues, seed: tf.Tensor, spec: tf.TensorSpec
    ) -> tf.Tensor:
        del seed  # Nothing random.
        return sparsification.densify(sparsification.TopKValues(*encoded), spec.shape.as_list())


EncoderFn = Callable[[tf.TensorSpec], TensorEncoding]


def _above_threshold(encoding: TensorEncoding, threshold: int) -> EncoderFn:
    """Encodes tensors of more than `threshold` elements with `encoding`, sends the rest plain."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"EncodedSumFactory threshold: expected an int >= 0, got {threshold!r}")

    def encoder_fn(spec: tf.TensorSpec) -> TensorEncoding:
        if spec.shape.num_elements() > threshold:
            return encoding
        return PlainEncoding()

    return encoder_fn


def _tensor_types(type_spec: computation_types.Type) -> List[computation_types.TensorType]:
    """The tensor types of a (nested) struct type, depth first, in order."""
    if isinstance(type_spec, computation_types.TensorType):
        return [type_spec]
    return [leaf for element in type_spec for leaf in _tensor_types(element)]


def _num_bytes(type_spec: computation_types.Type) -> int:
    """The bytes the tensors of a (nested) struct type hold: elements times dtype size."""
    return sum(
        int(np.prod(leaf.shape, dtype=np.int64)) * leaf.dtype.size
        for leaf in _tensor_types(type_spec)
    )


def _fingerprint(tensor: tf.Tensor) -> tf.Tensor:
    """A 64-bit fingerprint (farmhash) of a tensor's bytes, as an int64 scalar."""
    return tf.bitcast(tf.fingerprint(tf.reshape(tensor, [1, -1]))[0], tf.int64)


def _client_seed(seed: int, round_number: tf.Tensor, leaves: List[tf.Tensor]) -> tf.Tensor:
    """`[seed, round]` with each leaf's fingerprint folded in: one seed per client and round."""
    client_seed = tf.stack([tf.constant(seed, tf.int64), round_number])
    for leaf in leaves:
        client_seed = tf.random.experimental.stateless_fold_in(client_seed, _fingerprint(leaf))
    return client_seed


def _leaf_seed(client_seed: tf.Tensor, index: int) -> tf.Tensor:
    return tf.random.experimental.stateless_fold_in(client_seed, index)


class EncodedSumFactory(factory.UnweightedAggregationFactory):
    """The sum of client values that each client sends encoded, tensor by tensor.

    The process: `initialize: ( -> <round=int64>@SERVER)` and `next:
    (<state=<round=int64>@SERVER,value={V}@CLIENTS> -> <state=<round=int64>@SERVER,
    result=V@SERVER,measurements=<encoded_bytes_per_client=int64,
    raw_bytes_per_client=int64>@SERVER>)`. `V` is a float tensor or a (nested)
    struct of them, with fully defined shapes. The bytes count every tensor a
    client sends (codes, ranges, indices, seed), at its dtype's size: codes of
    fewer than 8 bits still take a byte each, as they are not bit-packed.

    Args:
      encoder_fn: maps each tensor's `tf.TensorSpec` to the `TensorEncoding` it
        travels with.
      seed: the base of the stateless seeds (see the module docstring).

    Raises:
      TypeError: if `encoder_fn` is not callable or `seed` not an int.

    >>> import numpy as np, tffl
    >>> process = EncodedSumFactory.quantize_uniform(bits=8).create((np.float32, [1000]))
    >>> output = process.next(process.initialize(), [np.ones(1000), np.zeros(1000)])
    >>> float(output.result.sum()), dict(output.measurements)
    (1000.0, {'encoded_bytes_per_client': 1008, 'raw_bytes_per_client': 4000})
    """

    def __init__(self, encoder_fn: EncoderFn, seed: int = 0):
        if not callable(encoder_fn):
            kind = type(encoder_fn).__name__
            raise TypeError(f"EncodedSumFactory encoder_fn: expected a callable, got {kind}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"EncodedSumFactory seed: expected an int, got {seed!r}")
        self._encoder_fn = encoder_fn
        self._seed = seed

    @classmethod
    def quantize_uniform(
        cls, bits: int = 8, hadamard: bool = False, threshold: int = 0, seed: int = 0
    ) -> "EncodedSumFactory":
        """Quantizes each tensor of more than `threshold` elements to `bits` bits.

        Args:
          bits: bits per element, 1 to 16 (uint8 codes up to 8, int32 above).
          hadamard: whether to rotate each tensor at random first (Suresh et al.,
            2017), which narrows its range at the cost of padding to a power of two.
          threshold: tensors with at most this many elements are sent plain.
          seed: the base of the stateless seeds.

        Raises:
          TypeError, ValueError: if an argument is of the wrong kind or range.
        """
        encoding = UniformQuantizationEncoding(bits, bool(hadamard))
        return cls(_above_threshold(encoding, threshold), seed)

    @classmethod
    def quantize_above_threshold(
        cls, quantization_bits: int = 8, threshold: int = 20000, seed: int = 0
    ) -> "EncodedSumFactory":
        """TFF's name: `quantize_uniform(quantization_bits, threshold=threshold)`."""
        return cls.quantize_uniform(quantization_bits, threshold=threshold, seed=seed)

    @classmethod
    def top_k(cls, k_fraction: float = 0.1, threshold: int = 0) -> "EncodedSumFactory":
        """Sends the `k_fraction` largest elements (by magnitude) of each tensor above `threshold`.

        Biased, and without error feedback: see `TopKEncoding`.

        Raises:
          TypeError, ValueError: if an argument is of the wrong kind or range.
        """
        if isinstance(k_fraction, int):
            raise TypeError(
                f"EncodedSumFactory.top_k k_fraction: expected a float in (0, 1], got {k_fraction}"
            )
        return cls(_above_threshold(TopKEncoding(k_fraction), threshold))

    def _encodings(self, value_type: computation_types.Type) -> List[TensorEncoding]:
        encodings = []
        for leaf in _tensor_types(value_type):
            encoding = self._encoder_fn(tf.TensorSpec(leaf.shape, leaf.dtype))
            if not isinstance(encoding, TensorEncoding):
                raise TypeError(
                    "EncodedSumFactory encoder_fn: expected a TensorEncoding, "
                    f"got {type(encoding).__name__} for {leaf}"
                )
            encodings.append(encoding)
        return encodings

    def create(self, value_type: Any) -> aggregation_process.AggregationProcess:
        """The encoded-sum process for CLIENTS values of `value_type`.

        Raises:
          TypeMismatchError: if `value_type` is not a float tensor with a fully
            defined shape, or a (nested) struct of them.
          TypeError: if `encoder_fn` returns something other than a `TensorEncoding`.
        """
        context = "EncodedSumFactory.create value_type"
        value_type = factory.check_value_type(value_type, context, floats_only=True)
        leaf_types = _tensor_types(value_type)
        if not all(leaf.is_fully_defined() for leaf in leaf_types):
            raise type_errors.TypeMismatchError(_STATIC_FLOATS, value_type, context)
        specs = [tf.TensorSpec(leaf.shape, leaf.dtype) for leaf in leaf_types]
        encodings = self._encodings(value_type)
        send_seed = any(encoding.decode_needs_seed for encoding in encodings)
        encode_fn, accumulate_fn, merge_fn, report_fn, zeros_fn = _computations(
            value_type, specs, encodings, send_seed, self._seed
        )
        measurements = collections.OrderedDict(
            encoded_bytes_per_client=np.int64(_num_bytes(encode_fn.type_signature.result)),
            raw_bytes_per_client=np.int64(_num_bytes(value_type)),
        )

        @tensorflow_computation.tf_computation(_ROUND_TYPE)
        def increment(round_number):
            return round_number + 1

        @federated_computation.federated_computation()
        def init_fn():
            return intrinsics.federated_value(
                collections.OrderedDict(round=np.int64(0)), placements.SERVER
            )

        @federated_computation.federated_computation(
            init_fn.type_signature.result,
            computation_types.FederatedType(value_type, placements.CLIENTS),
        )
        def next_fn(state, value):
            round_number = state.round
            encoded = intrinsics.federated_map(
                encode_fn, (value, intrinsics.federated_broadcast(round_number))
            )
            total = intrinsics.federated_aggregate(
                encoded, zeros_fn(), accumulate_fn, merge_fn, report_fn
            )
            new_state = intrinsics.federated_zip(
                collections.OrderedDict(round=intrinsics.federated_map(increment, round_number))
            )
            return measured_process.MeasuredProcessOutput(
                state=new_state,
                result=total,
                measurements=intrinsics.federated_value(measurements, placements.SERVER),
            )

        return aggregation_process.AggregationProcess(init_fn, next_fn)


def _computations(
    value_type: computation_types.Type,
    specs: List[tf.TensorSpec],
    encodings: List[TensorEncoding],
    send_seed: bool,
    seed: int,
) -> Tuple[Any, ...]:
    """The client encoding and the aggregation's zero, accumulate, merge and report."""

    def encode(value, round_number):
        leaves = structure.flatten(value)
        client_seed = _client_seed(seed, round_number, leaves)
        message = collections.OrderedDict(
            encoded=tuple(
                encoding.encode(leaf, _leaf_seed(client_seed, index))
                for index, (encoding, leaf) in enumerate(zip(encodings, leaves))
            )
        )
        if send_seed:
            message["seed"] = client_seed
        return message

    encode_fn = tensorflow_computation.tf_computation(encode, value_type, _ROUND_TYPE)
    message_type = encode_fn.type_signature.result

    def accumulate(total, message):
        client_seed = message["seed"] if send_seed else None
        decoded = [
            encoding.decode(
                encoded, None if client_seed is None else _leaf_seed(client_seed, index), spec
            )
            for index, (encoding, encoded, spec) in enumerate(
                zip(encodings, message["encoded"], specs)
            )
        ]
        return structure.pack_as(total, [a + b for a, b in zip(structure.flatten(total), decoded)])

    def merge(first, second):
        return structure.map_structure(tf.add, first, second)

    def report(total):
        return structure.map_structure(tf.identity, total)

    def zeros():
        return _zeros(value_type)

    return (
        encode_fn,
        tensorflow_computation.tf_computation(accumulate, value_type, message_type),
        tensorflow_computation.tf_computation(merge, value_type, value_type),
        tensorflow_computation.tf_computation(report, value_type),
        tensorflow_computation.tf_computation(zeros),
    )


def _zeros(type_spec: computation_types.Type) -> Any:
    """Zero tensors of `type_spec`, in the containers it remembers."""
    if isinstance(type_spec, computation_types.TensorType):
        return tf.zeros(type_spec.shape, type_spec.dtype)
    return type_conversions.to_container([_zeros(element) for element in type_spec], type_spec)
