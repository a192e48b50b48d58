"""``Module.to`` / ``double()`` / ``float()`` as a specification: every parameter and buffer (BatchNorm's
running statistics included) and every gradient converted in place, the same objects kept, the module
returned; bad arguments refused before anything changes; an optimizer built before the move steps the
new arrays, its state following them, with the numbers of one built after."""

import numpy as np
import pytest

import minigan
from minigan import BackendError, DTypeError, optim
from minigan.nn import BatchNorm1d, Dense, LeakyReLU, Sequential
from tests.conftest import GPU_SKIP_REASON, to_numpy


def make_model():
    minigan.random.seed(0)
    return Sequential(Dense(3, 4), BatchNorm1d(4), LeakyReLU(0.2), Dense(4, 2))


def trained(model):
    """Running statistics away from 0 and 1, and a gradient on every parameter."""
    x = minigan.random.randn(6, 3, dtype=model[0].weight.dtype)
    model(x)
    model(x * 2.0).sum().backward()
    return model


def tensors(model):
    return [t for _, t in model.named_parameters()] + [t for _, t in model.named_buffers()]


def snapshot(model):
    return {name: (t.data, to_numpy(t.data).copy(), t.grad) for name, t in
            list(model.named_parameters()) + list(model.named_buffers())}


def assert_unchanged(model, before):
    after = snapshot(model)
    for name, (data, values, grad) in before.items():
        assert after[name][0] is data and after[name][2] is grad, name
        np.testing.assert_array_equal(after[name][1], values)


# ------------------------------------------------------------------------------ dtypes


def test_double_casts_every_parameter_buffer_and_gradient_in_place(backend_name):
    model = trained(make_model())
    objects = tensors(model)
    before = [(to_numpy(t.data).copy(), None if t.grad is None else to_numpy(t.grad).copy()) for t in objects]
    assert model.double() is model
    assert tensors(model) == objects  # the same Parameter and buffer objects
    assert [name for name, _ in model.named_buffers()] == ["1.running_mean", "1.running_var"]
    for t, (values, grad) in zip(objects, before):
        assert t.dtype == np.float64 and t.backend == backend_name
        np.testing.assert_array_equal(to_numpy(t.data), values)  # float32 → float64 is exact
        if grad is not None:
            assert t.grad.dtype == np.float64
            np.testing.assert_array_equal(to_numpy(t.grad), grad)
    assert all(p.requires_grad for p in model.parameters())
    assert not any(b.requires_grad for b in model.buffers())


def test_float_casts_back_to_float32(backend_name):
    model = trained(make_model()).double()
    for t in tensors(model):
        t.data += 1e-12  # below float32's resolution: rounds away
    assert model.float() is model
    for t in tensors(model):
        assert t.dtype == np.float32
        assert t.grad is None or t.grad.dtype == np.float32


@pytest.mark.parametrize("how", ["string", "numpy type", "minigan name", "keyword", "numpy dtype"])
def test_to_accepts_the_dtype_in_every_spelling(backend_name, how):
    model = make_model()
    call = {"string": lambda: model.to("float64"), "numpy type": lambda: model.to(np.float64),
            "minigan name": lambda: model.to(minigan.float64), "keyword": lambda: model.to(dtype="float64"),
            "numpy dtype": lambda: model.to(np.dtype("float64"))}[how]
    assert call() is model
    assert {t.dtype for t in tensors(model)} == {np.dtype(np.float64)}


def test_to_the_current_dtype_keeps_the_very_arrays(backend_name):
    model = trained(make_model())
    before = snapshot(model)
    model.to("float32")
    assert_unchanged(model, before)


def test_absent_gradients_stay_absent(backend_name):
    model = make_model().double()
    assert all(p.grad is None for p in model.parameters())


def test_a_create_graph_gradient_becomes_a_converted_leaf(backend_name):
    layer = Dense(3, 2)
    x = minigan.random.randn(4, 3)
    layer(x).tanh().sum().backward(create_graph=True)
    assert isinstance(layer.weight.grad, minigan.Tensor) and layer.weight.grad.requires_grad
    values = layer.weight.grad.numpy()
    layer.double()
    grad = layer.weight.grad
    assert isinstance(grad, minigan.Tensor) and grad.dtype == np.float64
    assert grad.is_leaf and not grad.requires_grad
    np.testing.assert_array_equal(grad.numpy(), values)


