"""A first federated program: type signatures and results of three small computations.

Run: `make run` or `python examples/hello_federated.py --num_clients=5`.
"""

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import tffl

_NUM_CLIENTS = flags.DEFINE_integer("num_clients", 3, "Clients the broadcast reaches.")


@tffl.tf_computation(np.float32)
def to_celsius(fahrenheit):
    return (fahrenheit - 32.0) * 5.0 / 9.0


@tffl.federated_computation(tffl.FederatedType(np.float32, tffl.CLIENTS))
def mean_celsius(temperatures):
    return tffl.federated_mean(tffl.federated_map(to_celsius, temperatures))


@tffl.tf_computation(np.float32, np.float32)
def is_above(reading, threshold):
    return tf.cast(reading > threshold, tf.float32)


@tffl.federated_computation(
    tffl.FederatedType(np.float32, tffl.CLIENTS), tffl.FederatedType(np.float32, tffl.SERVER)
)
def fraction_above(readings, threshold):
    return tffl.federated_mean(
        tffl.federated_map(is_above, [readings, tffl.federated_broadcast(threshold)])
    )


@tffl.tf_computation(np.float32)
def add_one(x):
    return x + 1.0


@tffl.federated_computation(tffl.FederatedType(np.float32, tffl.SERVER))
def broadcast_add_sum(x):
    return tffl.federated_sum(tffl.federated_map(add_one, tffl.federated_broadcast(x)))


def main(argv):
    del argv
    tffl.backends.local.set_context(num_clients=_NUM_CLIENTS.value)
    readings = [68.5, 70.3, 69.8]
    print(f"mean_celsius: {mean_celsius.type_signature}")
    print(f"  {mean_celsius}")
    print(f"  mean_celsius({readings}) = {mean_celsius(readings):.4f}")
    print(f"fraction_above: {fraction_above.type_signature}")
    print(f"  fraction_above({readings}, 70.0) = {fraction_above(readings, 70.0):.4f}")
    print(f"broadcast_add_sum: {broadcast_add_sum.type_signature}")
    print(
        f"  broadcast_add_sum(2.0) over {_NUM_CLIENTS.value} clients = {broadcast_add_sum(2.0):.1f}"
    )


if __name__ == "__main__":
    app.run(main)
