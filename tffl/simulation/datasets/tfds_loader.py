"""Any TensorFlow Datasets image dataset, partitioned into clients (read offline)."""

from __future__ import annotations

from typing import Optional
from typing import Union

from tffl.simulation import client_data
from tffl.simulation import partitioners

PARTITIONERS = ("dirichlet", "iid")


def load_data(
    name: str,
    partitioner: str = "dirichlet",
    num_clients: int = 10,
    split: str = "train",
    data_dir: Optional[str] = None,
    alpha: float = 0.5,
    seed: int = 0,
    label_key: Union[str, int] = "label",
    min_examples: int = 1,
) -> client_data.ClientData:
    """Loads a prepared TFDS dataset and partitions it into a `ClientData`.

    Reads `tfds.load(name, split=split, data_dir=data_dir, download=False,
    as_supervised=False)`: the dataset must already be prepared in `data_dir`
    (TFDS's default directory when `None`); nothing is downloaded. The examples
    are materialized in memory (see `tffl.simulation.partitioners`) and keep
    TFDS's features, e.g. `{'image': uint8[28,28,1], 'label': int64}` for mnist.

    Args:
      name: the TFDS name, e.g. `'mnist'`, `'emnist/digits'`, `'cifar10'`.
      partitioner: `'dirichlet'` (`partitioners.partition_dirichlet` with
        `alpha`, `label_key`, `min_examples`) or `'iid'`
        (`partitioners.partition_iid`).
      num_clients: how many clients.
      split: the TFDS split, e.g. `'train'` or `'test[:10%]'`.
      data_dir: the TFDS data directory.
      alpha: the Dirichlet concentration (smaller is more skewed).
      seed: the partitioning seed.
      label_key: the label feature, for `'dirichlet'`.
      min_examples: the fewest examples per client, for `'dirichlet'`.

    Returns:
      A `ClientData` of the split's examples.

    Raises:
      ValueError: if `partitioner` is not one of `PARTITIONERS`, or as the
        partitioner raises.
      AssertionError: raised by TFDS when the dataset is not prepared in `data_dir`.

    >>> import tensorflow_datasets as tfds
    >>> with tfds.testing.mock_data(num_examples=40):
    ...     data = load_data('mnist', partitioner='iid', num_clients=4)
    >>> data.client_ids
    ['0', '1', '2', '3']
    """
    if partitioner not in PARTITIONERS:
        raise ValueError(
            f"tfds_loader.load_data: expected partitioner in {PARTITIONERS}, got {partitioner!r}"
        )
    import tensorflow_datasets as tfds  # imported here: slow to import, rarely needed

    dataset = tfds.load(name, split=split, data_dir=data_dir, download=False, as_supervised=False)
    if partitioner == "iid":
        return partitioners.partition_iid(dataset, num_clients, seed=seed)
    return partitioners.partition_dirichlet(
        dataset,
        num_clients,
        alpha,
        label_key=label_key,
        seed=seed,
        min_examples=min_examples,
    )
