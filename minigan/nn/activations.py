"""Activations: ``leaky_relu`` and ``relu`` as ops with their backward, and the activation modules.

``tanh`` and ``sigmoid`` are core ops (:mod:`minigan.ops.elementwise`); the modules here wrap them.
At x = 0 (the kink) ReLU and LeakyReLU take the slope of the negative side, as PyTorch does.
``bias_leaky_relu`` adds a bias first, fused into one op on the CuPy backend.
"""

from minigan import backends, cuda, ops
from minigan.autograd import OUTPUT
from minigan.nn.module import Module
from minigan.ops.namespace import array_of, namespace
from minigan.tensor import Tensor, check_same_backend


def leaky_relu(x, negative_slope=0.2):
    """out = x for x > 0, slope · x otherwise;  dx = g for x > 0, slope · g otherwise.

    For a slope of at least 0 the sign of the output is the sign of the input, so the op saves its
    output — which the next layer usually keeps anyway — rather than its input: [x > 0] = [out > 0].
    A negative slope flips the sign, and then the input is saved.

    Written without ``where`` when it can be (0 ≤ slope ≤ 1): out = max(x, slope · x) and
    dx = g · (slope + (1 − slope) · [x > 0]) give the same numbers, but ``where`` on random signs
    mispredicts a branch per element and costs about ten times as much (benchmarks/RESULTS.md). The
    mask is piecewise constant, so the second derivative with respect to x is 0 and the backward is
    linear in g: under ``create_graph`` it is recorded as g times a constant.
    """
    xp = x.xp
    slope = xp.asarray(negative_slope, dtype=x.dtype)
    arithmetic = 0 <= negative_slope <= 1 and (1 - slope) + slope == 1
    if arithmetic:
        out = leaky_relu_arrays(x.data, slope)
    else:
        out = xp.where(x.data > 0, x.data, x.data * slope)

    def backward(g, needs, signed):
        if arithmetic:
            if isinstance(g, Tensor):  # a constant factor times g, recorded
                return (g * leaky_relu_factor(array_of(signed), slope, 1 - slope),)
            return (leaky_relu_backward_arrays(g, signed, slope, 1 - slope),)
        return (namespace(g).where(signed > 0, g, g * slope),)

    saved = (OUTPUT,) if negative_slope >= 0 else (x,)
    return Tensor._from_op(out, (x,), backward, "leaky_relu", saved=saved)


def leaky_relu_arrays(x, slope, out=None):
    """max(x, slope · x) on arrays (0 ≤ slope ≤ 1, a 0-d array of x's dtype), into ``out`` if given.
    :func:`leaky_relu` and the static training step (:mod:`minigan.gan.static_step`) share it."""
    xp = backends.array_module(x)
    out = xp.multiply(x, slope, out=out)
    return xp.maximum(out, x, out=out)


def leaky_relu_factor(signed, slope, one_minus_slope, out=None, mask=None):
    """[x > 0](1 − slope) + slope, from an array ``signed`` with x's signs (the output, saved: no mask is
    kept between the passes), into ``out`` (with the mask in ``mask``) if given."""
    xp = backends.array_module(signed)
    factor = xp.multiply(xp.greater(signed, 0, out=mask), one_minus_slope, out=out)
    factor += slope
    return factor


def leaky_relu_backward_arrays(g, signed, slope, one_minus_slope, out=None, mask=None):
    """dx = ([x > 0](1 − slope) + slope) · g on arrays, in one array (``out`` if given)."""
    dx = leaky_relu_factor(signed, slope, one_minus_slope, out, mask)
    dx *= g
    return dx


def bias_leaky_relu(x, bias, negative_slope=0.2):
    """out = leaky_relu(x + b) for x (N, C) and b (C,).

    On the CuPy backend (the "bias_leaky_relu" family of :mod:`minigan.cuda`, x and b of one dtype) it
    is one op, ``kernels/bias_leaky_relu.cu``: forward saves the mask [x + b > 0], and backward gives
    dx = g where x + b > 0 else slope · g, and db = Σₙ dx. out and dx are leaky_relu's bit for bit
    (db is summed in another order); under ``create_graph`` the same formula runs as tensor ops.
    Elsewhere it is the two ops ``leaky_relu(x + bias)``.
    """
    fused = (x.ndim == 2 and bias.shape == (x.shape[1],) and x.dtype == bias.dtype
             and cuda.use_kernel("bias_leaky_relu", x.data))
    if not fused:
        return leaky_relu(x + bias, negative_slope)
    check_same_backend("bias_leaky_relu", x, bias)
    out, positive = cuda.bias_leaky_relu_forward(x.data, bias.data, negative_slope)

    def backward(g, needs):
        if isinstance(g, Tensor):
            d_x = ops.where(positive, g, g * negative_slope)
            return (d_x if needs[0] else None), (d_x.sum(axis=0) if needs[1] else None)
        d_x, d_bias = cuda.bias_leaky_relu_backward(g, positive, negative_slope)
        return (d_x if needs[0] else None), (d_bias if needs[1] else None)

    return Tensor._from_op(out, (x, bias), backward, "bias_leaky_relu", saved=())


def relu(x):
    """out = max(x, 0);  dx = g for x > 0, else 0 (also at x = 0). relu(−∞) = 0 and relu(NaN) = NaN.

    It saves its output: [x > 0] = [out > 0].
    """
    out = x.xp.maximum(x.data, x.xp.asarray(0, dtype=x.dtype))

    def backward(g, needs, out):
        return (g * (out > 0),)

    return Tensor._from_op(out, (x,), backward, "relu", saved=(OUTPUT,))


class LeakyReLU(Module):
    """y = x for x > 0, ``negative_slope`` · x otherwise (0.2 by default, the GAN convention)."""

    def __init__(self, negative_slope=0.2):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ReLU(Module):
    """y = max(x, 0)."""

    def forward(self, x):
        return relu(x)


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x):
        return ops.tanh(x)


class Sigmoid(Module):
    """y = 1 / (1 + e⁻ˣ), computed without overflow for any x."""

    def forward(self, x):
        return ops.sigmoid(x)
