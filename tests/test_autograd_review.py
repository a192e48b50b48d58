"""A review of the higher-order autodiff core, as specifications: the defects it found (each test failed
before its fix) and the behaviours it checked that no other test covers.

Defects fixed (module ``minigan/autograd.py`` unless named):

- On CuPy every graph in which two gradients meet at one tensor failed: ``_accumulate`` read
  ``total.flags.writeable``, which CuPy's ``Flags`` lacks (seen on an H200 with CuPy 14.2).
- ``grad``/``backward`` with ``create_graph=True`` inside ``no_grad()`` lost the gradient's graph: the
  backward now runs with grad mode equal to ``create_graph``, as PyTorch's.
- ``grad(...)`` and ``backward(inputs=...)`` refused a graph part of which an earlier backward freed,
  even when that part does not lead to the inputs (freeing now keeps the edges, which hold no data).
- ``batch_norm`` in eval mode kept ``running_mean.data`` itself for the backward
  (``minigan/nn/batchnorm.py``): a training-mode forward in between moved it.
- A hook that removed itself made the next hook on the same tensor be skipped.
- A hook could hand a leaf a gradient of another dtype (PyTorch refuses it; so does minigan now).
- ``.grad`` could share memory with values others see: an array a hook kept, the same tensor stored
  for two leaves, the caller's seed tensor, a read-only broadcast view.
- On NumPy a 0-d leaf's ``.grad`` was a NumPy scalar, not a writable array.
"""

import gc
import weakref

import numpy as np
import pytest

import minigan
from minigan import DTypeError, GraphError
from minigan.nn import BatchNorm1d
from minigan.nn.batchnorm import batch_norm
from minigan.tensor import Tensor
from tests.conftest import to_numpy


def f64(values, requires_grad=True):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad, dtype="float64")


def value(t):
    """The values of a tensor or of a gradient array, as a host NumPy array."""
    return to_numpy(t.data if isinstance(t, Tensor) else t)


# =================================================================================== defects fixed


@pytest.mark.gpu
def test_gradients_meeting_at_a_cupy_tensor_are_summed():
    with minigan.backend("cupy"):
        w = f64([1.0, 2.0])
        (w * 3.0 + w * 4.0).sum().backward()
        np.testing.assert_array_equal(value(w.grad), [7.0, 7.0])


def test_grad_with_create_graph_inside_no_grad_records_the_gradient(backend_name):
    x = f64([1.0, 2.0])
    loss = (x * x).sum()  # x reaches the loss twice: its two contributions are summed
    with minigan.no_grad():
        (g,) = minigan.grad(loss, x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_array_equal(value(minigan.grad(g.sum(), x)[0]), [2.0, 2.0])


def test_a_hook_under_create_graph_inside_no_grad_is_recorded(backend_name):
    x = f64([1.0, 2.0])
    h = x * 1.0
    h.register_hook(lambda g: g * x)  # d loss/dx becomes x, whose derivative is 1
    loss = h.sum()
    with minigan.no_grad():
        (g,) = minigan.grad(loss, x, create_graph=True)
    np.testing.assert_array_equal(value(g), [1.0, 2.0])
    assert g.requires_grad


@pytest.mark.parametrize("how", ["grad", "backward(inputs=...)"])
def test_a_freed_part_of_the_graph_that_does_not_lead_to_the_inputs_is_no_error(backend_name, how):
    w, x = f64([1.0, 2.0]), f64([3.0, 4.0])
    a = minigan.exp(w)
    a.sum().backward()  # frees exp's node; a's data lives on
    y = (a * x).sum()   # dy/dx = a needs mul's saved a, not exp's node
    if how == "grad":
        (gx,) = minigan.grad(y, x)
    else:
        y.backward(inputs=[x])
        gx = x.grad
    np.testing.assert_allclose(value(gx), np.exp([1.0, 2.0]), rtol=1e-15)


def test_batchnorm_eval_backward_uses_the_statistics_of_its_forward(backend_name, rng):
    bn = BatchNorm1d(3, dtype="float64")
    bn.running_mean.data[...] = bn.running_mean.xp.asarray([0.5, -0.5, 1.0])
    bn.running_var.data[...] = bn.running_var.xp.asarray([2.0, 1.0, 0.5])
    x = f64(rng.standard_normal((4, 3)))
    bn.eval()
    out = bn(x)
    x_hat = (value(x) - [0.5, -0.5, 1.0]) / np.sqrt(np.array([2.0, 1.0, 0.5]) + bn.eps)
    bn.train()
    bn(f64(rng.standard_normal((4, 3)) + 5.0, requires_grad=False))  # moves the running statistics
    out.sum().backward()
    np.testing.assert_allclose(value(bn.weight.grad), x_hat.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "interior"])
