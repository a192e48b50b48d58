"""Higher-order autodiff as a specification: ``minigan.grad``, ``backward(create_graph=True)``, what
``.grad`` holds, derivatives to third order and beyond against closed forms, the graph's edges holding
no data, only the needed part of a graph running, and first-order-only ops failing clearly.

Per-op second derivatives of every built-in op and layer are in tests/test_gradgradcheck.py.
"""

import gc
import weakref

import numpy as np
import pytest

import minigan
from minigan import GraphError, ShapeError
from minigan.nn import Dense
from minigan.nn import functional as F
from minigan.tensor import Tensor
from tests.conftest import to_numpy


def f64(values, requires_grad=True):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad, dtype="float64")


def value(t):
    """The values of a tensor, or of a gradient array, as a host NumPy array."""
    return to_numpy(t.data if isinstance(t, Tensor) else t)


# --------------------------------------------------------------------------------- minigan.grad


def test_grad_returns_a_tuple_of_tensors_and_leaves_dot_grad_alone(backend_name):
    x, w = f64([1.0, 2.0]), f64([3.0, -1.0])
    (gx, gw) = minigan.grad((x * w).sum(), (x, w))
    assert isinstance(gx, Tensor) and isinstance(gw, Tensor)
    np.testing.assert_array_equal(value(gx), [3.0, -1.0])
    np.testing.assert_array_equal(value(gw), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad and gx.is_leaf  # without create_graph: plain new leaves


def test_grad_of_a_single_input_is_a_one_element_tuple(backend_name):
    x = f64([2.0])
    result = minigan.grad((x * x).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1
    np.testing.assert_array_equal(value(result[0]), [4.0])


def test_grad_weights_outputs_by_grad_outputs_and_sums_over_outputs(backend_name):
    x = f64([1.0, 2.0, 3.0])
    y1, y2 = x * 2.0, (x * x).sum()
    (g,) = minigan.grad([y1, y2], [x], grad_outputs=[np.array([1.0, 0.0, -1.0]), None])
    np.testing.assert_array_equal(value(g), [2.0 + 2.0, 4.0, -2.0 + 6.0])


def test_grad_with_respect_to_an_intermediate_tensor(backend_name):
    x = f64([1.0, -2.0])
    h = x * 3.0
    (gh,) = minigan.grad((h * h).sum(), h)
    np.testing.assert_array_equal(value(gh), 2 * value(h))


def test_grad_of_an_unused_input_raises_unless_allowed(backend_name):
    x, unused = f64([1.0]), f64([5.0, 6.0])
    with pytest.raises(GraphError, match=r"input 1 \(shape \(2,\)\) was not used"):
        minigan.grad((x * x).sum(), [x, unused])
    gx, gu = minigan.grad((x * x).sum(), [x, unused], allow_unused=True)
    assert gu is None
    _, gu = minigan.grad((x * x).sum(), [x, unused], materialize_grads=True)
    np.testing.assert_array_equal(value(gu), [0.0, 0.0])


def test_grad_refuses_an_input_that_does_not_require_grad(backend_name):
    x, c = f64([1.0]), f64([1.0], requires_grad=False)
    with pytest.raises(GraphError, match="does not require grad"):
        minigan.grad((x * c).sum(), [c])


def test_grad_refuses_a_grad_output_of_the_wrong_shape_before_running(backend_name):
    x = f64([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        minigan.grad(y, x, grad_outputs=np.ones(3))
    np.testing.assert_array_equal(value(minigan.grad(y, x, grad_outputs=np.ones(2))[0]), [2.0, 2.0])


def test_grad_frees_the_graph_unless_retained(backend_name):
    x = f64([1.0, 2.0])
    loss = (x * x).sum()
    minigan.grad(loss, x)
    with pytest.raises(GraphError, match="freed"):
        minigan.grad(loss, x)
    loss = (x * x).sum()
    minigan.grad(loss, x, retain_graph=True)
    np.testing.assert_array_equal(value(minigan.grad(loss, x)[0]), [2.0, 4.0])


def test_grad_runs_only_the_part_of_the_graph_that_leads_to_the_inputs(backend_name):
    """A frozen... no: a trainable layer's weight gradient is not computed when only dx is asked for."""
    asked = []
    x = f64(np.ones((2, 3)))
    w = f64(np.ones((3, 4)))

    def backward(g, needs, x, w):
        asked.append(needs)
        return (g @ w.T if needs[0] else None, x.T @ g if needs[1] else None)

    y = Tensor._from_op(x.data @ w.data, (x, w), backward, "spy_matmul", saved=(x, w))
    minigan.grad(y.sum(), x)
    assert asked == [(True, False)]
    y = Tensor._from_op(x.data @ w.data, (x, w), backward, "spy_matmul", saved=(x, w))
    y.sum().backward()
    assert asked[-1] == (True, True)


def test_grad_of_a_leaf_output_with_respect_to_itself_is_the_seed(backend_name):
    x = f64([1.0, 2.0])
    np.testing.assert_array_equal(value(minigan.grad(x, x, grad_outputs=np.array([3.0, 4.0]))[0]), [3.0, 4.0])


# ----------------------------------------------------------------------- derivatives of any order


def nth_derivatives(f, x, n):
    """[f'(x), f''(x), …] elementwise, each from minigan.grad of the previous one (create_graph=True)."""
    out, derivatives = f(x), []
    for _ in range(n):
        (out,) = minigan.grad(out.sum(), x, create_graph=True)
        derivatives.append(out)
    return derivatives


def test_derivatives_of_x_cubed_to_third_order_then_a_constant(backend_name):
    x = f64([-1.5, 0.5, 2.0])
    d1, d2, d3 = nth_derivatives(lambda t: t ** 3, x, 3)
    xs = value(x)
    np.testing.assert_allclose(value(d1), 3 * xs ** 2, rtol=1e-15)
    np.testing.assert_allclose(value(d2), 6 * xs, rtol=1e-15)
    np.testing.assert_allclose(value(d3), [6.0, 6.0, 6.0], rtol=1e-15)
    assert not d3.requires_grad  # constant in x: the fourth derivative is 0, and nothing depends on x
    (d4,) = minigan.grad((d2 * d2).sum(), x)  # while d2's square still does: d/dx (6x)² = 72x
    np.testing.assert_allclose(value(d4), 72 * xs, rtol=1e-15)


def test_third_derivatives_of_composed_smooth_functions_match_closed_forms(backend_name):
    x = f64([-0.7, 0.3, 1.1])
    xs = value(x)
    s = 1 / (1 + np.exp(-xs))
    t = np.tanh(xs)
    cases = {
        "sigmoid": (minigan.sigmoid, s * (1 - s) * (1 - 6 * s + 6 * s ** 2)),
        "tanh": (minigan.tanh, -2 * (1 - t ** 2) * (1 - 3 * t ** 2)),
        "exp(sin-free) x·exp(x)": (lambda v: v * minigan.exp(v), (xs + 3) * np.exp(xs)),
        "log(1 + x²)": (lambda v: minigan.log(1 + v * v), (4 * xs * (xs ** 2 - 3)) / (1 + xs ** 2) ** 3),
        "1/x": (lambda v: 1.0 / v, -6 / xs ** 4),
        "sqrt(x + 2)": (lambda v: minigan.sqrt(v + 2.0), (3 / 8) * (xs + 2) ** -2.5),
    }
    for name, (f, third) in cases.items():
        np.testing.assert_allclose(value(nth_derivatives(f, x, 3)[2]), third, rtol=1e-10, err_msg=name)


def test_fifth_derivative_of_exp_of_2x_is_32_exp_2x(backend_name):
    x = f64([0.1, -0.4])
    d5 = nth_derivatives(lambda t: minigan.exp(t * 2.0), x, 5)[4]
    np.testing.assert_allclose(value(d5), 32 * np.exp(2 * value(x)), rtol=1e-13)


def test_hessian_of_a_quadratic_form_is_a_plus_a_transpose(backend_name, rng):
    a = rng.standard_normal((4, 4))  # not symmetric
    x = f64(rng.standard_normal(4))
    A = minigan.tensor(a, dtype="float64")
    (g,) = minigan.grad(x @ (A @ x), x, create_graph=True)
    rows = [value(minigan.grad(g[i], x, retain_graph=True)[0]) for i in range(4)]
    np.testing.assert_allclose(np.stack(rows), a + a.T, rtol=1e-14, atol=1e-14)


def test_hessian_vector_product_of_a_small_network_matches_finite_differences(backend_name, rng):
    minigan.random.seed(3)
    layer1, layer2 = Dense(3, 5, dtype="float64"), Dense(5, 1, dtype="float64")
    x = minigan.tensor(rng.standard_normal((4, 3)), dtype="float64")
    params = layer1.parameters() + layer2.parameters()

    def loss():
        return (layer2(F.leaky_relu(layer1(x) * 1.0, 0.2)).tanh() ** 2).mean()

    directions = [rng.standard_normal(p.shape) for p in params]
    grads = minigan.grad(loss(), params, create_graph=True)
    dot = sum((g * d).sum() for g, d in zip(grads, directions))
    hvp = [value(h) for h in minigan.grad(dot, params)]

    def gradient_at(shift):
        saved = [p.data.copy() for p in params]
        for p, d in zip(params, directions):
            p.data += shift * p.xp.asarray(d)
        try:
            return [value(g) for g in minigan.grad(loss(), params)]
        finally:
            for p, s in zip(params, saved):
                p.data[...] = s

    eps = 1e-6
    plus, minus = gradient_at(eps), gradient_at(-eps)
    for h, gp, gm in zip(hvp, plus, minus):
        np.testing.assert_allclose(h, (gp - gm) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_a_gradient_depends_on_the_output_gradient_that_required_grad(backend_name):
    """grad_outputs that require grad are differentiated through: the double-vjp trick behind jvp."""
    x = f64([0.5, -1.0])
    u = f64([0.0, 0.0])  # a dummy cotangent
    (vjp,) = minigan.grad(minigan.tanh(x) * 3.0, x, grad_outputs=u, create_graph=True)
    v = np.array([1.0, 2.0])
    (jvp,) = minigan.grad(vjp, u, grad_outputs=v)
    np.testing.assert_allclose(value(jvp), 3 * (1 - np.tanh(value(x)) ** 2) * v, rtol=1e-15)


# ------------------------------------------------------------------ backward(create_graph=True)


def test_backward_with_create_graph_stores_differentiable_tensor_gradients(backend_name):
    x = f64([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert isinstance(x.grad, Tensor) and x.grad.requires_grad and x.grad.op is not None
    np.testing.assert_array_equal(value(x.grad), [3.0, 12.0])
    (d2,) = minigan.grad(x.grad.sum(), x)
    np.testing.assert_array_equal(value(d2), [6.0, 12.0])


def test_backward_with_create_graph_retains_the_graph_by_default(backend_name):
    x = f64([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward(create_graph=True)
    x.grad = None
    loss.backward()  # the graph was kept: a plain second backward works
    np.testing.assert_array_equal(value(x.grad), [2.0, 4.0])


def test_plain_backward_keeps_arrays_in_dot_grad(backend_name):
    x = f64([1.0, 2.0])
    (x * x).sum().backward()
    assert not isinstance(x.grad, Tensor)


def test_create_graph_gradient_accumulates_onto_an_existing_array_gradient(backend_name):
    x = f64([1.0, 2.0])
    (x * x).sum().backward()
    (x * x).sum().backward(create_graph=True)
    assert isinstance(x.grad, Tensor)
    np.testing.assert_array_equal(value(x.grad), [4.0, 8.0])


def test_backward_with_inputs_fills_only_their_grad(backend_name):
    x, w = f64([1.0, 2.0]), f64([3.0, 4.0])
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_array_equal(value(w.grad), [1.0, 2.0])


def test_hooks_see_tensors_under_create_graph(backend_name):
    x = f64([1.0, 2.0])
    h = x * 2.0
    seen = []
    h.register_hook(lambda g: seen.append(type(g)))
    minigan.grad((h * h).sum(), x, create_graph=True)
    minigan.grad((x * 2.0 * x).sum(), x)
    assert seen == [Tensor]


def test_the_gradient_tensor_shows_the_backward_pass_as_ops(backend_name):
    x = minigan.tensor([1.0, 2.0], requires_grad=True, dtype="float64", name="x")
    (g,) = minigan.grad(minigan.sigmoid(x).sum(), x, create_graph=True)
    text = minigan.format_graph(g)
    assert "sigmoid" in text and "mul" in text and "leaf x" in text


def test_gradient_of_a_gradient_norm_penalty_matches_finite_differences(backend_name, rng):
    """WGAN-GP's penalty (‖∇ₓD(x)‖ − 1)² differentiated with respect to D's weights."""
    minigan.random.seed(5)
    d1, d2 = Dense(2, 6, dtype="float64"), Dense(6, 1, dtype="float64")
    x = minigan.tensor(rng.standard_normal((5, 2)), dtype="float64")
    params = d1.parameters() + d2.parameters()

    def penalty():
        xs = x.detach().requires_grad_()
        (g,) = minigan.grad(d2(F.leaky_relu(d1(xs), 0.2)).sum(), xs, create_graph=True)
        return (((g * g).sum(axis=1) ** 0.5 - 1.0) ** 2).mean()

    # b1 enters ∇ₓD only through LeakyReLU's mask, so the penalty does not depend on it: zeros.
    analytic = [value(g) for g in minigan.grad(penalty(), params, materialize_grads=True)]
    eps = 1e-6
    for p, a in zip(params, analytic):
        numeric = np.zeros(p.shape)
        for i in np.ndindex(*p.shape):
            original = float(p.data[i])
            p.data[i] = original + eps
            up = penalty().item()
            p.data[i] = original - eps
            down = penalty().item()
            p.data[i] = original
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(a, numeric, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------- what the graph keeps alive


def _array_lifetime(build):
    """Whether the data of the intermediate tensor ``build`` returns is still alive after it is dropped."""
    keep, intermediate = build()
    probe = weakref.ref(intermediate.data)
    del intermediate
    gc.collect()
    alive = probe() is not None
    del keep
    return alive


def test_a_frozen_linear_keeps_its_weight_not_its_input(backend_name):
    x = f64(np.ones((4, 3)))
    w_frozen = f64(np.ones((3, 2)), requires_grad=False)
    w_trained = f64(np.ones((3, 2)))

    def build(w):
        def run():
            h = x * 2.0
            return F.linear(h, w), h
        return run

    assert not _array_lifetime(build(w_frozen))  # dW not needed: the input's data is freed
    assert _array_lifetime(build(w_trained))     # dW = hᵀ g needs it


def test_sigmoid_keeps_its_output_not_its_input(backend_name):
    x = f64(np.ones(5))

    def run():
        h = x * 2.0
        return minigan.sigmoid(h), h

    assert not _array_lifetime(run)


def test_backward_through_a_graph_whose_intermediate_tensors_were_dropped(backend_name):
    x = f64([0.5, -0.25])
    out = minigan.tanh(minigan.exp(x * 2.0) + 1.0).sum()
    gc.collect()
    (g,) = minigan.grad(out, x, create_graph=True)
    (h,) = minigan.grad(g.sum(), x)
    e = np.exp(2 * value(x))
    t = np.tanh(e + 1)
    np.testing.assert_allclose(value(g), (1 - t ** 2) * 2 * e, rtol=1e-14)
    d2 = -2 * t * (1 - t ** 2) * (2 * e) ** 2 + (1 - t ** 2) * 4 * e
    np.testing.assert_allclose(value(h), d2, rtol=1e-13)


def test_parents_name_live_tensors_and_nodes_once_they_are_gone(backend_name):
    x = f64([1.0])
    out = minigan.exp(x * 2.0)
    (parent,) = out.parents
    assert not isinstance(parent, Tensor) and parent.op == "mul" and parent.shape == (1,)
    assert parent.parents[0] is x
    assert out.grad_fn is not None and x.grad_fn is None


# ------------------------------------------------------------------ first-order-only custom ops


def _array_only_square(x):
    def backward(g):
        return (2.0 * x.data * g,)
    return Tensor._from_op(x.data ** 2, (x,), backward, "array_only_square")


def test_an_op_with_an_array_only_backward_still_works_to_first_order(backend_name):
    x = f64([3.0])
    _array_only_square(x).sum().backward()
    np.testing.assert_array_equal(value(x.grad), [6.0])
    (g,) = minigan.grad(_array_only_square(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(value(g), [6.0])


def test_differentiating_an_array_only_backward_again_names_the_op(backend_name):
    x = f64([3.0])
    (g,) = minigan.grad(_array_only_square(x).sum(), x, create_graph=True)
    with pytest.raises(GraphError, match="array_only_square.*saved="):
        minigan.grad(g.sum(), x)
