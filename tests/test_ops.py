"""Specification of every op's forward and backward.

Each op is pinned down three ways:

- its forward value equals NumPy's;
- its gradient equals a closed form written here with NumPy alone (never minigan's own backward), for
  a random cotangent g, and comes back in each input's own shape;
- ``minigan.gradcheck`` (float64, central finite differences) agrees with its backward.

Every test takes the ``backend_name`` fixture, so it runs on NumPy and, where a GPU exists, on CuPy.
"""

import math
import warnings

import numpy as np
import pytest

import minigan
from minigan.backends import backend_name as array_backend
from tests.conftest import to_numpy

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)


# ------------------------------------------------------------------------------------------ helpers
def draw(rng, shape, kind="normal"):
    """Seeded float64 inputs: ``normal``; ``positive`` in [0.5, 2] (log, sqrt, divisors, fractional
    powers); ``nonzero`` with |x| in [0.3, 2] (abs, 1/x)."""
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "nonzero":
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 2.0, size=shape)
    raise ValueError(kind)


def leaf(array, dtype="float64"):
    return minigan.tensor(array, requires_grad=True, dtype=dtype)


def cotangent(rng, shape):
    """A random dL/d(out), not all ones, so a backward that ignores its incoming gradient is caught."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


def backprop(out, rng):
    """Run ``out.backward(g)`` for a random cotangent g and return g (a NumPy array)."""
    g = cotangent(rng, out.shape)
    out.backward(g)
    return g


def grad_of(t):
    assert t.grad is not None, "the input got no gradient"
    return to_numpy(t.grad)


def value(t):
    return to_numpy(t.data)


def assert_gradcheck(fn, *arrays, **kwargs):
    """``minigan.gradcheck`` of ``fn`` at float64 leaves holding ``arrays`` (on the current backend)."""
    assert minigan.gradcheck(fn, [leaf(a) for a in arrays], **kwargs)


def sum_to(g, shape):
    """Reference unbroadcast, NumPy only: sum ``g`` over the axes broadcasting added or stretched."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    assert g.shape == tuple(shape)
    return g


def test_gradcheck_accepts_a_0d_input(backend_name):
    assert minigan.gradcheck(lambda t: t * 3.0, [leaf(np.array(1.5))])


# =============================================================== binary arithmetic: add sub mul div
BINARY = {
    # name: (minigan op, NumPy forward, closed-form (da, db) given a, b, g before unbroadcasting)
    "add": (minigan.add, np.add, lambda a, b, g: (g, g)),
    "sub": (minigan.sub, np.subtract, lambda a, b, g: (g, -g)),
    "mul": (minigan.mul, np.multiply, lambda a, b, g: (g * b, g * a)),
    "div": (minigan.div, np.divide, lambda a, b, g: (g / b, -g * a / b ** 2)),
}

BROADCAST_SHAPES = [
    pytest.param((3, 4), (3, 4), id="same-shape"),
    pytest.param((3, 4), (), id="0d-right"),
    pytest.param((), (3, 4), id="0d-left"),
    pytest.param((3, 4), (4,), id="row-vector"),
    pytest.param((3, 4), (3, 1), id="column-vector"),
    pytest.param((3, 1, 4), (1, 2, 4), id="size1-axes-both-sides"),
    pytest.param((2, 3, 4), (3, 1), id="different-ndim"),
    pytest.param((4,), (2, 3, 4), id="different-ndim-left"),
]


def _binary_inputs(rng, name, shape_a, shape_b):
    a = draw(rng, shape_a)
    b = draw(rng, shape_b, "positive" if name == "div" else "normal")
    return a, b


