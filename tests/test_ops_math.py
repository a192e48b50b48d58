"""The math ops users expect, as a specification: log1p, expm1, sin, cos, square, softplus; min, amax,
amin, argmax, argmin, prod, cumsum, std, norm; softmax, log_softmax, logsumexp.

For each: the forward equals NumPy/SciPy, the gradient passes gradcheck and the second derivative
gradgradcheck, the third derivative matches a closed form (elementwise ops) or finite differences of
the second (the rest), and value, gradient and Hessian-vector product equal PyTorch's to float64
rounding (skipped without torch). Then the edge cases each op promises (zeros in prod, the zero
vector in norm, −inf in logsumexp and softmax, large |x| in softplus) and the error messages.
"""

import warnings

import numpy as np
import pytest
import scipy.special

import minigan
from minigan import ShapeError, ops
from minigan.nn import functional as F
from tests.conftest import to_numpy


def f64(values, requires_grad=True):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad, dtype="float64")


def value(t):
    return to_numpy(t.data if isinstance(t, minigan.Tensor) else t)


def draw(rng, shape, kind="normal"):
    if kind == "positive":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "above -1":
        return rng.uniform(-0.7, 2.0, size=shape)
    if kind == "wide":
        return 4.0 * rng.standard_normal(shape)
    return rng.standard_normal(shape)


def first_derivative(fn, v):
    """x ↦ ∂⟨v, fn(x)⟩/∂x, recorded with create_graph so that it can be differentiated twice more."""
    def derivative(x):
        out = fn(x)
        (g,) = minigan.grad(out, x, grad_outputs=out.xp.asarray(v), create_graph=True)
        return g

    return derivative


