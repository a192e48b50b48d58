"""The tape: how gradients accumulate, where they are stored, when the graph is freed, grad mode,
hooks, aliasing of gradient arrays, and the Tensor's own attributes and dtypes."""

import sys

import numpy as np
import pytest

import minigan
from minigan import GraphError, ShapeError


def f64(values, requires_grad=True, name=None):
    """A float64 leaf (float64 so that closed-form gradients can be compared tightly)."""
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad, name=name)


@pytest.fixture
def restore_default_dtype():
    previous = minigan.get_default_dtype()
    yield
    minigan.set_default_dtype(previous)


@pytest.fixture
def restore_grad_mode(monkeypatch):
    """Put grad mode back as it was, whatever a failing test left behind."""
    from minigan import autograd

    monkeypatch.setattr(autograd, "_grad_enabled", autograd._grad_enabled)


# ------------------------------------------------------------------------------ accumulation


def test_tensor_used_twice_in_mul_gets_both_contributions():
    x = f64([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_tensor_used_twice_in_add_gets_both_contributions():
    x = f64([1.0, -2.0, 3.0])
    (x + x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0, 2.0])


def test_diamond_graph_sums_gradients_of_both_branches():
    x = f64([0.5, -1.5])
    y = x * 3.0
    z = (y * y + y.exp()).sum()  # dz/dx = (2y + e^y) * 3
    z.backward()
    np.testing.assert_allclose(x.grad, (2 * y.data + np.exp(y.data)) * 3.0)


def test_leaf_used_on_several_paths_of_different_depth():
    x = f64([2.0])
    z = (x * x * x + x.tanh() + x).sum()  # 3x² + 1 − tanh² x + 1
    z.backward()
    np.testing.assert_allclose(x.grad, 3 * 4.0 + (1 - np.tanh(2.0) ** 2) + 1)


def test_gradients_accumulate_across_backward_calls_on_separate_graphs():
    x = f64([1.0, 2.0])
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 5.0])


def test_only_leaves_get_grad_intermediates_and_root_stay_none():
    x = f64([1.0, 2.0])
    y = x * 2.0
    z = y.sum()
    z.backward()
    assert x.grad is not None
    assert y.grad is None
    assert z.grad is None


def test_leaf_not_requiring_grad_gets_no_grad():
    x = f64([1.0, 2.0])
    c = f64([3.0, 4.0], requires_grad=False)
    (x * c).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])
    assert c.grad is None


def test_retain_grad_keeps_an_intermediate_gradient():
    x = f64([1.0, 2.0])
    y = (x * 2.0).retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad, 2 * y.data)
    np.testing.assert_allclose(x.grad, 2 * y.data * 2.0)


def test_retain_grad_on_tensor_not_requiring_grad_raises():
    with pytest.raises(GraphError):
        f64([1.0], requires_grad=False).retain_grad()


# ------------------------------------------------------------------------------ deep graphs


def test_chain_of_10000_ops_backpropagates_without_recursion():
    x0 = f64(1.0)
    previous_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(500)  # far below the graph depth (20,000 nodes): recursion would fail
    try:
        x = x0
        for _ in range(10_000):
            x = x * 1.0001 + 0.0
        x.backward()
    finally:
        sys.setrecursionlimit(previous_limit)
    assert x0.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-10)


# ------------------------------------------------------------------------------ freed graphs


