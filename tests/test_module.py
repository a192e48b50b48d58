"""Module as a specification: registration and naming of parameters, buffers and children; train/eval
and zero_grad reach every child; forward hooks and tensor hooks; state dicts, checked loading that
changes nothing on error; atomic saving and loading that names the file it cannot read."""

import gc
import io
import os
import warnings

import numpy as np
import pytest

import minigan
from minigan import ShapeError
from minigan.nn import BatchNorm1d, Dense, Dropout, LeakyReLU, Module, Parameter, Sequential, Tanh
from minigan.nn import functional as F
from tests.conftest import to_numpy


def make_model():
    return Sequential(Dense(3, 4), BatchNorm1d(4), LeakyReLU(), Dense(4, 2, bias=False))


class Net(Module):
    def __init__(self):
        super().__init__()
        self.fc = Dense(3, 4)
        self.body = Sequential(Dense(4, 4), BatchNorm1d(4), Dropout(0.5))
        self.scale = Parameter([2.0])

    def forward(self, x):
        return self.body(self.fc(x)) * self.scale


def snapshot(module):
    """Copies of every parameter and buffer, by name."""
    return {name: np.array(to_numpy(value)) for name, value in module.state_dict().items()}


def assert_unchanged(module, before):
    after = snapshot(module)
    assert list(after) == list(before)
    for name in before:
        assert np.array_equal(after[name], before[name]), name


def trained_model():
    """A model whose parameters and running statistics are no longer their initial values."""
    minigan.random.seed(0)
    model = make_model()
    for _ in range(2):
        model(minigan.random.randn(8, 3))
    for p in model.parameters():
        p.data += 0.5
    return model


# ------------------------------------------------------------------------- registration


def test_named_parameters_use_dotted_child_names(backend_name):
    model = make_model()
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight"]
    assert model.parameters() == [p for _, p in model.named_parameters()]
    assert model.parameters()[0] is model[0].weight


def test_nested_modules_and_direct_parameters_are_named_by_their_path(backend_name):
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "scale", "fc.weight", "fc.bias", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias"]
    assert [name for name, _ in net.named_modules()] == ["", "fc", "body", "body.0", "body.1", "body.2"]
    assert list(net.children()) == [net.fc, net.body]


def test_a_parameter_shared_by_two_children_is_listed_once(backend_name):
    first, second = Dense(3, 3), Dense(3, 3)
    second.weight = first.weight
    model = Sequential(first, second)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_buffers_are_listed_apart_from_parameters(backend_name):
    model = make_model()
    assert [name for name, _ in model.named_buffers()] == ["1.running_mean", "1.running_var"]
    assert not any(b is p for b in model.buffers() for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())
    assert not any(b.requires_grad for b in model.buffers())


def test_reassigning_an_attribute_moves_it_between_registries(backend_name):
    net = Net()
    net.scale = 3.0  # no longer a parameter
    assert "scale" not in [name for name, _ in net.named_parameters()] and net.scale == 3.0
    net.fc = Tanh()
    assert "fc.weight" not in [name for name, _ in net.named_parameters()]


def test_assigning_before_module_init_raises_attribute_error():
    class Broken(Module):
        def __init__(self):
            self.fc = Dense(2, 2)

    with pytest.raises(AttributeError, match="Module.__init__"):
        Broken()


# ------------------------------------------------------------------------------- modes, grads


def test_train_and_eval_reach_every_descendant(backend_name):
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.body.eval()
    assert net.training and net.fc.training and not any(m.training for m in net.body.modules())


def test_eval_mode_changes_behaviour_of_batchnorm_and_dropout_children(backend_name):
    minigan.random.seed(1)
    net = Net()
    x = minigan.random.randn(6, 3)
    net.eval()
    first, second = net(x).numpy(), net(x).numpy()
    np.testing.assert_array_equal(first, second)  # no dropout, running statistics: deterministic
    net.train()
    assert not np.array_equal(net(x).numpy(), first)


