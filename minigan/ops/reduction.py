"""Reductions over any axes: sum, mean, max, min, var, std, prod, norm, each with ``keepdims``; and
cumsum, argmax, argmin.

Backward, the gradient of a reduced output is first given back its reduced axes (size 1), then
broadcast over them: every input element that fed an output element gets that element's gradient,
times the local derivative (1 for sum, 1/n for mean, the argmax indicator for max, 2(x−μ)/(n−ddof) for
var, the product of the other elements for prod).
"""

import numpy as np

from minigan.autograd import OUTPUT
from minigan.errors import ShapeError
from minigan.ops.elementwise import abs as magnitude
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


def _variance(op, a, axis, ddof, keepdims):
    """(axes, n, Σ (x − μ)² / (n − ddof)) over ``axis``: the forward var and std share, checked."""
    axes = normalize_axes(op, axis, a.ndim)
    n = _count(a.shape, axes)
    if n - ddof <= 0:
        raise ShapeError(
            f"{op}: {n} element(s) over axes {axes} of shape {a.shape} are too few for ddof={ddof}"
        )
    centered = a.data - a.data.mean(axis=axes, keepdims=True)
    return axes, n, (centered * centered).sum(axis=axes, keepdims=keepdims) / (n - ddof)


def var(a, axis=None, ddof=0, keepdims=False):
    """out = Σ (x − μ)² / (n − ddof) over ``axis``;  da = g · 2 (x − μ) / (n − ddof).

    ``ddof=0`` (the default, as in NumPy) is the biased variance; ``ddof=1`` the unbiased one. The μ
    term needs no gradient of its own: Σ (x − μ) = 0, so its contribution vanishes. (Under
    ``create_graph`` the backward recomputes x − μ from x, so its own derivative includes μ's.)
    """
    axes, n, out = _variance("var", a, axis, ddof, keepdims)
    keep = kept_shape(a.shape, axes)

    def backward(g, needs, a):
        centered = a - a.mean(axis=axes, keepdims=True)
        return (g.reshape(keep) * (2.0 / (n - ddof)) * centered,)

    return Tensor._from_op(out, (a,), backward, "var", saved=(a,))


def min(a, axis=None, keepdims=False):
    """out = min over ``axis``;  da = g at the minimum, 0 elsewhere.

    Tie rule: when several elements share the minimum, the gradient is split equally among them (so
    it still sums to g), as ``torch.amin`` does. A NaN is the minimum (it propagates, as in NumPy).
    """
    return _extreme("min", a, axis, keepdims)


amax = max
amin = min


def _arg_extreme(op, a, axis, keepdims):
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: expected a minigan Tensor, got {type(a).__name__}")
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be None or one int, got {axis!r}")
    axes = normalize_axes(op, axis, a.ndim)
    if _count(a.shape, axes) == 0:
        raise ShapeError(f"{op}: no elements to reduce over axes {axes} of shape {a.shape}")
    return a.xp.asarray(getattr(a.data, op)(axis=axis, keepdims=keepdims))


def argmax(a, axis=None, keepdims=False):
    """The index of the maximum along ``axis`` (of the flattened tensor when None), as NumPy's ``argmax``.

    Returns a backend integer array (tensors hold floats), so it has no gradient and ends the graph.
    Ties give the first index; a NaN counts as the maximum (NumPy's and PyTorch's rules).
    """
    return _arg_extreme("argmax", a, axis, keepdims)


def argmin(a, axis=None, keepdims=False):
    """The index of the minimum along ``axis`` (of the flattened tensor when None), as NumPy's ``argmin``.

    Returns a backend integer array (tensors hold floats), so it has no gradient and ends the graph.
    Ties give the first index; a NaN counts as the minimum (NumPy's and PyTorch's rules).
    """
    return _arg_extreme("argmin", a, axis, keepdims)


def _ones(like, shape):
    """Ones of ``shape`` in ``like``'s dtype and backend: an array for an array, a constant tensor for a tensor."""
    if isinstance(like, Tensor):
        return Tensor._from_op(like.xp.ones(shape, dtype=like.dtype), (), None, None)
    return namespace(like).ones(shape, dtype=like.dtype)


