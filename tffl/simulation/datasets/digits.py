"""Federated handwritten digits from scikit-learn's bundled 8x8 images (no download)."""

from __future__ import annotations

import collections
from typing import List
from typing import Tuple

import numpy as np

from tffl.simulation import client_data
from tffl.simulation import partitioners

NUM_LABELS = 10
# Random swaps that mix the deal of shards, per shard.
_SWAPS_PER_SHARD = 10


def load_data(
    num_clients: int = 20,
    labels_per_client: int = 2,
    test_fraction: float = 0.2,
    seed: int = 0,
    num_test_clients: int = 5,
) -> Tuple[client_data.ClientData, client_data.ClientData]:
    """Loads the 1,797 digits of `sklearn.datasets.load_digits()` as (train, test) ClientData.

    Elements are `OrderedDict(pixels=float32[8,8], label=int32)`, pixels scaled
    from 0..16 to [0, 1]. Everything below draws from `np.random.default_rng(seed)`,
    so a seed gives the same split.

    *Test split.* For each label, `round(test_fraction * count)` of its images,
    chosen at random, are held out (a stratified split). The held-out images are
    shuffled and cut into `num_test_clients` IID clients `'test_0'`, ... of sizes
    differing by at most one. No training client has any of them.

    *Training split*, the pathological non-IID split of McMahan et al.,
    "Communication-Efficient Learning of Deep Networks from Decentralized Data"
    (2017), with label-pure shards: `num_clients * labels_per_client` shards are
    spread over the 10 labels as evenly as possible (labels chosen at random get
    the remainder), and each label's images, shuffled, are cut into its shards of
    sizes differing by at most one. Listed label by label, the shards are dealt
    round-robin, `labels_per_client` to each client, so no client gets two shards
    of one label; then `10 * num_shards` times two shards chosen at random trade
    owners if both owners still hold distinct labels afterwards. Each client's
    examples are then shuffled. So each training client holds exactly
    `labels_per_client` labels, all of its examples from them. With the
    defaults: 1,438 training images in 40 shards of 34 to 37, 20 clients `'00'`
    ... `'19'` of 68 to 74 images; 359 test images in 5 clients of 71 or 72.

    Args:
      num_clients: training clients; `num_clients * labels_per_client` must be at
        least 10 (every label has a shard) and at most the images of the smallest
        label (no shard is empty).
      labels_per_client: labels per training client, 1 to 10.
      test_fraction: the fraction of each label's images held out, in (0, 1).
      seed: the seed of every random choice.
      num_test_clients: clients the held-out images are split across.

    Returns:
      `(train, test)`: two `ClientData` over disjoint images, 1,797 in all.

    Raises:
      ValueError: if an argument is out of range.

    >>> train, test = load_data()
    >>> len(train.client_ids), len(test.client_ids)
    (20, 5)
    >>> sorted({int(e['label']) for e in train.create_tf_dataset_for_client('00')})
    [4, 5]
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"digits.load_data: expected 0 < test_fraction < 1, got {test_fraction}")
    if not 1 <= labels_per_client <= NUM_LABELS:
        raise ValueError(
            f"digits.load_data: expected 1 <= labels_per_client <= {NUM_LABELS}, "
            f"got {labels_per_client}"
        )
    num_shards = num_clients * labels_per_client
    if num_shards < NUM_LABELS:
        raise ValueError(
            f"digits.load_data: num_clients * labels_per_client = {num_shards} shards "
            f"cannot cover the {NUM_LABELS} labels; expected at least {NUM_LABELS}"
        )
    from sklearn import datasets as sklearn_datasets  # imported here: sklearn is slow to import

    digits = sklearn_datasets.load_digits()
    pixels = (digits.images / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int32)
    rng = np.random.default_rng(seed)

    train_by_label, test_indices = [], []
    for label in range(NUM_LABELS):
        indices = rng.permutation(np.flatnonzero(labels == label))
        num_test = int(round(test_fraction * len(indices)))
        test_indices.append(indices[:num_test])
        train_by_label.append(indices[num_test:])
    test_indices = rng.permutation(np.concatenate(test_indices))
    if not 1 <= num_test_clients <= len(test_indices):
        raise ValueError(
            f"digits.load_data: expected 1 <= num_test_clients <= {len(test_indices)} "
            f"(the held-out images), got {num_test_clients}"
        )

    shards_per_label = np.full(NUM_LABELS, num_shards // NUM_LABELS)
    shards_per_label[rng.permutation(NUM_LABELS)[: num_shards % NUM_LABELS]] += 1
    shards, shard_labels = [], []
    for label, count in enumerate(shards_per_label):
        if count > len(train_by_label[label]):
            raise ValueError(
                f"digits.load_data: {num_shards} shards leave label {label} "
                f"({len(train_by_label[label])} training images) with empty shards; "
                "use fewer clients or labels per client"
            )
        shards.extend(np.array_split(train_by_label[label], count))
        shard_labels.extend([label] * count)
    groups = _deal_distinct(shard_labels, num_clients, labels_per_client, rng)
    train = {
        client_id: rng.permutation(np.concatenate([shards[s] for s in group]))
        for client_id, group in zip(partitioners.numbered_client_ids(num_clients), groups)
    }
    test = dict(
        zip(
            partitioners.numbered_client_ids(num_test_clients, prefix="test_"),
            np.array_split(test_indices, num_test_clients),
        )
    )

    def examples(indices):
        return collections.OrderedDict(pixels=pixels[indices], label=labels[indices])

    return tuple(
        client_data.ClientData.from_tensor_slices(
            {client_id: examples(indices) for client_id, indices in split.items()}
        )
        for split in (train, test)
    )


def _deal_distinct(
    shard_labels: List[int], num_clients: int, per_client: int, rng: np.random.Generator
) -> List[List[int]]:
    """Deals shards (listed label by label) so that no client gets one label twice.

    Round-robin dealing gives client `k` shards `k, k + num_clients, ...`; a
    label's shards are consecutive and at most `num_clients` many, so they land
    on different clients. Random swaps that keep that property then mix the deal.
    """
    num_shards = len(shard_labels)
    owner = [shard % num_clients for shard in range(num_shards)]
    held = [set() for _ in range(num_clients)]
    for shard, client in enumerate(owner):
        held[client].add(shard_labels[shard])
    for _ in range(_SWAPS_PER_SHARD * num_shards):
        a, b = rng.integers(num_shards, size=2).tolist()
        label_a, label_b = shard_labels[a], shard_labels[b]
        client_a, client_b = owner[a], owner[b]
        if label_a == label_b or label_b in held[client_a] or label_a in held[client_b]:
            continue
        held[client_a].remove(label_a)
        held[client_a].add(label_b)
        held[client_b].remove(label_b)
        held[client_b].add(label_a)
        owner[a], owner[b] = client_b, client_a
    groups = [[] for _ in range(num_clients)]
    for shard, client in enumerate(owner):
        groups[client].append(shard)
    return groups