def test_a_hook_removing_itself_does_not_skip_the_next_hook(backend_name, leaf):
    x = f64([1.0, 2.0])
    t = x if leaf else x * 1.0
    calls = []

    def once(g):
        calls.append("once")
        handle.remove()

    handle = t.register_hook(once)
    t.register_hook(lambda g: calls.append("second"))
    (t * 2.0).sum().backward()
    assert calls == ["once", "second"]  # PyTorch's order, both called


def test_a_hook_cannot_change_the_dtype_of_a_leaf_gradient(backend_name):
    x = minigan.tensor([1.0, 2.0], requires_grad=True, dtype="float32")
    x.register_hook(lambda g: x.xp.ones(2, dtype=np.float64))
    try:
        (x * 2.0).sum().backward()
    except DTypeError:
        return  # refusing it, as PyTorch does, is as good as casting it
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("where", ["leaf", "interior"])
def test_leaf_grad_does_not_alias_a_gradient_a_hook_kept(backend_name, where):
    x = f64([1.0, 2.0])
    kept = []
    if where == "leaf":
        x.register_hook(kept.append)
        loss = (x * 3.0).sum()
    else:
        h = x + 1.0  # add hands h's gradient to x unchanged
        h.register_hook(kept.append)
        loss = (h * 3.0).sum()
    loss.backward()
    x.grad[...] = 0.0  # e.g. an in-place zero_grad
    np.testing.assert_array_equal(value(kept[0]), [3.0, 3.0])


def test_create_graph_leaf_grads_of_add_are_distinct_tensors(backend_name):
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    a.grad.data[...] = 0.0
    np.testing.assert_array_equal(value(b.grad), [1.0, 1.0])


def test_create_graph_grad_is_not_the_callers_seed_tensor(backend_name):
    x = f64([1.0, 2.0])
    seed = f64([5.0, 6.0], requires_grad=False)
    (x + 1.0).backward(seed, create_graph=True)
    assert x.grad is not seed
    x.grad.data[...] = 0.0
    np.testing.assert_array_equal(value(seed), [5.0, 6.0])


def test_create_graph_leaf_grad_owns_its_memory(backend_name):
    x = f64(np.ones((2, 3)))
    x.sum().backward(create_graph=True)  # sum's backward broadcasts the seed: a stride-0 view
    assert x.grad.data.flags.owndata


def test_gradient_of_a_0d_leaf_is_a_writable_array():
    x = f64(2.0)
    (x * x).backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == ()
    x.grad[...] = 0.0


# ====================================================================== behaviours verified (pass)


# ------------------------------------------------------------- create_graph with retain_graph=False


def test_create_graph_without_retaining_differentiates_again_through_saved_leaves(backend_name):
    x = f64([1.0, -2.0])
    (g,) = minigan.grad((x ** 3).sum(), x, create_graph=True, retain_graph=False)  # pow saves the leaf x
    np.testing.assert_allclose(value(minigan.grad(g.sum(), x)[0]), 6 * value(x), rtol=1e-15)


def test_create_graph_without_retaining_refuses_a_second_derivative_through_a_freed_op(backend_name):
    x = f64([0.5])
    (g,) = minigan.grad(minigan.exp(x).sum(), x, create_graph=True, retain_graph=False)
    np.testing.assert_allclose(value(g), np.exp([0.5]), rtol=1e-15)  # g = 1 · exp(x): exp's freed node
    with pytest.raises(GraphError, match="'exp'.*freed"):
        minigan.grad(g.sum(), x)