def test_a_parameter_shared_by_two_layers_is_converted_once(backend_name):
    first, second = Dense(3, 3), Dense(3, 3)
    second.weight = first.weight
    Sequential(first, second).double()
    assert first.weight is second.weight and first.weight.dtype == np.float64


def test_forward_after_double_computes_in_float64(backend_name):
    model = make_model().eval()
    x = minigan.random.randn(5, 3)
    expected = model(x).numpy()
    out = model.double()(x.astype("float64"))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ backends


def test_to_a_backend_moves_everything_there(backend_name):
    with minigan.backend("numpy"):
        model = trained(make_model())
    objects = tensors(model)
    assert model.to(backend_name) is model
    assert tensors(model) == objects
    for t in objects:
        assert t.backend == backend_name and t.dtype == np.float32
        assert t.grad is None or minigan.backends.backend_name(t.grad) == backend_name


@pytest.mark.parametrize("call", ["positional", "keywords"])
def test_to_a_backend_and_a_dtype_at_once(backend_name, call):
    with minigan.backend("numpy"):
        model = trained(make_model())
    if call == "positional":
        model.to(backend_name, "float64")
    else:
        model.to(backend=backend_name, dtype=np.float64)
    for t in tensors(model):
        assert t.backend == backend_name and t.dtype == np.float64
        assert t.grad is None or t.grad.dtype == np.float64


def test_to_a_tensor_takes_its_backend_and_dtype(backend_name):
    model = make_model()
    model.to(minigan.zeros(2, dtype="float64"))
    assert {(t.backend, t.dtype) for t in tensors(model)} == {(backend_name, np.dtype(np.float64))}


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("dtype", ["float16", np.int64, "int32", bool])
def test_a_dtype_other_than_float32_or_float64_raises_before_anything_changes(backend_name, dtype):
    model = trained(make_model())
    before = snapshot(model)
    with pytest.raises(DTypeError, match="float32 or float64"):
        model.to(dtype)
    assert_unchanged(model, before)


@pytest.mark.parametrize("args, kwargs", [(("cuda",), {}), ((), {"backend": "tpu"}), (("numpy", "gpu"), {})])
def test_an_unknown_backend_raises_before_anything_changes(backend_name, args, kwargs):
    model = trained(make_model())
    before = snapshot(model)
    with pytest.raises(BackendError, match="'numpy', 'cupy'"):
        model.to(*args, **kwargs)
    assert_unchanged(model, before)


def test_a_dtype_error_after_a_valid_backend_changes_nothing(backend_name):
    model = trained(make_model())
    before = snapshot(model)
    with pytest.raises(DTypeError):
        model.to(backend_name, "float16")
    assert_unchanged(model, before)


@pytest.mark.skipif(GPU_SKIP_REASON is None, reason="a GPU is present")
def test_to_cupy_without_a_gpu_raises_and_changes_nothing():
    model = trained(make_model())
    before = snapshot(model)
    with pytest.raises(minigan.BackendUnavailableError):
        model.to("cupy", "float64")
    assert_unchanged(model, before)


@pytest.mark.parametrize("args, kwargs", [((), {}), (("float64", "float32"), {}), (("numpy",), {"backend": "numpy"}),
                                          (("numpy", "float64", "x"), {})])
def test_missing_or_repeated_arguments_raise_type_error(args, kwargs):
    model = make_model()
    with pytest.raises(TypeError, match="Module.to"):
        model.to(*args, **kwargs)
    assert model[0].weight.dtype == np.float32


# ------------------------------------------------------------------------------ optimizers

OPTIMIZERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.1),
    "SGD momentum nesterov": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": lambda params: optim.Adam(params, lr=0.01),
    "Adam amsgrad": lambda params: optim.Adam(params, lr=0.01, amsgrad=True, weight_decay=0.01),
    "Adagrad": lambda params: optim.Adagrad(params, lr=0.1),
}


