"""Fused bias + LeakyReLU over (N, C) CuPy arrays: ``kernels/bias_leaky_relu.cu`` (the math is there).

Forward saves a boolean mask of where h + b > 0, one byte per element, which is all backward needs.
"""

import numpy as np

from minigan.backends import load_cupy
from minigan.cuda import arguments, launch
from minigan.cuda.loader import KernelSource
from minigan.errors import DTypeError, ShapeError

SOURCE = KernelSource("bias_leaky_relu.cu", ("bias_leaky_relu_forward", "bias_leaky_relu_backward"))


def _rows_and_features(op, name, array):
    if array.ndim != 2:
        raise ShapeError(f"{op}: expected {name} of shape (N, C), got {array.shape}")
    return array.shape


def bias_leaky_relu_forward(h, bias, negative_slope=0.2):
    """y = leaky_relu(h + bias) for h (N, C) and bias (C,): returns ``(y, positive)``, ``positive`` the
    boolean (N, C) mask of h + bias > 0 for :func:`bias_leaky_relu_backward`."""
    op = "bias_leaky_relu_forward"
    cupy = load_cupy()
    arguments.on_gpu(op, cupy, h=h, bias=bias)
    n, c = _rows_and_features(op, "h", h)
    arguments.shaped(op, "bias", bias, (c,), f" for h of shape {h.shape}")
    dtype = arguments.common_dtype(op, h=h, bias=bias)
    h, bias = cupy.ascontiguousarray(h), cupy.ascontiguousarray(bias)
    y = cupy.empty_like(h)
    positive = cupy.empty(h.shape, dtype=cupy.bool_)
    if y.size:
        grid, block = launch.elementwise(y.size)
        SOURCE.function("bias_leaky_relu_forward", dtype)(
            grid, block, (h, bias, y, positive, np.int64(n), np.int64(c), dtype.type(negative_slope)))
    return y, positive


def bias_leaky_relu_backward(grad_out, positive, negative_slope=0.2):
    """From g = ``grad_out`` (N, C) and the forward's mask: returns ``(grad_h, grad_bias)``,
    grad_h = g where positive else slope · g, grad_bias = Σₙ grad_h."""
    op = "bias_leaky_relu_backward"
    cupy = load_cupy()
    arguments.on_gpu(op, cupy, grad_out=grad_out, positive=positive)
    n, c = _rows_and_features(op, "grad_out", grad_out)
    arguments.shaped(op, "positive", positive, grad_out.shape, " (the shape of grad_out)")
    if positive.dtype != np.bool_:
        raise DTypeError(f"{op}: positive must be the boolean mask that bias_leaky_relu_forward returned, "
                         f"got {positive.dtype}")
    dtype = arguments.common_dtype(op, grad_out=grad_out)
    grad_out, positive = cupy.ascontiguousarray(grad_out), cupy.ascontiguousarray(positive)
    grad_h = cupy.empty_like(grad_out)
    grad_bias = cupy.empty(c, dtype=dtype)
    if c:
        grid, block, shared = launch.feature_tiles(n, c, dtype.itemsize)
        SOURCE.function("bias_leaky_relu_backward", dtype)(
            grid, block, (grad_out, positive, grad_h, grad_bias, np.int64(n), np.int64(c), dtype.type(negative_slope)),
            shared_mem=shared)
    return grad_h, grad_bias
