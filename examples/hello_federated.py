"""Prints the federated types a first tffl program works with.

Run: `make run` or `python examples/hello_federated.py`.
"""

from absl import app
import numpy as np

import tffl


def main(argv):
    del argv
    readings = tffl.FederatedType(np.float32, tffl.CLIENTS)
    threshold = tffl.FederatedType(np.float32, tffl.SERVER)
    print("client readings:", readings)
    print("server threshold:", threshold)
    print(
        "a round's parameter:", tffl.StructType([("readings", readings), ("threshold", threshold)])
    )


if __name__ == "__main__":
    app.run(main)
