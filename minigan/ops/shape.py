"""Ops that move elements without changing them: reshape, transpose, getitem, concatenate, stack.

Their backward moves the gradient back to where each element came from: reshape back, transpose by
the inverse permutation, scatter-add into zeros for indexing (an element picked twice gets both
gradients), split for concatenate and stack.
"""

import numpy as np

from minigan.errors import ShapeError
from minigan.tensor import Tensor, check_same_backend


def reshape(a, shape):
    """The same elements in shape ``shape`` (one axis may be −1);  da = g reshaped to a's shape."""
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {shape}") from None

    def backward(g):
        return (g.reshape(a.shape),)

    return Tensor._from_op(out, (a,), backward, "reshape")


def transpose(a, axes=None):
    """Permute the axes (reverse them when ``axes`` is None);  da = g permuted by the inverse."""
    if axes is None:
        axes = tuple(reversed(range(a.ndim)))
    if (len(axes) != a.ndim or any(not -a.ndim <= ax < a.ndim for ax in axes)
            or sorted(ax % a.ndim for ax in axes) != list(range(a.ndim))):
        raise ShapeError(f"transpose: {axes} is not a permutation of the {a.ndim} axes of shape {a.shape}")
    axes = tuple(ax % a.ndim for ax in axes)
    inverse = tuple(np.argsort(axes))

    def backward(g):
        return (g.transpose(inverse),)

    return Tensor._from_op(a.data.transpose(axes), (a,), backward, "transpose")


def _is_advanced(part):
    return not (part is None or part is Ellipsis or isinstance(part, (int, np.integer, slice)))


def _normalize_index(index, xp):
    """Lists and arrays in ``index`` become backend arrays; tensors are refused (they are floats)."""
    parts = index if isinstance(index, tuple) else (index,)
    normalized = []
    for part in parts:
        if isinstance(part, Tensor):
            raise TypeError(
                "getitem: index with integers, slices or an integer/boolean array, not a Tensor "
                "(tensors hold floats); use tensor.data.astype(int) if you mean its values"
            )
        if isinstance(part, (list, np.ndarray)) or hasattr(part, "__cuda_array_interface__"):
            part = xp.asarray(part)
        normalized.append(part)
    return tuple(normalized)


def _scatter_add(xp, target, index, values):
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


def getitem(a, index):
    """``a[index]`` with basic slicing and integer/boolean array indexing;  da = g scattered back.

    Basic indexing picks each element at most once, so the gradient is written into zeros; with an
    array index an element can be picked several times, and its gradients are added (scatter-add).
    """
    xp = a.xp
    index = _normalize_index(index, xp)
    try:
        out = a.data[index]
    except IndexError as exc:
        raise ShapeError(f"getitem: index {index} does not fit shape {a.shape}: {exc}") from None
    advanced = any(_is_advanced(part) for part in index)
    if not advanced:
        out = out.copy()

    def backward(g):
        grad = xp.zeros(a.shape, dtype=g.dtype)
        if advanced:
            _scatter_add(xp, grad, index, g)
        else:
            grad[index] = g
        return (grad,)

    return Tensor._from_op(out, (a,), backward, "getitem")


def _as_tensor_list(op, tensors):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected minigan Tensors, got {type(t).__name__}")
    check_same_backend(op, *tensors)
    return tensors


def _join(op, tensors, axis, verb):
    """Check ``tensors`` and join their data with ``xp.concatenate`` or ``xp.stack`` (``op``)."""
    tensors = _as_tensor_list(op, tensors)
    xp = tensors[0].xp
    try:
        out = getattr(xp, op)([t.data for t in tensors], axis=axis)
    except (ValueError, np.exceptions.AxisError) as exc:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ShapeError(f"{op}: cannot {verb} shapes {shapes} along axis {axis}: {exc}") from None
    return tensors, xp, out, axis % out.ndim


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis;  each input's gradient is its slice of g."""
    tensors, xp, out, axis = _join("concatenate", tensors, axis, "join")
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return tuple(xp.split(g, bounds, axis=axis))

    return Tensor._from_op(out, tuple(tensors), backward, "concatenate")


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis;  each input's gradient is its slice of g."""
    tensors, xp, out, axis = _join("stack", tensors, axis, "stack")

    def backward(g):
        return tuple(xp.take(g, i, axis=axis) for i in range(len(tensors)))

    return Tensor._from_op(out, tuple(tensors), backward, "stack")
