"""The installed package imports cleanly in a fresh interpreter."""

import subprocess
import sys


def test_prints_federated_type_when_imported_in_a_fresh_process():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tffl; print(tffl.FederatedType(tffl.TensorType('float32'), tffl.CLIENTS))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "{float32}@CLIENTS\n"


def test_leaves_tfds_and_sklearn_unimported_when_tffl_is_imported():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, tffl; "
            "print(sorted(m for m in ('tensorflow_datasets', 'sklearn') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
