"""Benchmarks: tffl against hand-written plain-TF baselines (`python -m tests.benchmarks.run`)."""
