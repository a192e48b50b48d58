"""BatchNorm1d and the fused ``batch_norm`` op as specifications.

- gradients: float64 gradcheck in training and eval mode, (N, C) and (N, C, L), affine or not, with and
  without running statistics; and the fused closed-form backward equals, to float64 precision, the
  gradient of the same normalisation composed from primitive minigan ops;
- running statistics: mean and UNBIASED variance, exponentially averaged with ``momentum``, equal an
  independent NumPy computation; eval mode normalises with them;
- batch-size edge cases and shape errors;
- PyTorch's ``nn.BatchNorm1d`` gives the same numbers (when torch is installed).
"""

import numpy as np
import pytest

import minigan
from minigan import ShapeError
from minigan.nn import BatchNorm1d
from minigan.nn import functional as F
from tests.conftest import to_numpy

MODES = ["train", "eval"]
SHAPES = [(6, 3), (4, 3, 5)]
SHAPE_IDS = ["NC", "NCL"]


def randn(*shape, requires_grad=True, scale=1.0, shift=0.0):
    t = minigan.random.normal(shift, scale, shape, dtype="float64")
    return t.requires_grad_(requires_grad)


def per_feature(values, ndim):
    """A (C,) NumPy array shaped to broadcast against (N, C) or (N, C, L)."""
    return values if ndim == 2 else values[:, None]


def stat_axes(ndim):
    return (0,) if ndim == 2 else (0, 2)


def make_bn(channels, affine=True, track_running_stats=True, momentum=0.1):
    layer = BatchNorm1d(channels, momentum=momentum, affine=affine, track_running_stats=track_running_stats,
                        dtype="float64")
    if affine:
        layer.weight.data[...] = minigan.random.uniform(0.5, 1.5, (channels,), dtype="float64").data
        layer.bias.data[...] = minigan.random.uniform(-1.0, 1.0, (channels,), dtype="float64").data
    return layer


# ---------------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("track", [True, False], ids=["running_stats", "no_running_stats"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_batchnorm_gradcheck_input_and_parameters(backend_name, shape, affine, track, mode):
    minigan.random.seed(0)
    layer = make_bn(shape[1], affine=affine, track_running_stats=track)
    for _ in range(3):  # running statistics other than (0, 1), so that eval mode is not trivial
        layer(randn(*shape, requires_grad=False, scale=2.0, shift=0.5))
    layer.train(mode == "train")
    x = randn(*shape, scale=2.0, shift=0.5)
    params = layer.parameters()
    assert len(params) == (2 if affine else 0)
    assert minigan.gradcheck(lambda x, *p: layer(x), (x, *params))


# ---------------------------------------------------------- fused backward = composed backward


def composed_batch_norm(x, weight, bias, eps, running_mean=None, running_var=None):
    """BatchNorm built from primitive ops (mean, var, sqrt, div, ...): autograd differentiates it."""
    axes = stat_axes(x.ndim)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1)
    if running_mean is None:
        mean = minigan.mean(x, axis=axes, keepdims=True)
        var = minigan.var(x, axis=axes, keepdims=True)
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    x_hat = (x - mean) / minigan.sqrt(var + eps)
    return x_hat * weight.reshape(shape) + bias.reshape(shape)


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@pytest.mark.parametrize("shape", [(2, 3), (3, 1), (7, 4), (512, 16), (2, 3, 4), (8, 5, 7), (64, 4, 32)])
def test_fused_backward_equals_gradient_of_composed_batch_norm(backend_name, shape, training):
    minigan.random.seed(sum(shape))
    channels = shape[1]
    x = randn(*shape, scale=3.0, shift=1.0)
    weight = minigan.random.uniform(0.5, 2.0, (channels,), dtype="float64", requires_grad=True)
    bias = randn(channels)
    running_mean = randn(channels, requires_grad=False)
    running_var = minigan.random.uniform(0.5, 2.0, (channels,), dtype="float64")
    upstream = minigan.random.randn(*shape, dtype="float64").data

    fused = F.batch_norm(x, weight, bias, running_mean, running_var, training=training, eps=1e-5)
    fused.backward(upstream)
    fused_grads = [to_numpy(t.grad) for t in (x, weight, bias)]
    for t in (x, weight, bias):
        t.grad = None

    composed = composed_batch_norm(x, weight, bias, 1e-5,
                                   *(() if training else (running_mean, running_var)))
    composed.backward(upstream)
    composed_grads = [to_numpy(t.grad) for t in (x, weight, bias)]

    np.testing.assert_allclose(to_numpy(fused.data), to_numpy(composed.data), rtol=1e-10, atol=1e-12)
    for name, got, expected in zip(("dx", "dgamma", "dbeta"), fused_grads, composed_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)


