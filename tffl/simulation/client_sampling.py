"""Choosing the clients of each round, as functions of the round number.

Each round draws from its own generator, `np.random.default_rng([random_seed,
round_num])`, so a round's sample depends only on the seed and the round number:
a run resumed at round `r` samples what an uninterrupted run would have.
"""

from __future__ import annotations

from typing import Callable
from typing import List
from typing import Optional
from typing import Sequence
from typing import TypeVar

import numpy as np
import tensorflow as tf

from tffl.simulation import client_data as client_data_lib

T = TypeVar("T")


def build_uniform_sampling_fn(
    sample_range: Sequence[T],
    replace: bool = False,
    random_seed: Optional[int] = None,
) -> Callable[[int, int], List[T]]:
    """A function `(round_num, size) -> list` sampling `size` elements uniformly.

    Args:
      sample_range: the elements to sample from (client ids, for example).
      replace: whether one round may draw an element more than once.
      random_seed: with an int, round `r` draws from
        `np.random.default_rng([random_seed, r])`, the same on every call; with
        None, each call draws from fresh operating-system entropy.

    Returns:
      `sample_fn(round_num, size)`, returning `size` elements of `sample_range`
      (the elements themselves, in the order drawn).

    Raises:
      ValueError: from `sample_fn`, when `size` elements cannot be drawn.

    >>> sample_fn = build_uniform_sampling_fn(['a', 'b', 'c', 'd'], random_seed=1)
    >>> sample_fn(3, 2) == sample_fn(3, 2)
    True
    >>> sample_fn(3, 2)
    ['b', 'a']
    """
    if random_seed is not None and (
        not isinstance(random_seed, (int, np.integer)) or random_seed < 0
    ):
        raise ValueError(
            f"build_uniform_sampling_fn: expected random_seed None or an int >= 0, "
            f"got {random_seed!r}"
        )
    population = list(sample_range)

    def sample_fn(round_num: int, size: int) -> List[T]:
        if random_seed is None:
            rng = np.random.default_rng()
        else:
            rng = np.random.default_rng([int(random_seed), int(round_num)])
        if size < 0 or (not replace and size > len(population)) or (size and not population):
            raise ValueError(
                f"sample_fn: cannot draw {size} of {len(population)} elements "
                f"{'with' if replace else 'without'} replacement"
            )
        indices = rng.choice(len(population), size=size, replace=replace) if size else []
        return [population[i] for i in indices]

    return sample_fn


def build_client_datasets_fn(
    client_data: client_data_lib.ClientData,
    clients_per_round: int,
    random_seed: Optional[int] = None,
    preprocess_fn: Optional[Callable[[tf.data.Dataset], tf.data.Dataset]] = None,
) -> Callable[[int], List[tf.data.Dataset]]:
    """A function `round_num -> list of datasets` for `clients_per_round` sampled clients.

    Clients are drawn without replacement by
    `build_uniform_sampling_fn(client_data.client_ids, random_seed=random_seed)`;
    this is the `client_selection_fn` of `run_training`.

    Args:
      client_data: the clients to sample from.
      clients_per_round: clients per round, 1 to `len(client_data.client_ids)`.
      random_seed: as in `build_uniform_sampling_fn`; give one for runs that
        must repeat (or resume) exactly.
      preprocess_fn: applied to each sampled client's dataset (for example
        `lambda ds: ds.batch(20)`).

    Returns:
      `client_datasets_fn(round_num)`, the datasets of that round's clients.

    Raises:
      TypeError: if `client_data` is not a `ClientData`.
      ValueError: if `clients_per_round` is out of range.

    >>> import numpy as np, tffl
    >>> data = tffl.simulation.ClientData.from_tensor_slices(
    ...     {'a': np.array([1, 2]), 'b': np.array([3]), 'c': np.array([4, 5, 6])})
    >>> datasets_fn = build_client_datasets_fn(data, 2, random_seed=0)
    >>> [[int(x) for x in dataset] for dataset in datasets_fn(1)]
    [[3], [4, 5, 6]]
    """
    if not isinstance(client_data, client_data_lib.ClientData):
        raise TypeError(
            f"build_client_datasets_fn: expected a ClientData, got {type(client_data).__name__}"
        )
    client_ids = client_data.client_ids
    if not 1 <= clients_per_round <= len(client_ids):
        raise ValueError(
            f"build_client_datasets_fn: expected 1 <= clients_per_round <= {len(client_ids)}, "
            f"got {clients_per_round}"
        )
    sample_fn = build_uniform_sampling_fn(client_ids, random_seed=random_seed)

    def client_datasets_fn(round_num: int) -> List[tf.data.Dataset]:
        datasets = [
            client_data.create_tf_dataset_for_client(client_id)
            for client_id in sample_fn(round_num, clients_per_round)
        ]
        if preprocess_fn is not None:
            datasets = [preprocess_fn(dataset) for dataset in datasets]
        return datasets

    return client_datasets_fn
