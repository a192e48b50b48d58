"""Specification of ``minigan.functional``: vjp, jvp, jacobian, hessian, hvp, vhp.

Each is pinned down against central finite differences, against closed forms (the Jacobian of Ax is
A, the Hessian of xᵀAx is A + Aᵀ, the jvp of an elementwise f is f'(x)⊙v), and against
``torch.autograd.functional`` where PyTorch is installed. The rest is PyTorch's conventions: tensors
for a single input, (nested) tuples for several, ``v`` optional only for one-element tensors,
detached results unless ``create_graph``, the caller's tensors left alone, zeros or an error
(``strict``) for an output that does not depend on an input.
"""

import numpy as np
import pytest

import minigan
from minigan import functional as F
from tests.conftest import to_numpy

FUNCTIONS = ("vjp", "jvp", "jacobian", "hessian", "hvp", "vhp")


# ----------------------------------------------------------------------------------------- helpers
def t64(array, requires_grad=False):
    return minigan.tensor(array, requires_grad=requires_grad, dtype="float64")


def host(t):
    return to_numpy(t.data)


def as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


# The functions below use only operators and methods minigan's and PyTorch's tensors share, so the
# same code runs on both. x has shape (3,), y shape (3, 2).
def two_in_two_out(x, y):
    """(tanh(x) @ y, sigmoid(eˣ · y)): outputs of shapes (2,) and (3, 2)."""
    return x.tanh() @ y, (x.exp().reshape((3, 1)) * y).sigmoid()


def scalar_of_two(x, y):
    """A smooth scalar whose Hessian blocks all depend on x and y."""
    return (x.tanh() @ y).exp().sum() + (x * x * x).sum() * (y * y).sum()


def quartic(x):
    """Σ x⁴: gradient 4x³, Hessian diag(12x²), third derivative 24x on the diagonal."""
    return (x * x * x * x).sum()


@pytest.fixture
def point():
    rng = np.random.default_rng(0)
    return rng.standard_normal(3) * 0.7, rng.standard_normal((3, 2)) * 0.7


@pytest.fixture
def matrix():
    """A non-symmetric 3×3 matrix, so A + Aᵀ and A differ."""
    a = np.random.default_rng(1).standard_normal((3, 3))
    assert not np.allclose(a, a.T)
    return a


def fd_jacobian(func, arrays, eps=1e-6):
    """J[i][j] of ``func`` (float64 tensors in, a tensor or tuple out) by central differences, NumPy arrays."""
    outputs = [host(o) for o in as_tuple(func(*[t64(a) for a in arrays]))]
    blocks = [[np.zeros(o.shape + a.shape) for a in arrays] for o in outputs]
    for j, a in enumerate(arrays):
        for k in np.ndindex(a.shape):
            shifted = []
            for sign in (1, -1):
                moved = [b.copy() for b in arrays]
                moved[j][k] += sign * eps
                shifted.append([host(o) for o in as_tuple(func(*[t64(b) for b in moved]))])
            for i in range(len(outputs)):
                blocks[i][j][(Ellipsis,) + k] = (shifted[0][i] - shifted[1][i]) / (2 * eps)
    return blocks


def gradient_of(func):
    """x ↦ ∇func(x) with minigan.grad: finite differences of it give the Hessian."""
    def gradient(*xs):
        xs = [x.detach().requires_grad_() for x in xs]
        return minigan.grad(func(*xs), xs)

    return gradient


def call(name, func, x, **options):
    """``F.<name>(func, x)`` with v = ones where it needs one (func returns a scalar, so vjp does not)."""
    v = () if name in ("vjp", "jacobian", "hessian") else (minigan.ones_like(x),)
    return getattr(F, name)(func, x, *v, **options)


def contract(left, right, axes):
    return np.tensordot(left, right, axes=axes)


