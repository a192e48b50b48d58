"""What a backward computes with: arrays in an ordinary backward pass, tensors under ``create_graph``.

A backward is written once, with operators, the methods arrays and tensors share (``sum``, ``mean``,
``reshape``, ``transpose``, ``T``, ``astype``, indexing) and the functions of ``namespace(g)``: NumPy's
(or CuPy's) for an array ``g``, :mod:`minigan.ops` — the same names, recorded on the tape — for a
tensor. That is how one line such as ``xp.where(mask, g, 0)`` is plain array code in a first-order
pass and a differentiable op in a second-order one.
"""

import sys

import numpy as np

from minigan.backends import array_module
from minigan.tensor import Tensor


def namespace(value):
    """``numpy`` or ``cupy`` for an array; the :mod:`minigan.ops` package for a tensor."""
    if isinstance(value, Tensor):
        return sys.modules["minigan.ops"]
    if isinstance(value, np.generic):  # arithmetic on a 0-d array gives a NumPy scalar
        return np
    return array_module(value)


def array_of(value):
    """The backend array of a tensor, or the array itself: for masks and other constants of a backward
    (``==`` on tensors is identity, not elementwise, so masks are built from arrays)."""
    return value.data if isinstance(value, Tensor) else value