@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_SHAPES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_forward_equals_numpy_with_broadcasting(backend_name, rng, name, shape_a, shape_b):
    op, np_op, _ = BINARY[name]
    a, b = _binary_inputs(rng, name, shape_a, shape_b)
    out = op(minigan.tensor(a, dtype="float64"), minigan.tensor(b, dtype="float64"))
    expected = np_op(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(value(out), expected, rtol=1e-12)


@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_SHAPES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_gradients_match_closed_form_in_each_inputs_own_shape(backend_name, rng, name, shape_a,
                                                                          shape_b):
    op, _, closed_form = BINARY[name]
    a, b = _binary_inputs(rng, name, shape_a, shape_b)
    ta, tb = leaf(a), leaf(b)
    g = backprop(op(ta, tb), rng)
    da, db = closed_form(a, b, g)
    assert ta.grad.shape == shape_a and tb.grad.shape == shape_b
    np.testing.assert_allclose(grad_of(ta), sum_to(da, shape_a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_of(tb), sum_to(db, shape_b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_SHAPES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_gradcheck(backend_name, rng, name, shape_a, shape_b):
    op = BINARY[name][0]
    assert_gradcheck(op, *_binary_inputs(rng, name, shape_a, shape_b))


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_gradient_flows_only_to_inputs_that_require_it(backend_name, rng, name):
    op = BINARY[name][0]
    a, b = _binary_inputs(rng, name, (3, 4), (4,))
    ta, tb = leaf(a), minigan.tensor(b, dtype="float64")
    backprop(op(ta, tb), rng)
    assert ta.grad is not None and tb.grad is None


# --------------------------------------------- operators with Python scalars and NumPy arrays, both sides
# (expression on a tensor, same expression on a NumPy array, closed-form derivative d out / dx)
SCALAR_OPERANDS = [
    pytest.param(lambda x: x + 2.5, lambda x: x + 2.5, lambda x: np.ones_like(x), id="x + 2.5"),
    pytest.param(lambda x: 2.5 + x, lambda x: 2.5 + x, lambda x: np.ones_like(x), id="2.5 + x"),
    pytest.param(lambda x: x - 2, lambda x: x - 2, lambda x: np.ones_like(x), id="x - 2"),
    pytest.param(lambda x: 2 - x, lambda x: 2 - x, lambda x: -np.ones_like(x), id="2 - x"),
    pytest.param(lambda x: x * 3, lambda x: x * 3, lambda x: np.full_like(x, 3.0), id="x * 3"),
    pytest.param(lambda x: 3 * x, lambda x: 3 * x, lambda x: np.full_like(x, 3.0), id="3 * x"),
    pytest.param(lambda x: x / 4, lambda x: x / 4, lambda x: np.full_like(x, 0.25), id="x / 4"),
    pytest.param(lambda x: 1 / x, lambda x: 1 / x, lambda x: -1 / x ** 2, id="1 / x"),
    pytest.param(lambda x: 2 ** x, lambda x: 2 ** x, lambda x: 2 ** x * np.log(2), id="2 ** x"),
    pytest.param(lambda x: np.float64(2) * x, lambda x: 2 * x, lambda x: np.full_like(x, 2.0),
                 id="np.float64(2) * x"),
    pytest.param(lambda x: np.float64(2) ** x, lambda x: 2 ** x, lambda x: 2 ** x * np.log(2),
                 id="np.float64(2) ** x"),
    pytest.param(lambda x: np.ones(3) * x, lambda x: np.ones(3) * x, lambda x: np.ones_like(x),
                 id="np.ones(3) * x"),
    pytest.param(lambda x: np.arange(3) - x, lambda x: np.arange(3) - x, lambda x: -np.ones_like(x),
                 id="np.arange(3) - x"),
    pytest.param(lambda x: np.full(3, 2.0) / x, lambda x: 2.0 / x, lambda x: -2.0 / x ** 2,
                 id="np.full(3, 2.0) / x"),
    pytest.param(lambda x: np.ones((2, 3)) + x, lambda x: np.ones((2, 3)) + x,
                 lambda x: np.ones_like(x), id="np.ones((2,3)) + x broadcast"),
    pytest.param(lambda x: x - np.arange(3.0), lambda x: x - np.arange(3.0), lambda x: np.ones_like(x),
                 id="x - np.arange(3.0)"),
]


@pytest.mark.parametrize("expr, np_expr, derivative", SCALAR_OPERANDS)
def test_operator_with_non_tensor_operand_gives_tensor_equal_to_numpy(backend_name, rng, expr, np_expr,
                                                                      derivative):
    x = draw(rng, (3,), "positive")
    out = expr(minigan.tensor(x, dtype="float64"))
    assert isinstance(out, minigan.Tensor)
    np.testing.assert_allclose(value(out), np_expr(x), rtol=1e-12)


@pytest.mark.parametrize("expr, np_expr, derivative", SCALAR_OPERANDS)
def test_operator_with_non_tensor_operand_gradient_matches_closed_form(backend_name, rng, expr, np_expr,
                                                                       derivative):
    x = draw(rng, (3,), "positive")
    t = leaf(x)
    out = expr(t)
    g = backprop(out, rng)
    assert t.grad.shape == x.shape
    # Where the constant broadcasts x to more rows, each row's gradient adds up.
    np.testing.assert_allclose(grad_of(t), sum_to(g * derivative(x), x.shape), rtol=1e-10)


@pytest.mark.parametrize("expr, np_expr, derivative", SCALAR_OPERANDS)
def test_operator_with_non_tensor_operand_gradcheck(backend_name, rng, expr, np_expr, derivative):
    assert_gradcheck(expr, draw(rng, (3,), "positive"))


def test_tensor_operand_on_both_sides_of_the_same_op_accumulates(backend_name, rng):
    x = draw(rng, (4,))
    t = leaf(x)
    g = backprop(t * t + t, rng)
    np.testing.assert_allclose(grad_of(t), g * (2 * x + 1), rtol=1e-12)


# ====================================================================================== neg and pow
def test_neg_forward_and_gradient(backend_name, rng):
    x = draw(rng, (3, 4))
    t = leaf(x)
    out = -t
    np.testing.assert_array_equal(value(out), -x)
    g = backprop(out, rng)
    np.testing.assert_array_equal(grad_of(t), -g)


def test_neg_gradcheck(backend_name, rng):
    assert_gradcheck(minigan.neg, draw(rng, (3, 4)))


POW_CASES = [
    pytest.param(2, "normal", id="p=2"),
    pytest.param(2.0, "normal", id="p=2.0"),
    pytest.param(3, "normal", id="p=3"),
    pytest.param(0.5, "positive", id="p=0.5"),
    pytest.param(-1, "nonzero", id="p=-1"),
    pytest.param(-0.5, "positive", id="p=-0.5"),
    pytest.param(1.5, "positive", id="p=1.5"),
    pytest.param(1, "normal", id="p=1"),
    pytest.param(np.float64(3.0), "normal", id="p=np.float64(3)"),
]


@pytest.mark.parametrize("p, kind", POW_CASES)
def test_pow_forward_equals_numpy(backend_name, rng, p, kind):
    x = draw(rng, (3, 4), kind)
    np.testing.assert_allclose(value(minigan.tensor(x, dtype="float64") ** p), x ** float(p), rtol=1e-12)


@pytest.mark.parametrize("p, kind", POW_CASES)
def test_pow_gradient_is_p_x_to_the_p_minus_1(backend_name, rng, p, kind):
    x = draw(rng, (3, 4), kind)
    t = leaf(x)
    g = backprop(minigan.pow(t, p), rng)
    np.testing.assert_allclose(grad_of(t), g * p * x ** (float(p) - 1), rtol=1e-10)


@pytest.mark.parametrize("p, kind", POW_CASES)
def test_pow_gradcheck(backend_name, rng, p, kind):
    assert_gradcheck(lambda t: t ** p, draw(rng, (3, 4), kind))


def test_sum_of_squares_gradient_is_2x(backend_name, rng):
    x = draw(rng, (3, 4))
    t = leaf(x)
    (t ** 2).sum().backward()
    np.testing.assert_allclose(grad_of(t), 2 * x, rtol=1e-12)


def test_pow_zero_exponent_gradient_is_zero_even_at_zero(backend_name):
    t = leaf(np.array([0.0, 2.0, -1.5]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (t ** 0).sum().backward()
    np.testing.assert_array_equal(grad_of(t), [0.0, 0.0, 0.0])


def test_pow_refuses_a_tensor_exponent(backend_name):
    t = leaf(np.array([1.0, 2.0]))
    with pytest.raises(minigan.DTypeError):
        t ** leaf(np.array([2.0, 2.0]))


# --------------------------------------------------------------------------- rpow: number ** tensor
RPOW_BASES = [pytest.param(2, id="2"), pytest.param(0.5, id="0.5"), pytest.param(math.e, id="e"),
              pytest.param(10.0, id="10")]


@pytest.mark.parametrize("base", RPOW_BASES)
def test_rpow_forward_equals_numpy(backend_name, rng, base):
    x = draw(rng, (3, 4))
    np.testing.assert_allclose(value(base ** minigan.tensor(x, dtype="float64")), base ** x, rtol=1e-13)


@pytest.mark.parametrize("base", RPOW_BASES)
def test_rpow_gradient_is_base_to_the_x_times_ln_base(backend_name, rng, base):
    x = draw(rng, (3, 4))
    t = leaf(x)
    g = backprop(base ** t, rng)
    np.testing.assert_allclose(grad_of(t), g * base ** x * np.log(base), rtol=1e-12)


@pytest.mark.parametrize("base", RPOW_BASES)
def test_rpow_gradcheck(backend_name, rng, base):
    assert_gradcheck(lambda t: base ** t, draw(rng, (3, 4)))


@pytest.mark.parametrize("base", [0, -2.0])
def test_rpow_refuses_a_non_positive_base(backend_name, base):
    with pytest.raises(minigan.DTypeError):
        base ** leaf(np.array([1.0, 2.0]))


# =========================================================================================== matmul
MATMUL_SHAPES = [
    pytest.param((3,), (3,), id="1d@1d"),
    pytest.param((3,), (3, 4), id="1d@2d"),
    pytest.param((2, 3), (3,), id="2d@1d"),
    pytest.param((2, 3), (3, 4), id="2d@2d"),
    pytest.param((2, 2, 3), (3, 4), id="batched@2d"),
    pytest.param((2, 1, 2, 3), (3, 3, 4), id="batched@batched-broadcast-batch-axes"),
    pytest.param((1, 2, 3), (2, 3, 4), id="batched@batched-size1-batch"),
    pytest.param((2, 3), (2, 3, 4), id="2d@batched"),
    pytest.param((2, 2, 3), (3,), id="batched@1d"),
    pytest.param((3,), (2, 3, 4), id="1d@batched"),
]


def matmul_grads_reference(A, B, g):
    """dA, dB of sum(g * (A @ B)) by NumPy alone: promote 1-D operands to matrices, dA = g @ Bᵀ,
    dB = Aᵀ @ g, sum over broadcast batch axes, drop the promoted axes."""
    A2 = A[None, :] if A.ndim == 1 else A
    B2 = B[:, None] if B.ndim == 1 else B
    g2 = np.reshape(g, np.matmul(A2, B2).shape)
    dA = sum_to(g2 @ np.swapaxes(B2, -1, -2), A2.shape).reshape(A.shape)
    dB = sum_to(np.swapaxes(A2, -1, -2) @ g2, B2.shape).reshape(B.shape)
    return dA, dB


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
def test_matmul_forward_equals_numpy(backend_name, rng, shape_a, shape_b):
    a, b = draw(rng, shape_a), draw(rng, shape_b)
    out = minigan.tensor(a, dtype="float64") @ minigan.tensor(b, dtype="float64")
    expected = np.matmul(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(value(out), expected, rtol=1e-12)


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
def test_matmul_gradients_match_closed_form_in_each_inputs_own_shape(backend_name, rng, shape_a, shape_b):
    a, b = draw(rng, shape_a), draw(rng, shape_b)
    ta, tb = leaf(a), leaf(b)
    g = backprop(minigan.matmul(ta, tb), rng)
    da, db = matmul_grads_reference(a, b, g)
    assert ta.grad.shape == shape_a and tb.grad.shape == shape_b
    np.testing.assert_allclose(grad_of(ta), da, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_of(tb), db, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
def test_matmul_gradcheck(backend_name, rng, shape_a, shape_b):
    assert_gradcheck(minigan.matmul, draw(rng, shape_a), draw(rng, shape_b))


def test_matmul_2d_gradients_are_g_at_B_transposed_and_A_transposed_at_g(backend_name, rng):
    A, B = draw(rng, (2, 3)), draw(rng, (3, 4))
    ta, tb = leaf(A), leaf(B)
    g = backprop(ta @ tb, rng)
    np.testing.assert_allclose(grad_of(ta), g @ B.T, rtol=1e-12)
    np.testing.assert_allclose(grad_of(tb), A.T @ g, rtol=1e-12)


def test_matmul_dot_product_gradients_are_g_times_the_other_vector(backend_name, rng):
    a, b = draw(rng, (3,)), draw(rng, (3,))
    ta, tb = leaf(a), leaf(b)
    out = ta @ tb
    assert out.shape == ()
    out.backward(np.array(2.0))
    np.testing.assert_allclose(grad_of(ta), 2.0 * b, rtol=1e-12)
    np.testing.assert_allclose(grad_of(tb), 2.0 * a, rtol=1e-12)


def test_matmul_with_numpy_array_operand_on_either_side(backend_name, rng):
    x, m = draw(rng, (2, 3)), draw(rng, (3, 2))
    t = leaf(x)
    out = m @ t  # ndarray @ Tensor -> Tensor.__rmatmul__
    assert isinstance(out, minigan.Tensor)
    np.testing.assert_allclose(value(out), m @ x, rtol=1e-12)
    g = backprop(out, rng)
    np.testing.assert_allclose(grad_of(t), m.T @ g, rtol=1e-12)


def test_matmul_rejects_mismatched_inner_axes(backend_name):
    with pytest.raises(minigan.ShapeError):
        leaf(np.ones((2, 3))) @ leaf(np.ones((4, 2)))


# ======================================================================== unary elementwise functions
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


UNARY = {
    # name: (minigan op, NumPy forward, closed-form derivative, input kind)
    "exp": (minigan.exp, np.exp, np.exp, "normal"),
    "log": (minigan.log, np.log, lambda x: 1.0 / x, "positive"),
    "sqrt": (minigan.sqrt, np.sqrt, lambda x: 0.5 / np.sqrt(x), "positive"),
    "abs": (minigan.abs, np.abs, np.sign, "nonzero"),
    "tanh": (minigan.tanh, np.tanh, lambda x: 1.0 - np.tanh(x) ** 2, "normal"),
    "sigmoid": (minigan.sigmoid, _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)), "normal"),
    "neg": (minigan.neg, np.negative, lambda x: -np.ones_like(x), "normal"),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_forward_equals_numpy(backend_name, rng, name):
    op, np_op, _, kind = UNARY[name]
    x = draw(rng, (3, 4), kind)
    out = op(minigan.tensor(x, dtype="float64"))
    assert out.shape == x.shape and out.dtype == F64
    np.testing.assert_allclose(value(out), np_op(x), rtol=1e-13)


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_gradient_matches_closed_form(backend_name, rng, name):
    op, _, derivative, kind = UNARY[name]
    x = draw(rng, (3, 4), kind)
    t = leaf(x)
    g = backprop(op(t), rng)
    np.testing.assert_allclose(grad_of(t), g * derivative(x), rtol=1e-12)


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_gradcheck(backend_name, rng, name):
    op, _, _, kind = UNARY[name]
    assert_gradcheck(op, draw(rng, (3, 4), kind))


@pytest.mark.parametrize("method, name", [
    (lambda t: t.exp(), "exp"), (lambda t: t.log(), "log"), (lambda t: t.sqrt(), "sqrt"),
    (lambda t: t.abs(), "abs"), (lambda t: abs(t), "abs"), (lambda t: t.tanh(), "tanh"),
    (lambda t: t.sigmoid(), "sigmoid"), (lambda t: -t, "neg"),
], ids=["exp()", "log()", "sqrt()", "abs()", "abs(t)", "tanh()", "sigmoid()", "-t"])
def test_unary_method_forms_equal_the_functions(backend_name, rng, method, name):
    op, _, _, kind = UNARY[name]
    x = draw(rng, (5,), kind)
    np.testing.assert_array_equal(value(method(leaf(x))), value(op(leaf(x))))


def test_abs_gradient_at_zero_is_zero(backend_name):
    t = leaf(np.array([-2.0, 0.0, 3.0]))
    minigan.abs(t).backward(np.array([5.0, 5.0, 5.0]))
    np.testing.assert_array_equal(grad_of(t), [-5.0, 0.0, 5.0])


def test_sigmoid_gradient_is_s_times_one_minus_s(backend_name, rng):
    x = draw(rng, (6,))
    t = leaf(x)
    s = minigan.sigmoid(t)
    s.backward(np.ones(6))
    sv = value(s)
    np.testing.assert_allclose(grad_of(t), sv * (1 - sv), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_is_finite_and_warning_free_at_plus_minus_1000(backend_name, dtype):
    x = np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        t = leaf(x, dtype=dtype)
        s = minigan.sigmoid(t)
        s.backward(np.ones(5))
    assert s.dtype == np.dtype(dtype) and t.grad.dtype == np.dtype(dtype)
    sv, gv = value(s), grad_of(t)
    assert np.isfinite(sv).all() and np.isfinite(gv).all()
    np.testing.assert_allclose(sv, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-30)
    np.testing.assert_allclose(gv, [0.0, 0.0, 0.25, 0.0, 0.0], atol=1e-30)


# ========================================================================== maximum and minimum
EXTREMA = {"maximum": (minigan.maximum, np.maximum, np.greater),
           "minimum": (minigan.minimum, np.minimum, np.less)}

EXTREMUM_SHAPES = [
    pytest.param((3, 4), (3, 4), id="same-shape"),
    pytest.param((3, 4), (4,), id="row-vector"),
    pytest.param((3, 4), (3, 1), id="column-vector"),
    pytest.param((3, 1, 4), (1, 2, 4), id="size1-axes-both-sides"),
    pytest.param((), (3, 4), id="0d-left"),
]


def _extremum_inputs(rng, shape_a, shape_b):
    a, b = draw(rng, shape_a), draw(rng, shape_b)
    assert np.abs(np.subtract(a, b)).min() > 1e-3  # no ties (kinks) near the gradcheck's steps
    return a, b


@pytest.mark.parametrize("shape_a, shape_b", EXTREMUM_SHAPES)
@pytest.mark.parametrize("name", list(EXTREMA))
def test_extremum_forward_equals_numpy(backend_name, rng, name, shape_a, shape_b):
    op, np_op, _ = EXTREMA[name]
    a, b = _extremum_inputs(rng, shape_a, shape_b)
    out = op(minigan.tensor(a, dtype="float64"), minigan.tensor(b, dtype="float64"))
    np.testing.assert_array_equal(value(out), np_op(a, b))


@pytest.mark.parametrize("shape_a, shape_b", EXTREMUM_SHAPES)
@pytest.mark.parametrize("name", list(EXTREMA))
def test_extremum_gradient_goes_to_the_picked_operand(backend_name, rng, name, shape_a, shape_b):
    op, _, a_wins = EXTREMA[name]
    a, b = _extremum_inputs(rng, shape_a, shape_b)
    ta, tb = leaf(a), leaf(b)
    g = backprop(op(ta, tb), rng)
    picked_a = a_wins(a, b)
    np.testing.assert_allclose(grad_of(ta), sum_to(g * picked_a, shape_a), rtol=1e-12)
    np.testing.assert_allclose(grad_of(tb), sum_to(g * ~picked_a, shape_b), rtol=1e-12)


@pytest.mark.parametrize("shape_a, shape_b", EXTREMUM_SHAPES)
@pytest.mark.parametrize("name", list(EXTREMA))
def test_extremum_gradcheck(backend_name, rng, name, shape_a, shape_b):
    assert_gradcheck(EXTREMA[name][0], *_extremum_inputs(rng, shape_a, shape_b))


@pytest.mark.parametrize("name, grad_a, grad_b", [
    ("maximum", [0.5, 0.0, 1.5, 4.0], [0.5, 2.0, 1.5, 0.0]),
    ("minimum", [0.5, 2.0, 1.5, 0.0], [0.5, 0.0, 1.5, 4.0]),
])
def test_extremum_splits_the_gradient_in_half_at_ties(backend_name, name, grad_a, grad_b):
    ta, tb = leaf(np.array([1.0, 2.0, 3.0, 4.0])), leaf(np.array([1.0, 5.0, 3.0, 0.0]))
    EXTREMA[name][0](ta, tb).backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(grad_of(ta), grad_a)
    np.testing.assert_array_equal(grad_of(tb), grad_b)


@pytest.mark.parametrize("name", list(EXTREMA))
def test_extremum_tie_with_broadcast_scalar_sums_the_halves(backend_name, name):
    ta = leaf(np.array([[0.0, 1.0, -1.0], [0.0, 0.0, 2.0]]))
    tb = leaf(np.array(0.0))
    EXTREMA[name][0](ta, tb).backward(np.ones((2, 3)))
    a_side = [[0.5, 1.0, 0.0], [0.5, 0.5, 1.0]] if name == "maximum" else [[0.5, 0.0, 1.0], [0.5, 0.5, 0.0]]
    np.testing.assert_array_equal(grad_of(ta), a_side)
    assert tb.grad.shape == ()
    np.testing.assert_array_equal(grad_of(tb), 6 - np.sum(a_side))


@pytest.mark.parametrize("name", list(EXTREMA))
def test_extremum_with_python_scalar(backend_name, name):
    t = leaf(np.array([-1.0, 0.0, 2.0]))
    out = EXTREMA[name][0](t, 0.0)
    np.testing.assert_array_equal(value(out), EXTREMA[name][1]([-1.0, 0.0, 2.0], 0.0))
    out.backward(np.ones(3))
    np.testing.assert_array_equal(grad_of(t), [0.0, 0.5, 1.0] if name == "maximum" else [1.0, 0.5, 0.0])


def test_maximum_of_a_tensor_with_itself_passes_the_whole_gradient(backend_name, rng):
    t = leaf(draw(rng, (4,)))
    g = backprop(minigan.maximum(t, t), rng)
    np.testing.assert_allclose(grad_of(t), g)


# ============================================================================================= clip
CLIP_BOUNDS = [pytest.param(-0.5, 0.5, id="both-bounds"), pytest.param(-0.5, None, id="min-only"),
               pytest.param(None, 0.5, id="max-only")]


def _clip_inputs(rng, shape):
    """Values on both sides of and inside [-0.5, 0.5], at least 0.05 away from the bounds."""
    return rng.choice([-1.5, -0.9, -0.2, 0.1, 0.3, 0.8, 1.4], size=shape) + rng.uniform(-0.04, 0.04, shape)


@pytest.mark.parametrize("lo, hi", CLIP_BOUNDS)
def test_clip_forward_equals_numpy(backend_name, rng, lo, hi):
    x = _clip_inputs(rng, (4, 5))
    np.testing.assert_array_equal(value(minigan.clip(minigan.tensor(x, dtype="float64"), lo, hi)),
                                  np.clip(x, lo, hi))


@pytest.mark.parametrize("lo, hi", CLIP_BOUNDS)
def test_clip_gradcheck(backend_name, rng, lo, hi):
    assert_gradcheck(lambda t: t.clip(min=lo, max=hi), _clip_inputs(rng, (4, 5)))


@pytest.mark.parametrize("lo, hi, passes", [
    pytest.param(-0.5, 0.5, [0, 1, 1, 1, 0], id="both-bounds"),
    pytest.param(-0.5, None, [0, 1, 1, 1, 1], id="min-only"),
    pytest.param(None, 0.5, [1, 1, 1, 1, 0], id="max-only"),
])
def test_clip_passes_the_gradient_inside_and_at_the_bounds_inclusive(backend_name, lo, hi, passes):
    t = leaf(np.array([-1.0, -0.5, 0.0, 0.5, 1.0]))
    g = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    minigan.clip(t, lo, hi).backward(g)
    np.testing.assert_array_equal(grad_of(t), g * np.array(passes))


def test_clip_without_bounds_is_an_error(backend_name):
    with pytest.raises(ValueError):
        minigan.clip(leaf(np.ones(3)))


@pytest.mark.parametrize("x, lo, hi", [pytest.param(0.1, None, np.float64(0.1), id="max"),
                                       pytest.param(0.7, np.float64(0.7), None, id="min")])
def test_clip_float32_at_a_float64_bound_passes_the_gradient(backend_name, x, lo, hi):
    t = leaf(np.array([x]), dtype="float32")
    out = minigan.clip(t, lo, hi)
    np.testing.assert_array_equal(value(out), value(t))  # the output sits exactly at the bound
    out.backward(np.ones(1))
    np.testing.assert_array_equal(grad_of(t), [1.0])


# ============================================================================================ where
WHERE_SHAPES = [
    pytest.param((3, 4), (3, 4), (3, 4), id="same-shape"),
    pytest.param((3, 4), (3, 4), (4,), id="b-row-vector"),
    pytest.param((3, 4), (3, 1), (), id="a-column-b-0d"),
    pytest.param((4,), (3, 1), (3, 4), id="condition-broadcast"),
]


@pytest.mark.parametrize("shape_c, shape_a, shape_b", WHERE_SHAPES)
def test_where_forward_equals_numpy(backend_name, rng, shape_c, shape_a, shape_b):
    cond, a, b = rng.random(shape_c) > 0.5, draw(rng, shape_a), draw(rng, shape_b)
    out = minigan.where(cond, minigan.tensor(a, dtype="float64"), minigan.tensor(b, dtype="float64"))
    np.testing.assert_array_equal(value(out), np.where(cond, a, b))


@pytest.mark.parametrize("shape_c, shape_a, shape_b", WHERE_SHAPES)
def test_where_gradient_goes_to_the_chosen_side(backend_name, rng, shape_c, shape_a, shape_b):
    cond, a, b = rng.random(shape_c) > 0.5, draw(rng, shape_a), draw(rng, shape_b)
    ta, tb = leaf(a), leaf(b)
    out = minigan.where(cond, ta, tb)
    g = backprop(out, rng)
    cond_full = np.broadcast_to(cond, out.shape)
    np.testing.assert_allclose(grad_of(ta), sum_to(g * cond_full, shape_a), rtol=1e-12)
    np.testing.assert_allclose(grad_of(tb), sum_to(g * ~cond_full, shape_b), rtol=1e-12)


@pytest.mark.parametrize("shape_c, shape_a, shape_b", WHERE_SHAPES)
def test_where_gradcheck(backend_name, rng, shape_c, shape_a, shape_b):
    cond = rng.random(shape_c) > 0.5
    assert_gradcheck(lambda a, b: minigan.where(cond, a, b), draw(rng, shape_a), draw(rng, shape_b))


def test_where_with_tensor_comparison_mask_and_python_scalar(backend_name):
    t = leaf(np.array([1.0, -3.0, 3.0]))
    out = minigan.where(t > 0, t, 0.0)
    np.testing.assert_array_equal(value(out), [1.0, 0.0, 3.0])
    out.backward(np.array([2.0, 2.0, 2.0]))
    np.testing.assert_array_equal(grad_of(t), [2.0, 0.0, 2.0])


# ======================================================================= reductions: sum mean max var
REDUCTIONS = {
    "sum": (lambda t, axis, kd: minigan.sum(t, axis=axis, keepdims=kd),
            lambda x, axis, kd: np.sum(x, axis=axis, keepdims=kd)),
    "mean": (lambda t, axis, kd: minigan.mean(t, axis=axis, keepdims=kd),
             lambda x, axis, kd: np.mean(x, axis=axis, keepdims=kd)),
    "max": (lambda t, axis, kd: minigan.max(t, axis=axis, keepdims=kd),
            lambda x, axis, kd: np.max(x, axis=axis, keepdims=kd)),
    "var-ddof0": (lambda t, axis, kd: minigan.var(t, axis=axis, ddof=0, keepdims=kd),
                  lambda x, axis, kd: np.var(x, axis=axis, ddof=0, keepdims=kd)),
    "var-ddof1": (lambda t, axis, kd: minigan.var(t, axis=axis, ddof=1, keepdims=kd),
                  lambda x, axis, kd: np.var(x, axis=axis, ddof=1, keepdims=kd)),
}
AXES = [pytest.param(None, id="axis=None"), pytest.param(0, id="axis=0"), pytest.param(2, id="axis=2"),
        pytest.param(-1, id="axis=-1"), pytest.param(-2, id="axis=-2"), pytest.param((0, 2), id="axis=(0,2)"),
        pytest.param((-1, 0), id="axis=(-1,0)"), pytest.param((0, 1, 2), id="axis=(0,1,2)")]
KEEPDIMS = [pytest.param(False, id="keepdims=False"), pytest.param(True, id="keepdims=True")]
REDUCTION_SHAPE = (2, 3, 4)


def reduction_grad_reference(name, x, axis, keepdims, g):
    """The closed-form gradient of every reduction, NumPy only."""
    axes = tuple(range(x.ndim)) if axis is None else tuple(a % x.ndim for a in np.atleast_1d(axis))
    gk = g if keepdims else np.expand_dims(g, axes)
    n = math.prod(x.shape[a] for a in axes)
    if name == "sum":
        return np.broadcast_to(gk, x.shape)
    if name == "mean":
        return np.broadcast_to(gk / n, x.shape)
    if name == "max":
        hit = x == x.max(axis=axes, keepdims=True)
        return gk * hit / hit.sum(axis=axes, keepdims=True)
    ddof = int(name[-1])
    return gk * 2.0 * (x - x.mean(axis=axes, keepdims=True)) / (n - ddof)


@pytest.mark.parametrize("keepdims", KEEPDIMS)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction_forward_equals_numpy(backend_name, rng, name, axis, keepdims):
    op, np_op = REDUCTIONS[name]
    x = draw(rng, REDUCTION_SHAPE)
    out = op(minigan.tensor(x, dtype="float64"), axis, keepdims)
    expected = np_op(x, axis, keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(value(out), expected, rtol=1e-12)


@pytest.mark.parametrize("keepdims", KEEPDIMS)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction_gradient_matches_closed_form(backend_name, rng, name, axis, keepdims):
    x = draw(rng, REDUCTION_SHAPE)
    t = leaf(x)
    g = backprop(REDUCTIONS[name][0](t, axis, keepdims), rng)
    assert t.grad.shape == x.shape
    np.testing.assert_allclose(grad_of(t), reduction_grad_reference(name, x, axis, keepdims, g), rtol=1e-10)


@pytest.mark.parametrize("keepdims", KEEPDIMS)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction_gradcheck(backend_name, rng, name, axis, keepdims):
    op = REDUCTIONS[name][0]
    assert_gradcheck(lambda t: op(t, axis, keepdims), draw(rng, REDUCTION_SHAPE))


@pytest.mark.parametrize("call", [
    lambda t: t.sum(1, True), lambda t: t.mean(axis=(0, 1)), lambda t: t.max(-1),
    lambda t: t.var(axis=0, ddof=1, keepdims=True),
], ids=["sum", "mean", "max", "var"])
def test_reduction_methods_equal_the_functions(backend_name, rng, call):
    x = draw(rng, (3, 4))
    by_method = call(leaf(x))
    by_function = {"sum": lambda t: minigan.sum(t, 1, True), "mean": lambda t: minigan.mean(t, (0, 1)),
                   "max": lambda t: minigan.max(t, -1), "var": lambda t: minigan.var(t, 0, 1, True)}
    expected = by_function[by_method.op](leaf(x))
    np.testing.assert_array_equal(value(by_method), value(expected))


def test_mean_gradient_is_one_over_n(backend_name, rng):
    t = leaf(draw(rng, (3, 4)))
    t.mean().backward()
    np.testing.assert_allclose(grad_of(t), np.full((3, 4), 1 / 12), rtol=1e-15)


@pytest.mark.parametrize("ddof", [0, 1])
def test_var_gradient_is_2_x_minus_mu_over_n_minus_ddof(backend_name, rng, ddof):
    x = draw(rng, (7,))
    t = leaf(x)
    t.var(ddof=ddof).backward()
    np.testing.assert_allclose(grad_of(t), 2 * (x - x.mean()) / (7 - ddof), rtol=1e-12)


def test_max_over_all_axes_splits_the_gradient_equally_among_ties(backend_name):
    t = leaf(np.array([[1.0, 5.0], [5.0, 5.0]]))
    t.max().backward(np.array(3.0))
    np.testing.assert_allclose(grad_of(t), [[0.0, 1.0], [1.0, 1.0]])


def test_max_along_an_axis_splits_each_gradient_among_that_slices_ties(backend_name):
    t = leaf(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, 4.0, -1.0]]))
    t.max(axis=1).backward(np.array([2.0, 3.0, 5.0]))
    np.testing.assert_allclose(grad_of(t), [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 5.0, 0.0]])


@pytest.mark.parametrize("name", ["sum", "mean", "max", "var-ddof0"])
def test_reduction_accepts_a_numpy_integer_axis(backend_name, rng, name):
    op, np_op = REDUCTIONS[name]
    x = draw(rng, (3, 4))
    np.testing.assert_allclose(value(op(leaf(x), np.int64(1), False)), np_op(x, 1, False))


# ============================================================================ reshape and transpose
RESHAPES = [
    pytest.param((3, 4), (6, -1), id="(3,4)->(6,-1)"),
    pytest.param((3, 4), (-1,), id="(3,4)->(-1,)"),
    pytest.param((2, 3, 4), (4, -1, 2), id="(2,3,4)->(4,-1,2)"),
    pytest.param((3, 4), (1, 12, 1), id="(3,4)->(1,12,1)"),
    pytest.param((12,), (3, 4), id="(12,)->(3,4)"),
]


@pytest.mark.parametrize("shape, new_shape", RESHAPES)
def test_reshape_forward_equals_numpy(backend_name, rng, shape, new_shape):
    x = draw(rng, shape)
    out = minigan.reshape(minigan.tensor(x, dtype="float64"), new_shape)
    np.testing.assert_array_equal(value(out), x.reshape(new_shape))


@pytest.mark.parametrize("shape, new_shape", RESHAPES)
def test_reshape_gradient_is_g_reshaped_back(backend_name, rng, shape, new_shape):
    t = leaf(draw(rng, shape))
    g = backprop(t.reshape(new_shape), rng)
    np.testing.assert_array_equal(grad_of(t), g.reshape(shape))


@pytest.mark.parametrize("shape, new_shape", RESHAPES)
def test_reshape_gradcheck(backend_name, rng, shape, new_shape):
    assert_gradcheck(lambda t: t.reshape(new_shape), draw(rng, shape))


def test_reshape_accepts_a_tuple_or_separate_sizes(backend_name, rng):
    x = draw(rng, (3, 4))
    assert leaf(x).reshape(2, -1).shape == leaf(x).reshape((2, -1)).shape == (2, 6)


TRANSPOSES = [
    pytest.param((3, 4), None, id="2d-default"),
    pytest.param((2, 3, 4), None, id="3d-default-reverses"),
    pytest.param((2, 3, 4), (2, 0, 1), id="(2,0,1)"),
    pytest.param((2, 3, 4), (1, 0, 2), id="(1,0,2)"),
    pytest.param((2, 3, 4), (-1, 0, 1), id="negative-axes"),
]


@pytest.mark.parametrize("shape, axes", TRANSPOSES)
def test_transpose_forward_equals_numpy(backend_name, rng, shape, axes):
    x = draw(rng, shape)
    out = minigan.transpose(minigan.tensor(x, dtype="float64"), axes)
    np.testing.assert_array_equal(value(out), np.transpose(x, axes))


@pytest.mark.parametrize("shape, axes", TRANSPOSES)
def test_transpose_gradient_is_g_permuted_back(backend_name, rng, shape, axes):
    t = leaf(draw(rng, shape))
    g = backprop(minigan.transpose(t, axes), rng)
    inverse = np.argsort([a % len(shape) for a in axes]) if axes is not None else None
    np.testing.assert_array_equal(grad_of(t), np.transpose(g, inverse))


@pytest.mark.parametrize("shape, axes", TRANSPOSES)
def test_transpose_gradcheck(backend_name, rng, shape, axes):
    assert_gradcheck(lambda t: minigan.transpose(t, axes), draw(rng, shape))


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,)])
def test_T_reverses_the_axes_and_its_gradient_is_g_T(backend_name, rng, shape):
    x = draw(rng, shape)
    t = leaf(x)
    out = t.T
    np.testing.assert_array_equal(value(out), x.T)
    g = backprop(out, rng)
    np.testing.assert_array_equal(grad_of(t), g.T)


def test_T_gradcheck(backend_name, rng):
    assert_gradcheck(lambda t: t.T, draw(rng, (3, 4)))


def test_transpose_method_with_separate_axes(backend_name, rng):
    x = draw(rng, (2, 3, 4))
    np.testing.assert_array_equal(value(leaf(x).transpose(2, 0, 1)), x.transpose(2, 0, 1))


# ========================================================================================== getitem
GETITEM_CASES = [
    pytest.param((4, 5), (slice(1, 3), slice(2, None)), id="basic-slices"),
    pytest.param((4, 5), (slice(None, None, 2), slice(4, 0, -2)), id="step-slices"),
    pytest.param((6,), slice(None, None, -1), id="reversed"),
    pytest.param((4, 5), 2, id="integer"),
    pytest.param((4, 5), (1, -1), id="integers-to-0d"),
    pytest.param((2, 3, 4), (Ellipsis, 1), id="ellipsis"),
    pytest.param((3, 4), (None, slice(None), None), id="none"),
    pytest.param((2, 3, 4), (Ellipsis, None, slice(1, 3)), id="ellipsis-and-none"),
    pytest.param((4, 5), np.array([0, 2, 0, 0]), id="int-array-repeated"),
    pytest.param((4, 5), [1, -3, 3], id="int-list-repeated-via-negative"),
    pytest.param((4, 5), (np.array([0, 0, 1]), np.array([2, 2, 2])), id="two-int-arrays-repeated-pairs"),
    pytest.param((4, 5), (np.array([3, 3]), slice(1, 4)), id="int-array-and-slice"),
    pytest.param((4, 5), (slice(None), np.array([[0, 4], [4, 4]])), id="2d-int-array-on-last-axis"),
    pytest.param((4, 5), np.arange(20).reshape(4, 5) % 3 == 0, id="bool-mask-full"),
    pytest.param((4, 5), np.array([True, False, True, True]), id="bool-mask-rows"),
]


def getitem_grad_reference(shape, index, g):
    """Scatter-add by NumPy alone: each output element adds its gradient to the element it came from."""
    size = math.prod(shape)
    source = np.arange(size).reshape(shape)[index]
    return np.bincount(np.ravel(source), weights=np.ravel(g), minlength=size).reshape(shape)


@pytest.mark.parametrize("shape, index", GETITEM_CASES)
def test_getitem_forward_equals_numpy(backend_name, rng, shape, index):
    x = draw(rng, shape)
    out = minigan.tensor(x, dtype="float64")[index]
    expected = x[index]
    assert out.shape == np.shape(expected)
    np.testing.assert_array_equal(value(out), expected)


@pytest.mark.parametrize("shape, index", GETITEM_CASES)
def test_getitem_gradient_is_scatter_added_back(backend_name, rng, shape, index):
    t = leaf(draw(rng, shape))
    g = backprop(t[index], rng)
    np.testing.assert_allclose(grad_of(t), getitem_grad_reference(shape, index, g), rtol=1e-12)


@pytest.mark.parametrize("shape, index", GETITEM_CASES)
def test_getitem_gradcheck(backend_name, rng, shape, index):
    assert_gradcheck(lambda t: minigan.getitem(t, index), draw(rng, shape))


def test_getitem_repeated_index_adds_the_gradients(backend_name):
    t = leaf(np.array([10.0, 20.0, 30.0]))
    out = t[np.array([0, 0, 2, 0])]
    np.testing.assert_array_equal(value(out), [10.0, 10.0, 30.0, 10.0])
    out.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(grad_of(t), [7.0, 0.0, 3.0])


def test_getitem_output_is_a_copy(backend_name):
    t = leaf(np.arange(6.0))
    out = t[1:4]
    out.data[...] = -1
    np.testing.assert_array_equal(value(t), np.arange(6.0))


def test_getitem_refuses_a_tensor_index(backend_name):
    with pytest.raises(TypeError):
        leaf(np.arange(3.0))[minigan.tensor([0.0, 1.0], dtype="float64")]


# =============================================================================== concatenate, stack
CONCAT_CASES = [
    pytest.param([(2, 3), (2, 2)], 1, id="two-on-axis1"),
    pytest.param([(2, 3), (1, 3), (3, 3)], 0, id="three-on-axis0"),
    pytest.param([(2, 3, 1), (2, 3, 2)], -1, id="negative-axis"),
    pytest.param([(4,)], 0, id="single"),
]


@pytest.mark.parametrize("shapes, axis", CONCAT_CASES)
def test_concatenate_forward_equals_numpy(backend_name, rng, shapes, axis):
    xs = [draw(rng, s) for s in shapes]
    out = minigan.concatenate([minigan.tensor(x, dtype="float64") for x in xs], axis=axis)
    np.testing.assert_array_equal(value(out), np.concatenate(xs, axis=axis))


@pytest.mark.parametrize("shapes, axis", CONCAT_CASES)
def test_concatenate_gradients_are_the_slices_of_g(backend_name, rng, shapes, axis):
    ts = [leaf(draw(rng, s)) for s in shapes]
    g = backprop(minigan.concatenate(ts, axis=axis), rng)
    bounds = np.cumsum([s[axis] for s in shapes])[:-1]
    for t, part in zip(ts, np.split(g, bounds, axis=axis)):
        np.testing.assert_array_equal(grad_of(t), part)


@pytest.mark.parametrize("shapes, axis", CONCAT_CASES)
def test_concatenate_gradcheck(backend_name, rng, shapes, axis):
    assert_gradcheck(lambda *ts: minigan.concatenate(ts, axis=axis), *[draw(rng, s) for s in shapes])


STACK_CASES = [
    pytest.param(2, (2, 3), 0, id="two-axis0"),
    pytest.param(2, (2, 3), 1, id="two-axis1"),
    pytest.param(3, (2, 3), -1, id="three-negative-axis"),
    pytest.param(3, (), 0, id="scalars"),
]


@pytest.mark.parametrize("count, shape, axis", STACK_CASES)
def test_stack_forward_equals_numpy(backend_name, rng, count, shape, axis):
    xs = [draw(rng, shape) for _ in range(count)]
    out = minigan.stack([minigan.tensor(x, dtype="float64") for x in xs], axis=axis)
    np.testing.assert_array_equal(value(out), np.stack(xs, axis=axis))


@pytest.mark.parametrize("count, shape, axis", STACK_CASES)
def test_stack_gradients_are_the_slices_of_g(backend_name, rng, count, shape, axis):
    ts = [leaf(draw(rng, shape)) for _ in range(count)]
    g = backprop(minigan.stack(ts, axis=axis), rng)
    for i, t in enumerate(ts):
        assert t.grad.shape == shape
        np.testing.assert_array_equal(grad_of(t), np.take(g, i, axis=axis))


@pytest.mark.parametrize("count, shape, axis", STACK_CASES)
def test_stack_gradcheck(backend_name, rng, count, shape, axis):
    assert_gradcheck(lambda *ts: minigan.stack(ts, axis=axis), *[draw(rng, shape) for _ in range(count)])


def test_concatenate_the_same_tensor_twice_adds_both_gradients(backend_name, rng):
    t = leaf(draw(rng, (3,)))
    g = backprop(minigan.concatenate([t, t]), rng)
    np.testing.assert_allclose(grad_of(t), g[:3] + g[3:])


# ==================================================================== casts and backend moves
@pytest.mark.parametrize("cast", [lambda t, d: t.astype(d), lambda t, d: t.to(d),
                                  lambda t, d: minigan.astype(t, d)], ids=["astype", "to", "minigan.astype"])
def test_astype_float64_float32_float64_chain_rounds_to_float32_values(backend_name, cast):
    x = np.array([0.1, 1 / 3, -2.5, 1e-3])
    t = leaf(x)
    mid = cast(t, "float32")
    out = cast(mid, "float64")
    assert mid.dtype == F32 and out.dtype == F64
    np.testing.assert_array_equal(value(mid), x.astype(np.float32))
    np.testing.assert_array_equal(value(out), x.astype(np.float32).astype(np.float64))
    assert not np.array_equal(value(out), x)  # the float32 step really rounded
    g = np.array([1.0, 0.5, -2.0, 0.25])  # exactly representable in float32
    out.backward(g)
    assert t.grad.dtype == F64
    np.testing.assert_array_equal(grad_of(t), g)


def test_astype_gradient_is_cast_back_to_the_source_dtype(backend_name, rng):
    t = leaf(draw(rng, (3,)), dtype="float32")
    out = t.astype("float64")
    out.backward(np.array([0.1, 0.2, 0.3]))
    assert t.grad.dtype == F32
    np.testing.assert_array_equal(grad_of(t), np.array([0.1, 0.2, 0.3], dtype=np.float32))


def test_astype_gradcheck(backend_name, rng):
    assert_gradcheck(lambda t: t.astype("float64") * 2, draw(rng, (3, 4)))


def test_astype_through_float32_gradcheck_with_a_step_above_float32_rounding(backend_name, rng):
    assert_gradcheck(lambda t: t.astype("float32").astype("float64"), draw(rng, (3, 4)), eps=1e-3)


def test_astype_refuses_non_float_dtypes(backend_name):
    with pytest.raises(minigan.DTypeError):
        leaf(np.ones(2)).astype("int32")


def test_to_numpy_copies_to_the_numpy_backend_and_sends_the_gradient_back(backend_name, rng):
    x = draw(rng, (3, 4))
    t = leaf(x)
    out = t.to("numpy")
    assert out.backend == "numpy" and isinstance(out.data, np.ndarray)
    np.testing.assert_array_equal(out.data, x)
    out.data[...] = 0.0  # a copy: the source is untouched
    np.testing.assert_array_equal(value(t), x)
    g = cotangent(rng, x.shape)
    out.backward(g)
    assert array_backend(t.grad) == backend_name
    np.testing.assert_array_equal(grad_of(t), g)


def test_to_numpy_gradcheck(backend_name, rng):
    # Back to the test's backend at the end, so gradcheck's cotangent lives where the output does.
    assert_gradcheck(lambda t: t.to("numpy").to(backend_name) * 3, draw(rng, (3, 4)))


# ======================================================================================= dtype rules
# A float32 tensor meeting anything that is not a tensor stays float32, and so does its gradient.
FLOAT64_CONSTANTS = [pytest.param(2.5, id="python-float"), pytest.param(np.float64(2.5), id="np.float64"),
                     pytest.param(np.full(3, 2.5), id="float64-array")]
CONSTANT_OPS = [
    pytest.param(lambda x, c: x + c, id="x+c"), pytest.param(lambda x, c: c + x, id="c+x"),
    pytest.param(lambda x, c: x - c, id="x-c"), pytest.param(lambda x, c: c - x, id="c-x"),
    pytest.param(lambda x, c: x * c, id="x*c"), pytest.param(lambda x, c: c * x, id="c*x"),
    pytest.param(lambda x, c: x / c, id="x/c"), pytest.param(lambda x, c: c / x, id="c/x"),
    pytest.param(lambda x, c: minigan.maximum(x, c), id="maximum"),
    pytest.param(lambda x, c: minigan.minimum(c, x), id="minimum"),
    pytest.param(lambda x, c: minigan.where(np.array([True, False, True]), x, c), id="where"),
]


@pytest.mark.parametrize("const", FLOAT64_CONSTANTS)
@pytest.mark.parametrize("op", CONSTANT_OPS)
def test_float32_tensor_with_float64_constant_stays_float32(backend_name, op, const):
    t = leaf(np.array([0.5, 1.0, 4.0]), dtype="float32")
    out = op(t, const)
    assert out.dtype == F32
    out.backward(np.ones(3))
    assert t.grad.dtype == F32


@pytest.mark.parametrize("op", [
    pytest.param(lambda x: x ** np.float64(2.0), id="x**np.float64"),
    pytest.param(lambda x: x ** 0.5, id="x**0.5"),
    pytest.param(lambda x: np.float64(2.0) ** x, id="np.float64**x"),
    pytest.param(lambda x: 2.0 ** x, id="2.0**x"),
    pytest.param(lambda x: x @ np.ones((3, 2)), id="x@float64-array"),
    pytest.param(lambda x: np.ones((2, 3)) @ x, id="float64-array@x"),
    pytest.param(lambda x: x.clip(np.float64(0.6), 2.0), id="clip-float64-bounds"),
])
def test_float32_tensor_with_float64_constant_stays_float32_for_powers_matmul_clip(backend_name, op):
    t = leaf(np.array([0.5, 1.0, 4.0]), dtype="float32")
    out = op(t)
    assert out.dtype == F32
    out.backward(np.ones(out.shape))
    assert t.grad.dtype == F32


@pytest.mark.parametrize("op", [
    pytest.param(minigan.add, id="add"), pytest.param(minigan.sub, id="sub"),
    pytest.param(minigan.mul, id="mul"), pytest.param(minigan.div, id="div"),
    pytest.param(minigan.maximum, id="maximum"), pytest.param(minigan.minimum, id="minimum"),
    pytest.param(lambda a, b: minigan.where(np.array([True, False, True]), a, b), id="where"),
    pytest.param(lambda a, b: a.reshape(3, 1) @ b.reshape(1, 3), id="matmul"),
    pytest.param(lambda a, b: minigan.concatenate([a, b]), id="concatenate"),
    pytest.param(lambda a, b: minigan.stack([a, b]), id="stack"),
])
@pytest.mark.parametrize("float32_first", [True, False], ids=["f32-op-f64", "f64-op-f32"])
def test_float32_and_float64_tensors_promote_to_float64_with_float32_grad(backend_name, op, float32_first):
    t32 = leaf(np.array([0.5, 1.0, 4.0]), dtype="float32")
    t64 = leaf(np.array([1.5, 1.0, 2.0]), dtype="float64")
    out = op(t32, t64) if float32_first else op(t64, t32)
    assert out.dtype == F64
    out.backward(np.ones(out.shape))
    assert t32.grad.dtype == F32
    assert t64.grad.dtype == F64


def test_float32_plus_float64_gradient_values(backend_name):
    t32 = leaf(np.array([0.5, 1.0]), dtype="float32")
    t64 = leaf(np.array([3.0, 4.0]), dtype="float64")
    (t32 * t64).backward(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(grad_of(t32), np.array([3.0, 8.0], dtype=np.float32))
    np.testing.assert_array_equal(grad_of(t64), [0.5, 2.0])


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "neg"])
def test_unary_ops_keep_float32(backend_name, name):
    t = leaf(np.array([0.5, 1.0, 2.0]), dtype="float32")
    out = UNARY[name][0](t)
    assert out.dtype == F32
    out.backward(np.ones(3))
    assert t.grad.dtype == F32


@pytest.mark.parametrize("data", [pytest.param(2.5, id="python-float"), pytest.param([1.0, 2.0], id="float-list"),
                                  pytest.param([1, 2], id="int-list")])
def test_tensor_from_python_data_takes_the_default_dtype(backend_name, data):
    assert minigan.tensor(data).dtype == minigan.get_default_dtype()


@pytest.mark.parametrize("dtype, x", [("float64", -80.0), ("float64", -700.0), ("float32", -50.0), ("float32", -87.0)])
def test_sigmoid_keeps_full_relative_precision_in_the_negative_tail(backend_name, dtype, x):
    # σ(x) ≈ eˣ there: a formula such as 1 + [x < 0](e − 1) would absorb e and return 0.
    got = float(value(minigan.sigmoid(minigan.tensor([x], dtype=dtype)))[0])
    expected = math.exp(x) / (1 + math.exp(x))
    assert got == pytest.approx(expected, rel=1e-6 if dtype == "float32" else 1e-14)


# ================================================================== NaN in maximum / minimum, clip bounds
@pytest.mark.parametrize("name", list(EXTREMA))
@pytest.mark.parametrize("nan_first", [True, False], ids=["nan-first", "nan-second"])
def test_extremum_propagates_nan_whichever_operand_holds_it(backend_name, name, nan_first):
    nan_side, number_side = leaf(np.array([np.nan, np.nan])), leaf(np.array([0.0, -1.0]))
    a, b = (nan_side, number_side) if nan_first else (number_side, nan_side)
    out = EXTREMA[name][0](a, b)
    assert np.isnan(value(out)).all()
    out.backward(np.ones(2))
    np.testing.assert_array_equal(grad_of(nan_side), [1.0, 1.0])  # the gradient goes where the NaN came from
    np.testing.assert_array_equal(grad_of(number_side), [0.0, 0.0])


@pytest.mark.parametrize("name", list(EXTREMA))
def test_extremum_with_nan_agrees_with_numpy_elementwise(backend_name, name):
    x = np.array([np.nan, 1.0, 2.0, np.nan])
    y = np.array([0.0, np.nan, 3.0, np.nan])
    for a, b in ((x, y), (y, x)):
        np.testing.assert_array_equal(value(EXTREMA[name][0](minigan.tensor(a, dtype="float64"),
                                                             minigan.tensor(b, dtype="float64"))),
                                      EXTREMA[name][1](a, b))


@pytest.mark.parametrize("lo_shape, hi_shape", [((3, 4), None), (None, (2, 3, 4)), ((4,), (2, 1, 1))])
def test_clip_with_array_bounds_broadcasts_like_numpy(backend_name, rng, lo_shape, hi_shape):
    x = rng.standard_normal((3, 4))
    lo = None if lo_shape is None else rng.uniform(-1.0, -0.2, lo_shape)
    hi = None if hi_shape is None else rng.uniform(0.2, 1.0, hi_shape)
    out = minigan.clip(minigan.tensor(x, dtype="float64"), lo, hi)
    np.testing.assert_array_equal(value(out), np.clip(x, lo, hi))


def test_clip_with_bounds_that_do_not_broadcast_names_the_op_and_the_shapes(backend_name):
    with pytest.raises(minigan.ShapeError, match=r"clip.*\(3, 4\).*\(5,\)"):
        minigan.clip(leaf(np.zeros((3, 4))), np.zeros(5), None)


def test_clip_with_tensor_bounds_passes_each_bound_its_gradient(backend_name):
    x = leaf(np.array([-2.0, 0.0, 2.0]))
    lo, hi = leaf(np.array([-1.0, -1.0, -1.0])), leaf(np.array([1.0]))
    minigan.clip(x, lo, hi).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(grad_of(x), [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(grad_of(lo), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(grad_of(hi), [3.0])


def test_clip_gradcheck_with_tensor_bounds(backend_name, rng):
    x = _clip_inputs(rng, (4, 5))
    assert_gradcheck(lambda t, lo, hi: minigan.clip(t, lo, hi), x, np.full((1, 5), -0.55), np.full((4, 1), 0.55))
