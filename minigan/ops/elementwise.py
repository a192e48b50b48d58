"""Elementwise ops: exp, log, sqrt, abs, tanh, sigmoid, maximum, minimum, clip, where, and casts.

Each ``backward(g)`` multiplies g by the local derivative. Where a function has a kink, the value
chosen there is stated in its docstring.
"""

from minigan import backends as _backend
from minigan.ops.broadcasting import broadcast_error, operands, unbroadcast
from minigan.tensor import Tensor, as_float_dtype


def exp(a):
    """out = eˣ;  da = g · out."""
    out = a.xp.exp(a.data)

    def backward(g):
        return (g * out,)

    return Tensor._from_op(out, (a,), backward, "exp")


def log(a):
    """out = ln x;  da = g / x."""
    out = a.xp.log(a.data)

    def backward(g):
        return (g / a.data,)

    return Tensor._from_op(out, (a,), backward, "log")


def sqrt(a):
    """out = √x;  da = g / (2 · out)."""
    out = a.xp.sqrt(a.data)

    def backward(g):
        return (g / (2 * out),)

    return Tensor._from_op(out, (a,), backward, "sqrt")


def abs(a):
    """out = |x|;  da = g · sign(x), and 0 at x = 0."""
    out = a.xp.abs(a.data)

    def backward(g):
        return (g * a.xp.sign(a.data),)

    return Tensor._from_op(out, (a,), backward, "abs")


def tanh(a):
    """out = tanh x;  da = g · (1 − out²)."""
    out = a.xp.tanh(a.data)

    def backward(g):
        return (g * (1 - out * out),)

    return Tensor._from_op(out, (a,), backward, "tanh")


def stable_sigmoid(xp, x):
    """σ(x) = 1 / (1 + e⁻ˣ) computed through e^(−|x|) ≤ 1, so no exp overflows for any x."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid(a):
    """out = σ(x) = 1 / (1 + e⁻ˣ), without overflow for large |x|;  da = g · out · (1 − out)."""
    out = stable_sigmoid(a.xp, a.data)

    def backward(g):
        da = 1 - out     # one temporary, then in place: (1 − out) · out · g
        da *= out
        da *= g
        return (da,)

    return Tensor._from_op(out, (a,), backward, "sigmoid")


def _extremum(op, a, b, pick_a):
    """maximum/minimum: the gradient goes to the operand picked; at a tie each gets half of it."""
    a, b = operands(op, a, b)
    try:
        a_wins = pick_a(a.data, b.data)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    tie = a.data == b.data
    out = a.xp.where(a_wins, a.data, b.data)

    def backward(g):
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(g * (a_wins + 0.5 * tie).astype(g.dtype), a.shape)
        if b.requires_grad:
            gb = unbroadcast(g * ((~a_wins & ~tie) + 0.5 * tie).astype(g.dtype), b.shape)
        return ga, gb

    return Tensor._from_op(out, (a, b), backward, op)


def maximum(a, b):
    """Elementwise max(a, b);  the larger operand gets g, and at a tie (a == b) each gets g / 2."""
    return _extremum("maximum", a, b, lambda x, y: x > y)


def minimum(a, b):
    """Elementwise min(a, b);  the smaller operand gets g, and at a tie (a == b) each gets g / 2."""
    return _extremum("minimum", a, b, lambda x, y: x < y)


def clip(a, min=None, max=None):
    """Clamp to [min, max] (numbers; either may be None);  da = g where min ≤ x ≤ max, else 0.

    The bounds count as inside, as in PyTorch's ``clamp``: at x == min the gradient passes.
    """
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    xp = a.xp
    inside = xp.ones(a.shape, dtype=bool)
    out = a.data
    # Compare with the bounds in a's dtype, as they are applied: a float32 x equal to the float32
    # bound is inside, whatever the float64 bound it was rounded from.
    if min is not None:
        low = xp.asarray(min, dtype=a.dtype)
        inside &= a.data >= low
        out = xp.maximum(out, low)
    if max is not None:
        high = xp.asarray(max, dtype=a.dtype)
        inside &= a.data <= high
        out = xp.minimum(out, high)
    if out is a.data:
        out = out.copy()

    def backward(g):
        return (g * inside,)

    return Tensor._from_op(out, (a,), backward, "clip")


def where(condition, a, b):
    """out = a where ``condition`` else b (broadcasting all three);  da = g·[cond],  db = g·[¬cond].

    ``condition`` is a boolean array (``x > 0`` on a tensor gives one) or anything nonzero-means-true.
    """
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        a, b = operands("where", a, b)
    else:
        raise TypeError("where: at least one of a and b must be a minigan Tensor")
    cond = condition.data if isinstance(condition, Tensor) else condition
    xp = a.xp
    try:
        cond = xp.asarray(cond).astype(bool, copy=False)
        out = xp.where(cond, a.data, b.data)
    except ValueError:
        raise broadcast_error("where", a, b) from None
    except TypeError as exc:
        raise TypeError(f"where: the condition must be a {a.backend} array or a tensor ({exc})") from exc

    def backward(g):
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(xp.where(cond, g, 0), a.shape)
        if b.requires_grad:
            gb = unbroadcast(xp.where(cond, 0, g), b.shape)
        return ga, gb

    return Tensor._from_op(out, (a, b), backward, "where")


def astype(a, dtype):
    """A copy cast to ``dtype`` (float32/float64);  da = g cast back to a's dtype."""
    dtype = as_float_dtype(dtype, "astype")
    source = a.dtype

    def backward(g):
        return (g.astype(source),)

    return Tensor._from_op(a.data.astype(dtype, copy=True), (a,), backward, "astype")


def to_backend(a, name):
    """A copy on backend ``name`` ("numpy" or "cupy");  da = g moved back to a's backend."""
    source = a.backend

    def backward(g):
        return (_backend.to_backend(g, source),)

    data = _backend.to_backend(a.data, name)
    if data is a.data:
        data = data.copy()
    return Tensor._from_op(data, (a,), backward, "to")

