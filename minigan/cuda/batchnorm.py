"""Fused BatchNorm over (N, C) CuPy arrays: ``kernels/batchnorm.cu`` (the math is written there).

Training forward is one launch (batch statistics in two passes, normalisation, affine, running
statistics); training backward is one launch (dx, dγ, dβ in closed form); the eval-mode forward is
one elementwise launch. ``gamma``/``beta`` None mean no affine (γ = 1, β = 0); ``running_mean``/
``running_var`` None mean no running statistics.
"""

import numpy as np

from minigan.backends import load_cupy
from minigan.cuda import arguments, launch
from minigan.cuda.loader import KernelSource
from minigan.errors import ShapeError

SOURCE = KernelSource("batchnorm.cu", ("batchnorm_forward_train", "batchnorm_backward_train",
                                       "batchnorm_forward_eval"))


def _features(op, x):
    if x.ndim != 2 or x.shape[1] < 1:
        raise ShapeError(f"{op}: expected x of shape (N, C) with C ≥ 1, got {x.shape}")
    return x.shape


def _affine(cupy, gamma, beta, c, dtype):
    """γ and β, ones and zeros when not given."""
    if gamma is None:
        return cupy.ones(c, dtype=dtype), cupy.zeros(c, dtype=dtype)
    return cupy.ascontiguousarray(gamma), cupy.ascontiguousarray(beta)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """Training-mode BatchNorm of x (N, C), N ≥ 2: returns ``(y, mean, inv_std)``, the last two (C,)
    for :func:`batchnorm_backward`; updates ``running_mean``/``running_var`` in place (unbiased variance,
    r ← (1 − momentum) r + momentum · statistic), when given."""
    op = "batchnorm_forward"
    cupy = load_cupy()
    arguments.on_gpu(op, cupy, x=x, gamma=gamma, beta=beta, running_mean=running_mean, running_var=running_var)
    n, c = _features(op, x)
    if n < 2:
        raise ShapeError(f"{op}: training needs more than one value per feature to estimate a variance, got "
                         f"x of shape {x.shape}")
    arguments.paired(op, gamma, beta, ("gamma", "beta"))
    arguments.paired(op, running_mean, running_var, ("running_mean", "running_var"))
    for name, array in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                        ("running_var", running_var)):
        arguments.shaped(op, name, array, (c,), f" for x of shape {x.shape}")
    arguments.writable(op, "running_mean", running_mean)
    arguments.writable(op, "running_var", running_var)
    dtype = arguments.common_dtype(op, x=x, gamma=gamma, beta=beta, running_mean=running_mean,
                                   running_var=running_var)
    x = cupy.ascontiguousarray(x)
    gamma, beta = _affine(cupy, gamma, beta, c, dtype)
    y = cupy.empty_like(x)
    mean = cupy.empty(c, dtype=dtype)
    inv_std = cupy.empty(c, dtype=dtype)
    update = running_mean is not None
    if not update:  # the kernel writes running statistics only when told to; any device pointer will do
        running_mean, running_var = mean, inv_std
    scalar = dtype.type
    grid, block, shared = launch.feature_tiles(n, c, dtype.itemsize)
    SOURCE.function("batchnorm_forward_train", dtype)(
        grid, block,
        (x, gamma, beta, y, mean, inv_std, running_mean, running_var, np.int64(n), np.int64(c), scalar(eps),
         scalar(1 - momentum), scalar(momentum), scalar(momentum * n / (n - 1)), np.int32(update)),
        shared_mem=shared)
    return y, mean, inv_std


def batchnorm_backward(grad_out, x, gamma, mean, inv_std):
    """Training-mode BatchNorm backward from g = ``grad_out`` (N, C): returns ``(grad_x, grad_gamma,
    grad_beta)`` with dx = (γ/(N σ))(N g − Σg − x̂ Σ g x̂), dγ = Σ g x̂, dβ = Σ g (sums over the batch),
    x̂ = (x − mean) · inv_std from :func:`batchnorm_forward`'s saved ``mean`` and ``inv_std``."""
    op = "batchnorm_backward"
    cupy = load_cupy()
    arguments.on_gpu(op, cupy, grad_out=grad_out, x=x, gamma=gamma, mean=mean, inv_std=inv_std)
    n, c = _features(op, x)
    arguments.shaped(op, "grad_out", grad_out, x.shape, " (the shape of x)")
    for name, array in (("gamma", gamma), ("mean", mean), ("inv_std", inv_std)):
        arguments.shaped(op, name, array, (c,), f" for x of shape {x.shape}")
    dtype = arguments.common_dtype(op, grad_out=grad_out, x=x, gamma=gamma, mean=mean, inv_std=inv_std)
    grad_out, x = cupy.ascontiguousarray(grad_out), cupy.ascontiguousarray(x)
    mean, inv_std = cupy.ascontiguousarray(mean), cupy.ascontiguousarray(inv_std)
    gamma = cupy.ones(c, dtype=dtype) if gamma is None else cupy.ascontiguousarray(gamma)
    grad_x = cupy.empty_like(x)
    grad_gamma = cupy.empty(c, dtype=dtype)
    grad_beta = cupy.empty(c, dtype=dtype)
    grid, block, shared = launch.feature_tiles(n, c, dtype.itemsize)
    SOURCE.function("batchnorm_backward_train", dtype)(
        grid, block, (grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta, np.int64(n), np.int64(c)),
        shared_mem=shared)
    return grad_x, grad_gamma, grad_beta


def batchnorm_forward_eval(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Eval-mode BatchNorm of x (N, C) with the running statistics:
    y = (x − running_mean) / √(running_var + ε) · γ + β."""
    op = "batchnorm_forward_eval"
    cupy = load_cupy()
    arguments.on_gpu(op, cupy, x=x, gamma=gamma, beta=beta, running_mean=running_mean, running_var=running_var)
    n, c = _features(op, x)
    arguments.paired(op, gamma, beta, ("gamma", "beta"))
    if running_mean is None or running_var is None:
        raise ShapeError(f"{op}: evaluation mode needs running_mean and running_var")
    for name, array in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                        ("running_var", running_var)):
        arguments.shaped(op, name, array, (c,), f" for x of shape {x.shape}")
    dtype = arguments.common_dtype(op, x=x, gamma=gamma, beta=beta, running_mean=running_mean,
                                   running_var=running_var)
    x = cupy.ascontiguousarray(x)
    gamma, beta = _affine(cupy, gamma, beta, c, dtype)
    running_mean, running_var = cupy.ascontiguousarray(running_mean), cupy.ascontiguousarray(running_var)
    y = cupy.empty_like(x)
    if y.size:
        grid, block = launch.elementwise(y.size)
        SOURCE.function("batchnorm_forward_eval", dtype)(
            grid, block, (x, gamma, beta, running_mean, running_var, y, np.int64(n), np.int64(c), dtype.type(eps)))
    return y
