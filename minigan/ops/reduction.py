"""Reductions over any axes: sum, mean, max, var, each with ``keepdims``.

Backward, the gradient of a reduced output is first given back its reduced axes (size 1), then
broadcast over them: every input element that fed an output element gets that element's gradient,
times the local derivative (1 for sum, 1/n for mean, the argmax indicator for max, 2(x−μ)/(n−ddof) for
var).
"""

import numpy as np

from minigan.errors import ShapeError
from minigan.ops.namespace import array_of, namespace
from minigan.tensor import Tensor


def normalize_axes(op, axis, ndim):
    """``axis`` (None, an int or a tuple) as a sorted tuple of non-negative axes, checked."""
    if axis is None:
        return tuple(range(ndim))
    axes = (int(axis),) if isinstance(axis, (int, np.integer)) else tuple(int(ax) for ax in axis)
    normalized = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ShapeError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dimension(s)")
        normalized.append(ax % ndim)
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(normalized))


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` set to 1 (the shape ``keepdims=True`` gives)."""
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


def _count(shape, axes):
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


def sum(a, axis=None, keepdims=False):
    """out = Σ over ``axis``;  da = g broadcast back over the summed axes."""
    axes = normalize_axes("sum", axis, a.ndim)
    out = a.data.sum(axis=axes, keepdims=keepdims)
    keep = kept_shape(a.shape, axes)
    a_shape = a.shape

    def backward(g, needs):
        return (namespace(g).broadcast_to(g.reshape(keep), a_shape),)

    return Tensor._from_op(out, (a,), backward, "sum", saved=())


def mean(a, axis=None, keepdims=False):
    """out = (1/n) Σ over ``axis``;  da = g / n broadcast back (n = number of elements averaged)."""
    axes = normalize_axes("mean", axis, a.ndim)
    n = _count(a.shape, axes)
    if n == 0:
        raise ShapeError(f"mean: no elements to average over axes {axes} of shape {a.shape}")
    out = a.data.mean(axis=axes, keepdims=keepdims)
    keep = kept_shape(a.shape, axes)
    a_shape = a.shape

    def backward(g, needs):
        return (namespace(g).broadcast_to(g.reshape(keep) / n, a_shape),)

    return Tensor._from_op(out, (a,), backward, "mean", saved=())


def max(a, axis=None, keepdims=False):
    """out = max over ``axis``;  da = g at the maximum, 0 elsewhere.

    Tie rule: when several elements share the maximum, the gradient is split equally among them (so
    it still sums to g), as ``torch.amax`` does. A NaN is the maximum (it propagates, as in NumPy).
    """
    return _extreme("max", a, axis, keepdims)


def _extreme(op, a, axis, keepdims):
    """max/min over ``axis``: the gradient goes to the extreme elements, split equally at ties."""
    axes = normalize_axes(op, axis, a.ndim)
    if _count(a.shape, axes) == 0:
        raise ShapeError(f"{op}: no elements to reduce over axes {axes} of shape {a.shape}")
    peak = getattr(a.data, op)(axis=axes, keepdims=True)
    out = peak if keepdims else peak.reshape([s for i, s in enumerate(a.shape) if i not in axes])
    keep = peak.shape

    def backward(g, needs, a):
        a = array_of(a)
        xp = namespace(a)
        is_peak = (a == peak) | (xp.isnan(a) & xp.isnan(peak))  # a mask: constant under create_graph
        is_peak = is_peak.astype(g.dtype)
        return (is_peak * (g.reshape(keep) / is_peak.sum(axis=axes, keepdims=True)),)

    return Tensor._from_op(out, (a,), backward, op, saved=(a,))


def var(a, axis=None, ddof=0, keepdims=False):
    """out = Σ (x − μ)² / (n − ddof) over ``axis``;  da = g · 2 (x − μ) / (n − ddof).

    ``ddof=0`` (the default, as in NumPy) is the biased variance; ``ddof=1`` the unbiased one. The μ
    term needs no gradient of its own: Σ (x − μ) = 0, so its contribution vanishes. (Under
    ``create_graph`` the backward recomputes x − μ from x, so its own derivative includes μ's.)
    """
    axes = normalize_axes("var", axis, a.ndim)
    n = _count(a.shape, axes)
    if n - ddof <= 0:
        raise ShapeError(
            f"var: {n} element(s) over axes {axes} of shape {a.shape} are too few for ddof={ddof}"
        )
    centered = a.data - a.data.mean(axis=axes, keepdims=True)
    out = (centered * centered).sum(axis=axes, keepdims=keepdims) / (n - ddof)
    del centered
    keep = kept_shape(a.shape, axes)

    def backward(g, needs, a):
        centered = a - a.mean(axis=axes, keepdims=True)
        return (g.reshape(keep) * (2.0 / (n - ddof)) * centered,)

    return Tensor._from_op(out, (a,), backward, "var", saved=(a,))