# ---------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_matches_finite_differences(backend_name, point, strategy):
    ours = F.jacobian(two_in_two_out, tuple(t64(a) for a in point), strategy=strategy)
    expected = fd_jacobian(two_in_two_out, point)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(host(ours[i][j]), expected[i][j], atol=1e-8)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_hessian_matches_finite_differences_of_the_gradient(backend_name, point, strategy):
    ours = F.hessian(scalar_of_two, tuple(t64(a) for a in point), outer_jacobian_strategy=strategy)
    expected = fd_jacobian(gradient_of(scalar_of_two), point)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(host(ours[i][j]), expected[i][j], atol=1e-7)


def test_vjp_is_v_times_the_finite_difference_jacobian(backend_name, point):
    rng = np.random.default_rng(2)
    v = (rng.standard_normal(2), rng.standard_normal((3, 2)))
    _, ours = F.vjp(two_in_two_out, tuple(t64(a) for a in point), tuple(t64(a) for a in v))
    jac = fd_jacobian(two_in_two_out, point)
    for j in range(2):
        expected = sum(contract(v[i], jac[i][j], v[i].ndim) for i in range(2))
        np.testing.assert_allclose(host(ours[j]), expected, atol=1e-8)


def test_jvp_is_the_finite_difference_jacobian_times_v(backend_name, point):
    rng = np.random.default_rng(3)
    v = (rng.standard_normal(3), rng.standard_normal((3, 2)))
    _, ours = F.jvp(two_in_two_out, tuple(t64(a) for a in point), tuple(t64(a) for a in v))
    jac = fd_jacobian(two_in_two_out, point)
    for i in range(2):
        expected = sum(contract(jac[i][j], v[j], v[j].ndim) for j in range(2))
        np.testing.assert_allclose(host(ours[i]), expected, atol=1e-8)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hessian_vector_products_match_the_finite_difference_hessian(backend_name, point, name):
    rng = np.random.default_rng(4)
    v = (rng.standard_normal(3), rng.standard_normal((3, 2)))
    _, ours = getattr(F, name)(scalar_of_two, tuple(t64(a) for a in point), tuple(t64(a) for a in v))
    hess = fd_jacobian(gradient_of(scalar_of_two), point)
    for i in range(2):
        expected = sum(contract(hess[i][j], v[j], v[j].ndim) for j in range(2))
        np.testing.assert_allclose(host(ours[i]), expected, atol=1e-7)


# ------------------------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_of_a_linear_map_is_its_matrix(backend_name, matrix, strategy):
    a = t64(matrix)
    jac = F.jacobian(lambda x: a @ x, t64([0.3, -1.0, 2.0]), strategy=strategy)
    np.testing.assert_allclose(host(jac), matrix, rtol=1e-15)


def test_jacobian_of_an_elementwise_function_is_diagonal(backend_name):
    x = np.array([[0.2, -0.5], [1.1, 0.0]])
    jac = host(F.jacobian(lambda t: t.tanh(), t64(x)))
    expected = np.diag((1 - np.tanh(x) ** 2).ravel()).reshape(2, 2, 2, 2)
    np.testing.assert_allclose(jac, expected, rtol=1e-14)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_hessian_of_a_quadratic_form_is_a_plus_a_transpose(backend_name, matrix, strategy):
    a = t64(matrix)
    hess = F.hessian(lambda x: x @ (a @ x), t64([0.3, -1.0, 2.0]), outer_jacobian_strategy=strategy)
    np.testing.assert_allclose(host(hess), matrix + matrix.T, rtol=1e-14)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hessian_vector_product_of_a_quadratic_form(backend_name, matrix, name):
    a, v = t64(matrix), np.array([1.0, -2.0, 0.5])
    value, product = getattr(F, name)(lambda x: x @ (a @ x), t64([0.3, -1.0, 2.0]), t64(v))
    x = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(host(value), x @ matrix @ x, rtol=1e-14)
    np.testing.assert_allclose(host(product), (matrix + matrix.T) @ v, rtol=1e-14)


