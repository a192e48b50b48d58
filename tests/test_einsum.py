"""Specification of ``einsum`` and ``outer``: values against NumPy, first, second and third derivatives
against finite differences and closed forms, PyTorch's value, gradient and Hessian-vector product, and
the errors for bad subscripts.
"""

import numpy as np
import pytest

import minigan
from minigan import ShapeError
from tests.conftest import to_numpy

# (name, subscripts, operand shapes): the forms einsum is used in
CASES = [
    ("matmul", "ij,jk->ik", [(3, 4), (4, 2)]),
    ("batch matmul", "bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("trace", "ii->", [(4, 4)]),
    ("diagonal", "ii->i", [(4, 4)]),
    ("outer", "i,j->ij", [(3,), (4,)]),
    ("transpose", "ij->ji", [(3, 4)]),
    ("sum over all", "ij->", [(3, 4)]),
    ("bilinear form", "i,ij,j->", [(3,), (3, 4), (4,)]),
    ("ellipsis broadcasting", "...ij,...jk->...ik", [(2, 1, 3, 4), (3, 4, 2)]),
    ("implicit matmul", "ij,jk", [(3, 4), (4, 2)]),
    ("implicit transpose", "ba", [(3, 4)]),
    ("implicit ellipsis", "...ij,...jk", [(2, 3, 4), (1, 4, 2)]),
    ("size-1 axis broadcasting", "ij,ij->ij", [(3, 1), (3, 4)]),
    ("diagonal times a vector", "iij,j->i", [(3, 3, 2), (2,)]),
    ("batched diagonal", "...ii->...i", [(2, 3, 3)]),
    ("indices summed in one operand only", "ij,k->i", [(3, 4), (5,)]),
    ("scalar times a matrix", ",ij->ji", [(), (2, 3)]),
    ("uppercase letters", "aB,Bc->ca", [(2, 3), (3, 4)]),
    ("implicit order puts uppercase first", "aB", [(2, 3)]),
]
CASE_IDS = [case[0] for case in CASES]


def leaf(array, requires_grad=True):
    return minigan.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, dtype="float64")


def draw(seed, shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def value(t):
    return to_numpy(t.data)


# ------------------------------------------------------------------------------------------ forward
@pytest.mark.parametrize("name, subscripts, shapes", CASES, ids=CASE_IDS)
def test_einsum_forward_equals_numpy(backend_name, name, subscripts, shapes):
    arrays = draw(0, shapes)
    out = minigan.einsum(subscripts, *[leaf(a) for a in arrays])
    expected = np.einsum(subscripts, *arrays)
    assert out.shape == expected.shape
    np.testing.assert_allclose(value(out), expected, rtol=1e-12, atol=1e-12)


def test_implicit_mode_orders_the_output_letters_alphabetically(backend_name):
    (a,) = draw(1, [(2, 3)])
    np.testing.assert_array_equal(value(minigan.einsum("ba", leaf(a))), a.T)
    np.testing.assert_array_equal(value(minigan.einsum("ab", leaf(a))), a)


def test_explicit_output_without_ellipsis_sums_the_ellipsis_axes_as_pytorch(backend_name):
    (a,) = draw(2, [(2, 3, 4)])
    np.testing.assert_allclose(value(minigan.einsum("...i->i", leaf(a))), a.sum(axis=(0, 1)), rtol=1e-12)


def test_spaces_in_subscripts_are_ignored(backend_name):
    a, b = draw(3, [(2, 3), (3, 2)])
    np.testing.assert_allclose(value(minigan.einsum(" ij , jk -> ik ", leaf(a), leaf(b))), a @ b, rtol=1e-12)


def test_operands_may_be_given_as_one_list(backend_name):
    a, b = draw(4, [(2, 3), (3, 2)])
    np.testing.assert_allclose(value(minigan.einsum("ij,jk->ik", [leaf(a), leaf(b)])), a @ b, rtol=1e-12)


def test_array_operand_is_a_constant_of_the_tensors_dtype(backend_name):
    a, b = draw(5, [(2, 3), (3, 2)])
    x = minigan.tensor(a, requires_grad=True, dtype="float32")
    out = minigan.einsum("ij,jk->ik", x, b)
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), np.ones((2, 2)) @ b.T, rtol=1e-6)


