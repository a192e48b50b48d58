"""Fused sigmoid + binary cross-entropy on CuPy logits, reduced to one number:
``kernels/bce_with_logits.cu`` (the math is there).

The target is a CuPy array shaped like the logits, or one Python/NumPy number for every element (no
array of copies is made). ``reduction`` is "mean" or "sum". The loss comes back as a 0-d CuPy array;
backward reads the upstream gradient from the device, so neither direction waits for the GPU.
"""

import numbers

import numpy as np

from minigan.backends import load_cupy
from minigan.cuda import arguments, launch
from minigan.cuda.loader import KernelSource
from minigan.errors import ShapeError

SOURCE = KernelSource("bce_with_logits.cu", ("bce_with_logits_forward", "bce_with_logits_forward_scalar",
                                             "bce_with_logits_backward", "bce_with_logits_backward_scalar",
                                             "sum_partials"))
REDUCTIONS = ("mean", "sum")
REDUCE_BLOCK = 256
ELEMENTS_PER_BLOCK = 16 * REDUCE_BLOCK  # up to this many logits, one block computes the loss alone
MAX_PARTIALS = 1024


def _checked(op, cupy, logits, target, reduction):
    """(logits in C order, target array or scalar, dtype, divisor, kernel suffix)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS} (the kernel reduces), got {reduction!r}")
    scalar_target = isinstance(target, numbers.Real)
    arguments.on_gpu(op, cupy, logits=logits, target=None if scalar_target else target)
    if scalar_target:
        dtype = arguments.common_dtype(op, logits=logits)
        target = dtype.type(target)
    else:
        arguments.shaped(op, "target", target, logits.shape, " (the shape of logits)")
        dtype = arguments.common_dtype(op, logits=logits, target=target)
        target = cupy.ascontiguousarray(target)
    divisor = dtype.type(logits.size if reduction == "mean" else 1)
    return cupy.ascontiguousarray(logits), target, dtype, divisor, "_scalar" if scalar_target else ""


def bce_with_logits_forward(logits, target, reduction="mean"):
    """L = Σᵢ [max(zᵢ, 0) − zᵢ tᵢ + log(1 + e^(−|zᵢ|))] / divisor, divisor n ("mean") or 1 ("sum");
    a 0-d array."""
    op = "bce_with_logits_forward"
    cupy = load_cupy()
    z, target, dtype, divisor, suffix = _checked(op, cupy, logits, target, reduction)
    n = z.size
    if n == 0:
        if reduction == "mean":
            raise ShapeError(f"{op}: no elements to average (logits of shape {z.shape})")
        return cupy.zeros((), dtype=dtype)
    loss = cupy.empty((), dtype=dtype)
    blocks = min(-(-n // ELEMENTS_PER_BLOCK), MAX_PARTIALS)
    partials = loss if blocks == 1 else cupy.empty(blocks, dtype=dtype)
    shared = REDUCE_BLOCK * dtype.itemsize
    SOURCE.function("bce_with_logits_forward" + suffix, dtype)(
        (blocks,), (REDUCE_BLOCK,), (z, target, partials, np.int64(n), divisor if blocks == 1 else dtype.type(1)),
        shared_mem=shared)
    if blocks > 1:
        SOURCE.function("sum_partials", dtype)(
            (1,), (REDUCE_BLOCK,), (partials, loss, np.int64(blocks), divisor), shared_mem=shared)
    return loss


def bce_with_logits_backward(grad_loss, logits, target, reduction="mean"):
    """∂/∂zᵢ = (G / divisor) · (σ(zᵢ) − tᵢ), G = ``grad_loss`` (a one-element array, read on the GPU)."""
    op = "bce_with_logits_backward"
    cupy = load_cupy()
    z, target, dtype, divisor, suffix = _checked(op, cupy, logits, target, reduction)
    arguments.on_gpu(op, cupy, grad_loss=grad_loss)
    if grad_loss.size != 1:
        raise ShapeError(f"{op}: grad_loss must hold one value (the loss is a scalar), got shape {grad_loss.shape}")
    arguments.common_dtype(op, logits=logits, grad_loss=grad_loss)
    grad = cupy.empty_like(z)
    if z.size:
        grid, block = launch.elementwise(z.size)
        SOURCE.function("bce_with_logits_backward" + suffix, dtype)(
            grid, block, (z, target, cupy.ascontiguousarray(grad_loss), grad, np.int64(z.size), divisor))
    return grad
