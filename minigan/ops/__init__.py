"""Every op with a hand-written backward. Each lives in the module named for its kind:

- :mod:`~minigan.ops.arithmetic`: add, sub, mul, div, neg, pow, rpow, matmul
- :mod:`~minigan.ops.elementwise`: exp, log, log1p, expm1, sqrt, square, abs, sign, sin, cos, tanh,
  sigmoid, softplus, maximum, minimum, clip, where, astype, to_backend
- :mod:`~minigan.ops.reduction`: sum, mean, max (amax), min (amin), prod, cumsum, var, std, norm,
  argmax, argmin
- :mod:`~minigan.ops.softmax`: softmax, log_softmax, logsumexp
- :mod:`~minigan.ops.shape`: reshape, transpose, squeeze, unsqueeze, flatten, broadcast_to, expand,
  getitem (and its backward, scatter_add), gather, concatenate, stack, split, chunk, pad, flip, tile,
  repeat, repeat_interleave
- :mod:`~minigan.ops.einsum`: einsum, outer
- :mod:`~minigan.ops.creation`: zeros, ones, full, arange, rand, randn and their ``_like`` forms (new
  leaves, no backward)
- :mod:`~minigan.ops.broadcasting`: the helpers every binary op uses (operands, unbroadcast)
- :mod:`~minigan.ops.namespace`: what a backward computes with — arrays, or tensors under create_graph

Open the module, find the function: its forward is at the top, its ``backward(g, needs, *saved)``
right below. This package is also the ``xp`` a backward gets for tensors (NumPy's names, recorded
on the tape): see :mod:`minigan.ops.namespace`. Three names follow PyTorch rather than NumPy —
``split``, ``repeat`` and ``pad`` — so a backward must not call them through ``xp``.
"""

from minigan.ops.arithmetic import add, div, matmul, mul, neg, pow, rpow, sub
from minigan.ops.creation import (arange, full, full_like, ones, ones_like, rand, rand_like, randn, randn_like, zeros,
                                  zeros_like)
from minigan.ops.einsum import einsum, outer
from minigan.ops.elementwise import (abs, astype, clip, cos, exp, expm1, log, log1p, maximum, minimum, sigmoid, sign,
                                     sin, softplus, sqrt, square, tanh, to_backend, where)
from minigan.ops.reduction import amax, amin, argmax, argmin, cumsum, max, mean, min, norm, prod, std, sum, var
from minigan.ops.shape import (broadcast_to, chunk, concatenate, expand, flatten, flip, gather, getitem, pad, repeat,
                               repeat_interleave, reshape, scatter_add, split, squeeze, stack, tile, transpose,
                               unsqueeze)
from minigan.ops.softmax import log_softmax, logsumexp, softmax

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "rpow", "matmul",
    "exp", "log", "log1p", "expm1", "sqrt", "square", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "softplus",
    "maximum", "minimum", "clip", "where", "astype", "to_backend",
    "sum", "mean", "max", "amax", "min", "amin", "prod", "cumsum", "var", "std", "norm", "argmax", "argmin",
    "softmax", "log_softmax", "logsumexp",
    "reshape", "transpose", "squeeze", "unsqueeze", "flatten", "broadcast_to", "expand", "getitem", "scatter_add",
    "gather", "concatenate", "stack", "split", "chunk", "pad", "flip", "tile", "repeat", "repeat_interleave",
    "einsum", "outer",
    "zeros", "ones", "full", "arange", "rand", "randn", "zeros_like", "ones_like", "full_like", "rand_like",
    "randn_like",
]
