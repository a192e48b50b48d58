"""Third derivatives of the composed ops and layers, and one fourth derivative against a closed form.

For each case f (its inputs and parameters x₁, …, xₖ) and a fixed random weight w shaped like f's
output:

- ``minigan.gradgradcheck`` of h(x) = ∂⟨w, f(x)⟩/∂x (computed with ``create_graph=True``): its double
  backward is f's third derivative, checked against finite differences of f's second derivative;
- where PyTorch is installed, the third-order directional derivative ∂⟨u₂, ∂⟨u₁, ∂⟨w, f⟩/∂x⟩/∂x⟩/∂x
  for random directions u₁, u₂, against PyTorch's, to float64 rounding;
- tanh and sigmoid differentiated four times against their closed forms.

Inputs are drawn away from kinks: minibatch discrimination's L1 distances between different samples
are far from 0 (a sample's distance to itself is exactly 0 whatever the perturbation, and abs'(0) = 0
in both engines).
"""

import numpy as np
import pytest

import minigan
from minigan import nn, ops
from minigan.nn import functional as F
from minigan.tensor import Tensor
from tests.conftest import to_numpy

LABELS = np.array([1, 0, 2])


def f64(array, requires_grad=True):
    return minigan.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, dtype="float64")


def value(t):
    return to_numpy(t.data if isinstance(t, Tensor) else t)


def load(parameter, array):
    parameter.data[...] = parameter.xp.asarray(array)


# --------------------------------------------------------------------------------------- cases
# Each case builds, from a seeded generator, (f, inputs, theirs): minigan's function of the leaves
# ``inputs`` (a layer's parameters among them, read by the layer itself) and PyTorch's function of
# the same values, ``theirs(torch, *leaves)``.
#
# PyTorch's fused layer_norm and batch_norm (and instance_norm, which is batch_norm) give wrong
# derivatives from the third order on: their double backward treats the saved mean and 1/σ as
# constants (pytorch/pytorch issues 175754 and 186256). Their PyTorch side is therefore the same
# normalisation composed from PyTorch's primitive ops, as minigan's layer_norm and instance_norm are.

def theirs_normalize(torch, x, dims, eps=1e-5):
    centered = x - x.mean(dim=dims, keepdim=True)
    return centered / torch.sqrt((centered * centered).mean(dim=dims, keepdim=True) + eps)


def layer_norm(rng):
    inputs = [f64(1.5 * rng.standard_normal((3, 4))), f64(rng.uniform(0.5, 1.5, 4)), f64(rng.standard_normal(4))]
    return (lambda x, w, b: F.layer_norm(x, 4, w, b), inputs,
            lambda torch, x, w, b: theirs_normalize(torch, x, (-1,)) * w + b)


def instance_norm(rng):
    inputs = [f64(1.5 * rng.standard_normal((2, 2, 4))), f64(rng.uniform(0.5, 1.5, 2)), f64(rng.standard_normal(2))]
    return (F.instance_norm, inputs,
            lambda torch, x, w, b: theirs_normalize(torch, x, (2,)) * w[:, None] + b[:, None])


def mse_loss(rng):
    inputs = [f64(rng.standard_normal((3, 4))), f64(rng.standard_normal((3, 4)))]
    return F.mse_loss, inputs, lambda torch, a, b: torch.nn.functional.mse_loss(a, b)


def feature_matching_loss(rng):
    inputs = [f64(rng.standard_normal((4, 3))), f64(rng.standard_normal((3, 3)))]

    def theirs(torch, real, fake):
        difference = real.mean(dim=0) - fake.mean(dim=0)
        return (difference * difference).sum()

    return F.feature_matching_loss, inputs, theirs


def log_softmax(rng):
    return (F.log_softmax, [f64(1.5 * rng.standard_normal((3, 4)))],
            lambda torch, x: torch.nn.functional.log_softmax(x, dim=-1))


def cross_entropy(rng):
    return (lambda z: F.cross_entropy(z, LABELS), [f64(1.5 * rng.standard_normal((3, 4)))],
            lambda torch, z: torch.nn.functional.cross_entropy(z, torch.from_numpy(LABELS)))


def softmax(rng):
    return (lambda x: ops.softmax(x, 0), [f64(1.5 * rng.standard_normal((4, 3)))],
            lambda torch, x: torch.softmax(x, dim=0))


def logsumexp(rng):
    return (lambda x: ops.logsumexp(x, 1), [f64(1.5 * rng.standard_normal((3, 4)))],
            lambda torch, x: torch.logsumexp(x, dim=1))


def dense_tanh_dense(rng):
    network = nn.Sequential(nn.Dense(2, 3, dtype="float64"), nn.Tanh(), nn.Dense(3, 2, dtype="float64"))
    for p in network.parameters():
        load(p, rng.standard_normal(p.shape))
    x = f64(rng.standard_normal((3, 2)))

    def theirs(torch, x, w1, b1, w2, b2):
        return torch.tanh(x @ w1 + b1) @ w2 + b2

    return lambda x, *parameters: network(x), [x, *network.parameters()], theirs


def batch_norm_training(rng):
    layer = nn.BatchNorm1d(3, dtype="float64")
    load(layer.weight, rng.uniform(0.5, 1.5, 3))
    load(layer.bias, rng.standard_normal(3))
    x = f64(1.5 * rng.standard_normal((4, 3)) + 0.5)

    def theirs(torch, x, weight, bias):
        return theirs_normalize(torch, x, (0,)) * weight + bias

    return lambda x, *parameters: layer(x), [x, *layer.parameters()], theirs