def _exclusive_products(x):
    """For x of shape (..., n): the product of the elements before each one along the last axis (1 for
    the first).

    On an array, one ``cumprod``: O(n). On a tensor the scan is built from mul, slicing and concatenate
    (Hillis–Steele: after the step with shift k each element holds the product of the 2k elements
    ending at it), ⌈log₂ n⌉ ops of O(n) work, each differentiable again. No division anywhere, so
    zeros give exact products.
    """
    n = x.shape[-1]
    head = x.shape[:-1]
    if not isinstance(x, Tensor):
        xp = namespace(x)
        return xp.concatenate([_ones(x, head + (1,)), xp.cumprod(x[..., :n - 1], axis=-1)], axis=-1)
    from minigan.ops.shape import concatenate  # here, not at the top: shape imports this module

    scan = x[..., :n - 1]
    shift = 1
    while shift < n - 1:
        scan = scan * concatenate([_ones(x, head + (shift,)), scan[..., :n - 1 - shift]], axis=-1)
        shift *= 2
    return concatenate([_ones(x, head + (1,)), scan], axis=-1)


def prod(a, axis=None, keepdims=False):
    """out = Π over ``axis`` (1 over no elements);  da = g · Π of the *other* elements of its slice.

    The products of the others are formed without dividing by x (a product of the elements before
    each one times a product of those after it), so they are exact when the slice holds one zero (its
    position gets the product of the rest, the others 0) or several (all 0). Under ``create_graph`` the
    same products are built from ops (see :func:`_exclusive_products`), so prod differentiates to any
    order, zeros included.
    """
    axes = normalize_axes("prod", axis, a.ndim)
    out = a.data.prod(axis=axes, keepdims=keepdims)
    keep = kept_shape(a.shape, axes)
    kept_axes = tuple(i for i in range(a.ndim) if i not in axes)
    order = kept_axes + axes  # the reduced axes last, flattened into one of n elements
    inverse = tuple(int(i) for i in np.argsort(order))
    moved_shape = tuple(a.shape[i] for i in order)
    rows_shape = tuple(a.shape[i] for i in kept_axes) + (_count(a.shape, axes),)

    def backward(g, needs, a):
        if a.size == 0:
            return (namespace(g).zeros_like(a),)
        rows = a.transpose(order).reshape(rows_shape)
        before = _exclusive_products(rows)
        after = _exclusive_products(rows[..., ::-1])[..., ::-1]
        others = (before * after).reshape(moved_shape).transpose(inverse)
        return (g.reshape(keep) * others,)

    return Tensor._from_op(out, (a,), backward, "prod", saved=(a,))


def cumsum(a, axis=None):
    """out[i] = Σ_{j ≤ i} x[j] along ``axis`` (over the flattened tensor, giving 1-D, when None, as NumPy);
    da = the reverse cumulative sum of g: da[j] = Σ_{i ≥ j} g[i] — itself a cumsum, so it
    differentiates again."""
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"cumsum: axis must be None or one int, got {axis!r}")
    flat = axis is None
    ax = 0 if flat else normalize_axes("cumsum", axis, a.ndim)[0]
    out = a.xp.cumsum(a.data, axis=axis)
    reverse = (slice(None),) * ax + (slice(None, None, -1),)
    a_shape = a.shape

    def backward(g, needs):
        da = namespace(g).cumsum(g[reverse], ax)[reverse]
        return (da.reshape(a_shape) if flat else da,)

    return Tensor._from_op(out, (a,), backward, "cumsum", saved=())


def std(a, axis=None, ddof=0, keepdims=False):
    """out = σ = √(Σ (x − μ)² / (n − ddof)) over ``axis``;  da = g · (x − μ) / ((n − ddof) · σ), and 0
    where σ = 0.

    ``ddof=0`` (the default, as in NumPy and :func:`var`) is the biased estimate; PyTorch's
    ``torch.std`` defaults to the unbiased one (``correction=1``): pass ``ddof=1`` for it. Where σ = 0
    (a constant slice) the gradient is 0, as in PyTorch, and the division is never evaluated there, so
    no NaN reaches a second derivative either.
    """
    axes, n, out = _variance("std", a, axis, ddof, keepdims)
    out = a.xp.sqrt(out)
    keep = kept_shape(a.shape, axes)

    def backward(g, needs, a, out):
        xp = namespace(g)
        sigma = out.reshape(keep)
        flat = array_of(sigma) == 0  # a mask: constant under create_graph
        scale = xp.where(flat, 0, g.reshape(keep) / ((n - ddof) * xp.where(flat, 1, sigma)))
        return (scale * (a - a.mean(axis=axes, keepdims=True)),)

    return Tensor._from_op(out, (a,), backward, "std", saved=(a, OUTPUT))