# ------------------------------------------------------------------ interior tensors and hooks


def test_backward_with_an_interior_input_fills_and_accumulates_its_grad(backend_name):
    x = f64([1.0, 2.0])
    h = x * 3.0
    loss = (h * h).sum()
    loss.backward(inputs=[h], retain_graph=True)
    assert x.grad is None
    np.testing.assert_array_equal(value(h.grad), [6.0, 12.0])
    loss.backward(inputs=[h])
    np.testing.assert_array_equal(value(h.grad), [12.0, 24.0])


def test_retain_grad_under_create_graph_keeps_a_differentiable_gradient(backend_name):
    x = f64([1.0, 2.0])
    h = (x * x).retain_grad()
    (h * h).sum().backward(create_graph=True)
    assert isinstance(h.grad, Tensor) and h.grad.requires_grad
    np.testing.assert_array_equal(value(h.grad), 2 * value(x) ** 2)
    np.testing.assert_array_equal(value(minigan.grad(h.grad.sum(), x)[0]), 4 * value(x))


def test_a_hook_returning_a_tensor_under_create_graph_is_differentiated_through(backend_name):
    x = f64([1.0, 2.0])
    h = x * x
    h.register_hook(lambda g: g * 2.0)
    (g,) = minigan.grad(h.sum(), x, create_graph=True)
    np.testing.assert_array_equal(value(g), 4 * value(x))
    np.testing.assert_array_equal(value(minigan.grad(g.sum(), x)[0]), [4.0, 4.0])


def test_a_hook_returning_an_array_under_create_graph_makes_that_gradient_a_constant(backend_name):
    x = f64([1.0, 2.0])
    h = x * x
    h.register_hook(lambda g: x.xp.full(2, 5.0))
    (g,) = minigan.grad((h * h).sum(), x, create_graph=True)
    np.testing.assert_array_equal(value(g), 10 * value(x))  # 5 · dh/dx, and dh/dx = 2x still depends on x
    np.testing.assert_array_equal(value(minigan.grad(g.sum(), x)[0]), [10.0, 10.0])


# --------------------------------------------------- in-place accumulation never shows to others


@pytest.mark.parametrize("keep", ["the array", "a view of it"])
def test_summing_in_place_never_changes_a_gradient_a_hook_kept(backend_name, keep):
    """h = x + 1 hands h's gradient array to x unchanged; x's second use then adds to x's running sum,
    which is that very array: it must be copied, not added to, since the hook still holds it."""
    x = f64([1.0, 2.0])
    h = x + 1.0
    kept = []
    h.register_hook(lambda g: kept.append(g if keep == "the array" else g.reshape(2)))
    (h * 3.0 + x * 10.0).sum().backward()
    np.testing.assert_array_equal(value(kept[0]), [3.0, 3.0])
    np.testing.assert_array_equal(value(x.grad), [13.0, 13.0])


def test_summing_in_place_never_changes_a_retained_gradient(backend_name):
    x = f64([1.0, 2.0])
    h = (x + 1.0).retain_grad()
    (h * 3.0 + x * 10.0).sum().backward()
    np.testing.assert_array_equal(value(h.grad), [3.0, 3.0])
    np.testing.assert_array_equal(value(x.grad), [13.0, 13.0])


def test_summing_in_place_never_changes_a_captured_interior_gradient(backend_name):
    x = f64([1.0, 2.0])
    h = x + 1.0
    gh, gx = minigan.grad((h * 3.0 + x * 10.0).sum(), [h, x])
    np.testing.assert_array_equal(value(gh), [3.0, 3.0])
    np.testing.assert_array_equal(value(gx), [13.0, 13.0])