def test_fused_batch_norm_is_one_node_on_the_tape(backend_name):
    x, w, b = randn(4, 3), randn(3), randn(3)
    out = F.batch_norm(x, w, b, None, None, training=True)
    assert out.op == "batch_norm" and out.parents == (x, w, b)


def test_batch_norm_training_output_has_zero_mean_unit_variance_per_feature(backend_name):
    minigan.random.seed(1)
    layer = BatchNorm1d(5, affine=False, dtype="float64")
    out = to_numpy(layer(randn(64, 5, scale=4.0, shift=3.0)).data)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1.0, rtol=1e-5)  # eps = 1e-5 shrinks it by ~eps/var


# ------------------------------------------------------------------------- running statistics


@pytest.mark.parametrize("momentum", [0.1, 0.3])
@pytest.mark.parametrize("shape", [(8, 4), (6, 4, 5), (2, 4)], ids=["NC", "NCL", "N2"])
def test_running_statistics_follow_numpy_after_several_steps(backend_name, shape, momentum):
    minigan.random.seed(2)
    layer = make_bn(shape[1], momentum=momentum)
    expected_mean = np.zeros(shape[1])
    expected_var = np.ones(shape[1])
    axes = stat_axes(len(shape))
    for step in range(5):
        x = randn(*shape, requires_grad=False, scale=1.0 + step, shift=step - 2.0)
        layer(x)
        xs = to_numpy(x.data)
        expected_mean = (1 - momentum) * expected_mean + momentum * xs.mean(axis=axes)
        expected_var = (1 - momentum) * expected_var + momentum * xs.var(axis=axes, ddof=1)  # unbiased
    np.testing.assert_allclose(to_numpy(layer.running_mean.data), expected_mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_numpy(layer.running_var.data), expected_var, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_eval_output_normalises_with_running_statistics(backend_name, shape):
    minigan.random.seed(3)
    layer = make_bn(shape[1], momentum=0.3)
    for step in range(4):
        layer(randn(*shape, requires_grad=False, scale=2.0, shift=1.0))
    layer.eval()
    x = randn(*shape, requires_grad=False)
    mean, var = to_numpy(layer.running_mean.data), to_numpy(layer.running_var.data)
    gamma, beta = to_numpy(layer.weight.data), to_numpy(layer.bias.data)
    nd = len(shape)
    expected = ((to_numpy(x.data) - per_feature(mean, nd)) / np.sqrt(per_feature(var, nd) + layer.eps)
                * per_feature(gamma, nd) + per_feature(beta, nd))
    np.testing.assert_allclose(to_numpy(layer(x).data), expected, rtol=1e-13, atol=1e-14)


def test_eval_mode_does_not_update_running_statistics(backend_name):
    minigan.random.seed(4)
    layer = make_bn(3)
    layer(randn(5, 3, requires_grad=False))
    before = [b.numpy() for b in layer.buffers()]  # copies
    layer.eval()
    layer(randn(5, 3, requires_grad=False, shift=10.0))
    for b, old in zip(layer.buffers(), before):
        np.testing.assert_array_equal(to_numpy(b.data), old)


def test_running_statistics_are_buffers_not_parameters(backend_name):
    layer = BatchNorm1d(3)
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var"]
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(to_numpy(layer.running_mean.data), [0, 0, 0])
    np.testing.assert_array_equal(to_numpy(layer.running_var.data), [1, 1, 1])
    assert not layer.running_mean.requires_grad


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_without_running_statistics_eval_uses_batch_statistics(backend_name, shape):
    minigan.random.seed(5)
    layer = make_bn(shape[1], track_running_stats=False)
    assert layer.buffers() == [] and layer.running_mean is None
    x = randn(*shape, requires_grad=False, shift=2.0)
    training_out = to_numpy(layer(x).data)
    eval_out = to_numpy(layer.eval()(x).data)
    np.testing.assert_array_equal(eval_out, training_out)


# ------------------------------------------------------------------------ batch size and shapes


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1)])
def test_training_with_one_value_per_feature_raises_shape_error(backend_name, shape):
    layer = BatchNorm1d(3)
    with pytest.raises(ShapeError, match="at least 2") as info:
        layer(minigan.random.randn(*shape))
    assert "eval()" in str(info.value) and str(shape) in str(info.value)
    np.testing.assert_array_equal(to_numpy(layer.running_mean.data), [0, 0, 0])  # nothing updated