def test_output_does_not_share_memory_with_its_input(backend_name):
    (a,) = draw(6, [(3, 3)])
    x = leaf(a)
    out = minigan.einsum("ij->ji", x)
    x.data[...] = 0.0
    np.testing.assert_array_equal(value(out), a.T)


def test_float32_operands_give_float32(backend_name):
    (a,) = draw(7, [(3, 3)])
    x = minigan.tensor(a, dtype="float32")
    assert minigan.einsum("ij,jk", x, x).dtype == np.float32


# --------------------------------------------------------------------------------- first derivatives
@pytest.mark.parametrize("name, subscripts, shapes", CASES, ids=CASE_IDS)
def test_einsum_gradcheck(backend_name, name, subscripts, shapes):
    inputs = [leaf(a) for a in draw(10, shapes)]
    assert minigan.gradcheck(lambda *xs: minigan.einsum(subscripts, *xs), inputs)


def test_matmul_gradients_are_g_at_b_transposed_and_a_transposed_at_g(backend_name):
    a, b, g = draw(11, [(3, 4), (4, 2), (3, 2)])
    x, y = leaf(a), leaf(b)
    minigan.einsum("ij,jk->ik", x, y).backward(g)
    np.testing.assert_allclose(to_numpy(x.grad), g @ b.T, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(y.grad), a.T @ g, rtol=1e-12)


def test_trace_gradient_is_g_times_the_identity(backend_name):
    (a,) = draw(12, [(4, 4)])
    x = leaf(a)
    minigan.einsum("ii->", x).backward(np.array(2.5))
    np.testing.assert_array_equal(to_numpy(x.grad), 2.5 * np.eye(4))


def test_diagonal_gradient_is_g_on_the_diagonal(backend_name):
    a, g = draw(13, [(3, 3), (3,)])
    x = leaf(a)
    minigan.einsum("ii->i", x).backward(g)
    np.testing.assert_array_equal(to_numpy(x.grad), np.diag(g))


def test_index_summed_in_one_operand_only_broadcasts_its_gradient(backend_name):
    a, b, g = draw(14, [(3, 4), (5,), (3,)])
    x, y = leaf(a), leaf(b)
    minigan.einsum("ij,k->i", x, y).backward(g)
    np.testing.assert_allclose(to_numpy(x.grad), np.outer(g * b.sum(), np.ones(4)), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(y.grad), np.full(5, (g[:, None] * a).sum()), rtol=1e-12)


def test_size_1_axis_gradient_is_summed_over_the_broadcast(backend_name):
    a, b, g = draw(15, [(3, 1), (3, 4), (3, 4)])
    x = leaf(a)
    minigan.einsum("ij,ij->ij", x, leaf(b)).backward(g)
    np.testing.assert_allclose(to_numpy(x.grad), (g * b).sum(axis=1, keepdims=True), rtol=1e-12)


def test_the_same_tensor_twice_gets_both_gradients(backend_name):
    (a,) = draw(16, [(5,)])
    x = leaf(a)
    minigan.einsum("i,i->", x, x).backward()
    np.testing.assert_allclose(to_numpy(x.grad), 2 * a, rtol=1e-12)


def test_only_operands_another_operand_differentiates_through_are_saved(backend_name):
    a, b = draw(17, [(2, 3), (3, 2)])
    x, y = leaf(a), leaf(b, requires_grad=False)
    node = minigan.einsum("ij,jk->ik", x, y).grad_fn
    assert node.saved[0] is None and node.saved[1] is y


def test_float32_operand_gets_a_float32_gradient_from_a_float64_product(backend_name):
    a, b = draw(18, [(2, 3), (3, 2)])
    x = minigan.tensor(a, requires_grad=True, dtype="float32")
    out = minigan.einsum("ij,jk->ik", x, leaf(b))
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float32


# --------------------------------------------------------------------------- second and third order
@pytest.mark.parametrize("name, subscripts, shapes", CASES, ids=CASE_IDS)
def test_einsum_gradgradcheck(backend_name, name, subscripts, shapes):
    inputs = [leaf(a) for a in draw(20, shapes)]
    assert minigan.gradgradcheck(lambda *xs: minigan.einsum(subscripts, *xs), inputs)


