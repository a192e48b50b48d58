"""Weight initialisations for ``Dense`` (and any parameter), drawn from :mod:`minigan.random`.

For a weight of shape (fan_in, fan_out):

- ``"uniform"`` — U(−1/√fan_in, +1/√fan_in) for weight and bias (PyTorch's ``nn.Linear`` default);
- ``"glorot"`` — U(−√(6/(fan_in+fan_out)), +√(6/(fan_in+fan_out))) (Glorot & Bengio 2010), bias 0;
- ``"normal"`` — N(0, 0.02²) (Radford et al. 2015, the DCGAN convention), bias 0.
"""

import math

from minigan import random

SCHEMES = ("uniform", "glorot", "normal")


def dense_weight(fan_in, fan_out, scheme, dtype=None):
    """A (fan_in, fan_out) weight tensor drawn by ``scheme``."""
    if scheme == "uniform":
        bound = 1.0 / math.sqrt(fan_in)
        return random.uniform(-bound, bound, (fan_in, fan_out), dtype=dtype)
    if scheme == "glorot":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        return random.uniform(-bound, bound, (fan_in, fan_out), dtype=dtype)
    if scheme == "normal":
        return random.normal(0.0, 0.02, (fan_in, fan_out), dtype=dtype)
    raise ValueError(f"unknown initialisation {scheme!r}: expected one of {', '.join(map(repr, SCHEMES))}")


def dense_bias(fan_in, fan_out, scheme, dtype=None):
    """A (fan_out,) bias tensor: U(±1/√fan_in) for ``"uniform"``, zeros otherwise."""
    if scheme == "uniform":
        bound = 1.0 / math.sqrt(fan_in)
        return random.uniform(-bound, bound, (fan_out,), dtype=dtype)
    return random.uniform(0.0, 0.0, (fan_out,), dtype=dtype)