# ------------------------------------------------------------- second derivatives of the layers


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2)], ids=["(N, C)", "(N, C, L)"])
@pytest.mark.parametrize("trained", ["x, weight and bias", "x only (weight frozen)"])
def test_batchnorm_eval_passes_gradgradcheck(backend_name, rng, shape, trained):
    mean = f64(rng.standard_normal(3), requires_grad=False)
    var = f64(rng.uniform(0.5, 2.0, 3), requires_grad=False)
    x = f64(rng.standard_normal(shape))
    weight = f64(rng.standard_normal(3), requires_grad=trained != "x only (weight frozen)")
    bias = f64(rng.standard_normal(3))
    inputs = (x, weight, bias) if weight.requires_grad else (x,)

    def fn(x, *affine):
        w, b = affine if affine else (weight, None)
        return minigan.tanh(batch_norm(x, w, b, mean, var, training=False))

    assert minigan.gradgradcheck(fn, inputs)


def test_clip_with_tensor_bounds_passes_gradgradcheck(backend_name, rng):
    x = f64(rng.standard_normal(8))
    low = f64(rng.standard_normal(8) - 0.7)
    high = f64(rng.standard_normal(8) + 0.9)
    # drawn away from the kinks x = low and x = high (one-sided differences would disagree there)
    assert np.abs(value(x) - value(low)).min() > 1e-3 and np.abs(value(x) - value(high)).min() > 1e-3
    assert minigan.gradgradcheck(lambda x, low, high: minigan.clip(x, low, high) ** 3, (x, low, high))


def test_third_derivative_through_getitem_with_repeated_indices(backend_name):
    x = f64([1.0, 2.0, 3.0])
    index = np.array([0, 0, 2, 0])  # x0 three times, x2 once, x1 never: f = 3 x0³ + x2³
    (g1,) = minigan.grad((x[index] ** 3).sum(), x, create_graph=True)
    (g2,) = minigan.grad(g1.sum(), x, create_graph=True)
    (g3,) = minigan.grad(g2.sum(), x)
    xs = value(x)
    counts = np.array([3.0, 0.0, 1.0])
    np.testing.assert_array_equal(value(g1), counts * 3 * xs ** 2)
    np.testing.assert_array_equal(value(g2), counts * 6 * xs)
    np.testing.assert_array_equal(value(g3), counts * 6)


# --------------------------------------------------------------------------- dtypes and depth


def test_second_derivatives_across_float32_and_float64_keep_each_leafs_dtype(backend_name):
    x32 = minigan.tensor([0.5, -1.0], requires_grad=True, dtype="float32")
    w = f64([2.0, 3.0])
    gx, gw = minigan.grad(minigan.tanh(x32 * w).sum(), (x32, w), create_graph=True)
    assert gx.dtype == np.float32 and gw.dtype == np.float64
    hx, hw = minigan.grad(gx.sum(), (x32, w))  # d/dx and d/dw of w (1 − t²), t = tanh(x w)
    assert hx.dtype == np.float32 and hw.dtype == np.float64
    xs, ws = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    t = np.tanh(xs * ws)
    np.testing.assert_allclose(value(hx), -2 * t * (1 - t ** 2) * ws ** 2, rtol=1e-6)
    np.testing.assert_allclose(value(hw), (1 - t ** 2) - 2 * t * (1 - t ** 2) * xs * ws, rtol=1e-6)


def test_second_derivative_of_a_chain_deeper_than_the_recursion_limit(backend_name):
    depth = 3000  # > sys.getrecursionlimit() (1000): the walk, its sort and the freeing are iterative
    x = f64([0.7])
    y = x
    for _ in range(depth):
        y = minigan.tanh(y)
    (d1,) = minigan.grad(y.sum(), x, create_graph=True)
    (d2,) = minigan.grad(d1.sum(), x)
    # forward-mode recurrence: y' ← (1 − y²) y',  y'' ← (1 − y²) y'' − 2 y (1 − y²) y'²
    v, first, second = 0.7, 1.0, 0.0
    for _ in range(depth):
        v = np.tanh(v)
        second = (1 - v * v) * second - 2 * v * (1 - v * v) * first * first
        first = (1 - v * v) * first
    np.testing.assert_allclose(value(d1), [first], rtol=1e-10)
    np.testing.assert_allclose(value(d2), [second], rtol=1e-10)


# ------------------------------------------------------------------------ what the graph keeps


