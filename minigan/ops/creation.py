"""Tensors made from nothing but a shape or another tensor's shape: zeros, ones and their relatives.

Each is a new leaf on the current backend (or the backend of the tensor it copies the shape of), in
the default dtype unless told otherwise, with ``requires_grad=False`` unless asked.
"""

from minigan.tensor import Tensor, as_float_dtype


def zeros_like(a, dtype=None, requires_grad=False):
    """A tensor of zeros with ``a``'s shape, dtype (unless ``dtype`` is given) and backend."""
    dtype = a.dtype if dtype is None else as_float_dtype(dtype, "zeros_like")
    out = Tensor._from_op(a.xp.zeros(a.shape, dtype=dtype), (), None, None)
    return out.requires_grad_(requires_grad)