def test_zero_grad_clears_every_parameter_gradient(backend_name):
    minigan.random.seed(2)
    net = Net()
    net(minigan.random.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# -------------------------------------------------------------------------------------- hooks


def test_forward_hook_sees_module_inputs_and_output(backend_name):
    minigan.random.seed(3)
    model = make_model()
    seen = []
    handles = [m.register_forward_hook(lambda module, inputs, output: seen.append((module, inputs, output)))
               for m in model]
    x = minigan.random.randn(5, 3)
    out = model(x)
    assert [module for module, _, _ in seen] == list(model)
    assert seen[0][1] == (x,)
    for (_, _, output), (_, inputs, _) in zip(seen, seen[1:]):
        assert inputs[0] is output  # each layer's output is the next one's input
    assert seen[-1][2] is out
    assert [o.shape for _, _, o in seen] == [(5, 4), (5, 4), (5, 4), (5, 2)]
    for handle in handles:
        handle.remove()


def test_forward_hook_returning_a_value_replaces_the_output(backend_name):
    minigan.random.seed(4)
    layer = Dense(3, 2)
    x = minigan.random.randn(4, 3)
    plain = layer(x).numpy()
    layer.register_forward_hook(lambda module, inputs, output: output * 2.0)
    np.testing.assert_allclose(layer(x).numpy(), 2 * plain, rtol=1e-6)


def test_forward_hook_returning_none_keeps_the_output(backend_name):
    layer = Dense(3, 2)
    x = minigan.random.randn(4, 3)
    layer.register_forward_hook(lambda module, inputs, output: None)
    np.testing.assert_array_equal(layer(x).numpy(), F.linear(x, layer.weight, layer.bias).numpy())


def test_removed_forward_hook_is_no_longer_called(backend_name):
    layer = Dense(3, 2)
    calls = []
    handle = layer.register_forward_hook(lambda *args: calls.append(1))
    layer(minigan.random.randn(2, 3))
    handle.remove()
    layer(minigan.random.randn(2, 3))
    assert calls == [1]
    handle.remove()  # removing twice is harmless


def test_tensor_hooks_on_outputs_capture_gradients_layer_by_layer(backend_name):
    minigan.random.seed(5)
    model = Sequential(Dense(3, 4, dtype="float64"), Tanh(), Dense(4, 2, dtype="float64"))
    activations, gradients = {}, {}

    def capture(name):
        def hook(module, inputs, output):
            activations[name] = output.numpy()
            output.register_hook(lambda g: gradients.__setitem__(name, np.array(to_numpy(g))))
        return hook

    for i, layer in enumerate(model):
        layer.register_forward_hook(capture(i))
    x = minigan.random.randn(5, 3, dtype="float64")
    upstream = minigan.random.randn(5, 2, dtype="float64").numpy()
    model(x).backward(upstream)

    w2 = model[2].weight.numpy()
    np.testing.assert_allclose(gradients[2], upstream)
    np.testing.assert_allclose(gradients[1], upstream @ w2.T, rtol=1e-13)
    np.testing.assert_allclose(gradients[0], (upstream @ w2.T) * (1 - activations[1] ** 2), rtol=1e-13)
    np.testing.assert_allclose(to_numpy(model[2].weight.grad), activations[1].T @ upstream, rtol=1e-13)


# ------------------------------------------------------------------------------- state dicts


def test_state_dict_holds_parameters_then_buffers_including_running_statistics(backend_name):
    model = trained_model()
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "1.running_mean", "1.running_var"]
    np.testing.assert_array_equal(to_numpy(state["1.running_mean"]), model[1].running_mean.numpy())
    assert to_numpy(state["1.running_var"]).any()


def test_state_dict_values_are_copies(backend_name):
    model = trained_model()
    state = model.state_dict()
    before = snapshot(model)
    for value in state.values():
        value[...] = 0
    assert_unchanged(model, before)


def test_load_state_dict_makes_a_fresh_model_compute_the_same(backend_name):
    model = trained_model().eval()
    minigan.random.seed(42)
    fresh = make_model().eval()
    assert fresh.load_state_dict(model.state_dict()) is fresh
    x = minigan.random.randn(4, 3)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
    assert_unchanged(fresh, snapshot(model))


def test_load_state_dict_accepts_numpy_arrays_and_tensors(backend_name):
    model = trained_model()
    fresh = make_model()
    state = {k: (minigan.tensor(to_numpy(v)) if k.endswith("bias") else np.array(to_numpy(v)))
             for k, v in model.state_dict().items()}
    fresh.load_state_dict(state)
    assert_unchanged(fresh, snapshot(model))


def test_load_state_dict_writes_in_place(backend_name):
    model = make_model()
    weight_array = model[0].weight.data
    model.load_state_dict(trained_model().state_dict())
    assert model[0].weight.data is weight_array  # optimizer buffers and views stay valid


def test_load_state_dict_with_missing_key_raises_key_error_naming_it_and_changes_nothing(backend_name):
    model = make_model()
    before = snapshot(model)
    state = trained_model().state_dict()
    del state["1.running_var"]
    with pytest.raises(KeyError, match=r"missing.*1\.running_var"):
        model.load_state_dict(state)
    assert_unchanged(model, before)