def norm(a, ord=2, axis=None, keepdims=False):
    """The vector p-norm over ``axis`` (all elements when None), as ``torch.linalg.vector_norm``.

    ``ord``:

    - 2 (default): out = √(Σ x²);  da = g · x / out, and 0 where out = 0 (PyTorch's subgradient at the
      zero vector). One op: the division is made by a denominator set to 1 where out = 0 and its
      result masked there ("double where"), so no 0/0 is ever formed and the second derivative is
      finite at the zero vector (0) and exact elsewhere, (g / out)(I − x̂x̂ᵀ). Gradient penalties
      (WGAN-GP's (‖∇D‖₂ − 1)², R1's ‖∇D‖²) are built on it.
    - 1: Σ |x| (sum and abs);  da = g · sign(x), 0 at x = 0.
    - inf / −inf: max |x| / min |x| (max or min of abs);  the gradient g · sign(x) goes to the largest
      (smallest) |x|, split equally at ties.
    - 0: the number of nonzero elements, in x's dtype;  da = 0 (a count has no gradient).
    - any other p > 0: out = (Σ |x|^p)^(1/p);  da = g · sign(x) |x|^(p−1) / out^(p−1), and 0 where
      out = 0 or x = 0 (PyTorch's values: |x|^(p−1) is infinite at 0 for p < 1), both with the double
      where. So the second derivative at an element x = 0 is 0: exact for p > 2; for p < 2 the true
      one is infinite there.
    """
    if isinstance(ord, bool) or not isinstance(ord, (int, float, np.integer, np.floating)) or not (
            ord > 0 or ord == 0 or ord == -np.inf):
        raise ValueError(f"norm: ord must be 2, 1, inf, -inf, 0 or another positive number, got {ord!r}")
    axes = normalize_axes("norm", axis, a.ndim)
    if ord == np.inf or ord == -np.inf:
        if _count(a.shape, axes) == 0:
            raise ShapeError(f"norm: ord={ord} of no elements (axes {axes} of shape {a.shape}) is undefined")
        return _extreme("max" if ord > 0 else "min", magnitude(a), axes, keepdims)
    if ord == 1:
        return sum(magnitude(a), axes, keepdims)
    if ord == 0:
        return _count_nonzero(a, axes, keepdims)
    if ord == 2:
        return _two_norm(a, axes, keepdims)
    return _p_norm(a, float(ord), axes, keepdims)


def _count_nonzero(a, axes, keepdims):
    """norm ord=0: the count of nonzero x, in x's dtype;  da = 0."""
    out = (a.data != 0).sum(axis=axes, keepdims=keepdims).astype(a.dtype)
    keep = kept_shape(a.shape, axes)
    a_shape = a.shape

    def backward(g, needs):
        xp = namespace(g)
        return (xp.zeros_like(xp.broadcast_to(g.reshape(keep), a_shape)),)

    return Tensor._from_op(out, (a,), backward, "norm", saved=())


def _two_norm(a, axes, keepdims):
    """norm ord=2: out = √(Σ x²);  da = x · g / out, 0 where out = 0 (see :func:`norm`)."""
    out = a.xp.sqrt((a.data * a.data).sum(axis=axes, keepdims=keepdims))
    keep = kept_shape(a.shape, axes)

    def backward(g, needs, a, out):
        xp = namespace(g)
        length = out.reshape(keep)
        zero = array_of(length) == 0  # a mask: constant under create_graph
        return (a * xp.where(zero, 0, g.reshape(keep) / xp.where(zero, 1, length)),)

    return Tensor._from_op(out, (a,), backward, "norm", saved=(a, OUTPUT))


def _p_norm(a, p, axes, keepdims):
    """norm for p > 0 other than 1 and 2: out = (Σ |x|^p)^(1/p) (see :func:`norm`)."""
    xp = a.xp
    out = (xp.abs(a.data) ** p).sum(axis=axes, keepdims=keepdims) ** (1 / p)
    keep = kept_shape(a.shape, axes)

    def backward(g, needs, a, out):
        xp = namespace(g)
        length = out.reshape(keep)
        zero = array_of(length) == 0  # masks: constant under create_graph
        scale = xp.where(zero, 0, g.reshape(keep) / xp.where(zero, 1, length) ** (p - 1))
        at_zero = array_of(a) == 0
        direction = xp.where(at_zero, 0, xp.sign(a) * xp.where(at_zero, 1, xp.abs(a)) ** (p - 1))
        return (direction * scale,)

    return Tensor._from_op(out, (a,), backward, "norm", saved=(a, OUTPUT))