@pytest.fixture
def no_warnings():
    """Turn every warning, NumPy floating-point ones included, into an error inside the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------------------------- the op table

def _softplus_reference(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def _p_norm(x, p, axis, keepdims=False):
    return np.sum(np.abs(x) ** p, axis=axis, keepdims=keepdims) ** (1 / p)


# name: (minigan call, NumPy/SciPy reference, input shape, input kind)
CASES = {
    "log1p": (ops.log1p, np.log1p, (3, 4), "above -1"),
    "expm1": (ops.expm1, np.expm1, (3, 4), "normal"),
    "sin": (ops.sin, np.sin, (3, 4), "wide"),
    "cos": (ops.cos, np.cos, (3, 4), "wide"),
    "square": (ops.square, np.square, (3, 4), "normal"),
    "softplus": (ops.softplus, _softplus_reference, (3, 4), "wide"),
    "softplus beta=2 threshold=3": (lambda t: ops.softplus(t, beta=2.0, threshold=3.0),
                                    lambda x: _softplus_reference(x, 2.0, 3.0), (3, 4), "normal"),
    "min axis=1": (lambda t: ops.min(t, 1), lambda x: x.min(1), (3, 4), "normal"),
    "min axes (0, 2) keepdims": (lambda t: ops.min(t, (0, 2), True), lambda x: x.min((0, 2), keepdims=True),
                                 (2, 3, 4), "normal"),
    "prod all": (ops.prod, np.prod, (2, 3), "normal"),
    "prod axis=1": (lambda t: ops.prod(t, 1), lambda x: x.prod(1), (3, 4), "normal"),
    "prod axes (0, 2) keepdims": (lambda t: ops.prod(t, (0, 2), True), lambda x: x.prod((0, 2), keepdims=True),
                                  (2, 3, 4), "normal"),
    "cumsum flattened": (ops.cumsum, np.cumsum, (3, 4), "normal"),
    "cumsum axis=1": (lambda t: ops.cumsum(t, 1), lambda x: np.cumsum(x, 1), (2, 3, 4), "normal"),
    "cumsum axis=-3": (lambda t: ops.cumsum(t, -3), lambda x: np.cumsum(x, -3), (2, 3, 4), "normal"),
    "std all": (ops.std, np.std, (3, 4), "normal"),
    "std axis=1 ddof=1": (lambda t: ops.std(t, 1, 1), lambda x: np.std(x, 1, ddof=1), (3, 4), "normal"),
    "std axes (0, 2) keepdims": (lambda t: ops.std(t, (0, 2), keepdims=True),
                                 lambda x: np.std(x, (0, 2), keepdims=True), (2, 3, 4), "normal"),
    "norm 2 all": (ops.norm, lambda x: np.linalg.norm(x.ravel()), (3, 4), "normal"),
    "norm 2 axis=1": (lambda t: ops.norm(t, axis=1), lambda x: np.linalg.norm(x, axis=1), (3, 4), "normal"),
    "norm 2 axes (0, 2) keepdims": (lambda t: ops.norm(t, 2, (0, 2), True),
                                    lambda x: np.sqrt((x * x).sum((0, 2), keepdims=True)), (2, 3, 4), "normal"),
    "norm 1": (lambda t: ops.norm(t, 1, 1), lambda x: np.linalg.norm(x, 1, axis=1), (3, 4), "normal"),
    "norm inf": (lambda t: ops.norm(t, np.inf, 1), lambda x: np.linalg.norm(x, np.inf, axis=1), (3, 4), "normal"),
    "norm -inf": (lambda t: ops.norm(t, -np.inf, 1), lambda x: np.linalg.norm(x, -np.inf, axis=1), (3, 4),
                  "normal"),
    "norm 0": (lambda t: ops.norm(t, 0, 1), lambda x: np.linalg.norm(x, 0, axis=1), (3, 4), "normal"),
    "norm 3": (lambda t: ops.norm(t, 3, 1), lambda x: _p_norm(x, 3, 1), (3, 4), "normal"),
    "norm 0.5": (lambda t: ops.norm(t, 0.5, 1), lambda x: _p_norm(x, 0.5, 1), (3, 4), "normal"),
    "norm 1.5 axes (0, 2) keepdims": (lambda t: ops.norm(t, 1.5, (0, 2), True),
                                      lambda x: _p_norm(x, 1.5, (0, 2), True), (2, 3, 4), "normal"),
    "softmax": (ops.softmax, lambda x: scipy.special.softmax(x, -1), (3, 4), "wide"),
    "softmax axis=0": (lambda t: ops.softmax(t, 0), lambda x: scipy.special.softmax(x, 0), (3, 4), "wide"),
    "log_softmax": (ops.log_softmax, lambda x: scipy.special.log_softmax(x, -1), (3, 4), "wide"),
    "log_softmax axis=1": (lambda t: ops.log_softmax(t, 1), lambda x: scipy.special.log_softmax(x, 1), (2, 3, 4),
                           "wide"),
    "logsumexp all": (ops.logsumexp, scipy.special.logsumexp, (3, 4), "wide"),
    "logsumexp axis=1": (lambda t: ops.logsumexp(t, 1), lambda x: scipy.special.logsumexp(x, 1), (3, 4), "wide"),
    "logsumexp axes (0, 2) keepdims": (lambda t: ops.logsumexp(t, (0, 2), True),
                                       lambda x: scipy.special.logsumexp(x, (0, 2), keepdims=True), (2, 3, 4),
                                       "wide"),
}

# Smooth wherever the inputs are drawn: their third derivatives exist and are checked.
SMOOTH = ["softplus", "prod axis=1", "prod axes (0, 2) keepdims", "cumsum axis=1", "std axis=1 ddof=1",
          "norm 2 axis=1", "norm 3", "softmax", "log_softmax axis=1", "logsumexp axes (0, 2) keepdims"]


@pytest.mark.parametrize("name", list(CASES))
def test_forward_equals_numpy(backend_name, rng, name):
    op, reference, shape, kind = CASES[name]
    x = draw(rng, shape, kind)
    out = op(f64(x, requires_grad=False))
    expected = reference(x)
    assert out.shape == np.shape(expected) and out.dtype == np.float64
    np.testing.assert_allclose(value(out), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(backend_name, rng, name):
    op, _, shape, kind = CASES[name]
    assert minigan.gradcheck(op, [f64(draw(rng, shape, kind))])


@pytest.mark.parametrize("name", list(CASES))
def test_gradgradcheck(backend_name, rng, name):
    op, _, shape, kind = CASES[name]
    assert minigan.gradgradcheck(op, [f64(draw(rng, shape, kind))])


@pytest.mark.parametrize("name", SMOOTH)
def test_third_derivative_matches_finite_differences_of_the_second(backend_name, rng, name):
    op, _, shape, kind = CASES[name]
    x = draw(rng, shape, kind)
    v = rng.standard_normal(np.shape(op(f64(x, requires_grad=False)).data))
    # gradgradcheck of x ↦ ∂⟨v, op(x)⟩/∂x checks that function's second derivative: op's third.
    assert minigan.gradgradcheck(first_derivative(op, v), [f64(x)])


@pytest.mark.parametrize("name", ["log1p", "expm1", "sin", "cos", "square", "softplus"])
def test_float32_input_gives_float32_output_and_gradient(backend_name, rng, name):
    op, reference, shape, kind = CASES[name]
    x = draw(rng, shape, kind)
    t = minigan.tensor(x, requires_grad=True, dtype="float32")
    out = op(t)
    out.sum().backward()
    assert out.dtype == np.float32 and t.grad.dtype == np.float32
    np.testing.assert_allclose(value(out), reference(x.astype(np.float32)), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------ elementwise closed forms

def _sigmoid(x):
    return scipy.special.expit(x)


# name: (first, second, third derivative), NumPy only
ELEMENTWISE_DERIVATIVES = {
    "log1p": (lambda x: 1 / (1 + x), lambda x: -1 / (1 + x) ** 2, lambda x: 2 / (1 + x) ** 3),
    "expm1": (np.exp, np.exp, np.exp),
    "sin": (np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x)),
    "cos": (lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin),
    "square": (lambda x: 2 * x, lambda x: 2 + 0 * x, lambda x: 0 * x),
    "softplus": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
                 lambda x: _sigmoid(x) * (1 - _sigmoid(x)) * (1 - 2 * _sigmoid(x))),
}


def elementwise_derivatives(op, x, order):
    """d^k op / dx^k at each element, k = 1..order: repeated grad of the sum (op acts elementwise)."""
    t = f64(x)
    current = op(t)
    found = []
    for k in range(order):
        if not current.requires_grad:  # the previous derivative was a constant
            found.append(np.zeros_like(x))
            current = f64(np.zeros_like(x), requires_grad=False)
            continue
        (current,) = minigan.grad(current.sum(), t, create_graph=k < order - 1)
        found.append(value(current))
    return found


@pytest.mark.parametrize("name", list(ELEMENTWISE_DERIVATIVES))
def test_elementwise_first_three_derivatives_match_closed_forms(backend_name, rng, name):
    op, _, shape, kind = CASES[name]
    x = draw(rng, shape, kind)
    for order, (found, expected) in enumerate(zip(elementwise_derivatives(op, x, 3),
                                                  ELEMENTWISE_DERIVATIVES[name]), start=1):
        np.testing.assert_allclose(found, expected(x), rtol=1e-12, atol=1e-14, err_msg=f"derivative {order}")


# -------------------------------------------------------------------------------------- PyTorch

def _torch_cases(torch):
    linalg = torch.linalg
    return {
        "log1p": (ops.log1p, torch.log1p, (3, 4), "above -1"),
        "expm1": (ops.expm1, torch.expm1, (3, 4), "normal"),
        "sin": (ops.sin, torch.sin, (3, 4), "wide"),
        "cos": (ops.cos, torch.cos, (3, 4), "wide"),
        "square": (ops.square, torch.square, (3, 4), "normal"),
        "softplus": (ops.softplus, torch.nn.functional.softplus, (3, 4), "wide"),
        "softplus beta=2 threshold=3": (lambda t: ops.softplus(t, 2.0, 3.0),
                                        lambda t: torch.nn.functional.softplus(t, 2.0, 3.0), (3, 4), "normal"),
        "min axis=1": (lambda t: ops.min(t, 1), lambda t: torch.amin(t, 1), (3, 4), "normal"),
        "prod all": (ops.prod, torch.prod, (2, 3), "normal"),
        "prod axis=1": (lambda t: ops.prod(t, 1), lambda t: torch.prod(t, 1), (3, 4), "normal"),
        "cumsum axis=1": (lambda t: ops.cumsum(t, 1), lambda t: torch.cumsum(t, 1), (2, 3, 4), "normal"),
        "std axis=1 ddof=1": (lambda t: ops.std(t, 1, 1), lambda t: torch.std(t, 1), (3, 4), "normal"),
        "std all ddof=0": (ops.std, lambda t: torch.std(t, correction=0), (3, 4), "normal"),
        "norm 2 axes (0, 2)": (lambda t: ops.norm(t, 2, (0, 2)), lambda t: linalg.vector_norm(t, 2, (0, 2)),
                               (2, 3, 4), "normal"),
        "norm 1": (lambda t: ops.norm(t, 1, 1), lambda t: linalg.vector_norm(t, 1, 1), (3, 4), "normal"),
        "norm inf": (lambda t: ops.norm(t, np.inf, 1), lambda t: linalg.vector_norm(t, float("inf"), 1), (3, 4),
                     "normal"),
        "norm -inf": (lambda t: ops.norm(t, -np.inf, 1), lambda t: linalg.vector_norm(t, -float("inf"), 1),
                      (3, 4), "normal"),
        "norm 3": (lambda t: ops.norm(t, 3, 1), lambda t: linalg.vector_norm(t, 3, 1), (3, 4), "normal"),
        "norm 0.5": (lambda t: ops.norm(t, 0.5, 1), lambda t: linalg.vector_norm(t, 0.5, 1), (3, 4), "normal"),
        "softmax axis=0": (lambda t: ops.softmax(t, 0), lambda t: torch.softmax(t, 0), (3, 4), "wide"),
        "log_softmax": (ops.log_softmax, lambda t: torch.log_softmax(t, -1), (3, 4), "wide"),
        "logsumexp axes (0, 2)": (lambda t: ops.logsumexp(t, (0, 2)), lambda t: torch.logsumexp(t, (0, 2)),
                                  (2, 3, 4), "wide"),
    }


TORCH_NAMES = ["log1p", "expm1", "sin", "cos", "square", "softplus", "softplus beta=2 threshold=3", "min axis=1",
               "prod all", "prod axis=1", "cumsum axis=1", "std axis=1 ddof=1", "std all ddof=0",
               "norm 2 axes (0, 2)", "norm 1", "norm inf", "norm -inf", "norm 3", "norm 0.5", "softmax axis=0",
               "log_softmax", "logsumexp axes (0, 2)"]


def ours_and_torchs(torch, op, theirs, x, rng):
    """(value, gradient, Hessian-vector product) of op at x from minigan and from torch, for one random
    output gradient v and direction u."""
    t = f64(x)
    out = op(t)
    v, u = rng.standard_normal(out.shape), rng.standard_normal(x.shape)
    (g,) = minigan.grad(out, t, grad_outputs=t.xp.asarray(v), create_graph=True)
    hvp = value(minigan.grad(g, t, grad_outputs=t.xp.asarray(u))[0]) if g.requires_grad else np.zeros_like(x)
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    (tg,) = torch.autograd.grad(tout, tx, torch.tensor(v), create_graph=True)
    if tg.requires_grad:
        thvp = torch.autograd.grad(tg, tx, torch.tensor(u), allow_unused=True)[0]
        thvp = np.zeros_like(x) if thvp is None else thvp.numpy(force=True)
    else:
        thvp = np.zeros_like(x)
    return (value(out), value(g), hvp), (tout.detach().numpy(), tg.detach().numpy(), thvp)


@pytest.mark.torch
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_value_gradient_and_hessian_vector_product_equal_torch(backend_name, rng, name):
    torch = pytest.importorskip("torch")
    op, theirs, shape, kind = _torch_cases(torch)[name]
    x = draw(rng, shape, kind)
    ours, expected = ours_and_torchs(torch, op, theirs, x, rng)
    for what, a, b in zip(("value", "gradient", "Hessian-vector product"), ours, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=what)


# ------------------------------------------------------------------------------------- softplus

def test_softplus_is_finite_and_exact_at_large_magnitudes(backend_name, no_warnings):
    x = np.array([-1000.0, -50.0, -30.0, 0.0, 30.0, 1000.0])
    t = f64(x)
    out = ops.softplus(t)
    out.backward(np.ones(6))
    # log(1 + e^x) is tiny but not 0 for x ≪ 0, and x itself above the threshold.
    np.testing.assert_allclose(value(out), [0.0, np.log1p(np.exp(-50.0)), np.log1p(np.exp(-30.0)), np.log(2.0),
                                            30.0, 1000.0], rtol=1e-15)
    np.testing.assert_allclose(value(t.grad), [0.0, np.exp(-50.0), _sigmoid(-30.0), 0.5, 1.0, 1.0], rtol=1e-14)


def test_softplus_float32_at_large_magnitudes_is_finite(backend_name, no_warnings):
    t = minigan.tensor([-1000.0, 1000.0], requires_grad=True, dtype="float32")
    out = ops.softplus(t)
    out.sum().backward()
    np.testing.assert_array_equal(value(out), np.array([0.0, 1000.0], dtype=np.float32))
    np.testing.assert_array_equal(value(t.grad), np.array([0.0, 1.0], dtype=np.float32))


def test_softplus_above_the_threshold_is_x_with_gradient_1_and_no_curvature(backend_name):
    t = f64([2.0, 2.6])  # βx = 4 and 5.2, the threshold 5
    (g,) = minigan.grad(ops.softplus(t, beta=2.0, threshold=5.0).sum(), t, create_graph=True)
    (h,) = minigan.grad(g.sum(), t)
    assert value(ops.softplus(t, beta=2.0, threshold=5.0))[1] == 2.6
    np.testing.assert_allclose(value(g), [_sigmoid(4.0), 1.0], rtol=1e-14)
    np.testing.assert_allclose(value(h), [2.0 * _sigmoid(4.0) * _sigmoid(-4.0), 0.0], rtol=1e-13)


# --------------------------------------------------------------------------------- min, argmax

def test_amax_and_amin_are_max_and_min(backend_name):
    assert ops.amax is ops.max and ops.amin is ops.min


def test_min_splits_the_gradient_equally_among_ties(backend_name):
    t = f64([[3.0, -1.0, -1.0], [2.0, 2.0, 2.0]])
    ops.min(t, 1).backward(np.array([1.0, 3.0]))
    np.testing.assert_array_equal(value(t.grad), [[0.0, 0.5, 0.5], [1.0, 1.0, 1.0]])


def test_min_propagates_nan_and_gives_it_the_gradient(backend_name):
    t = f64([1.0, np.nan, -2.0])
    out = ops.min(t)
    out.backward()
    assert np.isnan(value(out))
    np.testing.assert_array_equal(value(t.grad), [0.0, 1.0, 0.0])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (0, False), (-1, True)])
def test_argmax_argmin_equal_numpy_and_return_an_integer_array(backend_name, rng, name, axis, keepdims):
    x = draw(rng, (3, 4))
    found = getattr(ops, name)(f64(x), axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert not isinstance(found, minigan.Tensor) and found.dtype.kind == "i"
    np.testing.assert_array_equal(to_numpy(found), expected)


def test_argmax_takes_the_first_of_ties(backend_name):
    assert int(ops.argmax(f64([1.0, 5.0, 5.0]))) == 1
    assert int(ops.argmin(f64([1.0, 0.0, 0.0]))) == 1


# ------------------------------------------------------------------------------------------ prod

def hessian(fn, x):
    """The full Hessian of the scalar fn at x (1-D), one Hessian-vector product per row."""
    t = f64(x)
    (g,) = minigan.grad(fn(t), t, create_graph=True)
    rows = []
    for i in range(x.size):
        unit = np.zeros_like(x)
        unit[i] = 1.0
        row = minigan.grad(g, t, grad_outputs=t.xp.asarray(unit), retain_graph=True, allow_unused=True)[0]
        rows.append(np.zeros_like(x) if row is None else value(row))
    return value(g), np.array(rows)


def test_prod_gradient_and_hessian_with_one_zero_are_exact(backend_name):
    x = np.array([2.0, 0.0, 3.0, 4.0])
    g, h = hessian(ops.prod, x)
    np.testing.assert_array_equal(g, [0.0, 24.0, 0.0, 0.0])
    expected = np.zeros((4, 4))
    expected[1] = expected[:, 1] = [12.0, 0.0, 8.0, 6.0]  # Π of all but x₁ and xⱼ
    np.testing.assert_array_equal(h, expected)


def test_prod_gradient_and_hessian_with_two_zeros_are_exact(backend_name):
    x = np.array([0.0, 2.0, 0.0, 3.0])
    g, h = hessian(ops.prod, x)
    np.testing.assert_array_equal(g, np.zeros(4))
    expected = np.zeros((4, 4))
    expected[0, 2] = expected[2, 0] = 6.0
    np.testing.assert_array_equal(h, expected)


def test_prod_along_an_axis_with_zeros_passes_gradcheck_to_third_order(backend_name):
    x = np.array([[0.0, 1.5, -2.0, 0.5], [0.0, 0.7, 0.0, 1.2], [1.1, -0.4, 2.0, 0.9]])
    assert minigan.gradcheck(lambda t: ops.prod(t, 1), [f64(x)])
    assert minigan.gradgradcheck(lambda t: ops.prod(t, 1), [f64(x)])
    assert minigan.gradgradcheck(first_derivative(lambda t: ops.prod(t, 1), np.array([0.5, -1.0, 2.0])), [f64(x)])


def test_prod_gradient_is_the_product_of_the_others(backend_name, rng):
    x = draw(rng, (3, 5))
    t = f64(x)
    ops.prod(t, 1).backward(np.ones(3))
    others = np.array([[np.prod(np.delete(row, j)) for j in range(5)] for row in x])
    np.testing.assert_allclose(value(t.grad), others, rtol=1e-13)


def test_prod_over_no_elements_is_one_with_an_empty_gradient(backend_name):
    t = f64(np.zeros((2, 0)))
    out = ops.prod(t, 1)
    out.backward(np.ones(2))
    np.testing.assert_array_equal(value(out), [1.0, 1.0])
    assert t.grad.shape == (2, 0)


# ---------------------------------------------------------------------------------------- cumsum

def test_cumsum_gradient_is_the_reverse_cumulative_sum(backend_name):
    t = f64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ops.cumsum(t, 1).backward(np.array([[1.0, 10.0, 100.0], [2.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(value(t.grad), [[111.0, 110.0, 100.0], [3.0, 1.0, 1.0]])


def test_cumsum_without_axis_flattens_like_numpy(backend_name):
    out = ops.cumsum(f64([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(value(out), [1.0, 3.0, 6.0, 10.0])


# ------------------------------------------------------------------------------------------- std

def test_std_is_the_square_root_of_var(backend_name, rng):
    x = draw(rng, (4, 5))
    np.testing.assert_allclose(value(ops.std(f64(x), 0, 1)), np.sqrt(value(ops.var(f64(x), 0, 1))), rtol=1e-14)


def test_std_of_a_constant_slice_has_gradient_zero_and_finite_second_derivative(backend_name, no_warnings):
    t = f64([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    (g,) = minigan.grad(ops.std(t, 1).sum(), t, create_graph=True)
    (h,) = minigan.grad((g * g).sum(), t)
    np.testing.assert_array_equal(value(g)[0], [0.0, 0.0, 0.0])
    assert np.isfinite(value(h)).all()


# ------------------------------------------------------------------------------------------ norm

def test_norm_2_gradient_is_x_over_the_norm(backend_name, rng):
    x = draw(rng, (3, 4))
    t = f64(x)
    ops.norm(t, axis=1).backward(np.ones(3))
    np.testing.assert_allclose(value(t.grad), x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-14)


def test_norm_2_hessian_is_identity_minus_projection_over_the_norm(backend_name, rng):
    x = draw(rng, (4,))
    _, h = hessian(ops.norm, x)
    r = np.linalg.norm(x)
    np.testing.assert_allclose(h, (np.eye(4) - np.outer(x, x) / r**2) / r, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("ord", [2, 3, 1.5, 0.5])
def test_norm_of_the_zero_vector_has_gradient_zero_and_finite_second_derivative(backend_name, no_warnings, ord):
    t = f64([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
    (g,) = minigan.grad(ops.norm(t, ord, 1).sum(), t, create_graph=True)
    (h,) = minigan.grad((g * g).sum() + g.sum(), t)
    np.testing.assert_array_equal(value(g)[0], [0.0, 0.0, 0.0])
    assert np.isfinite(value(g)).all() and np.isfinite(value(h)).all()
    np.testing.assert_array_equal(value(h)[0], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("ord", [3, 1.5, 0.5])
def test_p_norm_gradient_at_a_zero_element_is_zero(backend_name, no_warnings, ord):
    x = np.array([0.0, 1.0, -2.0])
    t = f64(x)
    ops.norm(t, ord).backward()
    n = _p_norm(x, ord, None)
    expected = np.array([0.0, 1.0, -(2.0 ** (ord - 1))]) / n ** (ord - 1)
    np.testing.assert_allclose(value(t.grad), expected, rtol=1e-14)


def test_norm_0_counts_nonzeros_and_has_zero_gradient(backend_name):
    t = f64([[0.0, 1.5, -2.0], [0.0, 0.0, 0.0]])
    out = ops.norm(t, 0, axis=1)
    out.backward(np.ones(2))
    np.testing.assert_array_equal(value(out), [2.0, 0.0])
    np.testing.assert_array_equal(value(t.grad), np.zeros((2, 3)))


def _critic(torch_or_ops, x, w, wide):
    """D(x) = Σ tanh(x W) w, a small critic: its input gradient depends on W and w smoothly."""
    tanh = torch_or_ops.tanh
    return (tanh(x @ w) @ wide).sum()


@pytest.mark.torch
def test_wgan_gp_penalty_and_its_parameter_gradient_equal_torch(backend_name, rng):
    torch = pytest.importorskip("torch")
    x, W, w = draw(rng, (5, 3)), draw(rng, (3, 4)), draw(rng, (4,))
    tx, tW, tw = f64(x), f64(W), f64(w)
    (gx,) = minigan.grad(_critic(ops, tx, tW, tw), tx, create_graph=True)
    penalty = ((ops.norm(gx, axis=1) - 1.0) ** 2).mean()
    dW, dw = minigan.grad(penalty, [tW, tw])
    px, pW, pw = (torch.tensor(a, requires_grad=True) for a in (x, W, w))
    (pgx,) = torch.autograd.grad(_critic(torch, px, pW, pw), px, create_graph=True)
    tpenalty = ((torch.linalg.vector_norm(pgx, 2, 1) - 1.0) ** 2).mean()
    tdW, tdw = torch.autograd.grad(tpenalty, [pW, pw])
    np.testing.assert_allclose(value(penalty), tpenalty.item(), rtol=1e-12)
    np.testing.assert_allclose(value(dW), tdW.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(value(dw), tdw.numpy(), rtol=1e-10, atol=1e-14)


def test_r1_penalty_through_norm_passes_gradgradcheck(backend_name, rng):
    x, W, w = draw(rng, (3, 2)), draw(rng, (2, 3)), draw(rng, (3,))

    def r1(tW, tw):
        tx = f64(x)
        with minigan.enable_grad():  # gradcheck evaluates fn under no_grad
            (gx,) = minigan.grad(_critic(ops, tx, tW, tw), tx, create_graph=True)
            return ops.norm(gx, axis=1) ** 2

    assert minigan.gradcheck(r1, [f64(W), f64(w)])
    assert minigan.gradgradcheck(r1, [f64(W), f64(w)])


def test_gradient_penalty_through_a_zero_input_gradient_is_finite(backend_name, rng, no_warnings):
    # D(x) = ½‖x W‖²: ∇ₓD = x W Wᵀ is the zero vector for the zero row of x, for every W.
    x, W = draw(rng, (3, 2)), draw(rng, (2, 4))
    x[0] = 0.0

    def penalty_gradient(rows):
        tx, tW = f64(x[rows]), f64(W)
        (gx,) = minigan.grad((ops.square(tx @ tW)).sum() * 0.5, tx, create_graph=True)
        return value(minigan.grad(((ops.norm(gx, axis=1) - 1.0) ** 2).sum(), tW)[0])

    with_zero_row = penalty_gradient([0, 1, 2])
    assert np.isfinite(with_zero_row).all()
    np.testing.assert_allclose(with_zero_row, penalty_gradient([1, 2]), rtol=1e-14)


# ------------------------------------------------------------------------- softmax and logsumexp

def test_softmax_rows_sum_to_one_and_survive_huge_logits(backend_name, no_warnings):
    out = ops.softmax(f64([[1000.0, 1000.0], [-1000.0, 0.0], [1e300, -1e300]]))
    np.testing.assert_allclose(value(out), [[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]], rtol=1e-15)


def test_softmax_gradient_is_s_times_g_minus_sum_g_s(backend_name, rng):
    x, g = draw(rng, (3, 4)), draw(rng, (3, 4))
    t = f64(x)
    ops.softmax(t).backward(g)
    s = scipy.special.softmax(x, -1)
    np.testing.assert_allclose(value(t.grad), s * (g - (g * s).sum(-1, keepdims=True)), rtol=1e-12, atol=1e-15)


def test_log_softmax_gradient_is_g_minus_softmax_times_sum_g(backend_name, rng):
    x, g = draw(rng, (3, 4)), draw(rng, (3, 4))
    t = f64(x)
    ops.log_softmax(t).backward(g)
    s = scipy.special.softmax(x, -1)
    np.testing.assert_allclose(value(t.grad), g - s * g.sum(-1, keepdims=True), rtol=1e-12, atol=1e-15)


def test_logsumexp_gradient_is_softmax(backend_name, rng):
    x = draw(rng, (3, 4), "wide")
    t = f64(x)
    ops.logsumexp(t, 1).backward(np.ones(3))
    np.testing.assert_allclose(value(t.grad), scipy.special.softmax(x, 1), rtol=1e-12)


def test_logsumexp_survives_huge_inputs(backend_name, no_warnings):
    out = ops.logsumexp(f64([[1000.0, 1000.0], [-1000.0, -1000.0]]), 1)
    np.testing.assert_allclose(value(out), [1000.0 + np.log(2.0), -1000.0 + np.log(2.0)], rtol=1e-15)


NEG_INF = -np.inf


def test_softmax_gives_zero_probability_and_no_gradient_to_minus_inf(backend_name, no_warnings):
    t = f64([[NEG_INF, 0.0, np.log(3.0)], [1.0, NEG_INF, NEG_INF]])
    s = ops.softmax(t)
    (g,) = minigan.grad(s, t, grad_outputs=np.array([[1.0, 2.0, -1.0], [3.0, 1.0, 1.0]]), create_graph=True)
    (h,) = minigan.grad((g * g).sum(), t)
    np.testing.assert_allclose(value(s), [[0.0, 0.25, 0.75], [1.0, 0.0, 0.0]], rtol=1e-15)
    assert value(g)[0, 0] == 0.0 and (value(g)[1] == 0.0).all()
    assert np.isfinite(value(g)).all() and np.isfinite(value(h)).all()


def test_log_softmax_is_minus_inf_at_minus_inf_with_finite_gradients(backend_name, no_warnings):
    t = f64([[NEG_INF, 0.0, np.log(3.0)]])
    out = ops.log_softmax(t)
    (g,) = minigan.grad(out, t, grad_outputs=np.ones((1, 3)), create_graph=True)
    (h,) = minigan.grad(g.sum(), t)
    np.testing.assert_allclose(value(out), [[NEG_INF, np.log(0.25), np.log(0.75)]], rtol=1e-15)
    assert np.isfinite(value(g)).all() and np.isfinite(value(h)).all()


def test_logsumexp_of_all_minus_inf_is_minus_inf_with_zero_gradient(backend_name, no_warnings):
    t = f64([[NEG_INF, NEG_INF], [NEG_INF, 1.0]])
    out = ops.logsumexp(t, 1)
    (g,) = minigan.grad(out, t, grad_outputs=np.ones(2), create_graph=True)
    (h,) = minigan.grad((g * g).sum() + g.sum(), t)
    np.testing.assert_array_equal(value(out), [NEG_INF, 1.0])
    np.testing.assert_array_equal(value(g), [[0.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(value(h), np.zeros((2, 2)))


def test_logsumexp_over_no_elements_is_minus_inf(backend_name, no_warnings):
    np.testing.assert_array_equal(value(ops.logsumexp(f64(np.zeros((2, 0))), 1)), [NEG_INF, NEG_INF])


def test_logsumexp_with_plus_inf_is_plus_inf(backend_name, no_warnings):
    np.testing.assert_array_equal(value(ops.logsumexp(f64([np.inf, 1.0]))), np.inf)


@pytest.mark.parametrize("op", [ops.softmax, ops.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_of_an_all_minus_inf_row_is_nan_as_in_numpy_without_a_warning(backend_name, no_warnings, op):
    out = value(op(f64([[NEG_INF, NEG_INF], [0.0, 0.0]])))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


@pytest.mark.torch
def test_infinities_give_torchs_values(backend_name):
    torch = pytest.importorskip("torch")
    x = np.array([[NEG_INF, NEG_INF, NEG_INF], [NEG_INF, 1.0, 2.0], [np.inf, 1.0, NEG_INF], [0.5, 1.0, 2.0]])
    pairs = [(ops.softmax(f64(x)), torch.softmax(torch.tensor(x), -1)),
             (ops.log_softmax(f64(x)), torch.log_softmax(torch.tensor(x), -1)),
             (ops.logsumexp(f64(x), 1), torch.logsumexp(torch.tensor(x), 1))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(value(ours), theirs.numpy(), rtol=1e-15)


# --------------------------------------------------------------------------- losses and methods

def test_nn_log_softmax_is_the_fused_op(backend_name, rng):
    z = f64(draw(rng, (3, 4)))
    out = F.log_softmax(z)
    assert out.op == "log_softmax"
    np.testing.assert_allclose(value(out), scipy.special.log_softmax(value(z), -1), rtol=1e-13)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(backend_name, rng):
    x = draw(rng, (3, 4))
    labels = np.array([0, 3, 1])
    t = f64(x)
    F.cross_entropy(t, labels).backward()
    np.testing.assert_allclose(value(t.grad), (scipy.special.softmax(x, 1) - np.eye(4)[labels]) / 3, rtol=1e-12)


def test_cross_entropy_passes_gradgradcheck(backend_name, rng):
    assert minigan.gradgradcheck(lambda z: F.cross_entropy(z, np.array([0, 3, 1])), [f64(draw(rng, (3, 4)))])


def test_functional_exports_softmax_log_softmax_and_softplus(backend_name):
    assert F.softmax is ops.softmax and F.softplus is ops.softplus and callable(F.log_softmax)


@pytest.mark.parametrize("method, function", [
    (lambda t: t.log1p(), lambda t: ops.log1p(t)), (lambda t: t.expm1(), ops.expm1), (lambda t: t.sin(), ops.sin),
    (lambda t: t.cos(), ops.cos), (lambda t: t.square(), ops.square),
    (lambda t: t.softplus(2.0, 1.0), lambda t: ops.softplus(t, 2.0, 1.0)),
    (lambda t: t.min(1, True), lambda t: ops.min(t, 1, True)), (lambda t: t.prod(0), lambda t: ops.prod(t, 0)),
    (lambda t: t.cumsum(1), lambda t: ops.cumsum(t, 1)), (lambda t: t.std(1, 1), lambda t: ops.std(t, 1, 1)),
    (lambda t: t.norm(3, 1), lambda t: ops.norm(t, 3, 1)), (lambda t: t.softmax(0), lambda t: ops.softmax(t, 0)),
    (lambda t: t.log_softmax(), ops.log_softmax), (lambda t: t.logsumexp(1), lambda t: ops.logsumexp(t, 1)),
    (lambda t: t.argmax(1), lambda t: ops.argmax(t, 1)), (lambda t: t.argmin(), ops.argmin),
], ids=["log1p", "expm1", "sin", "cos", "square", "softplus", "min", "prod", "cumsum", "std", "norm", "softmax",
        "log_softmax", "logsumexp", "argmax", "argmin"])
def test_tensor_methods_equal_the_functions(backend_name, rng, method, function):
    x = rng.uniform(0.1, 2.0, size=(3, 4))
    np.testing.assert_array_equal(value(method(f64(x))), value(function(f64(x))))


def test_top_level_exports(backend_name):
    for name in ["log1p", "expm1", "sin", "cos", "square", "softplus", "min", "amax", "amin", "argmax", "argmin",
                 "prod", "cumsum", "std", "norm", "softmax", "log_softmax", "logsumexp"]:
        assert getattr(minigan, name) is getattr(ops, name), name
        assert name in ops.__all__, name


# ---------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, error, message", [
    (lambda t: ops.softplus(t, beta=0), ValueError, r"softplus: beta must be nonzero"),
    (lambda t: ops.softplus(t, beta="2"), TypeError, r"softplus: beta must be a number, got '2'"),
    (lambda t: ops.softplus(t, threshold=None), TypeError, r"softplus: threshold must be a number"),
    (lambda t: ops.min(t, 2), ShapeError, r"min: axis 2 is out of range for a tensor with 2 dimension"),
    (lambda t: ops.min(t[:0], 0), ShapeError, r"min: no elements to reduce over axes \(0,\) of shape \(0, 3\)"),
    (lambda t: ops.argmax(t, (0, 1)), TypeError, r"argmax: axis must be None or one int, got \(0, 1\)"),
    (lambda t: ops.argmin(t, -3), ShapeError, r"argmin: axis -3 is out of range"),
    (lambda t: ops.argmax(t[:, :0], 1), ShapeError, r"argmax: no elements to reduce"),
    (lambda t: ops.argmax(t.data), TypeError, r"argmax: expected a minigan Tensor, got ndarray"),
    (lambda t: ops.prod(t, (0, 0)), ShapeError, r"prod: repeated axis"),
    (lambda t: ops.cumsum(t, (0, 1)), TypeError, r"cumsum: axis must be None or one int"),
    (lambda t: ops.cumsum(t, 2), ShapeError, r"cumsum: axis 2 is out of range"),
    (lambda t: ops.cumsum(t.sum(), 0), ShapeError, r"cumsum: axis 0 is out of range for a tensor with 0 dim"),
    (lambda t: ops.std(t, 0, ddof=2), ShapeError, r"std: 2 element\(s\) over axes \(0,\) of shape \(2, 3\) are "
                                                  r"too few for ddof=2"),
    (lambda t: ops.norm(t, -1), ValueError, r"norm: ord must be 2, 1, inf, -inf, 0 or another positive number, "
                                            r"got -1"),
    (lambda t: ops.norm(t, "fro"), ValueError, r"norm: ord must be .*got 'fro'"),
    (lambda t: ops.norm(t, np.nan), ValueError, r"norm: ord must be .*got nan"),
    (lambda t: ops.norm(t, np.inf, 3), ShapeError, r"norm: axis 3 is out of range"),
    (lambda t: ops.norm(t[:0], np.inf), ShapeError, r"norm: ord=inf of no elements \(axes \(0, 1\) of shape "
                                                    r"\(0, 3\)\) is undefined"),
    (lambda t: ops.softmax(t, (0, 1)), TypeError, r"softmax: axis must be one int, got \(0, 1\)"),
    (lambda t: ops.log_softmax(t, 2), ShapeError, r"log_softmax: axis 2 is out of range"),
    (lambda t: ops.softmax(t.sum()), ShapeError, r"softmax: needs at least one dimension"),
    (lambda t: ops.logsumexp(t, -3), ShapeError, r"logsumexp: axis -3 is out of range"),
])
def test_error_messages_name_the_op_and_the_problem(backend_name, call, error, message):
    with pytest.raises(error, match=message):
        call(f64(np.ones((2, 3))))