def minibatch_discrimination(rng):
    layer = nn.MinibatchDiscrimination(3, num_kernels=2, kernel_dim=2, dtype="float64")
    load(layer.T, 0.5 * rng.standard_normal((3, 4)))
    x = f64(rng.standard_normal((4, 3)))
    m = value(x) @ value(layer.T)
    m = m.reshape(4, 2, 2)
    distances = np.abs(m[:, None] - m[None, :])[~np.eye(4, dtype=bool)]
    assert distances.min() > 1e-3, "draw away from ties: two samples agree in a kernel dimension"

    def theirs(torch, x, T):
        kernels = (x @ T).reshape(4, 2, 2)
        similarity = torch.exp(-(kernels[:, None] - kernels[None, :]).abs().sum(dim=3))
        return torch.cat([x, similarity.sum(dim=1)], dim=1)

    return lambda x, T: layer(x), [x, layer.T], theirs


CASES = [layer_norm, instance_norm, mse_loss, feature_matching_loss, log_softmax, cross_entropy, softmax, logsumexp,
         dense_tanh_dense, batch_norm_training, minibatch_discrimination]


def weight_for(f, inputs):
    """A fixed random w shaped like f's output (a number for a loss)."""
    shape = f(*inputs).shape
    return np.random.default_rng(2).uniform(0.5, 1.5, shape) * np.random.default_rng(3).choice([-1.0, 1.0], shape)


def first_derivative(f, w):
    """h(x₁, …, xₖ) = ∂⟨w, f(x)⟩/∂(x₁, …, xₖ), flattened into one vector and recorded (create_graph)."""

    def h(*inputs):
        out = f(*inputs)
        grads = minigan.grad(out, inputs, grad_outputs=out.xp.asarray(w), create_graph=True)
        return ops.concatenate([ops.reshape(g, (-1,)) for g in grads])

    return h


# ------------------------------------------------------------------------------ third derivatives
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_third_derivative_passes_gradgradcheck(backend_name, case):
    f, inputs, _ = case(np.random.default_rng(0))
    report = minigan.check_second_gradients(first_derivative(f, weight_for(f, inputs)), inputs)
    assert report.passed, str(report)


def third_directional_derivative(grad, zeros, f, inputs, w, u1, u2):
    """∂⟨u₂, ∂⟨u₁, ∂⟨w, f⟩/∂x⟩/∂x⟩/∂x, in minigan or PyTorch (``grad`` is minigan.grad or
    torch.autograd.grad). Where the second derivative is a constant (a quadratic loss) it has no graph
    in either engine, and the third derivative is ``zeros(x)`` for each input."""
    first = grad(f(*inputs), inputs, grad_outputs=w, create_graph=True)
    second = grad(sum((g * u).sum() for g, u in zip(first, u1)), inputs, create_graph=True, materialize_grads=True)
    along = sum((g * u).sum() for g, u in zip(second, u2))
    if not along.requires_grad:
        return [zeros(x) for x in inputs]
    return grad(along, inputs, materialize_grads=True)


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_third_directional_derivative_matches_torch(backend_name, case):
    torch = pytest.importorskip("torch")
    f, inputs, theirs = case(np.random.default_rng(0))
    w = weight_for(f, inputs)
    rng = np.random.default_rng(4)
    u1, u2 = ([rng.standard_normal(t.shape) for t in inputs] for _ in range(2))
    mine = third_directional_derivative(minigan.grad, lambda x: np.zeros(x.shape), f, inputs, f(*inputs).xp.asarray(w),
                                        [f64(u, False) for u in u1], [f64(u, False) for u in u2])
    leaves = [torch.tensor(value(t), requires_grad=True) for t in inputs]
    yours = third_directional_derivative(torch.autograd.grad, torch.zeros_like, lambda *xs: theirs(torch, *xs), leaves,
                                         torch.tensor(w), [torch.tensor(u) for u in u1], [torch.tensor(u) for u in u2])
    for i, (m, y) in enumerate(zip(mine, yours, strict=True)):
        y = y.detach().numpy(force=True)
        scale = max(1.0, float(np.abs(y).max()))
        np.testing.assert_allclose(value(m), y, rtol=1e-10, atol=1e-12 * scale, err_msg=f"input {i}")


# ----------------------------------------------------------------------------- fourth derivatives
def fourth_derivative(fn, x):
    """d⁴fn/dx⁴ elementwise: the gradient of the sum, four times (each element depends on its own x)."""
    y = fn(x)
    for order in range(4):
        (y,) = minigan.grad(y.sum(), x, create_graph=order < 3)
    return value(y)


def test_fourth_derivative_of_tanh_is_8t_times_one_minus_t_squared_times_two_minus_3t_squared(backend_name):
    x = np.linspace(-2.5, 2.5, 11)
    t = np.tanh(x)
    np.testing.assert_allclose(fourth_derivative(ops.tanh, f64(x)), 8 * t * (1 - t * t) * (2 - 3 * t * t),
                               rtol=1e-10, atol=1e-13)


def test_fourth_derivative_of_sigmoid_matches_its_closed_form(backend_name):
    """σ'''' = σ(1 − σ)(1 − 2σ)(1 − 12σ + 12σ²)."""
    x = np.linspace(-4.0, 4.0, 11)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(fourth_derivative(ops.sigmoid, f64(x)),
                               s * (1 - s) * (1 - 2 * s) * (1 - 12 * s + 12 * s * s), rtol=1e-10, atol=1e-13)