@pytest.mark.parametrize("name", ["jvp", "vjp"])
def test_product_with_an_elementwise_jacobian_is_the_derivative_times_v(backend_name, name):
    x, v = np.array([[0.2, -0.5], [1.1, 0.0]]), np.array([[1.5, -2.0], [0.3, 4.0]])
    value, product = getattr(F, name)(lambda t: t.tanh(), t64(x), t64(v))
    np.testing.assert_allclose(host(value), np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(host(product), (1 - np.tanh(x) ** 2) * v, rtol=1e-14)


# --------------------------------------------------------------------------- shapes and tuples
def test_one_input_and_one_output_give_a_tensor_jacobian(backend_name, point):
    jac = F.jacobian(lambda x: two_in_two_out(x, t64(point[1]))[1], t64(point[0]))
    assert isinstance(jac, minigan.Tensor) and jac.shape == (3, 2, 3) and jac.dtype == np.float64
    assert jac.backend == backend_name


def test_several_inputs_and_one_output_give_a_tuple_per_input(backend_name, point):
    jac = F.jacobian(lambda x, y: two_in_two_out(x, y)[1], tuple(t64(a) for a in point))
    assert isinstance(jac, tuple) and [b.shape for b in jac] == [(3, 2, 3), (3, 2, 3, 2)]


def test_one_input_and_several_outputs_give_a_tuple_per_output(backend_name, point):
    jac = F.jacobian(lambda x: two_in_two_out(x, t64(point[1])), t64(point[0]))
    assert isinstance(jac, tuple) and [b.shape for b in jac] == [(2, 3), (3, 2, 3)]


def test_several_inputs_and_outputs_give_nested_tuples_output_first(backend_name, point):
    jac = F.jacobian(two_in_two_out, tuple(t64(a) for a in point))
    shapes = [[b.shape for b in row] for row in jac]
    assert shapes == [[(2, 3), (2, 3, 2)], [(3, 2, 3), (3, 2, 3, 2)]]


def test_a_one_tuple_of_inputs_gives_a_one_tuple(backend_name):
    jac = F.jacobian(lambda x: x * 2, (t64([1.0, 2.0]),))
    assert isinstance(jac, tuple) and len(jac) == 1 and jac[0].shape == (2, 2)


def test_jacobian_of_an_empty_output_is_empty(backend_name):
    jac = F.jacobian(lambda x: x[:0], t64([1.0, 2.0]))
    assert jac.shape == (0, 2)


def test_hessian_of_a_single_input_is_a_tensor(backend_name):
    hess = F.hessian(quartic, t64([[1.0, 2.0], [3.0, 4.0]]))
    assert isinstance(hess, minigan.Tensor) and hess.shape == (2, 2, 2, 2)


def test_hessian_of_several_inputs_is_a_tuple_of_tuples(backend_name, point):
    hess = F.hessian(scalar_of_two, tuple(t64(a) for a in point))
    shapes = [[b.shape for b in row] for row in hess]
    assert shapes == [[(3, 3), (3, 3, 2)], [(3, 2, 3), (3, 2, 3, 2)]]


def test_vjp_returns_the_outputs_and_one_product_per_input(backend_name, point):
    v = (t64(np.ones(2)), t64(np.ones((3, 2))))
    outputs, products = F.vjp(two_in_two_out, tuple(t64(a) for a in point), v)
    assert [o.shape for o in outputs] == [(2,), (3, 2)]
    assert [p.shape for p in products] == [(3,), (3, 2)]


def test_jvp_returns_the_outputs_and_one_product_per_output(backend_name, point):
    v = (t64(np.ones(3)), t64(np.ones((3, 2))))
    outputs, products = F.jvp(two_in_two_out, tuple(t64(a) for a in point), v)
    assert [o.shape for o in outputs] == [(2,), (3, 2)]
    assert [p.shape for p in products] == [(2,), (3, 2)]


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_second_order_products_return_the_value_and_one_product_per_input(backend_name, point, name):
    v = (t64(np.ones(3)), t64(np.ones((3, 2))))
    value, products = getattr(F, name)(scalar_of_two, tuple(t64(a) for a in point), v)
    assert isinstance(value, minigan.Tensor) and value.shape == ()
    assert [p.shape for p in products] == [(3,), (3, 2)]


def test_vjp_without_v_of_a_one_element_output_is_the_gradient(backend_name):
    x = np.array([1.0, -2.0, 0.5])
    _, gradient = F.vjp(quartic, t64(x))
    np.testing.assert_allclose(host(gradient), 4 * x ** 3, rtol=1e-15)


def test_jvp_without_v_of_a_one_element_input_is_the_derivative(backend_name):
    _, derivative = F.jvp(lambda t: (t * t * t).reshape((1,)) * t64([1.0, 2.0]), t64(1.5))
    np.testing.assert_allclose(host(derivative), 3 * 1.5 ** 2 * np.array([1.0, 2.0]), rtol=1e-15)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_second_order_product_without_v_of_a_one_element_input(backend_name, name):
    _, product = getattr(F, name)(lambda t: (t * t * t * t).sum(), t64([2.0]))
    np.testing.assert_allclose(host(product), [12 * 2.0 ** 2], rtol=1e-15)


# ----------------------------------------------------------------------------------- create_graph
def test_hvp_with_create_graph_can_be_differentiated_again(backend_name):
    x = t64([1.0, -2.0, 0.5], requires_grad=True)
    v, w = np.array([0.3, 1.0, -2.0]), np.array([1.5, 0.5, -1.0])
    _, product = F.hvp(quartic, x, t64(v), create_graph=True)
    np.testing.assert_allclose(host(product), 12 * host(x) ** 2 * v, rtol=1e-14)
    (third,) = minigan.grad((product * t64(w)).sum(), x)
    np.testing.assert_allclose(host(third), 24 * host(x) * v * w, rtol=1e-14)


def test_hessian_with_create_graph_gives_the_third_derivative(backend_name):
    x = t64([1.0, -2.0, 0.5], requires_grad=True)
    hess = F.hessian(quartic, x, create_graph=True)
    (third,) = minigan.grad(hess.sum(), x)
    np.testing.assert_allclose(host(third), 24 * host(x), rtol=1e-14)


def test_create_graph_reaches_through_a_non_leaf_input(backend_name):
    w = t64([0.5, 1.0], requires_grad=True)
    x = w * 2.0
    jac = F.jacobian(lambda t: t * t * t, x, create_graph=True)  # diag(3x²); d(Σ3x²)/dw = 6x · 2
    (gradient,) = minigan.grad(jac.sum(), w)
    np.testing.assert_allclose(host(gradient), 12 * host(x), rtol=1e-14)


def test_vjp_with_create_graph_is_differentiable_in_v(backend_name, matrix):
    a = t64(matrix)
    v = t64([1.0, 2.0, -1.0], requires_grad=True)
    _, product = F.vjp(lambda x: a @ x, t64([0.3, -1.0, 2.0]), v, create_graph=True)
    w = np.array([0.5, -1.5, 2.0])
    (dv,) = minigan.grad((product * t64(w)).sum(), v)
    np.testing.assert_allclose(host(dv), matrix @ w, rtol=1e-14)


def test_create_graph_keeps_outputs_on_the_tape(backend_name):
    x = t64([1.0, 2.0], requires_grad=True)
    value, _ = F.vjp(quartic, x, create_graph=True)
    (gradient,) = minigan.grad(value, x)
    np.testing.assert_allclose(host(gradient), 4 * host(x) ** 3, rtol=1e-15)


@pytest.mark.parametrize("name", ["jvp", "vjp", "hvp", "vhp"])
def test_products_with_create_graph_pass_gradcheck_and_gradgradcheck(backend_name, point, name):
    v = t64([0.5, -1.0, 2.0])
    y = t64(point[1])

    def product(x):
        func = (lambda t: two_in_two_out(t, y)[0].sum()) if name in ("hvp", "vhp") else (lambda t: (t.tanh() @ y))
        w = t64([1.0, -0.5]) if name == "vjp" else v
        return getattr(F, name)(func, x, w, create_graph=True)[1]

    x = t64(point[0], requires_grad=True)
    assert minigan.gradcheck(product, [x])
    assert minigan.gradgradcheck(product, [x])


def test_jacobian_with_create_graph_passes_gradgradcheck(backend_name, point):
    y = t64(point[1])
    assert minigan.gradgradcheck(lambda x: F.jacobian(lambda t: two_in_two_out(t, y)[1], x, create_graph=True),
                                 [t64(point[0], requires_grad=True)])


@pytest.mark.parametrize("name", FUNCTIONS)
def test_results_are_detached_without_create_graph(backend_name, name):
    x = t64([1.0, 2.0], requires_grad=True)
    result = call(name, quartic, x)
    for t in as_tuple(result):
        assert t.is_leaf and not t.requires_grad


# ----------------------------------------------------------------------------------------- strict
def uses_only_x(x, y):
    return (x * x).sum()


@pytest.mark.parametrize("name", ["vjp", "vhp", "hvp"])
def test_an_unused_input_gets_zeros(backend_name, name):
    _, products = getattr(F, name)(uses_only_x, (t64([1.0, 2.0]), t64([3.0])),
                                   *(() if name == "vjp" else ((t64([1.0, 1.0]), t64([1.0])),)))
    np.testing.assert_array_equal(host(products[1]), [0.0])


@pytest.mark.parametrize("name", ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"])
def test_strict_refuses_an_unused_input_naming_it(backend_name, name):
    inputs = (t64([1.0, 2.0]), t64([3.0]))
    v = {"vjp": (), "jacobian": (), "hessian": ()}.get(name, ((t64([1.0, 1.0]), t64([1.0])),))
    with pytest.raises(minigan.GraphError, match=f"{name}\\(strict=True\\): .*input 1"):
        getattr(F, name)(uses_only_x, inputs, *v, strict=True)


def test_jacobian_block_of_an_unused_input_is_zeros(backend_name):
    jac = F.jacobian(lambda x, y: (x * 2.0, y * x.sum()), (t64([1.0, 2.0]), t64([3.0])))
    np.testing.assert_array_equal(host(jac[0][1]), np.zeros((2, 1)))
    np.testing.assert_allclose(host(jac[1][1]), [[3.0]], rtol=1e-15)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_strict_jacobian_names_the_output_and_the_input(backend_name, strategy):
    with pytest.raises(minigan.GraphError, match="output 0 of func does not depend on input 1"):
        F.jacobian(lambda x, y: (x * 2.0, y * x.sum()), (t64([1.0, 2.0]), t64([3.0])), strict=True,
                   strategy=strategy)


def test_an_output_off_the_tape_gives_zeros_or_a_strict_error(backend_name):
    def constant(x):
        return t64([1.0, 2.0])

    np.testing.assert_array_equal(host(F.jacobian(constant, t64([5.0]))), np.zeros((2, 1)))
    with pytest.raises(minigan.GraphError, match="output 0 of func does not require grad"):
        F.jacobian(constant, t64([5.0]), strict=True)


def test_hessian_of_a_linear_function_is_zeros_or_a_strict_error(backend_name):
    linear = lambda x: (x * t64([1.0, -2.0])).sum()  # noqa: E731
    np.testing.assert_array_equal(host(F.hessian(linear, t64([1.0, 2.0]))), np.zeros((2, 2)))
    with pytest.raises(minigan.GraphError, match="hessian\\(strict=True\\): the gradient with respect to input 0"):
        F.hessian(linear, t64([1.0, 2.0]), strict=True)


def test_strict_create_graph_refuses_a_hessian_that_cannot_be_differentiated(backend_name, matrix):
    a = t64(matrix)
    with pytest.raises(minigan.GraphError, match="strict=True, create_graph=True"):
        F.hessian(lambda x: x @ (a @ x), t64([1.0, 2.0, 3.0]), strict=True, create_graph=True)


# -------------------------------------------------------------------------- the caller's tensors
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_callers_input_and_its_grad_are_untouched(backend_name, name, create_graph):
    x = t64([1.0, -2.0], requires_grad=True)
    before = host(x).copy()
    call(name, quartic, x, create_graph=create_graph)
    assert x.grad is None and x.requires_grad and x.is_leaf
    np.testing.assert_array_equal(host(x), before)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_an_input_that_needs_no_grad_keeps_needing_none(backend_name, name, create_graph):
    x = t64([1.0, -2.0])
    call(name, quartic, x, create_graph=create_graph)
    assert not x.requires_grad and x.grad is None


def test_the_same_tensor_twice_counts_as_two_inputs(backend_name):
    x = t64([1.0, 2.0])
    jac = F.jacobian(lambda a, b: a * b, (x, x))
    np.testing.assert_array_equal(host(jac[0]), np.diag([1.0, 2.0]))
    np.testing.assert_array_equal(host(jac[1]), np.diag([1.0, 2.0]))


def test_works_inside_no_grad(backend_name):
    with minigan.no_grad():
        hess = F.hessian(quartic, t64([1.0, 2.0]))
    np.testing.assert_allclose(host(hess), np.diag([12.0, 48.0]), rtol=1e-15)


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("name", ["vjp", "jvp"])
def test_v_omitted_for_a_many_element_tensor_is_an_error(backend_name, name):
    message = f"{name}: v may be omitted only when .* single tensor with one element"
    with pytest.raises(minigan.ShapeError, match=message):
        getattr(F, name)(lambda x: x * 2.0, t64([1.0, 2.0]))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_v_omitted_for_a_many_element_input_is_an_error(backend_name, name):
    with pytest.raises(minigan.ShapeError, match=f"{name}: v may be omitted only when inputs is a single tensor"):
        getattr(F, name)(quartic, t64([1.0, 2.0]))


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "vhp"])
def test_v_of_the_wrong_shape_is_an_error(backend_name, name):
    with pytest.raises(minigan.ShapeError, match=f"{name}: v has shape \\(3,\\), .* has shape \\(2,\\)"):
        getattr(F, name)(quartic if name in ("hvp", "vhp") else (lambda x: x * 2.0), t64([1.0, 2.0]),
                         t64([1.0, 2.0, 3.0]))