def test_a_create_graph_gradient_keeps_only_what_its_double_backward_needs(backend_name):
    x = f64(np.ones(5))
    h = x * 2.0
    y = minigan.tanh(h)   # saves its output, not h
    h_data, y_data = weakref.ref(h.data), weakref.ref(y.data)
    (g,) = minigan.grad((y * y).sum(), x, create_graph=True)
    del h, y
    gc.collect()
    assert h_data() is None and y_data() is not None


def test_dropping_a_create_graph_gradient_frees_the_graph_without_the_cycle_collector(backend_name):
    x = f64(np.ones(5))
    y = minigan.tanh(x * 2.0)
    y_data = weakref.ref(y.data)
    enabled = gc.isenabled()
    gc.disable()
    try:
        (g,) = minigan.grad((y * y).sum(), x, create_graph=True)
        del y, g
        assert y_data() is None  # no reference cycle between the two graphs
    finally:
        if enabled:
            gc.enable()


def test_format_graph_of_a_gradient_whose_forward_tensors_were_dropped(backend_name):
    x = minigan.tensor([0.5, -1.0], requires_grad=True, dtype="float64", name="x")
    (g,) = minigan.grad(minigan.tanh(minigan.exp(x)).sum(), x, create_graph=True)
    gc.collect()  # the forward's tensors are gone; their nodes live on in g's graph
    text = minigan.format_graph(g)
    assert "leaf x" in text and "exp(%0)" in text and "tanh(" in text
    np.testing.assert_allclose(value(g), np.exp([0.5, -1.0]) * (1 - np.tanh(np.exp([0.5, -1.0])) ** 2),
                               rtol=1e-14)


# ------------------------------------------------------------------------- first-order-only ops


def _array_only_mul(a, b):
    def backward(g):
        return (g * b.data, g * a.data)
    return Tensor._from_op(a.data * b.data, (a, b), backward, "array_only_mul")


def test_an_array_only_op_is_not_run_by_a_second_derivative_that_does_not_pass_through_it(backend_name):
    x, z = f64([1.0, 2.0]), f64([0.5, -0.5])
    c = f64([5.0, 6.0], requires_grad=False)
    (gx,) = minigan.grad((_array_only_mul(x, c) + x * z).sum(), x, create_graph=True)
    np.testing.assert_array_equal(value(gx), [5.5, 5.5])
    np.testing.assert_array_equal(value(minigan.grad(gx.sum(), z)[0]), [1.0, 1.0])


def test_an_array_only_op_gives_gradients_for_interior_inputs(backend_name):
    x, w = f64([1.0, 2.0]), f64([3.0, 4.0])
    h = x * 2.0
    y = _array_only_mul(h, w).sum()
    gh, gx = minigan.grad(y, [h, x])
    np.testing.assert_array_equal(value(gh), [3.0, 4.0])
    np.testing.assert_array_equal(value(gx), [6.0, 8.0])


# ----------------------------------------------------------------------------------- PyTorch


def _random_graph(lib, leaves, ops):
    """The same random DAG (shared subexpressions, leaves used several times) in either library."""
    values = list(leaves)
    for kind, k, i, j in ops:
        if kind == "unary":
            values.append(k(lib, values[i]))
        else:
            values.append(k(lib, values[i], values[j]))
    return values


UNARY = [
    lambda lib, t: lib.tanh(t),
    lambda lib, t: lib.sin(t),
    lambda lib, t: lib.sigmoid(t),
    lambda lib, t: t * t,
    lambda lib, t: lib.exp(t * 0.3),
    lambda lib, t: lib.log1p(t * t),
    lambda lib, t: t ** 3,
    lambda lib, t: lib.flip(t, (0,)) if lib.__name__ == "torch" else lib.flip(t, 0),
    lambda lib, t: lib.cumsum(t, 0),
    lambda lib, t: t[[0, 0, 2]],
]
BINARY = [
    lambda lib, a, b: a + b,
    lambda lib, a, b: a * b,
    lambda lib, a, b: a - b,
    lambda lib, a, b: a / (1.5 + b * b),
    lambda lib, a, b: lib.maximum(a, b),
]


