"""NumPy broadcasting for binary ops, forwards and backwards.

Forward, :func:`operands` turns whatever a binary op was given into two tensors on one backend (a
Python number, list or array takes the dtype of the tensor it meets). Backward, :func:`unbroadcast`
undoes broadcasting: an input of shape (3, 1) that was stretched to (2, 3, 4) got its value reused 2·4
times, so its gradient is the sum of the output gradient over the stretched axes.
"""

from minigan.errors import BackendError, ShapeError
from minigan.tensor import Tensor, check_same_backend


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes broadcasting added or stretched, so that it has shape ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def constant_like(value, like, op):
    """``value`` (number, list or array) as a tensor with ``like``'s dtype and backend, needing no grad."""
    xp = like.xp
    try:
        data = xp.asarray(value, dtype=like.dtype)
    except TypeError as exc:
        raise BackendError(
            f"{op}: cannot combine a {like.backend} tensor with {type(value).__module__}."
            f"{type(value).__name__} ({exc}); convert it with minigan.tensor(...).to({like.backend!r})"
        ) from exc
    return Tensor._from_op(data, (), None, None)


def operands(op, a, b):
    """The two operands of binary op ``op`` as tensors of one backend."""
    a_is_tensor = isinstance(a, Tensor)
    b_is_tensor = isinstance(b, Tensor)
    if a_is_tensor and b_is_tensor:
        if type(a.data) is not type(b.data):
            check_same_backend(op, a, b)
        return a, b
    if a_is_tensor:
        return a, constant_like(b, a, op)
    if b_is_tensor:
        return constant_like(a, b, op), b
    raise TypeError(f"{op}: expected at least one minigan Tensor, got {type(a).__name__} and {type(b).__name__}")


def broadcast_error(op, a, b):
    """The error for operands of ``op`` whose shapes do not broadcast."""
    return ShapeError(
        f"{op}: cannot broadcast shapes {a.shape} and {b.shape}: each pair of trailing axes must be "
        "equal or have one of them 1"
    )
