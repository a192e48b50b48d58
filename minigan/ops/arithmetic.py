"""Arithmetic ops: add, sub, mul, div, neg, pow, rpow, matmul, each with its backward beside it.

Every ``backward(g, needs, *saved)`` receives g = dL/d(out) and returns dL/d(input) per input (None
where ``needs`` says the input wants no gradient). It is written with operators only, so it runs on
arrays in an ordinary pass and on tensors — recording itself — under ``create_graph`` (see
:mod:`minigan.autograd`). Binary ops broadcast like NumPy; :func:`unbroadcast` sums the gradient back
to each input's shape.
"""

import numpy as np

from minigan.autograd import OUTPUT
from minigan.errors import DTypeError, ShapeError
from minigan.ops.broadcasting import broadcast_error, operands, unbroadcast
from minigan.ops.namespace import namespace
from minigan.tensor import Tensor


def add(a, b):
    """out = a + b;  da = g,  db = g."""
    a, b = operands("add", a, b)
    try:
        out = a.data + b.data
    except ValueError:
        raise broadcast_error("add", a, b) from None
    a_shape, b_shape = a.data.shape, b.data.shape

    def backward(g, needs):
        return (unbroadcast(g, a_shape) if needs[0] else None,
                unbroadcast(g, b_shape) if needs[1] else None)

    return Tensor._from_op(out, (a, b), backward, "add", saved=())


def sub(a, b):
    """out = a − b;  da = g,  db = −g."""
    a, b = operands("sub", a, b)
    try:
        out = a.data - b.data
    except ValueError:
        raise broadcast_error("sub", a, b) from None
    a_shape, b_shape = a.data.shape, b.data.shape

    def backward(g, needs):
        return (unbroadcast(g, a_shape) if needs[0] else None,
                unbroadcast(-g, b_shape) if needs[1] else None)

    return Tensor._from_op(out, (a, b), backward, "sub", saved=())


def mul(a, b):
    """out = a · b;  da = g · b,  db = g · a  (each operand is saved only if the other needs a gradient)."""
    a, b = operands("mul", a, b)
    try:
        out = a.data * b.data
    except ValueError:
        raise broadcast_error("mul", a, b) from None
    a_shape, b_shape = a.data.shape, b.data.shape

    def backward(g, needs, a, b):
        return (unbroadcast(g * b, a_shape) if needs[0] else None,
                unbroadcast(g * a, b_shape) if needs[1] else None)

    saved = (a if b.requires_grad else None, b if a.requires_grad else None)
    return Tensor._from_op(out, (a, b), backward, "mul", saved=saved)


def div(a, b):
    """out = a / b;  da = g / b,  db = −g · a / b² = −g · out / b."""
    a, b = operands("div", a, b)
    try:
        out = a.data / b.data
    except ValueError:
        raise broadcast_error("div", a, b) from None
    a_shape, b_shape = a.data.shape, b.data.shape

    def backward(g, needs, b, out):
        return (unbroadcast(g / b, a_shape) if needs[0] else None,
                unbroadcast(-g * out / b, b_shape) if needs[1] else None)

    return Tensor._from_op(out, (a, b), backward, "div", saved=(b, OUTPUT if b.requires_grad else None))


def neg(a):
    """out = −a;  da = −g."""

    def backward(g, needs):
        return (-g,)

    return Tensor._from_op(-a.data, (a,), backward, "neg", saved=())


def pow(a, exponent):
    """out = a ** p for a number p;  da = g · p · a^(p−1)  (and 0 for p = 0, also at a = 0)."""
    if isinstance(exponent, Tensor) or not np.isscalar(exponent):
        raise DTypeError(
            f"pow: the exponent must be a Python number (got {type(exponent).__name__}); for a tensor "
            "exponent write exp(b * log(a))"
        )
    p = float(exponent)
    out = a.data ** a.xp.asarray(p, dtype=a.dtype)

    def backward(g, needs, a):
        if p == 0.0:  # x**0 is the constant 1 (also at x = 0, where p·x^(p−1) would be 0·∞)
            return (namespace(g).zeros_like(g),)
        if p == 1.0:
            return (g,)
        if p == 2.0:
            return (g * (2.0 * a),)
        return (g * (p * a ** (p - 1.0)),)

    return Tensor._from_op(out, (a,), backward, "pow", saved=(a,))


def rpow(base, a):
    """out = base ** a for a positive number ``base``;  da = g · out · ln(base)."""
    if isinstance(base, Tensor) or not np.isscalar(base) or not base > 0:
        raise DTypeError(f"rpow: the base of number ** tensor must be a positive number, got {base!r}")
    log_base = float(np.log(base))
    out = a.xp.exp(a.data * a.xp.asarray(log_base, dtype=a.dtype))

    def backward(g, needs, out):
        return (g * out * log_base,)

    return Tensor._from_op(out, (a,), backward, "rpow", saved=(OUTPUT,))


def _check_matmul_shapes(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} do not match: the last axis of the first "
            f"({a.shape[-1]}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} axis of the "
            f"second ({inner_b})"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ShapeError(
            f"matmul: the batch axes of shapes {a.shape} and {b.shape} do not broadcast"
        ) from None


def _swap_last_two(x):
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return x.transpose(tuple(axes))


def matmul(a, b):
    """out = a @ b (1-D, 2-D or batched, as ``numpy.matmul``);  da = g @ bᵀ,  db = aᵀ @ g.

    A 1-D operand is treated as a row (left) or column (right) vector whose extra axis is then
    dropped; batch axes broadcast, and their gradients are summed back by :func:`unbroadcast`.
    """
    a, b = operands("matmul", a, b)
    _check_matmul_shapes(a, b)
    out = a.data @ b.data
    saved = (a if b.requires_grad else None, b if a.requires_grad else None)
    a_shape, b_shape = a.data.shape, b.data.shape

    if a.ndim == 2 and b.ndim == 2:
        def backward(g, needs, a, b):
            return (g @ b.T if needs[0] else None,
                    a.T @ g if needs[1] else None)

        return Tensor._from_op(out, (a, b), backward, "matmul", saved=saved)

    if a.ndim == 1 and b.ndim == 1:  # a dot product: g is a scalar
        def backward(g, needs, a, b):
            return (g * b if needs[0] else None,
                    g * a if needs[1] else None)

        return Tensor._from_op(out, (a, b), backward, "matmul", saved=saved)

    a2_shape = a_shape if len(a_shape) > 1 else (1,) + a_shape
    b2_shape = b_shape if len(b_shape) > 1 else b_shape + (1,)

    def backward(g, needs, a, b):
        if len(a_shape) == 1:  # the row vector's axis, dropped from the output, comes back
            g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
        if len(b_shape) == 1:  # likewise the column vector's
            g = g.reshape(g.shape + (1,))
        ga = gb = None
        if needs[0]:
            ga = unbroadcast(g @ _swap_last_two(b.reshape(b2_shape)), a2_shape).reshape(a_shape)
        if needs[1]:
            gb = unbroadcast(_swap_last_two(a.reshape(a2_shape)) @ g, b2_shape).reshape(b_shape)
        return ga, gb

    return Tensor._from_op(out, (a, b), backward, "matmul", saved=saved)