def test_second_backward_through_freed_graph_raises_graph_error():
    x = f64([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(GraphError, match="retain_graph=True"):
        loss.backward()


def test_second_backward_through_freed_graph_leaves_grad_unchanged():
    x = f64([1.0, 2.0])
    w = f64([3.0, -1.0])
    loss = (x * w).sum()
    loss.backward()
    x_grad, w_grad = x.grad, w.grad
    x_values, w_values = x.grad.copy(), w.grad.copy()
    with pytest.raises(GraphError):
        loss.backward()
    assert x.grad is x_grad and w.grad is w_grad
    np.testing.assert_array_equal(x.grad, x_values)
    np.testing.assert_array_equal(w.grad, w_values)


def test_backward_through_an_intermediate_freed_by_another_loss_raises_before_touching_grads():
    x = f64([1.0, 2.0])
    w = f64([0.5, 0.5])
    y = x * 2.0
    y.sum().backward()  # frees y's graph
    x_values = x.grad.copy()
    second = (y * w).sum()  # w is reached before the freed y in the walk
    with pytest.raises(GraphError, match="freed"):
        second.backward()
    np.testing.assert_array_equal(x.grad, x_values)
    assert w.grad is None


def test_retain_graph_allows_a_second_backward_that_doubles_the_gradient():
    x = f64([1.0, -2.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    once = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * once)


def test_backward_frees_parents_but_keeps_op_name():
    x = f64([1.0])
    y = x * 2.0
    z = y.sum()
    assert z.parents == (y,)
    z.backward()
    assert z.parents == ()
    assert z.op == "sum"
    assert not z.is_leaf


# ------------------------------------------------------------------------------ the seed gradient


def test_backward_on_non_scalar_without_grad_names_the_shape():
    y = f64(np.ones((2, 3))) * 2.0
    with pytest.raises(GraphError, match=r"\(2, 3\)"):
        y.backward()


def test_backward_on_non_scalar_with_grad_of_its_shape_works():
    x = f64(np.ones((2, 3)))
    y = x * 2.0
    seed = np.arange(6.0).reshape(2, 3)
    y.backward(seed)
    np.testing.assert_allclose(x.grad, 2.0 * seed)


def test_backward_accepts_a_tensor_as_grad():
    x = f64([1.0, 2.0])
    (x * 3.0).backward(f64([1.0, -1.0], requires_grad=False))
    np.testing.assert_allclose(x.grad, [3.0, -3.0])


def test_backward_on_single_element_non_0d_tensor_defaults_to_one():
    x = f64([[2.0]])
    (x * 5.0).backward()
    np.testing.assert_allclose(x.grad, [[5.0]])


def test_backward_with_grad_of_wrong_shape_raises_shape_error_and_changes_nothing():
    x = f64(np.ones((2, 3)))
    y = x * 2.0
    with pytest.raises(ShapeError, match=r"\(3, 2\)"):
        y.backward(np.ones((3, 2)))
    assert x.grad is None
    y.backward(np.ones((2, 3)))  # the graph was not freed by the failed call
    np.testing.assert_allclose(x.grad, np.full((2, 3), 2.0))


def _op_with_backward(x, backward, op):
    return minigan.Tensor._from_op(x.data.sum(axis=0), (x,), backward, op)


def test_a_backward_returning_a_wrongly_shaped_gradient_is_a_shape_error_naming_the_op():
    # A user's layer whose backward forgot to undo the broadcast: (N, C) returned for a (C,) input.
    x = f64(np.ones((4, 3)))
    y = _op_with_backward(x, lambda g: (np.ones((2, 4, 3)),), "my_bad_op")
    w = f64(np.ones(3))  # a leaf whose gradient is ready before the bad backward runs
    with pytest.raises(ShapeError, match=r"my_bad_op.*\(2, 4, 3\).*\(4, 3\)"):
        (y * w).sum().backward()
    assert x.grad is None and w.grad is None


def test_a_backward_returning_the_wrong_number_of_gradients_is_an_error_naming_the_op():
    x = f64(np.ones((4, 3)))
    y = _op_with_backward(x, lambda g: (np.ones((4, 3)), np.ones((4, 3))), "two_for_one")
    with pytest.raises(RuntimeError, match=r"two_for_one.*2 gradients.*1 inputs"):
        y.sum().backward()
    assert x.grad is None


def test_backward_on_tensor_not_requiring_grad_raises_graph_error():
    with pytest.raises(GraphError, match="does not require grad"):
        f64([1.0], requires_grad=False).sum().backward()


# ------------------------------------------------------------------------------ grad mode


def test_no_grad_context_records_nothing(restore_grad_mode):
    x = f64([1.0, 2.0])
    with minigan.no_grad():
        assert not minigan.is_grad_enabled()
        y = x * 2.0
    assert minigan.is_grad_enabled()
    assert not y.requires_grad
    assert y.op is None
    assert y.parents == ()
    assert y.is_leaf


def test_no_grad_decorator_records_nothing_and_keeps_the_name(restore_grad_mode):
    @minigan.no_grad()
    def double(t):
        """Doc."""
        assert not minigan.is_grad_enabled()
        return t * 2.0

    y = double(f64([1.0]))
    assert not y.requires_grad and y.op is None and y.parents == ()
    assert double.__name__ == "double" and double.__doc__ == "Doc."
    assert minigan.is_grad_enabled()


def test_enable_grad_inside_no_grad_records_again(restore_grad_mode):
    x = f64([1.0, 2.0])
    with minigan.no_grad():
        with minigan.enable_grad():
            inner = x * 2.0
        after = x * 2.0
    assert inner.requires_grad and inner.op == "mul"
    assert not after.requires_grad
    inner.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_enable_grad_decorator_inside_no_grad(restore_grad_mode):
    @minigan.enable_grad()
    def double(t):
        return t * 2.0

    with minigan.no_grad():
        y = double(f64([1.0]))
        assert not minigan.is_grad_enabled()
    assert y.requires_grad


def test_no_grad_restores_grad_mode_after_an_exception(restore_grad_mode):
    with pytest.raises(KeyError):
        with minigan.no_grad():
            raise KeyError("boom")
    assert minigan.is_grad_enabled()


# ------------------------------------------------------------------------------ hooks


def test_hook_sees_the_full_accumulated_gradient_once():
    x = f64([0.5, -1.0])
    y = x * 2.0
    seen = []
    y.register_hook(lambda g: seen.append(g.copy()))
    (y * y + y).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * y.data + 1)


def test_hook_on_leaf_sees_gradient_summed_over_all_uses():
    x = f64([3.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.copy()))
    (x * x + x).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [7.0])


def test_hook_returning_array_on_leaf_replaces_gradient_before_it_is_stored():
    x = f64([1.0, 2.0])
    x.register_hook(lambda g: g * 10.0)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [30.0, 30.0])