def third_derivative(f, x, u, v):
    """∇ₓ ⟨∇ₓ⟨∇ₓ f, u⟩, v⟩: the third derivative of f at x along u and v, each step by minigan.grad."""
    (g1,) = minigan.grad(f(x), x, create_graph=True)
    (g2,) = minigan.grad((g1 * u).sum(), x, create_graph=True)
    (g3,) = minigan.grad((g2 * v).sum(), x)
    return value(g3)


def test_third_derivative_of_trace_of_a_cubed_is_3_uv_plus_vu_transposed(backend_name):
    a, u, v = draw(21, [(3, 3), (3, 3), (3, 3)])
    g3 = third_derivative(lambda A: minigan.einsum("ij,jk,ki->", A, A, A), leaf(a), u, v)
    np.testing.assert_allclose(g3, 3 * (u @ v + v @ u).T, rtol=1e-12, atol=1e-12)


def test_third_derivative_of_trace_cubed_is_6_tr_u_tr_v_identity(backend_name):
    a, u, v = draw(22, [(3, 3), (3, 3), (3, 3)])
    g3 = third_derivative(lambda A: minigan.einsum("ii,jj,kk->", A, A, A), leaf(a), u, v)
    np.testing.assert_allclose(g3, 6 * np.trace(u) * np.trace(v) * np.eye(3), rtol=1e-12, atol=1e-12)


