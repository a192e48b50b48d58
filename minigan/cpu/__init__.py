"""Fused CPU kernels: the kernel families of ``kernels/*.cu`` written for NumPy arrays, compiled by numba.

Each plain NumPy op makes one pass over memory; a BatchNorm forward is seven of them, an Adam update
thirteen, each with its temporary. A fused kernel makes the few passes the math needs, with no
temporary, and computes each element with the same float operations in the same order as the plain
ops, so its results are the plain path's **bit for bit** (``tests/test_cpu_kernels.py`` checks every
family against it with the kernels switched off). The families:

- ``"batchnorm"``: BatchNorm's training forward — three passes: the column sums, then Σ(x − μ)², then
  y = ((x − μ)/σ)γ + β with the running statistics updated — and its backward — two passes: Σg and
  Σg x̂, then ∂ℓ/∂x = (γ/(m σ))(m g − Σg − x̂ Σg x̂) — on C-contiguous (N, C) arrays with C > 1; the sums
  add the rows in order, as NumPy's reductions over axis 0 do (one column NumPy reduces as a contiguous
  vector, pairwise: C = 1 takes the plain ops), and μ = Σx / N is divided in float64, as ``np.mean``
  divides (by an ``intp`` count);
- ``"bias_leaky_relu"``: a Dense layer's bias and the LeakyReLU after it, y = max(s(xW + b), xW + b)
  in one pass after the matrix product, and ∂ℓ/∂(xW + b) with Σₙ of it (the bias gradient) in one — in
  the static training step (:mod:`minigan.gan.static_step`); an eager step keeps ``linear`` and
  ``leaky_relu`` as the two ops of its graph on the CPU, the graph a student draws and reads;
- ``"optimizer"``: the Adam, SGD and RMSprop updates in one pass over the flat buffers (the all-at-once
  path of :mod:`minigan.optim`);
- with both "batchnorm" and "bias_leaky_relu" on, the static step runs G's hidden layer — a Dense
  layer's bias, BatchNorm and LeakyReLU — as one kernel each way (three passes forward where the plain
  ops make twelve).

BCE with logits has no CPU kernel: its arrays are D's (N, 1) outputs, a few hundred numbers (the whole
loss, both ways, is about 0.5 ms of a step: ``benchmarks/RESULTS.md``), and a kernel's exp and log1p
(LLVM's) would not give NumPy's bits, which every kernel here keeps.

Switches: the CUDA families' own (:mod:`minigan.cuda.toggles`: ``minigan.cuda.kernels_disabled("batchnorm")``,
``set_kernels_enabled``, ``MINIGAN_KERNELS``), one set for both backends. A family is used on NumPy
arrays when it is on and numba imports (``pip install "minigan[fused]"``); without numba every layer
runs the plain NumPy ops, which stay the readable path and the reference. numba compiles each kernel
the first time it runs (about a second, cached on disk after that) for each dtype.
"""

import numpy as np

from minigan.cuda import toggles

_numba = None  # the kernels module once numba has loaded; False when it cannot


def compiled():
    """The compiled kernels (:mod:`minigan.cpu.numba_kernels`), or None when numba is not installed or
    does not load (the plain NumPy ops then run)."""
    global _numba
    if _numba is None:
        try:
            import minigan.cpu.numba_kernels as module
        except Exception:  # not installed, or a numba that does not match this NumPy
            module = False
        _numba = module
    return _numba or None


def use_fused(family, *arrays):
    """True when every one of ``arrays`` is a NumPy float32/float64 array, C-contiguous, ``family`` is
    switched on and numba has loaded: the layers' one question on the CPU."""
    if not toggles._enabled[family]:
        return False
    for array in arrays:
        if type(array) is not np.ndarray or array.dtype.kind != "f" or not array.flags.c_contiguous:
            return False
    return compiled() is not None


def python_numbers(*values):
    """Whether every value is a Python int, float or bool: NumPy casts those to the array's dtype where they
    meet an array, as the kernels cast them, where a NumPy scalar (np.float64) computes in its own dtype."""
    return all(type(v) in (int, float, bool) for v in values)


def status():
    """One line on the fused CPU kernels: in use (numba's version) or why not."""
    kernels = compiled()
    if kernels is None:
        return 'plain NumPy ops (numba is not installed: pip install "minigan[fused]")'
    off = [f for f in toggles.FAMILIES if not toggles._enabled[f]]
    return f"numba {kernels.numba.__version__} kernels" + (f" ({', '.join(off)} switched off)" if off else "")


def _flat(array):
    """A C-contiguous array as the 1-D view the optimizer kernels index."""
    return array.reshape(-1)


def _scalar(value, dtype):
    """A number, or a 1-element array (the static step's), as a scalar of ``dtype`` (as NumPy casts a
    Python float that meets an array of that dtype)."""
    return dtype.type(value[0] if isinstance(value, np.ndarray) else value)


# ----------------------------------------------------------------------------------- batchnorm
def _statistics_arguments(x, running_mean, running_var, momentum, eps, mean, var):
    """The arguments the BatchNorm kernels' statistics take after the input: the running statistics (the
    batch's own buffers in their place when there are none, never written then), whether they are kept,
    and 1 − momentum, momentum, momentum · m/(m − 1), ε and 1 in x's dtype."""
    t, m = x.dtype.type, x.shape[0]
    track = running_mean is not None
    return (running_mean if track else mean, running_var if track else var, track, t(1 - momentum), t(momentum),
            t(momentum * m / (m - 1)), t(eps), t(1))