def test_hook_returning_array_on_intermediate_replaces_gradient_upstream():
    x = f64([1.0, 2.0])
    w = f64([5.0, 5.0])
    y = (x * w).retain_grad()
    y.register_hook(lambda g: np.full_like(g, 0.5))
    (y * 4.0).sum().backward()
    np.testing.assert_allclose(y.grad, [0.5, 0.5])
    np.testing.assert_allclose(x.grad, [2.5, 2.5])
    np.testing.assert_allclose(w.grad, [0.5, 1.0])


def test_hooks_chain_each_seeing_the_previous_result():
    x = f64([1.0])
    x.register_hook(lambda g: g + 1.0)
    seen = []
    x.register_hook(lambda g: seen.append(g.copy()))
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0])
    np.testing.assert_allclose(x.grad, [3.0])


def test_removed_hook_is_not_called():
    x = f64([1.0])
    calls = []
    handle = x.register_hook(lambda g: calls.append(1) or g * 100.0)
    handle.remove()
    handle.remove()  # removing twice is harmless
    (x * 2.0).sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad, [2.0])


def test_hook_returning_wrong_shape_raises_shape_error():
    x = f64([1.0, 2.0])
    x.register_hook(lambda g: np.ones(3))
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        (x * 2.0).sum().backward()


def test_register_hook_on_tensor_not_requiring_grad_raises():
    with pytest.raises(GraphError):
        f64([1.0], requires_grad=False).register_hook(lambda g: None)


# ------------------------------------------------------------------------------ aliasing


def test_leaf_grads_of_add_are_not_shared():
    a = f64([1.0, 2.0])
    b = f64([3.0, 4.0])
    (a + b).backward(np.array([1.0, 1.0]))
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 100.0
    np.testing.assert_allclose(b.grad, [1.0, 1.0])