def test_third_derivative_of_a_cubic_form_is_the_symmetrised_tensor(backend_name):
    x0, u, v, t = draw(23, [(3,), (3,), (3,), (3, 3, 3)])
    g3 = third_derivative(lambda x: minigan.einsum("i,j,k,ijk->", x, x, x, t), leaf(x0), u, v)
    symmetric = sum(t.transpose(p) for p in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)])
    np.testing.assert_allclose(g3, np.einsum("a,b,abc->c", u, v, symmetric), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------- PyTorch
def hessian_vector_products(grad, fn, inputs, weights, directions):
    """Value of fn, gradient and Hessian-vector product of L = Σ w · fn³ (cubed so that every block of
    the Hessian is nonzero), in minigan or torch (``grad`` is minigan.grad or torch.autograd.grad)."""
    out = fn(*inputs)
    loss = (out * out * out * weights).sum()
    grads = grad(loss, inputs, create_graph=True)
    along = sum((g * d).sum() for g, d in zip(grads, directions))
    return out, grads, grad(along, inputs)


def assert_matches_torch(ours, theirs, arrays, seed=0):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    out_shape = np.shape(ours(*[leaf(a, requires_grad=False) for a in arrays]).data)
    weights = rng.standard_normal(out_shape)
    directions = [rng.standard_normal(np.shape(a)) for a in arrays]
    mine = hessian_vector_products(minigan.grad, ours, [leaf(a) for a in arrays], weights, directions)
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    theirs_ = hessian_vector_products(torch.autograd.grad, theirs, ts, torch.tensor(weights),
                                      [torch.tensor(d) for d in directions])
    np.testing.assert_allclose(value(mine[0]), theirs_[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    for part in (1, 2):
        for m, t in zip(mine[part], theirs_[part]):
            np.testing.assert_allclose(value(m), t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("name, subscripts, shapes", CASES, ids=CASE_IDS)
def test_einsum_matches_torch_value_gradient_and_hessian_vector_product(backend_name, name, subscripts, shapes):
    torch = pytest.importorskip("torch")
    assert_matches_torch(lambda *xs: minigan.einsum(subscripts, *xs), lambda *xs: torch.einsum(subscripts, *xs),
                         draw(30, shapes))


@pytest.mark.torch
def test_einsum_summing_ellipsis_axes_matches_torch(backend_name):
    torch = pytest.importorskip("torch")
    assert_matches_torch(lambda x: minigan.einsum("...i->i", x), lambda x: torch.einsum("...i->i", x),
                         draw(31, [(2, 3, 4)]))


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("subscripts, shapes, message", [
    ("ij,jk->ik", [(2, 3)], "name 2 operand(s), but 1 were given"),
    ("ij,jk->ik", [(2, 3), (4, 5)], "the letter 'j' has size 3 in operand 0 but 4 in operand 1"),
    ("ij->k", [(2, 3)], "the output letter 'k'"),
    ("ij->ii", [(2, 3)], "the output letter 'i' of subscripts 'ij->ii' occurs more than once"),
    ("i1->i", [(2, 3)], "the character '1' in operand 0"),
    ("i.j->i", [(2, 3)], "a '.' outside '...' in operand 0 of subscripts 'i.j->i'"),
    ("...i...->i", [(2, 3)], "a second '...'"),
    ("ijk->i", [(2, 3)], "operand 0 has shape (2, 3) (2 axes), but its subscripts 'ijk' name 3"),
    ("...ijk->i", [(2, 3)], "name 3 or more"),
    ("ii->i", [(2, 3)], "the letter 'i' is repeated in operand 0"),
    ("...i,...i->...i", [(2, 3), (4, 3)], "the '...' axes of operand 0 (shape (2, 3)) and operand 1"),
    ("i->i->i", [(2,)], "at most one '->'"),
])
def test_einsum_errors_name_the_problem(backend_name, subscripts, shapes, message):
    with pytest.raises(ShapeError) as info:
        minigan.einsum(subscripts, *[leaf(a) for a in draw(40, shapes)])
    assert message in str(info.value)


def test_einsum_refuses_subscripts_that_are_not_a_string(backend_name):
    with pytest.raises(TypeError, match="subscripts must be a string"):
        minigan.einsum(["i"], leaf(np.ones(2)))


def test_einsum_needs_a_tensor_among_its_operands(backend_name):
    with pytest.raises(TypeError, match="at least one minigan Tensor"):
        minigan.einsum("i,i->", np.ones(2), np.ones(2))


def test_einsum_needs_operands(backend_name):
    with pytest.raises(ShapeError, match="no operands"):
        minigan.einsum("i->i")


# -------------------------------------------------------------------------------------------- outer
def test_outer_forward_equals_numpy(backend_name):
    a, b = draw(50, [(3,), (4,)])
    np.testing.assert_allclose(value(minigan.outer(leaf(a), leaf(b))), np.outer(a, b), rtol=1e-15)
    np.testing.assert_allclose(value(leaf(a).outer(leaf(b))), np.outer(a, b), rtol=1e-15)


def test_outer_gradients_are_g_at_b_and_g_transposed_at_a(backend_name):
    a, b, g = draw(51, [(3,), (4,), (3, 4)])
    x, y = leaf(a), leaf(b)
    minigan.outer(x, y).backward(g)
    np.testing.assert_allclose(to_numpy(x.grad), g @ b, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(y.grad), g.T @ a, rtol=1e-12)


def test_outer_gradcheck(backend_name):
    assert minigan.gradcheck(minigan.outer, [leaf(a) for a in draw(52, [(3,), (4,)])])


def test_outer_gradgradcheck(backend_name):
    assert minigan.gradgradcheck(minigan.outer, [leaf(a) for a in draw(53, [(3,), (4,)])])


def test_outer_third_derivative_of_norm_squared_times_dot_matches_the_closed_form(backend_name):
    a, b, u, v = draw(54, [(4,), (4,), (4,), (4,)])
    y = leaf(b, requires_grad=False)
    g3 = third_derivative(lambda x: (minigan.outer(x, x) * minigan.outer(x, y)).sum(), leaf(a), u, v)
    np.testing.assert_allclose(g3, 2 * ((u @ v) * b + u * (v @ b) + v * (u @ b)), rtol=1e-12, atol=1e-12)


@pytest.mark.torch
def test_outer_matches_torch_value_gradient_and_hessian_vector_product(backend_name):
    torch = pytest.importorskip("torch")
    assert_matches_torch(minigan.outer, torch.outer, draw(55, [(3,), (4,)]))


@pytest.mark.parametrize("shapes", [[(2, 3), (3,)], [(3,), ()]])
def test_outer_refuses_operands_that_are_not_1d(backend_name, shapes):
    with pytest.raises(ShapeError, match="outer: expected two 1-D tensors"):
        minigan.outer(*[leaf(a) for a in draw(56, shapes)])
