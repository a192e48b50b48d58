"""Arithmetic ops: add, sub, mul, div, neg, pow, matmul, each with its backward beside it.

Every ``backward(g)`` receives g = dL/d(out) and returns dL/d(input) per input (None where the input
needs no gradient). Binary ops broadcast like NumPy; :func:`unbroadcast` sums the gradient back to
each input's shape.
"""

import numpy as np

from minigan.errors import DTypeError, ShapeError
from minigan.ops.broadcasting import broadcast_error, operands, unbroadcast
from minigan.tensor import Tensor


def add(a, b):
    """out = a + b;  da = g,  db = g."""
    a, b = operands("add", a, b)
    try:
        out = a.data + b.data
    except ValueError:
        raise broadcast_error("add", a, b) from None

    def backward(g):
        return (unbroadcast(g, a.shape) if a.requires_grad else None,
                unbroadcast(g, b.shape) if b.requires_grad else None)

    return Tensor._from_op(out, (a, b), backward, "add")


def sub(a, b):
    """out = a − b;  da = g,  db = −g."""
    a, b = operands("sub", a, b)
    try:
        out = a.data - b.data
    except ValueError:
        raise broadcast_error("sub", a, b) from None

    def backward(g):
        return (unbroadcast(g, a.shape) if a.requires_grad else None,
                unbroadcast(-g, b.shape) if b.requires_grad else None)

    return Tensor._from_op(out, (a, b), backward, "sub")


def mul(a, b):
    """out = a · b;  da = g · b,  db = g · a."""
    a, b = operands("mul", a, b)
    try:
        out = a.data * b.data
    except ValueError:
        raise broadcast_error("mul", a, b) from None

    def backward(g):
        return (unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                unbroadcast(g * a.data, b.shape) if b.requires_grad else None)

    return Tensor._from_op(out, (a, b), backward, "mul")


def div(a, b):
    """out = a / b;  da = g / b,  db = −g · a / b² = −g · out / b."""
    a, b = operands("div", a, b)
    try:
        out = a.data / b.data
    except ValueError:
        raise broadcast_error("div", a, b) from None

    def backward(g):
        return (unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None)

    return Tensor._from_op(out, (a, b), backward, "div")


def neg(a):
    """out = −a;  da = −g."""

    def backward(g):
        return (-g,)

    return Tensor._from_op(-a.data, (a,), backward, "neg")


def pow(a, exponent):
    """out = a ** p for a number p;  da = g · p · a^(p−1)."""
    if isinstance(exponent, Tensor) or not np.isscalar(exponent):
        raise DTypeError(
            f"pow: the exponent must be a Python number (got {type(exponent).__name__}); for a tensor "
            "exponent write exp(b * log(a))"
        )
    p = float(exponent)
    out = a.data ** a.xp.asarray(p, dtype=a.dtype)

    def backward(g):
        if p == 0.0:  # x**0 is the constant 1 (also at x = 0, where p·x^(p−1) would be 0·∞)
            return (a.xp.zeros_like(g),)
        if p == 2.0:
            return (g * (2.0 * a.data),)
        return (g * (p * a.data ** (p - 1.0)),)

    return Tensor._from_op(out, (a,), backward, "pow")


def rpow(base, a):
    """out = base ** a for a positive number ``base``;  da = g · out · ln(base)."""
    if isinstance(base, Tensor) or not np.isscalar(base) or not base > 0:
        raise DTypeError(f"rpow: the base of number ** tensor must be a positive number, got {base!r}")
    log_base = float(np.log(base))
    out = a.xp.exp(a.data * a.xp.asarray(log_base, dtype=a.dtype))

    def backward(g):
        return (g * out * log_base,)

    return Tensor._from_op(out, (a,), backward, "rpow")


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


def matmul(a, b):
    """out = a @ b (1-D, 2-D or batched, as ``numpy.matmul``);  da = g @ bᵀ,  db = aᵀ @ g.

    A 1-D operand is treated as a row (left) or column (right) vector whose extra axis is then
    dropped; batch axes broadcast, and their gradients are summed back by :func:`unbroadcast`.
    """
    a, b = operands("matmul", a, b)
    _check_matmul_shapes(a, b)
    out = a.data @ b.data

    if a.ndim == 2 and b.ndim == 2:
        def backward(g):
            return (g @ b.data.T if a.requires_grad else None,
                    a.data.T @ g if b.requires_grad else None)

        return Tensor._from_op(out, (a, b), backward, "matmul")

    if a.ndim == 1 and b.ndim == 1:  # a dot product: g is a scalar
        def backward(g):
            return (g * b.data if a.requires_grad else None,
                    g * a.data if b.requires_grad else None)

        return Tensor._from_op(out, (a, b), backward, "matmul")

    def backward(g):
        xp = a.xp
        a2 = a.data if a.ndim > 1 else a.data[None, :]
        b2 = b.data if b.ndim > 1 else b.data[:, None]
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        if b.ndim == 1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(g @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if b.requires_grad:
            gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape)
        return ga, gb

    return Tensor._from_op(out, (a, b), backward, "matmul")
