"""Ops that move elements without changing them: reshape, transpose, getitem, concatenate, stack.

Their backward moves the gradient back to where each element came from: reshape back, transpose by
the inverse permutation, scatter-add into zeros for indexing (an element picked twice gets both
gradients), split for concatenate and stack.
"""

import numpy as np

from minigan.errors import ShapeError
from minigan.ops.broadcasting import unbroadcast
from minigan.ops.namespace import namespace
from minigan.tensor import Tensor, check_same_backend


def reshape(a, shape):
    """The same elements in shape ``shape`` (one axis may be −1);  da = g reshaped to a's shape."""
    try:
        out = a.data.reshape(shape)
    except (ValueError, TypeError):
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {shape}") from None
    a_shape = a.shape

    def backward(g, needs):
        return (g.reshape(a_shape),)

    return Tensor._from_op(out, (a,), backward, "reshape", saved=())


def transpose(a, axes=None):
    """Permute the axes (reverse them when ``axes`` is None);  da = g permuted by the inverse."""
    if axes is None:
        axes = tuple(reversed(range(a.ndim)))
    if (len(axes) != a.ndim or any(not -a.ndim <= ax < a.ndim for ax in axes)
            or sorted(ax % a.ndim for ax in axes) != list(range(a.ndim))):
        raise ShapeError(f"transpose: {axes} is not a permutation of the {a.ndim} axes of shape {a.shape}")
    axes = tuple(ax % a.ndim for ax in axes)
    inverse = tuple(np.argsort(axes))

    def backward(g, needs):
        return (g.transpose(inverse),)

    return Tensor._from_op(a.data.transpose(axes), (a,), backward, "transpose", saved=())


def broadcast_to(a, shape):
    """a stretched to ``shape`` by NumPy's broadcasting rules (a read-only view, as ``numpy.broadcast_to``
    and PyTorch's ``expand``);  da = g summed over the stretched axes (:func:`unbroadcast`)."""
    shape = tuple(int(n) for n in shape)
    try:
        out = a.xp.broadcast_to(a.data, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None
    a_shape = a.shape

    def backward(g, needs):
        return (unbroadcast(g, a_shape),)

    return Tensor._from_op(out, (a,), backward, "broadcast_to", saved=())


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
    Under ``create_graph`` that scatter is the op :func:`scatter_add`, whose own backward is indexing.
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
    a_shape = a.shape

    def backward(g, needs):
        return (scatter_add(g, index, a_shape),)

    return Tensor._from_op(out, (a,), backward, "getitem", saved=())


def scatter_add(values, index, shape):
    """zeros(shape) with ``values`` added at ``index`` (an element indexed twice gets both): the
    backward of ``getitem``. On a tensor it is an op whose backward is ``g[index]``; on an array, the
    array.
    """
    index = index if isinstance(index, tuple) else (index,)
    is_tensor = isinstance(values, Tensor)
    xp = values.xp if is_tensor else namespace(values)
    data = values.data if is_tensor else values
    out = xp.zeros(shape, dtype=data.dtype)
    if any(_is_advanced(part) for part in index):
        _scatter_add(xp, out, index, data)
    else:
        out[index] = data
    if not is_tensor:
        return out

    def backward(g, needs):
        return (g[index],)

    return Tensor._from_op(out, (values,), backward, "scatter_add", saved=())


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
    ends = np.cumsum([t.shape[axis] for t in tensors])
    pieces = [(slice(None),) * axis + (slice(int(end - t.shape[axis]), int(end)),) for t, end in zip(tensors, ends)]

    def backward(g, needs):
        return tuple(g[piece] if need else None for piece, need in zip(pieces, needs))

    return Tensor._from_op(out, tuple(tensors), backward, "concatenate", saved=())


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis;  each input's gradient is its slice of g."""
    tensors, xp, out, axis = _join("stack", tensors, axis, "stack")
    before = (slice(None),) * axis

    def backward(g, needs):
        return tuple(g[before + (i,)] if need else None for i, need in enumerate(needs))

    return Tensor._from_op(out, tuple(tensors), backward, "stack", saved=())