def _slope_arguments(slope, dtype):
    """s, 1 − s and 0 in ``dtype``: what the LeakyReLU backwards take."""
    t = dtype.type
    slope = t(slope)
    return slope, t(1) - slope, t(0)


def batchnorm_forward(x, weight, bias, running_mean, running_var, momentum, eps, out, mean, var, inv_std):
    """``train_forward_arrays`` of :mod:`minigan.nn.batchnorm`, fused; every argument an array (the
    running statistics may be None, both or neither)."""
    compiled().batchnorm_forward(x, weight, bias, *_statistics_arguments(x, running_mean, running_var, momentum, eps,
                                                                         mean, var), out, mean, var, inv_std)
    return out, mean, inv_std


def batchnorm_backward(g, x, weight, mean, inv_std, needs_x, out, sum_g, sum_g_x_hat):
    """``train_backward_arrays``, fused: (∂ℓ/∂x or None, Σ g x̂, Σ g)."""
    compiled().batchnorm_backward(g, x, weight, mean, inv_std, needs_x, g.dtype.type(x.shape[0]), out, sum_g,
                                  sum_g_x_hat)
    return (out if needs_x else None), sum_g_x_hat, sum_g


def bias_batchnorm_leaky_relu_forward(y, shift, weight, bias, running_mean, running_var, momentum, eps, slope,
                                      out, mean, var, inv_std):
    """A Dense layer's bias, BatchNorm (training) and a LeakyReLU in one kernel (the static step's G layers;
    families "batchnorm" and "bias_leaky_relu"): ``out`` = leaky(batch_norm(y + shift)), the numbers of
    the three plain ops; returns (out, mean, inv_std)."""
    compiled().bias_batchnorm_leaky_relu_forward(
        y, shift, weight, bias, *_statistics_arguments(y, running_mean, running_var, momentum, eps, mean, var),
        y.dtype.type(slope), out, mean, var, inv_std)
    return out, mean, inv_std


def bias_batchnorm_leaky_relu_backward(g, out, y, shift, weight, mean, inv_std, slope, d_y, d_shift, sum_g,
                                       sum_g_x_hat):
    """Its backward: ∂ℓ/∂y into ``d_y``, ∂ℓ/∂shift, Σ g' and Σ g' x̂ (∂ℓ/∂β and ∂ℓ/∂γ, g' the gradient
    below the LeakyReLU) into the rest."""
    compiled().bias_batchnorm_leaky_relu_backward(g, out, y, shift, weight, mean, inv_std, *_slope_arguments(slope, g.dtype),
                                                  g.dtype.type(y.shape[0]), d_y, d_shift, sum_g, sum_g_x_hat)
    return d_y, d_shift, sum_g_x_hat, sum_g


# ----------------------------------------------------------------------------- bias_leaky_relu
def bias_leaky_relu_forward(y, bias, slope, out):
    """out = max(s (y + b), y + b) for the matrix product y (N, C) and the bias b (C,)."""
    compiled().bias_leaky_relu_forward(y, bias, y.dtype.type(slope), out)
    return out


def bias_leaky_relu_backward(g, out, slope, d_y, d_bias):
    """∂ℓ/∂(xW + b) = ([out > 0](1 − s) + s) g into ``d_y`` and its column sums (∂ℓ/∂b) into ``d_bias``."""
    compiled().bias_leaky_relu_backward(g, out, *_slope_arguments(slope, g.dtype), d_y, d_bias)
    return d_y, d_bias


# ----------------------------------------------------------------------------------- optimizer
def adam_update(param, g, m, v, max_v, beta1, beta2, eps, step_size, bias2_sqrt):
    """Adam's update (``minigan.optim.Adam.apply_update``) in one pass; ``max_v`` None without AMSGrad."""
    t, flat = param.dtype.type, _flat
    compiled().adam(flat(param), flat(g), flat(m), flat(v), flat(max_v if max_v is not None else v),
                    max_v is not None, t(beta1), t(1 - beta1), t(beta2), t(1 - beta2), t(eps),
                    _scalar(step_size, param.dtype), _scalar(bias2_sqrt, param.dtype))


def sgd_update(param, g, buffer, momentum, nesterov, lr):
    """SGD's update with an existing momentum buffer (or none: ``buffer`` None) in one pass."""
    t, flat = param.dtype.type, _flat
    compiled().sgd(flat(param), flat(g), flat(buffer if buffer is not None else g), buffer is not None,
                   t(momentum), nesterov, _scalar(lr, param.dtype))


def rmsprop_update(param, g, square_avg, grad_avg, buffer, alpha, eps, momentum, lr):
    """RMSprop's update (centered when ``grad_avg`` is given, with momentum when ``buffer`` is) in one pass."""
    t, flat = param.dtype.type, _flat
    compiled().rmsprop(flat(param), flat(g), flat(square_avg), flat(grad_avg if grad_avg is not None else square_avg),
                       grad_avg is not None, flat(buffer if buffer is not None else square_avg),
                       buffer is not None, t(alpha), t(1 - alpha), t(eps), t(momentum), _scalar(lr, param.dtype))
