"""Pairwise masking for secure aggregation, as TensorFlow ops.

The protocol is the masking core of Bonawitz et al. 2017, "Practical Secure
Aggregation for Privacy-Preserving Machine Learning" (CCS '17). Values are
integer tensors in `[0, modulus)`, computed on in int64.

What each party holds, for one sum over clients `0..n-1`:

- Client `i` holds its value `x_i`, one seed `s_ij` shared with each other client
  `j` (the outcome of a pairwise key agreement; `s_ij == s_ji`) and a self seed
  `b_i` known only to it. It sends the server
  `y_i = x_i + PRG(b_i) + sum_{j>i} PRG(s_ij) - sum_{j<i} PRG(s_ij)  (mod modulus)`,
  where `PRG(s)` is `tf.random.stateless_uniform(shape, seed=s, minval=0,
  maxval=modulus, dtype=tf.int64)`.
- The server holds only the masked values `y_i` of the clients that reach it (the
  survivors `S`). Each `y_i` alone is uniform on `[0, modulus)`, whatever `x_i`.
  Summing them, every pairwise mask between two survivors cancels.
- To finish, the server learns, for each dropped client `d`, its seeds `s_dj`
  (in the paper, rebuilt from secret shares the survivors hold) and removes the
  masks `PRG(s_sd)` its survivor partners added (`unmask_dropouts`); and for each
  survivor `s`, its self seed `b_s` (rebuilt the same way), whose mask it removes
  (`remove_self_masks`). It never learns both kinds of seed for one client, so a
  client that is late rather than dropped stays masked by `PRG(b_i)`.

What is simulated here: there is no key agreement between processes. A per-sum
random `round_key` seeds every client's secret (`client_secrets`), and a
deterministic mix of two clients' secrets stands in for their agreed key
(`pair_seeds`); the secret sharing of seeds is not modelled either: the party
running the simulation derives what the server would rebuild. The mix is
SplitMix64 (statistically sound, not cryptographic) and the PRG is TensorFlow's
Philox (statistically sound, not a cryptographic PRG): the masks hide values
from anyone looking at what the server receives, but a deployment needs a real
key agreement (Diffie-Hellman), secret sharing and a cryptographic PRG.

Moduli: any modulus up to `2**32`, or a power of two up to `2**62`. TensorFlow
draws bounded int64 values as 64 random bits modulo the range, which is exactly
uniform for a power of two and within `2**-32` of uniform for a range up to
`2**32`. Sums stay below `2**63` because every addition is reduced at once.

>>> secrets = client_secrets([7, 11], 3)
>>> seeds = pair_seeds(secrets, [0, 1, 2])
>>> masked = [mask(tf.constant(x, tf.int64), i, seeds[i], 16) for i, x in enumerate([3, 5, 6])]
>>> int(modular_sum(tf.stack(masked), 16))
14
"""

from __future__ import annotations

from typing import Any
from typing import Optional
from typing import Sequence

import numpy as np
import tensorflow as tf

MAX_MODULUS = 2**62
MAX_NON_POWER_OF_TWO_MODULUS = 2**32

# Domain separators, so that pair seeds, self seeds and folded-in data never collide.
_PAIR_DOMAIN = 0x5EC1
_SELF_DOMAIN = 0x5EC2

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def check_modulus(modulus: int) -> int:
    """`modulus` as an int, checked to be one the masks are uniform for.

    Raises:
      ValueError: unless `1 <= modulus <= 2**32`, or modulus is a power of two up
        to `2**62`.

    >>> check_modulus(2**40)
    1099511627776
    """
    modulus = int(modulus)
    power_of_two = modulus > 0 and modulus & (modulus - 1) == 0
    if not (
        1 <= modulus <= MAX_NON_POWER_OF_TWO_MODULUS or (power_of_two and modulus <= MAX_MODULUS)
    ):
        raise ValueError(
            f"expected a modulus in [1, 2**32] or a power of two up to 2**62, got {modulus}"
        )
    return modulus


def _mix64(x: tf.Tensor) -> tf.Tensor:
    """The SplitMix64 finalizer on int64 bits: a bijection that scatters every input bit."""
    z = tf.bitcast(x, tf.uint64) + _GOLDEN
    z = tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, np.uint64(30))) * _MIX_1
    z = tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, np.uint64(27))) * _MIX_2
    z = tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, np.uint64(31)))
    return tf.bitcast(z, tf.int64)


def _combine(state: tf.Tensor, data: tf.Tensor) -> tf.Tensor:
    return _mix64(tf.bitwise.bitwise_xor(state, _mix64(data)))


def _hash(words: Sequence[tf.Tensor], domain: int) -> tf.Tensor:
    """A 128-bit seed `[..., 2]` hashed from int64 words of one shape."""
    halves = []
    for half in range(2):
        state = tf.fill(tf.shape(words[0]), tf.constant(domain * 2 + half, tf.int64))
        for word in words:
            state = _combine(state, word)
        halves.append(state)
    return tf.stack(halves, axis=-1)


