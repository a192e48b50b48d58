"""softmax, log_softmax and logsumexp: each one op, shifted by the maximum so that no exp overflows.

Their backwards are closed forms in the op's output (softmax, log_softmax) or in the input and the
output (logsumexp), written with operators and ``namespace(g)`` functions, so that each differentiates
again (see :mod:`minigan.autograd`).

Infinities follow NumPy and PyTorch: an element −inf gets probability 0 (log-probability −inf) and
passes no gradient; logsumexp over nothing but −inf is −inf. A softmax or log_softmax slice that is
all −inf, or holds +inf, is NaN, as in PyTorch; no floating-point warning is raised for it.
"""

import numpy as np

from minigan.autograd import OUTPUT
from minigan.errors import ShapeError
from minigan.ops.namespace import array_of, namespace
from minigan.ops.reduction import _count, normalize_axes
from minigan.tensor import Tensor


def _one_axis(op, axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be one int, got {axis!r}")
    if ndim == 0:
        raise ShapeError(f"{op}: needs at least one dimension to normalize over, got a 0-d tensor")
    return normalize_axes(op, axis, ndim)


def _maximum(data, axes):
    """The maximum over ``axes`` (kept), or 0 where the axes hold no element (nothing to shift)."""
    if _count(data.shape, axes) == 0:
        return data.sum(axis=axes, keepdims=True)
    return data.max(axis=axes, keepdims=True)


def softmax(a, axis=-1):
    """s = exp(x − m) / Σ exp(x − m) along ``axis``, m the maximum;  da = s ⊙ (g − Σ g s).

    Saves its output s, not x. An element −inf gets s = 0 (and no gradient).
    """
    axes = _one_axis("softmax", axis, a.ndim)
    with np.errstate(invalid="ignore"):  # −inf − (−inf) in an all −inf slice: NaN, as in PyTorch
        e = a.xp.exp(a.data - _maximum(a.data, axes))
        e /= e.sum(axis=axes, keepdims=True)

    def backward(g, needs, s):
        return (s * (g - (g * s).sum(axis=axes, keepdims=True)),)

    return Tensor._from_op(e, (a,), backward, "softmax", saved=(OUTPUT,))


def log_softmax(a, axis=-1):
    """out = x − m − log Σ exp(x − m) along ``axis``, m the maximum;  da = g − exp(out) · Σ g.

    Saves its output, not x. An element −inf gets out = −inf (and no gradient: exp(out) = 0 there).
    """
    axes = _one_axis("log_softmax", axis, a.ndim)
    xp = a.xp
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = a.data - _maximum(a.data, axes)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axes, keepdims=True))

    def backward(g, needs, out):
        return (g - namespace(g).exp(out) * g.sum(axis=axes, keepdims=True),)

    return Tensor._from_op(out, (a,), backward, "log_softmax", saved=(OUTPUT,))


def logsumexp(a, axis=None, keepdims=False):
    """out = log Σ exp(x) over ``axis`` (all elements when None) = m + log Σ exp(x − m);  da = g · exp(x − out).

    The shift m is the maximum where it is finite and 0 where it is ±inf (as SciPy's): over nothing
    but −inf the sum is 0 and out = −inf, with no warning, and the gradient there is 0 (exp(x − out)
    would be exp(−inf − (−inf)) = NaN, so the backward subtracts +inf instead, a constant chosen by a
    mask, and no NaN reaches any derivative); a +inf gives out = +inf, and a NaN gradient for that
    element (as in PyTorch). Over no elements, out = −inf.
    """
    axes = normalize_axes("logsumexp", axis, a.ndim)
    xp = a.xp
    shift = _maximum(a.data, axes)
    shift = xp.where(xp.isfinite(shift), shift, 0)
    with np.errstate(divide="ignore"):
        out = xp.log(xp.exp(a.data - shift).sum(axis=axes, keepdims=True)) + shift
    keep = out.shape
    if not keepdims:
        out = out.reshape([size for i, size in enumerate(a.shape) if i not in axes])

    def backward(g, needs, a, out):
        xp = namespace(g)
        total = out.reshape(keep)
        nothing = array_of(total) == -np.inf  # a mask: constant under create_graph
        with np.errstate(invalid="ignore"):  # +inf − (+inf) where x holds +inf: NaN, as in PyTorch
            return (g.reshape(keep) * xp.exp(a - xp.where(nothing, np.inf, total)),)

    return Tensor._from_op(out, (a,), backward, "logsumexp", saved=(a, OUTPUT))
