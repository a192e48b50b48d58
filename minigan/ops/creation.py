"""Tensors made from nothing but a shape or another tensor's shape: zeros, ones, full, arange, random draws.

Each is a new leaf with ``requires_grad=False`` unless asked. The factories (``zeros``, ``ones``,
``full``, ``arange``, ``rand``, ``randn``) create it on the current backend in the default dtype; the
``*_like`` ones on the backend of the tensor they copy the shape of, in its dtype. ``dtype=`` (float32
or float64) overrides either. A size is given as PyTorch takes it: ``zeros(2, 3)`` or ``zeros((2, 3))``.

Random draws come from the seeded generator of :mod:`minigan.random`, on the host, and are then
copied to the backend: a seed gives the same numbers on NumPy and on CuPy.
"""

import math
import numbers
import operator

import numpy as np

from minigan import backends, random as _random
from minigan.errors import ShapeError
from minigan.tensor import Tensor, as_float_dtype, get_default_dtype


def _size(size, op):
    """``size`` (ints, or one tuple/list of ints) as a shape tuple, checked."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = []
    for n in size:
        if isinstance(n, bool):
            raise TypeError(f"{op}: sizes must be integers, got the bool {n!r} in {size}")
        try:
            n = operator.index(n)
        except TypeError:
            raise TypeError(f"{op}: sizes must be integers, got {n!r} ({type(n).__name__}) in {size}") from None
        if n < 0:
            raise ShapeError(f"{op}: sizes must be non-negative, got {n} in {size}")
        shape.append(n)
    return tuple(shape)


def _real(value, op, what):
    """``value`` as a finite Python float, or a TypeError/ValueError naming ``op`` and ``what``."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {what} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{op}: {what} must be finite, got {value}")
    return value


def _leaf(array, requires_grad):
    return Tensor._from_op(array, (), None, None).requires_grad_(requires_grad)


def _dtype(dtype, op):
    """The dtype of a new tensor: ``dtype`` if given (checked), else the default dtype."""
    return get_default_dtype() if dtype is None else as_float_dtype(dtype, op)


def _from_host(host, dtype, requires_grad):
    """A leaf on the current backend holding the host array ``host`` cast to ``dtype``."""
    return _leaf(backends.current_module().asarray(host.astype(dtype, copy=False)), requires_grad)


def _like(a, dtype, op):
    """The dtype of a tensor made like ``a``: ``dtype`` if given (checked), else ``a``'s."""
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: expected a minigan Tensor to copy the shape of, got {type(a).__name__}")
    return a.dtype if dtype is None else as_float_dtype(dtype, op)


def _fill(fill_value, op):
    if not isinstance(fill_value, numbers.Real):
        raise TypeError(f"{op}: fill_value must be a real number, got {fill_value!r} ({type(fill_value).__name__})")
    return float(fill_value)


def zeros(*size, dtype=None, requires_grad=False):
    """A tensor of zeros of shape ``size``."""
    shape, dtype = _size(size, "zeros"), _dtype(dtype, "zeros")
    return _leaf(backends.current_module().zeros(shape, dtype=dtype), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    """A tensor of ones of shape ``size``."""
    shape, dtype = _size(size, "ones"), _dtype(dtype, "ones")
    return _leaf(backends.current_module().ones(shape, dtype=dtype), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    """A tensor of shape ``size`` (an int, or a tuple/list of ints) with every element ``fill_value``."""
    shape, fill_value, dtype = _size((size,), "full"), _fill(fill_value, "full"), _dtype(dtype, "full")
    return _leaf(backends.current_module().full(shape, fill_value, dtype=dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """The floats start, start + step, … up to but excluding ``end``, as ``torch.arange``.

    ``arange(n)`` is 0, 1, …, n − 1. There are ⌈(end − start) / step⌉ elements, element i being
    start + i·step computed in float64 and then cast to ``dtype``. A zero step, or a step whose sign
    points away from ``end``, is an error (NumPy would return an empty array).
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_real(start, "arange", "start"), _real(end, "arange", "end"), _real(step, "arange", "step"))
    dtype = _dtype(dtype, "arange")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(
            f"arange: a step of {step} never reaches end={end} from start={start}; the step's sign must "
            "point from start to end"
        )
    count = math.ceil((end - start) / step)
    return _from_host(start + np.arange(count, dtype=np.float64) * step, dtype, requires_grad)


def rand(*size, dtype=None, requires_grad=False):
    """A tensor of shape ``size`` of draws uniform on [0, 1), from :mod:`minigan.random`'s generator."""
    shape, dtype = _size(size, "rand"), _dtype(dtype, "rand")
    return _random.uniform(0.0, 1.0, shape, dtype=dtype, requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """A tensor of shape ``size`` of standard normal draws, from :mod:`minigan.random`'s generator."""
    shape, dtype = _size(size, "randn"), _dtype(dtype, "randn")
    return _random.randn(*shape, dtype=dtype, requires_grad=requires_grad)


def zeros_like(a, dtype=None, requires_grad=False):
    """A tensor of zeros with ``a``'s shape, dtype (unless ``dtype`` is given) and backend."""
    dtype = _like(a, dtype, "zeros_like")
    return _leaf(a.xp.zeros(a.shape, dtype=dtype), requires_grad)


def ones_like(a, dtype=None, requires_grad=False):
    """A tensor of ones with ``a``'s shape, dtype (unless ``dtype`` is given) and backend."""
    dtype = _like(a, dtype, "ones_like")
    return _leaf(a.xp.ones(a.shape, dtype=dtype), requires_grad)


def full_like(a, fill_value, dtype=None, requires_grad=False):
    """A tensor with ``a``'s shape, dtype (unless ``dtype`` is given) and backend, every element ``fill_value``."""
    dtype, fill_value = _like(a, dtype, "full_like"), _fill(fill_value, "full_like")
    return _leaf(a.xp.full(a.shape, fill_value, dtype=dtype), requires_grad)


def rand_like(a, dtype=None, requires_grad=False):
    """Draws uniform on [0, 1) with ``a``'s shape, dtype (unless ``dtype`` is given) and backend."""
    dtype = _like(a, dtype, "rand_like")
    return _random.uniform(0.0, 1.0, a.shape, dtype=dtype, requires_grad=requires_grad, backend=a.backend)


def randn_like(a, dtype=None, requires_grad=False):
    """Standard normal draws with ``a``'s shape, dtype (unless ``dtype`` is given) and backend."""
    dtype = _like(a, dtype, "randn_like")
    return _random.randn(*a.shape, dtype=dtype, requires_grad=requires_grad, backend=a.backend)