def loss_step(model, optimizer, x, frozen_bias):
    optimizer.zero_grad()
    (model(x) ** 2).sum().backward()
    if frozen_bias:  # a parameter without a gradient: the per-parameter path instead of the flat one
        model[3].bias.grad = None
    optimizer.step()


@pytest.mark.parametrize("frozen_bias", [False, True], ids=["flat path", "per-parameter path"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_an_optimizer_built_before_double_steps_the_new_arrays_as_one_built_after(backend_name, name, frozen_bias):
    model = make_model()
    optimizer = OPTIMIZERS[name](model.parameters())
    x = minigan.random.randn(6, 3)
    for _ in range(2):
        loss_step(model, optimizer, x, frozen_bias)
    model.double()

    # The reference: a float64 twin and an optimizer built after the move, with the same state loaded.
    twin = make_model().double()
    twin.load_state_dict(model.state_dict())
    twin_optimizer = OPTIMIZERS[name](twin.parameters())
    twin_optimizer.load_state_dict(optimizer.state_dict())

    x64 = x.astype("float64").detach()
    before = [p.numpy() for p in model.parameters()]
    for _ in range(2):
        loss_step(model, optimizer, x64, frozen_bias)
        loss_step(twin, twin_optimizer, x64, frozen_bias)
    for p, b in zip(model.parameters(), before):  # the module's own weights were stepped, not stale copies
        assert p.ndim == 1 or not np.array_equal(p.numpy(), b)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert p.dtype == np.float64
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    for state in optimizer.state:
        for key, value in state.items():
            if key != "step":
                assert value.dtype == np.float64, key


def test_an_optimizer_built_before_a_backend_move_steps_the_moved_arrays(backend_name):
    with minigan.backend("numpy"):
        model = make_model()
        optimizer = optim.Adam(model.parameters(), lr=0.01)
        x = minigan.random.randn(6, 3)
        loss_step(model, optimizer, x, frozen_bias=False)
    model.to(backend_name, "float64")
    loss_step(model, optimizer, x.to(backend_name).astype("float64").detach(), frozen_bias=False)
    for p, state in zip(model.parameters(), optimizer.state):
        assert p.backend == backend_name and p.dtype == np.float64
        assert all(minigan.backends.backend_name(v) == backend_name and v.dtype == np.float64
                   for k, v in state.items() if k != "step")


def test_state_the_gpu_kernel_refuses_after_a_move_is_converted_and_the_step_runs(monkeypatch):
    """The CuPy path, simulated on NumPy: the multi-tensor kernel checks its arguments before launching
    and refuses state of another dtype (as ``cuda.adam_step`` does); the optimizer converts the state
    buffers that Module.to left behind and launches again, with the numbers of an optimizer built after."""
    launches = []

    class KernelAdam(optim.Adam):
        def _kernel_step(self, params, states, steps):
            for p, s in zip(params, states):
                for key, value in s.items():
                    if key != "step" and value.dtype != p.dtype:
                        raise DTypeError(f"adam_step: {key} is {value.dtype}, the parameter {p.dtype}")
            launches.append(len(params))
            for p, s, t in zip(params, states, steps):
                if "exp_avg" not in s:
                    s["exp_avg"], s["exp_avg_sq"] = np.zeros_like(p.data), np.zeros_like(p.data)
                self.update(p.data, optim.gradient_array(p), s, t, np.empty_like(p.data))

    model = make_model()
    optimizer = KernelAdam(model.parameters(), lr=0.01)
    x = minigan.random.randn(6, 3)
    with monkeypatch.context() as patched:
        patched.setattr(minigan.cuda, "use_kernel", lambda family, array: family == "optimizer")
        loss_step(model, optimizer, x, frozen_bias=False)
        model.double()
        twin = make_model().double()
        twin.load_state_dict(model.state_dict())
        twin_optimizer = optim.Adam(twin.parameters(), lr=0.01)
        twin_optimizer.load_state_dict(optimizer.state_dict())
        loss_step(model, optimizer, x.astype("float64").detach(), frozen_bias=False)
    loss_step(twin, twin_optimizer, x.astype("float64").detach(), frozen_bias=False)
    assert launches == [6, 6]  # the refused launch is not counted: it raised before running
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