def test_eval_mode_with_batch_size_one_works(backend_name):
    minigan.random.seed(6)
    layer = make_bn(3)
    layer(randn(8, 3, requires_grad=False))
    layer.eval()
    x = randn(1, 3, requires_grad=False)
    mean, var = to_numpy(layer.running_mean.data), to_numpy(layer.running_var.data)
    expected = ((to_numpy(x.data) - mean) / np.sqrt(var + 1e-5) * to_numpy(layer.weight.data)
                + to_numpy(layer.bias.data))
    np.testing.assert_allclose(to_numpy(layer(x).data), expected, rtol=1e-13)


def test_training_with_batch_size_one_and_length_above_one_works(backend_name):
    minigan.random.seed(7)
    out = BatchNorm1d(3, dtype="float64")(randn(1, 3, 4))
    np.testing.assert_allclose(to_numpy(out.data).mean(axis=(0, 2)), 0.0, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 5), (4,), (4, 5, 2), (2, 4, 3, 1)])
def test_wrong_input_shape_raises_shape_error_naming_the_layer(backend_name, shape):
    with pytest.raises(ShapeError) as info:
        BatchNorm1d(3)(minigan.random.randn(*shape))
    assert "BatchNorm1d(3)" in str(info.value) and str(shape) in str(info.value)


def test_functional_batch_norm_wrong_parameter_shape_raises_shape_error(backend_name):
    with pytest.raises(ShapeError, match="weight"):
        F.batch_norm(randn(4, 3), randn(2), randn(3), None, None, training=True)


def test_functional_batch_norm_eval_without_running_statistics_raises(backend_name):
    with pytest.raises(ShapeError, match="running_mean"):
        F.batch_norm(randn(4, 3), None, None, None, None, training=False)


@pytest.mark.parametrize("kwargs", [{"num_features": 0}, {"num_features": 3, "momentum": 1.5},
                                    {"num_features": 3, "momentum": -0.1}])
def test_invalid_constructor_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        BatchNorm1d(**kwargs)


# ---------------------------------------------------------------------------------- PyTorch


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(8, 4), (5, 4, 6)], ids=SHAPE_IDS)
def test_matches_torch_batchnorm1d(backend_name, shape):
    torch = pytest.importorskip("torch")
    minigan.random.seed(8)
    channels = shape[1]
    ours = make_bn(channels, momentum=0.3)
    theirs = torch.nn.BatchNorm1d(channels, eps=1e-5, momentum=0.3).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(to_numpy(ours.weight.data)))
        theirs.bias.copy_(torch.from_numpy(to_numpy(ours.bias.data)))

    for step in range(4):  # training: forward, gradients, running statistics
        x = randn(*shape, scale=1.0 + step, shift=step - 1.0)
        upstream = minigan.random.randn(*shape, dtype="float64")
        ours.zero_grad()
        out = ours(x)
        out.backward(upstream.data)
        tx = torch.from_numpy(to_numpy(x.data)).requires_grad_(True)
        theirs.zero_grad()
        tout = theirs(tx)
        tout.backward(torch.from_numpy(to_numpy(upstream.data)))
        np.testing.assert_allclose(to_numpy(out.data), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(to_numpy(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(to_numpy(ours.weight.grad), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(to_numpy(ours.bias.grad), theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(to_numpy(ours.running_mean.data), theirs.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(to_numpy(ours.running_var.data), theirs.running_var.numpy(), rtol=1e-12)

    ours.eval()
    theirs.eval()
    x = randn(*shape, requires_grad=False)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(to_numpy(x.data))).numpy()
    np.testing.assert_allclose(to_numpy(ours(x).data), expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ weight without bias, bias without weight


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", ["weight", "bias"])
def test_batch_norm_with_only_one_affine_parameter_is_gamma_one_or_beta_zero(backend_name, mode, which):
    x = randn(5, 3)
    w, b = randn(3), randn(3)
    mean, var = randn(3, requires_grad=False), minigan.tensor([0.5, 1.0, 2.0], dtype="float64")
    running = (mean, var) if mode == "eval" else (None, None)
    given = dict(weight=w, bias=None) if which == "weight" else dict(weight=None, bias=b)
    out = F.batch_norm(x, given["weight"], given["bias"], *running, training=mode == "train")
    ones, zeros = minigan.tensor(np.ones(3), dtype="float64"), minigan.tensor(np.zeros(3), dtype="float64")
    full = F.batch_norm(x, w if which == "weight" else ones, b if which == "bias" else zeros, *running,
                        training=mode == "train")
    np.testing.assert_allclose(to_numpy(out.data), to_numpy(full.data), rtol=1e-14, atol=1e-14)
    present = given[which]
    assert minigan.gradcheck(lambda x, p: F.batch_norm(x, p if which == "weight" else None,
                                                       p if which == "bias" else None, *running,
                                                       training=mode == "train"), [x, present])
