"""Test-wide settings: quiet TensorFlow, docstring examples collected from tffl."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