def test_leaf_grad_is_not_shared_with_a_retained_intermediate_grad():
    x = f64([1.0, 2.0])
    y = (x + 0.0).retain_grad()
    y.backward(np.array([1.0, 1.0]))
    assert not np.shares_memory(x.grad, y.grad)
    y.grad += 1.0
    np.testing.assert_allclose(x.grad, [1.0, 1.0])


@pytest.mark.parametrize("fn", [
    pytest.param(lambda t: t.sum(), id="sum (broadcast_to view)"),
    pytest.param(lambda t: t.reshape(6).sum(), id="reshape (view)"),
    pytest.param(lambda t: t.transpose().sum(), id="transpose (view)"),
    pytest.param(lambda t: minigan.concatenate([t, t], axis=0).sum(), id="concatenate (split views)"),
])
def test_leaf_grad_owns_its_memory_and_is_writable(fn):
    x = f64(np.ones((2, 3)))
    fn(x).backward()
    assert x.grad.flags.owndata
    assert x.grad.flags.writeable
    x.grad[0, 0] = 42.0  # must not fail, nor affect anything else


def test_seed_grad_array_is_not_aliased():
    a = f64([1.0, 2.0])
    b = f64([3.0, 4.0])
    seed = np.array([1.0, -1.0])
    (a + b).backward(seed)
    assert not np.shares_memory(a.grad, seed) and not np.shares_memory(b.grad, seed)
    seed[:] = 99.0
    np.testing.assert_allclose(a.grad, [1.0, -1.0])
    np.testing.assert_allclose(b.grad, [1.0, -1.0])


def test_seed_grad_array_is_not_aliased_when_root_is_a_leaf():
    x = f64([1.0, 2.0])
    seed = np.array([1.0, -1.0])
    x.backward(seed)
    seed[:] = 99.0
    np.testing.assert_allclose(x.grad, [1.0, -1.0])


def test_leaf_grad_does_not_alias_an_array_returned_by_a_hook():
    x = f64([1.0, 2.0])
    replacement = np.array([7.0, 7.0])
    x.register_hook(lambda g: replacement)
    (x * 2.0).sum().backward()
    x.grad[...] = 0.0  # e.g. an optimizer's in-place zero_grad
    np.testing.assert_array_equal(replacement, [7.0, 7.0])


# ------------------------------------------------------------------------------ detach, requires_grad_


def test_detach_shares_data_and_records_nothing():
    x = f64([1.0, 2.0])
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf and d.op is None and d.parents == ()
    assert not (d * 3.0).requires_grad
    e = x.detach()
    e.data[0] = 10.0
    assert x.data[0] == 10.0


def test_requires_grad_on_a_leaf_is_settable_in_place():
    x = f64([1.0], requires_grad=False)
    assert x.requires_grad_() is x
    assert x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_requires_grad_on_non_leaf_raises():
    y = f64([1.0]) * 2.0
    with pytest.raises(GraphError, match="detach"):
        y.requires_grad_(False)


# ------------------------------------------------------------------------------ attributes


def test_tensor_shape_dtype_ndim_size_len():
    t = f64(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4)
    assert t.dtype == np.float64
    assert t.ndim == 3
    assert t.size == 24
    assert len(t) == 2


def test_len_of_0d_tensor_raises_type_error():
    with pytest.raises(TypeError):
        len(f64(1.0))


def test_numpy_returns_a_copy():
    t = f64([1.0, 2.0])
    copy = t.numpy()
    assert isinstance(copy, np.ndarray)
    copy[0] = 100.0
    assert t.data[0] == 1.0


@pytest.mark.parametrize("values", [3.5, [3.5], [[3.5]]])
def test_item_of_one_element_tensor_is_a_python_float(values):
    value = f64(values).item()
    assert type(value) is float and value == 3.5


def test_item_of_several_elements_raises_value_error():
    with pytest.raises(ValueError, match="2 elements"):
        f64([1.0, 2.0]).item()


