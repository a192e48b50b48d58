"""Every op with a hand-written backward. Each lives in the module named for its kind:

- :mod:`~minigan.ops.arithmetic`: add, sub, mul, div, neg, pow, rpow, matmul
- :mod:`~minigan.ops.elementwise`: exp, log, sqrt, abs, tanh, sigmoid, maximum, minimum, clip, where,
  astype, to_backend
- :mod:`~minigan.ops.reduction`: sum, mean, max, var
- :mod:`~minigan.ops.shape`: reshape, transpose, getitem, concatenate, stack
- :mod:`~minigan.ops.broadcasting`: the helpers every binary op uses (operands, unbroadcast)

Open the module, find the function: its forward is at the top, its ``backward(g)`` right below.
"""

from minigan.ops.arithmetic import add, div, matmul, mul, neg, pow, rpow, sub
from minigan.ops.elementwise import (abs, astype, clip, exp, log, maximum, minimum, sigmoid, sqrt, tanh,
                                     to_backend, where)
from minigan.ops.reduction import max, mean, sum, var
from minigan.ops.shape import concatenate, getitem, reshape, stack, transpose

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "rpow", "matmul", "exp", "log", "sqrt", "abs", "tanh",
           "sigmoid", "maximum", "minimum", "clip", "where", "astype", "to_backend", "sum", "mean", "max",
           "var", "reshape", "transpose", "getitem", "concatenate", "stack"]
