"""Protocol buffers of tffl: types, computations and the executor service."""