def client_secrets(round_key: Any, num_clients: int) -> tf.Tensor:
    """A 128-bit secret per client, `int64[num_clients, 2]`, drawn from a per-sum key.

    Args:
      round_key: two int64 words, fresh and random for every sum.
      num_clients: how many clients take part.
    """
    return tf.random.stateless_uniform(
        [num_clients, 2],
        seed=tf.cast(round_key, tf.int64),
        minval=None,
        maxval=None,
        dtype=tf.int64,
    )


def pair_seeds(secrets: Any, clients: Any) -> tf.Tensor:
    """The seeds `clients` share with every client, `int64[len(clients), n, 2]`.

    Row `r`, column `j` is the seed of the pair (`clients[r]`, `j`): a hash of the
    two clients' secrets, the lower index first, so both clients of a pair derive
    the same seed (the stand-in for a key agreement). A client's seed with itself
    is zeros and is never used.

    Args:
      secrets: `int64[n, 2]`, from `client_secrets`.
      clients: indices of the clients whose rows to derive.
    """
    secrets = tf.convert_to_tensor(secrets, tf.int64)
    clients = tf.convert_to_tensor(clients, tf.int64)
    num_clients = tf.shape(secrets, out_type=tf.int64)[0]
    own = tf.gather(secrets, clients)[:, tf.newaxis, :]
    other = secrets[tf.newaxis, :, :]
    shape = tf.stack([tf.size(clients, out_type=tf.int64), num_clients, 2])
    own, other = tf.broadcast_to(own, shape), tf.broadcast_to(other, shape)
    row = clients[:, tf.newaxis]
    column = tf.range(num_clients)[tf.newaxis, :]
    first_is_own = (row < column)[..., tf.newaxis]
    first = tf.where(first_is_own, own, other)
    second = tf.where(first_is_own, other, own)
    words = [first[..., 0], first[..., 1], second[..., 0], second[..., 1]]
    seeds = _hash(words, _PAIR_DOMAIN)
    return tf.where((row == column)[..., tf.newaxis], tf.zeros_like(seeds), seeds)


def self_seeds(secrets: Any) -> tf.Tensor:
    """Each client's self-mask seed, `int64[n, 2]`, known only to that client."""
    secrets = tf.convert_to_tensor(secrets, tf.int64)
    return _hash([secrets[..., 0], secrets[..., 1]], _SELF_DOMAIN)


def fold_in(seeds: Any, data: Any) -> tf.Tensor:
    """Seeds `[..., 2]` with the integer `data` mixed in: independent streams per `data`.

    Each leaf of a struct is masked with its pair seeds folded with its index, so
    no two leaves share a mask.

    >>> a, b = fold_in([1, 2], 0), fold_in([1, 2], 1)
    >>> bool(tf.reduce_all(a == b))
    False
    """
    seeds = tf.convert_to_tensor(seeds, tf.int64)
    data = tf.broadcast_to(tf.cast(data, tf.int64), tf.shape(seeds[..., 0]))
    return tf.stack([_combine(seeds[..., 0], data), _combine(seeds[..., 1], data)], axis=-1)


def prg(seed: Any, shape: Any, modulus: Any) -> tf.Tensor:
    """Pseudo-random int64 values uniform on `[0, modulus)`, a function of `seed` only.

    >>> bool(tf.reduce_all(prg([1, 2], [3], 10) == prg([1, 2], [3], 10)))
    True
    """
    return tf.random.stateless_uniform(
        shape,
        seed=tf.convert_to_tensor(seed, tf.int64),
        minval=tf.constant(0, tf.int64),
        maxval=tf.cast(modulus, tf.int64),
        dtype=tf.int64,
    )


def pairwise_mask(client_index: Any, seeds: Any, shape: Any, modulus: Any) -> tf.Tensor:
    """`sum_{j>i} PRG(s_ij) - sum_{j<i} PRG(s_ij) (mod modulus)` for client `i`.

    Args:
      client_index: `i`.
      seeds: `int64[n, 2]`, client `i`'s seeds with every client (its row of
        `pair_seeds`).
      shape: the shape of the value to mask.
      modulus: the modulus, an int64 scalar.
    """
    seeds = tf.convert_to_tensor(seeds, tf.int64)
    client_index = tf.cast(client_index, tf.int64)
    modulus = tf.cast(modulus, tf.int64)
    num_clients = tf.shape(seeds, out_type=tf.int64)[0]

    def body(j, total):
        mask = prg(seeds[j], shape, modulus)
        added = tf.where(client_index < j, total + mask, total - mask)
        updated = tf.math.floormod(added, modulus)
        return j + 1, tf.where(j == client_index, total, updated)

    _, total = tf.while_loop(
        lambda j, _: j < num_clients,
        body,
        (tf.constant(0, tf.int64), tf.zeros(shape, tf.int64)),
    )
    return total


