"""Spectral normalisation as a specification.

- ``spectral_norm(Dense)`` is PyTorch's ``spectral_norm(Linear)`` on the transposed weight: the same
  names (``weight_orig``, ``weight_u``, ``weight_v``), u shaped (out,) and v (in,); with our u and v
  copied into torch's buffers, the outputs, the gradients (input, ``weight_orig``, bias), the updated
  u and v over several training-mode forwards, the eval-mode forward and the second derivatives of a
  gradient penalty are torch's in float64 (skipped without torch).
- The weight is W / σ with σ = uᵀ Wᵀ v, and σ tends to the largest singular value; u and v start as
  normalised normal draws from minigan.random, change only in training mode, and are held constant
  by the gradient (at convergence that is the gradient of the largest singular value).
- A spectral-normed Dense passes gradcheck and gradgradcheck; it works in Sequential (never fused:
  its pre-hook must run), after double(), and through a state dict round trip; remove_spectral_norm
  leaves the eval-mode weight as a Parameter.
- ``Module.register_forward_pre_hook`` has PyTorch's semantics.
- Bad arguments raise before the module changes.
"""

import numpy as np
import pytest

import minigan
from minigan import gradcheck, gradgradcheck
from minigan.nn import Dense, LeakyReLU, Parameter, Sequential, remove_spectral_norm, spectral_norm
from minigan.nn.spectral_norm import SpectralNorm
from minigan.optim import SGD
from tests.conftest import to_numpy
from tests.test_cuda_toggles import Doubler  # doubles; two in a row fuse, counted in .fusions

IN, OUT = 4, 3


def normed_dense(seed=0, n_power_iterations=1, bias=True, dtype="float64"):
    minigan.random.seed(seed)
    return spectral_norm(Dense(IN, OUT, bias=bias, dtype=dtype), n_power_iterations=n_power_iterations)


def inputs(seed, n=5):
    return minigan.tensor(np.random.default_rng(seed).standard_normal((n, IN)), requires_grad=True, dtype="float64")


def sigma_of(layer):
    """uᵀ M v with M = Wᵀ (torch's (out, in) matrix), from the stored buffers."""
    return to_numpy(layer.weight_u.data) @ to_numpy(layer.weight_orig.data).T @ to_numpy(layer.weight_v.data)


def torch_twin(torch, layer):
    """``torch.nn.utils.spectral_norm(Linear)`` holding the layer's Wᵀ, bias, u and v (float64)."""
    hook = next(h for h in layer._forward_pre_hooks if isinstance(h, SpectralNorm))
    linear = torch.nn.Linear(IN, OUT, bias=layer.bias is not None).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(to_numpy(layer.weight_orig.data).T))
        if layer.bias is not None:
            linear.bias.copy_(torch.tensor(to_numpy(layer.bias.data)))
    linear = torch.nn.utils.spectral_norm(linear, n_power_iterations=hook.n_power_iterations)
    with torch.no_grad():
        linear.weight_u.copy_(torch.tensor(to_numpy(layer.weight_u.data)))
        linear.weight_v.copy_(torch.tensor(to_numpy(layer.weight_v.data)))
    return linear