@pytest.mark.torch
def test_random_graphs_match_torch_in_gradient_and_hessian_vector_product(backend_name):
    """Seeded random DAGs with shared subgraphs, two outputs and an interior input: value of each
    gradient (create_graph) and the Hessian-vector product of the leaves' gradients, against PyTorch."""
    torch = pytest.importorskip("torch")
    for seed in range(40):
        rng = np.random.default_rng(seed)
        starts = [rng.standard_normal(3) for _ in range(3)]
        ops = []
        for n in range(3, 3 + int(rng.integers(4, 10))):
            if rng.random() < 0.5:
                ops.append(("unary", UNARY[rng.integers(len(UNARY))], int(rng.integers(n)), None))
            else:
                ops.append(("binary", BINARY[rng.integers(len(BINARY))], *map(int, rng.integers(n, size=2))))
        ours = _random_graph(minigan, [f64(s) for s in starts], ops)
        theirs = _random_graph(torch, [torch.tensor(s, requires_grad=True) for s in starts], ops)
        picks = sorted({len(ours) - 1, int(rng.integers(3, len(ours) - 1))})
        weights = [rng.standard_normal(3) for _ in picks]
        loss = sum((ours[i] * w).sum() for i, w in zip(picks, weights))
        loss_t = sum((theirs[i] * torch.tensor(w)).sum() for i, w in zip(picks, weights))
        wrt, wrt_t = ours[:3] + [ours[3]], theirs[:3] + [theirs[3]]
        grads = minigan.grad(loss, wrt, create_graph=True, materialize_grads=True)
        grads_t = torch.autograd.grad(loss_t, wrt_t, create_graph=True, materialize_grads=True)
        for g, gt in zip(grads, grads_t):
            np.testing.assert_allclose(value(g), gt.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"seed {seed}")
        directions = [rng.standard_normal(3) for _ in range(3)]
        dot = sum((g * d).sum() for g, d in zip(grads[:3], directions))
        dot_t = sum((g * torch.tensor(d)).sum() for g, d in zip(grads_t[:3], directions))
        if not (isinstance(dot, Tensor) and dot.requires_grad) or not dot_t.requires_grad:
            continue
        hvp = minigan.grad(dot, ours[:3], materialize_grads=True)
        hvp_t = torch.autograd.grad(dot_t, theirs[:3], materialize_grads=True)
        for h, ht in zip(hvp, hvp_t):
            np.testing.assert_allclose(value(h), ht.numpy(), rtol=1e-9, atol=1e-11, err_msg=f"hvp, seed {seed}")


@pytest.mark.torch
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_extremum_at_ties_matches_torch_to_second_order(backend_name, name):
    torch = pytest.importorskip("torch")
    a_values, b_values = np.array([1.0, 2.0, -3.0]), np.array([1.0, 0.5, -3.0])  # ties at 0 and 2
    a, b = f64(a_values), f64(b_values)
    a_t, b_t = (torch.tensor(v, requires_grad=True) for v in (a_values, b_values))
    out = getattr(minigan, name)(a, b)
    out_t = getattr(torch, name)(a_t, b_t)
    np.testing.assert_array_equal(value(out), out_t.detach().numpy())
    ga, gb = minigan.grad((out ** 3).sum(), (a, b), create_graph=True)
    ga_t, gb_t = torch.autograd.grad((out_t ** 3).sum(), (a_t, b_t), create_graph=True)
    np.testing.assert_allclose(value(ga), ga_t.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(value(gb), gb_t.detach().numpy(), rtol=1e-15)
    v = np.array([0.3, -1.2, 0.7])
    hvp = minigan.grad((ga * v).sum() + (gb * v).sum(), (a, b))
    hvp_t = torch.autograd.grad((ga_t * torch.tensor(v)).sum() + (gb_t * torch.tensor(v)).sum(), (a_t, b_t))
    for h, ht in zip(hvp, hvp_t):
        np.testing.assert_allclose(value(h), ht.numpy(), rtol=1e-15)
