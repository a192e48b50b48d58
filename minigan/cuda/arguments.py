"""Checking what the kernel wrappers are given, with errors that name the op, the argument and its
shape, dtype or backend.

The rules: every array is a CuPy array; the floating arrays of one call share one dtype, float32 or
float64; arrays a kernel writes in place must be C-contiguous (a copy would be updated, not them),
while arrays it only reads may have any layout and are copied to C order first.
"""

import numpy as np

from minigan.errors import BackendError, DTypeError, ShapeError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def on_gpu(op, cupy, **arrays):
    """Raise :class:`BackendError` unless every array given (None entries skipped) is a CuPy array."""
    for name, array in arrays.items():
        if array is not None and not isinstance(array, cupy.ndarray):
            kind = type(array)
            raise BackendError(
                f"{op}: {name} is a {kind.__module__}.{kind.__name__}, but the CUDA kernels take CuPy arrays "
                f"(for NumPy arrays use minigan.cuda.reference.{op})"
            )


def common_dtype(op, **arrays):
    """The one float dtype (float32 or float64) shared by the arrays given (None entries skipped)."""
    named = {name: array.dtype for name, array in arrays.items() if array is not None}
    dtypes = set(named.values())
    if len(dtypes) != 1 or next(iter(dtypes)) not in FLOAT_DTYPES:
        described = ", ".join(f"{name} {dtype}" for name, dtype in named.items())
        raise DTypeError(f"{op}: expected float32 or float64 arrays all of one dtype, got {described}")
    return dtypes.pop()


def shaped(op, name, array, shape, because=""):
    """Raise :class:`ShapeError` unless ``array`` (when not None) has shape ``shape``."""
    if array is not None and array.shape != tuple(shape):
        raise ShapeError(f"{op}: {name} has shape {array.shape}, expected {tuple(shape)}{because}")


def paired(op, first, second, names):
    """Raise :class:`ShapeError` unless ``first`` and ``second`` are both None or both given."""
    if (first is None) != (second is None):
        raise ShapeError(f"{op}: give both {names[0]} and {names[1]}, or neither")


def writable(op, name, array):
    """Raise :class:`ShapeError` unless ``array`` (when not None), updated in place, is C-contiguous."""
    if array is not None and not array.flags.c_contiguous:
        raise ShapeError(
            f"{op}: {name} (shape {array.shape}, strides {array.strides}) must be C-contiguous: the kernel "
            "updates it in place, and a contiguous copy would be updated instead"
        )


def listed(value):
    """A list of arrays: ``value`` itself if it is a list or tuple, else a list of one."""
    return list(value) if isinstance(value, (list, tuple)) else [value]