def assert_close(ours, theirs, what):
    np.testing.assert_allclose(to_numpy(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-13, err_msg=what)


def assert_matches_torch(torch, layer, linear, x_seed):
    """One forward and backward of each (the loss Σ c ⊙ y), compared: output, gradients, buffers."""
    x = inputs(x_seed)
    tx = torch.tensor(to_numpy(x.data), requires_grad=True)
    y, ty = layer(x), linear(tx)
    cotangent = np.random.default_rng(100 + x_seed).standard_normal(y.shape)
    (y * minigan.tensor(cotangent, dtype="float64")).sum().backward()
    (ty * torch.tensor(cotangent)).sum().backward()
    assert_close(y.data, ty, "output")
    assert_close(x.grad, tx.grad, "input gradient")
    assert_close(to_numpy(layer.weight_orig.grad).T, linear.weight_orig.grad, "weight_orig gradient")
    if layer.bias is not None:
        assert_close(layer.bias.grad, linear.bias.grad, "bias gradient")
    assert_close(layer.weight_u.data, linear.weight_u, "weight_u")
    assert_close(layer.weight_v.data, linear.weight_v, "weight_v")
    layer.zero_grad()
    linear.zero_grad()


# ------------------------------------------------------------------------------- structure


def test_weight_moves_to_weight_orig_and_u_v_are_buffers_named_as_pytorch(backend_name):
    minigan.random.seed(0)
    layer = Dense(IN, OUT, dtype="float64")
    weight = layer.weight
    assert spectral_norm(layer) is layer
    assert [name for name, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    assert [name for name, _ in layer.named_buffers()] == ["weight_u", "weight_v"]
    assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert layer.weight_orig is weight
    assert layer.weight_u.shape == (OUT,) and layer.weight_v.shape == (IN,)  # torch's, for Linear(IN, OUT)
    assert not isinstance(layer.weight, Parameter)


@pytest.mark.torch
def test_state_dict_keys_and_shapes_are_torchs_for_the_equivalent_linear():
    torch = pytest.importorskip("torch")
    layer = normed_dense()
    theirs = torch_twin(torch, layer).state_dict()
    assert set(layer.state_dict()) == set(theirs)
    for name, value in layer.state_dict().items():
        expected = tuple(theirs[name].shape)
        assert (value.T if name == "weight_orig" else value).shape == expected, name


def test_u_and_v_start_as_normalised_normal_draws_from_minigan_random(backend_name):
    minigan.random.seed(3)
    layer = Dense(IN, OUT, dtype="float64")
    state = minigan.random.get_state()
    spectral_norm(layer)
    minigan.random.set_state(state)
    u, v = minigan.random.randn(OUT, dtype="float64").numpy(), minigan.random.randn(IN, dtype="float64").numpy()
    np.testing.assert_allclose(to_numpy(layer.weight_u.data), u / np.linalg.norm(u), rtol=1e-15)
    np.testing.assert_allclose(to_numpy(layer.weight_v.data), v / np.linalg.norm(v), rtol=1e-15)


def test_weight_shares_weight_origs_array_until_the_first_forward(backend_name):
    layer = normed_dense()
    assert layer.weight.data is layer.weight_orig.data  # as torch: initialising it in place initialises W


def test_forward_sets_weight_to_weight_orig_over_sigma(backend_name):
    layer = normed_dense()
    y = layer(inputs(0))
    weight = to_numpy(layer.weight_orig.data) / sigma_of(layer)
    np.testing.assert_allclose(to_numpy(layer.weight.data), weight, rtol=1e-14)
    np.testing.assert_allclose(to_numpy(y.data), to_numpy(inputs(0).data) @ weight + to_numpy(layer.bias.data),
                               rtol=1e-13)


def test_sigma_tends_to_the_largest_singular_value(backend_name):
    layer = normed_dense(n_power_iterations=50)
    layer(inputs(0))
    largest = np.linalg.svd(to_numpy(layer.weight_orig.data), compute_uv=False)[0]
    np.testing.assert_allclose(sigma_of(layer), largest, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(to_numpy(layer.weight.data), compute_uv=False)[0], 1.0, rtol=1e-12)


def test_u_and_v_change_in_training_mode_only(backend_name):
    layer = normed_dense()
    before = [to_numpy(b.data).copy() for b in layer.buffers()]
    layer.eval()
    layer(inputs(0))
    layer(inputs(1))
    for b, old in zip(layer.buffers(), before):
        np.testing.assert_array_equal(to_numpy(b.data), old)
    layer.train()
    layer(inputs(0))
    assert not np.allclose(to_numpy(layer.weight_u.data), before[0])


def test_dim_zero_uses_the_in_out_matrix_with_u_of_shape_in(backend_name):
    minigan.random.seed(0)
    layer = spectral_norm(Dense(IN, OUT, dtype="float64"), dim=0)
    assert layer.weight_u.shape == (IN,) and layer.weight_v.shape == (OUT,)
    layer = spectral_norm(Dense(IN, OUT, dtype="float64"), dim=0, n_power_iterations=50)
    layer(inputs(0))
    largest = np.linalg.svd(to_numpy(layer.weight_orig.data), compute_uv=False)[0]
    sigma = to_numpy(layer.weight_u.data) @ to_numpy(layer.weight_orig.data) @ to_numpy(layer.weight_v.data)
    np.testing.assert_allclose(sigma, largest, rtol=1e-12)  # σ is the same for W and Wᵀ


# ------------------------------------------------------------------------------- PyTorch


@pytest.mark.torch
@pytest.mark.parametrize("n_power_iterations", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_training_forwards_match_torch_spectral_norm_linear(backend_name, n_power_iterations, bias):
    torch = pytest.importorskip("torch")
    layer = normed_dense(n_power_iterations=n_power_iterations, bias=bias)
    linear = torch_twin(torch, layer)
    for step in range(3):  # u and v are updated identically at every forward
        assert_matches_torch(torch, layer, linear, x_seed=step)


@pytest.mark.torch
def test_eval_forward_matches_torch_spectral_norm_linear(backend_name):
    torch = pytest.importorskip("torch")
    layer = normed_dense()
    linear = torch_twin(torch, layer)
    assert_matches_torch(torch, layer, linear, x_seed=0)  # one training forward first: u, v updated
    layer.eval()
    linear.eval()
    for step in range(1, 3):
        assert_matches_torch(torch, layer, linear, x_seed=step)


@pytest.mark.torch
def test_two_forwards_then_one_backward_match_torch(backend_name):
    # D(real) and D(fake) in one loss: the second forward updates u, v before the first's backward.
    torch = pytest.importorskip("torch")
    layer = normed_dense()
    linear = torch_twin(torch, layer)
    real, fake = inputs(0), inputs(1)
    treal, tfake = (torch.tensor(to_numpy(t.data), requires_grad=True) for t in (real, fake))
    (layer(real).sum() - (layer(fake) ** 2).sum()).backward()
    (linear(treal).sum() - (linear(tfake) ** 2).sum()).backward()
    assert_close(real.grad, treal.grad, "real input gradient")
    assert_close(fake.grad, tfake.grad, "fake input gradient")
    assert_close(to_numpy(layer.weight_orig.grad).T, linear.weight_orig.grad, "weight_orig gradient")


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradient_penalty_second_derivatives_match_torch(backend_name, mode):
    torch = pytest.importorskip("torch")
    layer = normed_dense()
    linear = torch_twin(torch, layer)
    layer.train(mode == "train")
    linear.train(mode == "train")
    x = inputs(0)
    tx = torch.tensor(to_numpy(x.data), requires_grad=True)
    (gx,) = minigan.grad(minigan.tanh(layer(x)).sum(), [x], create_graph=True)
    (tgx,) = torch.autograd.grad(torch.tanh(linear(tx)).sum(), [tx], create_graph=True)
    ours = [g.data for g in minigan.grad((gx * gx).sum(), [x, layer.weight_orig, layer.bias])]
    theirs = torch.autograd.grad((tgx * tgx).sum(), [tx, linear.weight_orig, linear.bias])
    assert_close(gx.data, tgx, "first derivative")
    assert_close(ours[0], theirs[0], "penalty gradient, input")
    assert_close(to_numpy(ours[1]).T, theirs[1], "penalty gradient, weight_orig")
    assert_close(ours[2], theirs[2], "penalty gradient, bias")


# ----------------------------------------------------------------------------- gradients


def test_eval_mode_passes_gradcheck(backend_name):
    layer = normed_dense().eval()
    assert gradcheck(layer, [inputs(0)])  # the input, weight_orig and bias


def test_eval_mode_passes_gradgradcheck(backend_name):
    layer = normed_dense().eval()
    assert gradgradcheck(layer, [inputs(0)])


def test_training_mode_passes_gradcheck_and_gradgradcheck_for_the_input(backend_name):
    # With W fixed, u and v are fixed too (the check restores the buffers before each evaluation).
    layer = normed_dense()
    layer.weight_orig.requires_grad = False
    assert gradcheck(layer, [inputs(0)])
    assert gradgradcheck(layer, [inputs(0)])


def test_at_convergence_the_detached_gradient_is_the_largest_singular_values(backend_name):
    # The envelope theorem: with u, v the top singular vectors, ∂σ₁/∂W = u vᵀ, so holding them
    # constant gives the true gradient of W / σ₁(W), which finite differences (u, v recomputed
    # from each perturbed W by many iterations) measure.
    layer = normed_dense(n_power_iterations=100)
    assert gradcheck(layer, [inputs(0)])


def test_u_and_v_get_no_gradient(backend_name):
    layer = normed_dense()
    layer(inputs(0)).sum().backward()
    assert layer.weight_u.grad is None and layer.weight_v.grad is None
    assert not layer.weight_u.requires_grad and not layer.weight_v.requires_grad


# --------------------------------------------------------------------------- in a model


def test_state_dict_round_trip_gives_identical_outputs(backend_name, tmp_path):
    model = Sequential(normed_dense(0), LeakyReLU(0.2), spectral_norm(Dense(OUT, 2, dtype="float64")))
    for step in range(3):
        model(inputs(step))
    model.save(tmp_path / "model.npz")
    minigan.random.seed(42)
    loaded = Sequential(normed_dense(7), LeakyReLU(0.2), spectral_norm(Dense(OUT, 2, dtype="float64")))
    loaded.load(tmp_path / "model.npz")
    for mode in (False, True):  # eval, then training forwards (which update u and v alike)
        model.train(mode)
        loaded.train(mode)
        for step in range(3, 5):
            np.testing.assert_array_equal(to_numpy(loaded(inputs(step)).data), to_numpy(model(inputs(step)).data))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(to_numpy(loaded.state_dict()[name]), to_numpy(value), err_msg=name)


def test_sequential_trains_a_spectral_normed_layer(backend_name):
    minigan.random.seed(0)
    model = Sequential(spectral_norm(Dense(IN, 8, dtype="float64")), LeakyReLU(0.2), Dense(8, 1, dtype="float64"))
    optimizer = SGD(model.parameters(), lr=0.1)
    x, target = inputs(0), minigan.tensor(np.ones((5, 1)), dtype="float64")
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert np.linalg.svd(to_numpy(model[0].weight.data), compute_uv=False)[0] == pytest.approx(1.0, rel=0.05)


def test_an_optimizer_built_before_keeps_stepping_weight_orig(backend_name):
    minigan.random.seed(0)
    layer = Dense(IN, OUT, dtype="float64")
    optimizer = SGD(layer.parameters(), lr=0.1)
    spectral_norm(layer)
    before = to_numpy(layer.weight_orig.data).copy()
    layer(inputs(0)).sum().backward()
    optimizer.step()
    assert not np.array_equal(to_numpy(layer.weight_orig.data), before)


def test_double_converts_weight_orig_and_buffers_and_the_weight_follows(backend_name):
    layer = normed_dense(dtype="float32")
    layer(inputs(0).astype("float32"))
    layer.double()
    assert {t.dtype for t in layer.parameters() + layer.buffers()} == {np.dtype("float64")}
    y = layer(inputs(0))
    assert y.dtype == np.float64 and layer.weight.dtype == np.float64
    weight = to_numpy(layer.weight_orig.data) / sigma_of(layer)
    np.testing.assert_allclose(to_numpy(y.data), to_numpy(inputs(0).data) @ weight + to_numpy(layer.bias.data),
                               rtol=1e-13)


def test_remove_spectral_norm_leaves_the_eval_weight_as_a_parameter(backend_name):
    layer = normed_dense()
    for step in range(2):
        layer(inputs(step))
    layer.eval()
    expected = to_numpy(layer(inputs(2)).data)
    weight_orig = layer.weight_orig
    assert remove_spectral_norm(layer) is layer
    assert [name for name, _ in layer.named_parameters()] == ["bias", "weight"]
    assert layer.buffers() == [] and layer._forward_pre_hooks == []
    assert isinstance(layer.weight, Parameter) and layer.weight is weight_orig and layer.weight.requires_grad
    np.testing.assert_allclose(to_numpy(layer(inputs(2)).data), expected, rtol=1e-14)
    layer.train()
    np.testing.assert_allclose(to_numpy(layer(inputs(2)).data), expected, rtol=1e-14)  # no power iteration now


def test_spectral_norm_can_be_applied_again_after_removal(backend_name):
    layer = remove_spectral_norm(normed_dense())
    spectral_norm(layer)
    assert [name for name, _ in layer.named_buffers()] == ["weight_u", "weight_v"]


# ------------------------------------------------------------------------- forward pre-hooks


def test_forward_pre_hook_runs_before_forward_and_can_replace_the_inputs():
    layer, seen = Doubler(), []
    handle = layer.register_forward_pre_hook(lambda module, args: seen.append((module, args)))
    x = minigan.tensor([1.0])
    assert layer(x).item() == 2.0 and seen == [(layer, (x,))]
    handle.remove()
    layer.register_forward_pre_hook(lambda module, args: args[0] + 1)  # not a tuple: becomes (value,)
    layer.register_forward_pre_hook(lambda module, args: (args[0] * 10,))
    assert layer(x).item() == 40.0 and len(seen) == 1


def test_sequential_never_fuses_a_module_with_a_pre_hook():
    first, second = Doubler(), Doubler()
    first.register_forward_pre_hook(lambda module, args: (args[0] + 1,))
    assert Sequential(first, second)(minigan.tensor([1.0])).item() == 8.0  # (1 + 1)·2·2, the hook ran
    assert first.fusions == 0
    plain = Doubler()
    assert Sequential(plain, Doubler())(minigan.tensor([1.0])).item() == 4.0 and plain.fusions == 1


# ---------------------------------------------------------------------------------- errors


def test_a_module_without_the_parameter_raises_naming_it(backend_name):
    with pytest.raises(ValueError, match=r"spectral_norm: LeakyReLU has no parameter 'weight'"):
        spectral_norm(LeakyReLU())
    layer = Dense(IN, OUT, bias=False)
    with pytest.raises(ValueError, match=r"Dense has no parameter 'bias' \(its parameters: \['weight'\]\)"):
        spectral_norm(layer, name="bias")


@pytest.mark.parametrize("settings, match", [
    (dict(n_power_iterations=0), "n_power_iterations must be an int >= 1, got 0"),
    (dict(n_power_iterations=1.5), "n_power_iterations must be an int >= 1, got 1.5"),
    (dict(eps=0.0), "eps must be positive, got 0.0"),
    (dict(eps=-1e-12), "eps must be positive"),
    (dict(dim=2), r"dim 2 is not an axis of 'weight', of shape \(4, 3\)"),
], ids=["zero_iterations", "fractional_iterations", "zero_eps", "negative_eps", "dim_out_of_range"])
def test_invalid_arguments_raise_and_leave_the_module_unchanged(backend_name, settings, match):
    minigan.random.seed(0)
    layer = Dense(IN, OUT, dtype="float64")
    weight, state = layer.weight, minigan.random.get_state()
    with pytest.raises(ValueError, match=f"spectral_norm: {match}"):
        spectral_norm(layer, **settings)
    assert layer.weight is weight and [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.buffers() == [] and layer._forward_pre_hooks == []
    assert minigan.random.get_state() == state


def test_applying_it_twice_raises(backend_name):
    layer = normed_dense()
    with pytest.raises(RuntimeError, match="'weight' is already spectral-normed"):
        spectral_norm(layer)


def test_removing_it_where_it_is_not_raises(backend_name):
    with pytest.raises(ValueError, match="remove_spectral_norm: Dense has no spectral_norm of 'weight'"):
        remove_spectral_norm(Dense(IN, OUT))