def test_v_with_the_wrong_number_of_tensors_is_an_error(backend_name):
    with pytest.raises(minigan.ShapeError, match="jvp: v has 1 tensors, but inputs has 2"):
        F.jvp(lambda x, y: x * y, (t64([1.0]), t64([2.0])), (t64([1.0]),))


def test_v_that_is_not_a_tensor_is_a_type_error(backend_name):
    with pytest.raises(TypeError, match="vjp: v must be a minigan Tensor"):
        F.vjp(lambda x: x * 2.0, t64([1.0, 2.0]), np.ones(2))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_inputs_that_are_not_tensors_are_a_type_error(backend_name, name):
    with pytest.raises(TypeError, match=f"{name}: entry 1 of inputs must be a minigan Tensor"):
        getattr(F, name)(lambda x, y: x, (t64([1.0]), np.ones(1)))


@pytest.mark.parametrize("name", ["vjp", "jvp", "jacobian"])
def test_func_returning_a_non_tensor_is_a_type_error(backend_name, name):
    message = f"{name}: func must return a minigan Tensor or a tuple of them, but returned a ndarray"
    with pytest.raises(TypeError, match=message):
        getattr(F, name)(lambda x: np.ones(1), t64([1.0]), *((t64([1.0]),) if name != "jacobian" else ()))