def test_load_state_dict_with_extra_key_raises_key_error_naming_it_and_changes_nothing(backend_name):
    model = make_model()
    before = snapshot(model)
    state = trained_model().state_dict()
    state["3.bias"] = np.zeros(2, dtype=np.float32)
    with pytest.raises(KeyError, match=r"unexpected.*3\.bias"):
        model.load_state_dict(state)
    assert_unchanged(model, before)


def test_load_state_dict_with_wrong_shape_raises_shape_error_naming_key_and_shapes(backend_name):
    model = make_model()
    before = snapshot(model)
    state = trained_model().state_dict()
    state["3.weight"] = np.zeros((2, 4), dtype=np.float32)  # transposed: (4, 2) expected
    with pytest.raises(ShapeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "'3.weight'" in message and "(2, 4)" in message and "(4, 2)" in message
    assert_unchanged(model, before)


def test_load_state_dict_with_unconvertible_value_raises_and_changes_nothing(backend_name, request):
    model = make_model()
    before = snapshot(model)
    state = trained_model().state_dict()
    state["1.running_var"] = np.array(["a", "b", "c", "d"])
    with pytest.raises((ValueError, TypeError)):
        model.load_state_dict(state)
    assert_unchanged(model, before)


def test_assigning_a_tensor_to_a_buffer_name_keeps_it_a_buffer(backend_name):
    layer = BatchNorm1d(3)
    layer.running_mean = minigan.tensor([1.0, 2.0, 3.0])
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var"]
    np.testing.assert_array_equal(to_numpy(layer.state_dict()["running_mean"]), [1.0, 2.0, 3.0])


# ------------------------------------------------------------------------------ save and load


def test_save_and_load_round_trip_parameters_and_buffers(backend_name, tmp_path):
    model = trained_model()
    model.save(tmp_path / "model.npz")
    fresh = make_model()
    fresh.load(tmp_path / "model.npz")
    assert_unchanged(fresh, snapshot(model))


def test_save_accepts_a_string_path_and_creates_missing_directories(backend_name, tmp_path):
    model = trained_model()
    path = str(tmp_path / "checkpoints" / "run1" / "model.npz")
    model.save(path)
    assert os.path.isfile(path)


def test_save_leaves_no_temporary_file_behind(backend_name, tmp_path):
    model = trained_model()
    model.save(tmp_path / "model.npz")
    model.save(tmp_path / "model.npz")  # overwriting too
    assert os.listdir(tmp_path) == ["model.npz"]


def test_failing_save_leaves_the_previous_file_intact(backend_name, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    make_model().save(path)
    previous = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        trained_model().save(path)
    assert path.read_bytes() == previous
    assert os.listdir(tmp_path) == ["model.npz"]


def test_failing_first_save_leaves_no_file(backend_name, tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        make_model().save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_load_of_a_missing_file_raises_file_not_found_naming_it(backend_name, tmp_path):
    path = tmp_path / "absent.npz"
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        make_model().load(path)


def npy_bytes():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


@pytest.mark.parametrize("content", [
    b"", b"not an npz file at all", "truncated",
    "npy",
], ids=["empty", "garbage", "truncated", "npy"])
def test_load_of_a_corrupt_file_raises_naming_it_and_changes_nothing(backend_name, tmp_path, content):
    path = tmp_path / "broken.npz"
    if content == "truncated":
        trained_model().save(path)
        content = path.read_bytes()[: len(path.read_bytes()) // 2]
    elif content == "npy":
        content = npy_bytes()
    path.write_bytes(content)
    model = make_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match="broken.npz"):
        model.load(path)
    assert_unchanged(model, before)


def test_load_of_a_file_with_other_keys_raises_key_error(backend_name, tmp_path):
    Dense(3, 4).save(tmp_path / "dense.npz")
    model = make_model()
    before = snapshot(model)
    with pytest.raises(KeyError, match="missing"):
        model.load(tmp_path / "dense.npz")
    assert_unchanged(model, before)


def test_failed_load_of_a_corrupt_file_closes_it(backend_name, tmp_path):
    path = tmp_path / "broken.npz"
    trained_model().save(path)
    path.write_bytes(path.read_bytes()[:100])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            make_model().load(path)
        except ValueError:
            pass
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_saved_file_gets_the_usual_permissions_not_the_temporary_files(tmp_path):
    path = tmp_path / "model.npz"
    Dense(2, 2).save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)
