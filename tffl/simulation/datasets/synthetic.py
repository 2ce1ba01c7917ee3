"""A seeded synthetic federated image dataset shaped like federated EMNIST."""

from __future__ import annotations

import collections
from typing import Sequence
from typing import Tuple

import numpy as np

from tffl.simulation import client_data
from tffl.simulation import partitioners

# Each client's images mix uniform noise with a fixed image of its own (its "style").
_STYLE_WEIGHT = 0.3


def load_data(
    num_clients: int = 10,
    examples_per_client: int = 100,
    num_classes: int = 62,
    seed: int = 0,
    image_shape: Sequence[int] = (28, 28, 1),
    test_examples_per_client: int = 20,
) -> Tuple[client_data.ClientData, client_data.ClientData]:
    """Random images whose labels are a fixed linear function of the pixels.

    Elements are `OrderedDict(pixels=float32[image_shape], label=int32)`, pixels
    in [0, 1]. A matrix `W` of shape `[prod(image_shape), num_classes]` is drawn
    from `np.random.default_rng(seed)`, and an image's label is
    `argmax((pixels.flatten() - 0.5) @ W)`, so a linear classifier can learn the
    labels exactly. Client `k` (id `'k'`, zero-padded to one width as
    `partitioners.numbered_client_ids` does) draws from
    `np.random.default_rng([seed, k])` a style image `s_k` uniform in [0, 1], and
    its images are `0.7 * u + 0.3 * s_k` with `u` uniform in [0, 1]:
    the clients differ in their inputs and hence in their label mix (non-IID),
    while sharing one labelling function. A client's data does not depend on
    `num_clients`.

    Args:
      num_clients: how many clients.
      examples_per_client: training examples per client.
      num_classes: the number of labels (62 as in federated EMNIST with letters).
      seed: the seed; the same seed gives the same data.
      image_shape: the shape of one image.
      test_examples_per_client: test examples per client.

    Returns:
      `(train, test)`: the same client ids; each client's test examples are
      fresh draws from that client's distribution (as TFF's EMNIST splits each
      writer's examples).

    Raises:
      ValueError: if a count is out of range.

    >>> train, test = load_data(num_clients=2, examples_per_client=3, num_classes=4)
    >>> train.client_ids
    ['0', '1']
    >>> import tffl
    >>> print(tffl.to_type(train.element_type_structure))
    <pixels=float32[28,28,1],label=int32>
    """
    for name, value, least in (
        ("num_clients", num_clients, 1),
        ("examples_per_client", examples_per_client, 1),
        ("num_classes", num_classes, 2),
        ("test_examples_per_client", test_examples_per_client, 1),
    ):
        if value < least:
            raise ValueError(f"synthetic.load_data: expected {name} >= {least}, got {value}")
    image_shape = tuple(int(size) for size in image_shape)
    num_pixels = int(np.prod(image_shape))
    weights = np.random.default_rng(seed).standard_normal((num_pixels, num_classes))

    def examples(rng, style, count):
        pixels = (1 - _STYLE_WEIGHT) * rng.random((count, num_pixels)) + _STYLE_WEIGHT * style
        pixels = pixels.astype(np.float32)
        labels = np.argmax((pixels.astype(np.float64) - 0.5) @ weights, axis=1)
        return collections.OrderedDict(
            pixels=pixels.reshape((count,) + image_shape), label=labels.astype(np.int32)
        )

    train, test = {}, {}
    for k, client_id in enumerate(partitioners.numbered_client_ids(num_clients)):
        rng = np.random.default_rng([seed, k])
        style = rng.random(num_pixels)
        train[client_id] = examples(rng, style, examples_per_client)
        test[client_id] = examples(rng, style, test_examples_per_client)
    return (
        client_data.ClientData.from_tensor_slices(train),
        client_data.ClientData.from_tensor_slices(test),
    )
