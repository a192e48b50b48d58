"""Every op with a hand-written backward. Each lives in the module named for its kind:

- :mod:`~minigan.ops.arithmetic`: add, sub, mul, div, neg, pow, rpow, matmul
- :mod:`~minigan.ops.elementwise`: exp, log, sqrt, abs, sign, tanh, sigmoid, maximum, minimum, clip,
  where, astype, to_backend
- :mod:`~minigan.ops.reduction`: sum, mean, max, var
- :mod:`~minigan.ops.shape`: reshape, transpose, broadcast_to, getitem (and its backward,
  scatter_add), concatenate, stack
- :mod:`~minigan.ops.creation`: zeros_like
- :mod:`~minigan.ops.broadcasting`: the helpers every binary op uses (operands, unbroadcast)
- :mod:`~minigan.ops.namespace`: what a backward computes with — arrays, or tensors under create_graph

Open the module, find the function: its forward is at the top, its ``backward(g, needs, *saved)``
right below. This package is also the ``xp`` a backward gets for tensors (NumPy's names, recorded
on the tape): see :mod:`minigan.ops.namespace`.
"""

from minigan.ops.arithmetic import add, div, matmul, mul, neg, pow, rpow, sub
from minigan.ops.creation import zeros_like
from minigan.ops.elementwise import (abs, astype, clip, exp, log, maximum, minimum, sigmoid, sign, sqrt, tanh,
                                     to_backend, where)
from minigan.ops.reduction import max, mean, sum, var
from minigan.ops.shape import broadcast_to, concatenate, getitem, reshape, scatter_add, stack, transpose

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "rpow", "matmul", "exp", "log", "sqrt", "abs", "sign",
           "tanh", "sigmoid", "maximum", "minimum", "clip", "where", "astype", "to_backend", "sum", "mean", "max",
           "var", "reshape", "transpose", "broadcast_to", "getitem", "scatter_add", "concatenate", "stack",
           "zeros_like"]