def mask(
    value: Any,
    client_index: Any,
    seeds: Any,
    modulus: Any,
    self_seed: Optional[Any] = None,
) -> tf.Tensor:
    """Client `i`'s value with its pairwise masks (and self mask) added, modulo `modulus`.

    Args:
      value: an integer tensor with elements in `[0, modulus)` (cast to int64).
      client_index: `i`.
      seeds: `int64[n, 2]`, client `i`'s row of `pair_seeds`.
      modulus: the modulus, at most `2**62`.
      self_seed: `int64[2]`, the client's self seed; None for no self mask.

    Returns:
      The masked value, int64 in `[0, modulus)`, of the value's shape.
    """
    value = tf.cast(value, tf.int64)
    modulus = tf.cast(modulus, tf.int64)
    shape = tf.shape(value)
    masked = tf.math.floormod(value + pairwise_mask(client_index, seeds, shape, modulus), modulus)
    if self_seed is not None:
        masked = tf.math.floormod(masked + prg(self_seed, shape, modulus), modulus)
    return masked


def modular_sum(values: Any, modulus: Any) -> tf.Tensor:
    """The sum of `values` along axis 0, modulo `modulus`, without overflowing int64.

    >>> int(modular_sum([2**61, 2**61, 3], 2**62))
    3
    """
    values = tf.convert_to_tensor(values, tf.int64)
    modulus = tf.cast(modulus, tf.int64)
    count = tf.shape(values, out_type=tf.int64)[0]

    def body(i, total):
        return i + 1, tf.math.floormod(total + values[i], modulus)

    _, total = tf.while_loop(
        lambda i, _: i < count,
        body,
        (tf.constant(0, tf.int64), tf.zeros(tf.shape(values)[1:], tf.int64)),
    )
    return total


def unmask_dropouts(
    masked_sum: Any, survivors: Any, dropped: Any, dropped_seeds: Any, modulus: Any
) -> tf.Tensor:
    """Removes from a sum of survivors' masked values the masks shared with dropped clients.

    Survivor `s` added `PRG(s_sd)` for a dropped `d > s` and subtracted it for
    `d < s`; nothing cancels those, so the server undoes them from the dropped
    clients' seeds.

    Args:
      masked_sum: `modular_sum` of the survivors' masked values.
      survivors: int indices of the clients whose masked values were summed.
      dropped: int indices of the clients that dropped after the key agreement.
      dropped_seeds: `int64[len(dropped), n, 2]`, the dropped clients' rows of
        `pair_seeds`.
      modulus: the modulus.
    """
    masked_sum = tf.convert_to_tensor(masked_sum, tf.int64)
    survivors = tf.convert_to_tensor(survivors, tf.int64)
    dropped = tf.convert_to_tensor(dropped, tf.int64)
    dropped_seeds = tf.convert_to_tensor(dropped_seeds, tf.int64)
    modulus = tf.cast(modulus, tf.int64)
    shape = tf.shape(masked_sum)
    num_survivors = tf.size(survivors, out_type=tf.int64)
    pairs = tf.size(dropped, out_type=tf.int64) * num_survivors

    def body(t, total):
        d, s = t // num_survivors, t % num_survivors
        survivor = survivors[s]
        mask = prg(dropped_seeds[d, survivor], shape, modulus)
        # Undo what the survivor did: it added the mask when it has the lower index.
        removed = tf.where(survivor < dropped[d], total - mask, total + mask)
        return t + 1, tf.math.floormod(removed, modulus)

    _, total = tf.while_loop(lambda t, _: t < pairs, body, (tf.constant(0, tf.int64), masked_sum))
    return total


def remove_self_masks(masked_sum: Any, survivor_self_seeds: Any, modulus: Any) -> tf.Tensor:
    """Subtracts the survivors' self masks `PRG(b_s)` from a sum of their masked values.

    Args:
      masked_sum: the sum, with pairwise masks already cancelled or removed.
      survivor_self_seeds: `int64[len(survivors), 2]`, the survivors' self seeds.
      modulus: the modulus.
    """
    masked_sum = tf.convert_to_tensor(masked_sum, tf.int64)
    survivor_self_seeds = tf.convert_to_tensor(survivor_self_seeds, tf.int64)
    modulus = tf.cast(modulus, tf.int64)
    shape = tf.shape(masked_sum)
    count = tf.shape(survivor_self_seeds, out_type=tf.int64)[0]

    def body(s, total):
        mask = prg(survivor_self_seeds[s], shape, modulus)
        return s + 1, tf.math.floormod(total - mask, modulus)

    _, total = tf.while_loop(lambda s, _: s < count, body, (tf.constant(0, tf.int64), masked_sum))
    return total