def test_repr_shows_values_dtype_and_graph_role():
    x = f64([1.0, 2.0])
    assert repr(x).startswith("tensor([1., 2.]")
    assert "float64" in repr(x) and "requires_grad=True" in repr(x)
    assert "op='mul'" in repr(x * 2.0)
    assert "requires_grad" not in repr(f64([1.0], requires_grad=False))


def test_op_parents_and_is_leaf():
    x = f64([1.0])
    w = f64([2.0])
    y = x * w
    assert x.is_leaf and x.op is None and x.parents == ()
    assert not y.is_leaf and y.op == "mul"
    assert y.parents[0] is x and y.parents[1] is w


def test_format_graph_lists_ops_in_order_with_shapes():
    x = minigan.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True, name="x")
    w = minigan.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True, name="w")
    out = (x @ w).tanh().sum()
    lines = minigan.format_graph(out).splitlines()
    assert len(lines) == 5
    leaves = {line.split(" = ")[1].split()[1]: line.split(" = ")[0] for line in lines[:2]}
    assert set(leaves) == {"x", "w"}
    assert lines[2].startswith(f"%2 = matmul({leaves['x']}, {leaves['w']})") and "(3,)" in lines[2]
    assert lines[3].startswith("%3 = tanh(%2)") and "(3,)" in lines[3]
    assert lines[4].startswith("%4 = sum(%3)") and "()" in lines[4]
    assert all("float32" in line for line in lines)
    assert "(2, 3)" in lines[int(leaves["w"][1:])]


def test_format_graph_marks_constants_and_shows_a_used_twice_leaf_once():
    x = minigan.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True, name="x")
    text = minigan.format_graph((x * x * 2.0).sum())
    assert text.count("leaf x") == 1
    assert "mul(%0, %0)" in text
    assert "mul(%1, const)" in text


# ------------------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("data", [
    pytest.param([1.0, 2.0], id="list of floats"),
    pytest.param([1, 2], id="list of ints"),
    pytest.param(2.5, id="python float"),
    pytest.param(np.arange(3), id="int64 array"),
    pytest.param(np.arange(3, dtype=np.int32), id="int32 array"),
    pytest.param(np.ones(2, dtype=np.float16), id="float16 array"),
])
def test_default_dtype_is_float32(data):
    assert minigan.get_default_dtype() == np.float32
    assert minigan.tensor(data).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_arrays_keep_their_dtype(dtype):
    assert minigan.tensor(np.ones(3, dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("dtype", ["float64", np.float64, minigan.float64])
def test_explicit_dtype_is_honoured(dtype):
    assert minigan.tensor([1.0, 2.0], dtype=dtype).dtype == np.float64
    assert minigan.tensor(np.ones(2, dtype=np.float64), dtype="float32").dtype == np.float32


@pytest.mark.parametrize("dtype", ["int32", "float16", "int64", "complex128", "bool"])
def test_unsupported_dtype_raises_dtype_error(dtype):
    with pytest.raises(minigan.DTypeError, match="float32 or float64"):
        minigan.tensor([1.0], dtype=dtype)


def test_set_default_dtype_round_trip(restore_default_dtype):
    minigan.set_default_dtype("float64")
    assert minigan.get_default_dtype() == np.float64
    assert minigan.tensor([1.0]).dtype == np.float64
    assert minigan.tensor(np.arange(2)).dtype == np.float64
    assert minigan.tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    minigan.set_default_dtype("float32")
    assert minigan.tensor([1.0]).dtype == np.float32


def test_set_default_dtype_refuses_unsupported_dtype_and_keeps_the_old_one(restore_default_dtype):
    with pytest.raises(minigan.DTypeError):
        minigan.set_default_dtype("float16")
    assert minigan.get_default_dtype() == np.float32


def test_gradient_of_float32_tensor_is_float32():
    x = minigan.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == np.float32


def test_gradient_to_float32_operand_of_mixed_op_is_cast_back():
    a = minigan.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    b = f64([3.0, 4.0])
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad, [3.0, 4.0])
