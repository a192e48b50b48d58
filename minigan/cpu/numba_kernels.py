"""The fused CPU kernels, compiled by numba (imported only by :func:`minigan.cpu.numba_kernels`).

Each loop computes every element with the float operations of the plain NumPy code it replaces, in the
same order and in the array's dtype (every constant arrives as a scalar of that dtype, as NumPy casts a
Python number that meets an array), so the results are the same bits; no ``fastmath`` (which would let
LLVM reorder or contract them). Sums over the batch add the rows in order, as NumPy's reduction over
axis 0 of a C-contiguous array does, starting from the first row.
"""

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")  # x / 0 gives inf or NaN, as in NumPy


@_jit
def _maximum(a, b):
    """``np.maximum`` of two floats: NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@_jit
def _leaky_relu_gradient(out, g, slope, one_minus_slope, zero):
    """([out > 0](1 − s) + s) · g, as ``leaky_relu_backward_arrays`` computes it element by element."""
    return ((one_minus_slope if out > 0 else zero) + slope) * g


# ----------------------------------------------------------------------------------- batchnorm
@_jit
def _statistics(y, shift, shifted, running_mean, running_var, track, one_minus_momentum, momentum,
                momentum_unbiased, eps, one, mean, var, inv_std):
    """The batch statistics of x = y (+ shift, when ``shifted``: a Dense layer's product and bias, x never
    stored): μ = Σx / N and σ² = Σ(x − μ)² / N, each sum in x's dtype row by row and divided in float64
    (``np.mean``); the running statistics updated when ``track``; 1/√(σ² + ε) into ``inv_std``, which
    holds the sums until then."""
    n, c = y.shape
    for j in range(c):
        inv_std[j] = y[0, j] + shift[j] if shifted else y[0, j]
    for i in range(1, n):
        for j in range(c):
            inv_std[j] += y[i, j] + shift[j] if shifted else y[i, j]
    for j in range(c):
        mean[j] = np.float64(inv_std[j]) / np.float64(n)
    for j in range(c):
        t = (y[0, j] + shift[j] if shifted else y[0, j]) - mean[j]
        inv_std[j] = t * t
    for i in range(1, n):
        for j in range(c):
            t = (y[i, j] + shift[j] if shifted else y[i, j]) - mean[j]
            inv_std[j] += t * t
    for j in range(c):
        var[j] = np.float64(inv_std[j]) / np.float64(n)
    if track:
        for j in range(c):
            running_mean[j] = running_mean[j] * one_minus_momentum + mean[j] * momentum
            running_var[j] = running_var[j] * one_minus_momentum + var[j] * momentum_unbiased
    for j in range(c):
        inv_std[j] = one / np.sqrt(var[j] + eps)


@_jit
def batchnorm_forward(x, weight, bias, running_mean, running_var, track, one_minus_momentum, momentum,
                      momentum_unbiased, eps, one, out, mean, var, inv_std):
    _statistics(x, weight, False, running_mean, running_var, track, one_minus_momentum, momentum,
                momentum_unbiased, eps, one, mean, var, inv_std)
    n, c = x.shape
    for i in range(n):
        for j in range(c):
            out[i, j] = (x[i, j] - mean[j]) * inv_std[j] * weight[j] + bias[j]


@_jit
def batchnorm_backward(g, x, weight, mean, inv_std, needs_x, m, out, sum_g, sum_g_x_hat):
    n, c = x.shape
    for j in range(c):
        sum_g[j] = g[0, j]
        sum_g_x_hat[j] = g[0, j] * ((x[0, j] - mean[j]) * inv_std[j])
    for i in range(1, n):
        for j in range(c):
            sum_g[j] += g[i, j]
            sum_g_x_hat[j] += g[i, j] * ((x[i, j] - mean[j]) * inv_std[j])
    if not needs_x:
        return
    for i in range(n):
        for j in range(c):
            x_hat = (x[i, j] - mean[j]) * inv_std[j]
            out[i, j] = (g[i, j] * m - sum_g[j] - x_hat * sum_g_x_hat[j]) * (inv_std[j] * weight[j] / m)


@_jit
def bias_batchnorm_leaky_relu_forward(y, shift, weight, bias, running_mean, running_var, track, one_minus_momentum,
                                      momentum, momentum_unbiased, eps, one, slope, out, mean, var, inv_std):
    """BatchNorm of t = y + shift (a Dense layer's product and bias), then LeakyReLU: ``batchnorm_forward``
    on t (recomputed, never stored) with max(s·u, u) applied to each output u."""
    _statistics(y, shift, True, running_mean, running_var, track, one_minus_momentum, momentum, momentum_unbiased,
                eps, one, mean, var, inv_std)
    n, c = y.shape
    for i in range(n):
        for j in range(c):
            u = (y[i, j] + shift[j] - mean[j]) * inv_std[j] * weight[j] + bias[j]
            out[i, j] = _maximum(u * slope, u)


@_jit
def bias_batchnorm_leaky_relu_backward(g, out, y, shift, weight, mean, inv_std, slope, one_minus_slope, zero, m,
                                       d_y, d_shift, sum_g, sum_g_x_hat):
    """Back through the LeakyReLU (from the saved output's signs), BatchNorm (its closed form, x̂ recomputed
    from y + shift) and the bias: ∂ℓ/∂y into ``d_y`` and its column sums (∂ℓ/∂shift) into ``d_shift``."""
    n, c = y.shape
    for j in range(c):
        gj = _leaky_relu_gradient(out[0, j], g[0, j], slope, one_minus_slope, zero)
        sum_g[j] = gj
        sum_g_x_hat[j] = gj * ((y[0, j] + shift[j] - mean[j]) * inv_std[j])
    for i in range(1, n):
        for j in range(c):
            gj = _leaky_relu_gradient(out[i, j], g[i, j], slope, one_minus_slope, zero)
            sum_g[j] += gj
            sum_g_x_hat[j] += gj * ((y[i, j] + shift[j] - mean[j]) * inv_std[j])
    for i in range(n):
        for j in range(c):
            gj = _leaky_relu_gradient(out[i, j], g[i, j], slope, one_minus_slope, zero)
            x_hat = (y[i, j] + shift[j] - mean[j]) * inv_std[j]
            d = (gj * m - sum_g[j] - x_hat * sum_g_x_hat[j]) * (inv_std[j] * weight[j] / m)
            d_y[i, j] = d
            if i == 0:
                d_shift[j] = d
            else:
                d_shift[j] += d


# ----------------------------------------------------------------------------- bias_leaky_relu
@_jit
def bias_leaky_relu_forward(y, bias, slope, out):
    n, c = y.shape
    for i in range(n):
        for j in range(c):
            t = y[i, j] + bias[j]
            out[i, j] = _maximum(t * slope, t)


@_jit
def bias_leaky_relu_backward(g, out, slope, one_minus_slope, zero, d_y, d_bias):
    n, c = g.shape
    for i in range(n):
        for j in range(c):
            d_y[i, j] = _leaky_relu_gradient(out[i, j], g[i, j], slope, one_minus_slope, zero)
    for j in range(c):
        d_bias[j] = d_y[0, j]
    for i in range(1, n):
        for j in range(c):
            d_bias[j] += d_y[i, j]


# ----------------------------------------------------------------------------------- optimizer
@_jit
def adam(param, g, m, v, max_v, amsgrad, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, step_size, bias2_sqrt):
    for i in range(param.size):
        gi = g[i]
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + gi * gi * one_minus_beta2
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = _maximum(max_v[i], vi)
            max_v[i] = vi
        param[i] -= mi / (np.sqrt(vi) / bias2_sqrt + eps) * step_size


@_jit
def sgd(param, g, buffer, has_buffer, momentum, nesterov, lr):
    for i in range(param.size):
        d = g[i]
        if has_buffer:
            b = buffer[i] * momentum + d
            buffer[i] = b
            d = momentum * b + d if nesterov else b
        param[i] -= d * lr


@_jit
def rmsprop(param, g, square_avg, grad_avg, centered, buffer, has_momentum, alpha, one_minus_alpha, eps, momentum,
            lr):
    for i in range(param.size):
        gi = g[i]
        s = square_avg[i] * alpha + gi * gi * one_minus_alpha
        square_avg[i] = s
        if centered:
            a = grad_avg[i] * alpha + gi * one_minus_alpha
            grad_avg[i] = a
            d = np.sqrt(s - a * a) + eps
        else:
            d = np.sqrt(s) + eps
        step = gi / d
        if has_momentum:
            b = buffer[i] * momentum + step
            buffer[i] = b
            step = b
        param[i] -= step * lr
