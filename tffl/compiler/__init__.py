"""The compiler (layer 2): the IR, the intrinsic table and transformations."""