@pytest.mark.parametrize("name", ["hessian", "hvp", "vhp"])
def test_second_order_func_must_return_one_tensor(backend_name, name):
    message = f"{name}: func must return a single minigan Tensor with one element, but returned a tuple"
    with pytest.raises(TypeError, match=message):
        getattr(F, name)(lambda x: (x.sum(),), t64([1.0]))


@pytest.mark.parametrize("name", ["hessian", "hvp", "vhp"])
def test_second_order_func_must_return_one_element(backend_name, name):
    message = f"{name}: func must return a tensor with one element, but returned one of shape \\(2,\\)"
    with pytest.raises(minigan.ShapeError, match=message):
        getattr(F, name)(lambda x: x * x, t64([1.0, 2.0]), *((t64([1.0, 1.0]),) if name != "hessian" else ()))


@pytest.mark.parametrize("name", ["jacobian", "hessian"])
def test_vectorize_is_not_implemented(backend_name, name):
    with pytest.raises(NotImplementedError, match=f"{name}: vectorize=True is not supported"):
        getattr(F, name)(quartic, t64([1.0, 2.0]), vectorize=True)


def test_an_unknown_strategy_is_a_value_error(backend_name):
    message = "jacobian: strategy must be one of 'reverse-mode', 'forward-mode', got 'sideways'"
    with pytest.raises(ValueError, match=message):
        F.jacobian(quartic, t64([1.0]), strategy="sideways")
    with pytest.raises(ValueError, match="hessian: outer_jacobian_strategy must be one of"):
        F.hessian(quartic, t64([1.0]), outer_jacobian_strategy="sideways")


