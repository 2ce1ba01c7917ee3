"""The core (layer 3): tracing of tf_computation and federated_computation, the
symbolic values and intrinsic functions users call, and the context stack."""