def test_functional_is_reachable_as_minigan_functional():
    assert minigan.functional.hessian is F.hessian


# ------------------------------------------------------------------------------------------ PyTorch
def both(torch, arrays):
    """The same float64 arrays as minigan tensors and as torch tensors."""
    return tuple(t64(a) for a in arrays), tuple(torch.from_numpy(np.array(a)) for a in arrays)


def assert_same(ours, theirs):
    ours, theirs = as_tuple(ours), as_tuple(theirs)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        if isinstance(o, tuple):
            assert_same(o, t)
        else:
            assert o.shape == tuple(t.shape)
            np.testing.assert_allclose(host(o), t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["vjp", "jvp"])
def test_first_order_products_match_torch(backend_name, point, name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    v = (rng.standard_normal(2), rng.standard_normal((3, 2))) if name == "vjp" else \
        (rng.standard_normal(3), rng.standard_normal((3, 2)))
    (ours_x, theirs_x), (ours_v, theirs_v) = both(torch, point), both(torch, v)
    ours = getattr(F, name)(two_in_two_out, ours_x, ours_v)
    theirs = getattr(torch.autograd.functional, name)(two_in_two_out, theirs_x, theirs_v)
    assert_same(ours, theirs)


@pytest.mark.torch
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_matches_torch(backend_name, point, strategy):
    torch = pytest.importorskip("torch")
    ours_x, theirs_x = both(torch, point)
    assert_same(F.jacobian(two_in_two_out, ours_x, strategy=strategy),
                torch.autograd.functional.jacobian(two_in_two_out, theirs_x))


@pytest.mark.torch
def test_hessian_matches_torch(backend_name, point):
    torch = pytest.importorskip("torch")
    ours_x, theirs_x = both(torch, point)
    assert_same(F.hessian(scalar_of_two, ours_x), torch.autograd.functional.hessian(scalar_of_two, theirs_x))


@pytest.mark.torch
@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_second_order_products_match_torch(backend_name, point, name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    (ours_x, theirs_x), (ours_v, theirs_v) = both(torch, point), both(torch, (rng.standard_normal(3),
                                                                            rng.standard_normal((3, 2))))
    assert_same(getattr(F, name)(scalar_of_two, ours_x, ours_v),
                getattr(torch.autograd.functional, name)(scalar_of_two, theirs_x, theirs_v))


@pytest.mark.torch
@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_differentiating_a_hessian_vector_product_again_matches_torch(backend_name, point, name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    v = (rng.standard_normal(3), rng.standard_normal((3, 2)))
    w = (rng.standard_normal(3), rng.standard_normal((3, 2)))
    (ours_x, theirs_x), (ours_v, theirs_v) = both(torch, point), both(torch, v)
    ours_x = tuple(x.requires_grad_() for x in ours_x)
    theirs_x = tuple(x.requires_grad_() for x in theirs_x)
    _, ours = getattr(F, name)(scalar_of_two, ours_x, ours_v, create_graph=True)
    _, theirs = getattr(torch.autograd.functional, name)(scalar_of_two, theirs_x, theirs_v, create_graph=True)
    ours_third = minigan.grad(sum((p * t64(c)).sum() for p, c in zip(ours, w)), ours_x)
    theirs_third = torch.autograd.grad(sum((p * torch.from_numpy(c)).sum() for p, c in zip(theirs, w)), theirs_x)
    assert_same(ours, theirs)
    assert_same(ours_third, theirs_third)
