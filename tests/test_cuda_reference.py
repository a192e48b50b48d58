"""The NumPy references of the fused CUDA kernels (``minigan.cuda.reference``) against minigan's own
layers, loss and optimizers, in float64 on random inputs: the references are what the GPU tests hold
the kernels to, so here they are held to the code that runs without kernels.

- BatchNorm1d in training mode (output, running statistics over several steps, and every gradient),
  without affine or running statistics, and in eval mode;
- bias + LeakyReLU against leaky_relu(linear(x, W, b)): output, and the gradients of x, W and b
  through the reference's pre-activation gradient, for the usual slope, 0, and a slope above 1;
- BCE with logits, mean and sum, array and number targets, logits up to ±1000;
- Adam (with weight decay, with AMSGrad, with parameters skipping steps) and SGD (plain, momentum,
  Nesterov, weight decay) over several steps.
"""

import numpy as np
import pytest

import minigan
from minigan import optim
from minigan.cuda import reference
from minigan.nn import BatchNorm1d
from minigan.nn import functional as F

TIGHT = dict(rtol=1e-12, atol=1e-12)
BN_SHAPES = [(2, 3), (7, 5), (64, 33)]


def f64(values, requires_grad=False):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def batchnorm_layer(rng, channels, affine=True, track_running_stats=True, momentum=0.1):
    layer = BatchNorm1d(channels, momentum=momentum, affine=affine, track_running_stats=track_running_stats,
                        dtype="float64")
    if affine:
        layer.weight.data[...] = rng.uniform(0.5, 1.5, channels)
        layer.bias.data[...] = rng.uniform(-1.0, 1.0, channels)
    if track_running_stats:
        layer.running_mean.data[...] = rng.normal(size=channels)
        layer.running_var.data[...] = rng.uniform(0.5, 2.0, channels)
    return layer


# ------------------------------------------------------------------------------------- BatchNorm


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_reference_forward_and_running_stats_match_batchnorm1d_over_steps(rng, shape):
    layer = batchnorm_layer(rng, shape[1], momentum=0.3)
    running_mean, running_var = layer.running_mean.numpy(), layer.running_var.numpy()
    for _ in range(3):
        x = rng.normal(0.5, 2.0, size=shape)
        y = layer(f64(x))
        expected, _, _ = reference.batchnorm_forward(x, layer.weight.numpy(), layer.bias.numpy(), running_mean,
                                                     running_var, momentum=0.3, eps=layer.eps)
        np.testing.assert_allclose(y.numpy(), expected, **TIGHT)
        np.testing.assert_allclose(layer.running_mean.numpy(), running_mean, **TIGHT)
        np.testing.assert_allclose(layer.running_var.numpy(), running_var, **TIGHT)


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_reference_backward_matches_batchnorm1d_gradients(rng, shape):
    layer = batchnorm_layer(rng, shape[1])
    x = rng.normal(-0.3, 1.5, size=shape)
    g = rng.normal(size=shape)
    xt = f64(x, requires_grad=True)
    layer(xt).backward(g)
    _, mean, inv_std = reference.batchnorm_forward(x, layer.weight.numpy(), layer.bias.numpy(), None, None)
    grad_x, grad_gamma, grad_beta = reference.batchnorm_backward(g, x, layer.weight.numpy(), mean, inv_std)
    np.testing.assert_allclose(grad_x, xt.grad, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(grad_gamma, layer.weight.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_beta, layer.bias.grad, rtol=1e-12, atol=1e-12)


def test_batchnorm_reference_without_affine_or_running_stats_matches_batch_norm(rng):
    x = rng.normal(size=(9, 4))
    g = rng.normal(size=(9, 4))
    xt = f64(x, requires_grad=True)
    out = F.batch_norm(xt, None, None, None, None, training=True)
    out.backward(g)
    y, mean, inv_std = reference.batchnorm_forward(x, None, None, None, None)
    grad_x, _, _ = reference.batchnorm_backward(g, x, None, mean, inv_std)
    np.testing.assert_allclose(y, out.numpy(), **TIGHT)
    np.testing.assert_allclose(grad_x, xt.grad, rtol=1e-9, atol=1e-11)


def test_batchnorm_reference_eval_forward_matches_batchnorm1d_in_eval_mode(rng):
    layer = batchnorm_layer(rng, 6).eval()
    x = rng.normal(size=(5, 6))
    expected = reference.batchnorm_forward_eval(x, layer.weight.numpy(), layer.bias.numpy(),
                                                layer.running_mean.numpy(), layer.running_var.numpy(), layer.eps)
    np.testing.assert_allclose(layer(f64(x)).numpy(), expected, **TIGHT)


def test_batchnorm_reference_running_var_is_unbiased(rng):
    x = rng.normal(size=(4, 3))
    running_mean, running_var = np.zeros(3), np.ones(3)
    reference.batchnorm_forward(x, None, None, running_mean, running_var, momentum=1.0)
    np.testing.assert_allclose(running_mean, x.mean(axis=0), **TIGHT)
    np.testing.assert_allclose(running_var, x.var(axis=0, ddof=1), **TIGHT)


# ------------------------------------------------------------------------------ bias + LeakyReLU


@pytest.mark.parametrize("slope", [0.2, 0.0, 1.5])
def test_bias_leaky_relu_reference_matches_leaky_relu_of_linear(rng, slope):
    x, w, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    g = rng.normal(size=(6, 5))
    xt, wt, bt = f64(x, True), f64(w, True), f64(b, True)
    out = F.leaky_relu(F.linear(xt, wt, bt), slope)
    out.backward(g)
    y, positive = reference.bias_leaky_relu_forward(x @ w, b, slope)
    grad_h, grad_bias = reference.bias_leaky_relu_backward(g, positive, slope)
    np.testing.assert_allclose(y, out.numpy(), **TIGHT)
    np.testing.assert_allclose(grad_h @ w.T, xt.grad, **TIGHT)
    np.testing.assert_allclose(x.T @ grad_h, wt.grad, **TIGHT)
    np.testing.assert_allclose(grad_bias, bt.grad, **TIGHT)


def test_bias_leaky_relu_reference_takes_the_negative_slope_at_zero():
    h, b = np.zeros((2, 3)), np.zeros(3)
    y, positive = reference.bias_leaky_relu_forward(h, b, 0.2)
    grad_h, grad_bias = reference.bias_leaky_relu_backward(np.ones((2, 3)), positive, 0.2)
    assert not positive.any()
    np.testing.assert_array_equal(grad_h, np.full((2, 3), 0.2))
    np.testing.assert_array_equal(grad_bias, np.full(3, 0.4))


# ------------------------------------------------------------------------------ BCE with logits


def bce_target(rng, kind, shape):
    return 0.9 if kind == "number" else rng.uniform(0.0, 1.0, size=shape)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kind", ["array", "number"])
@pytest.mark.parametrize("shape", [(1,), (7, 1), (5, 3)])
def test_bce_with_logits_reference_matches_the_loss_and_its_gradient(rng, shape, kind, reduction):
    z = rng.normal(scale=4.0, size=shape)
    t = bce_target(rng, kind, shape)
    upstream = np.asarray(1.7)
    zt = f64(z, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(zt, t, reduction=reduction)
    loss.backward(upstream)
    np.testing.assert_allclose(reference.bce_with_logits_forward(z, t, reduction), loss.numpy(), **TIGHT)
    np.testing.assert_allclose(reference.bce_with_logits_backward(upstream, z, t, reduction), zt.grad, **TIGHT)


def test_bce_with_logits_reference_is_finite_and_right_at_huge_logits():
    z = np.array([-1000.0, -40.0, 40.0, 1000.0])
    t = np.array([1.0, 0.0, 1.0, 0.0])
    loss = reference.bce_with_logits_forward(z, t, "sum")
    grad = reference.bce_with_logits_backward(np.asarray(1.0), z, t, "sum")
    np.testing.assert_allclose(loss, 2000.0 + 2 * np.log1p(np.exp(-40.0)), rtol=1e-15)
    np.testing.assert_allclose(grad, [-1.0, 0.0, 0.0, 1.0], rtol=0, atol=1e-16)
    np.testing.assert_allclose(grad[1], np.exp(-40.0), rtol=1e-12)  # σ(−40) keeps its digits


def test_bce_with_logits_reference_rejects_reduction_none():
    with pytest.raises(ValueError, match="'mean' or 'sum'"):
        reference.bce_with_logits_forward(np.zeros(3), 1.0, "none")


# ------------------------------------------------------------------------------------ optimizers

PARAM_SHAPES = [(3, 4), (4,), (2, 2, 2)]


def parameters(rng):
    return [minigan.nn.Parameter(rng.normal(size=shape), dtype="float64") for shape in PARAM_SHAPES]


def step_with_gradients(opt, params, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else g.copy()
    opt.step()


def gradient_schedule(rng, steps, skip):
    """Random gradients per step; with ``skip``, parameter 1 has none on step 2 (its step count lags)."""
    return [[None if skip and step == 2 and i == 1 else rng.normal(size=shape) for i, shape in enumerate(PARAM_SHAPES)]
            for step in range(steps)]


@pytest.mark.parametrize("options", [dict(), dict(weight_decay=0.1), dict(amsgrad=True),
                                     dict(weight_decay=0.05, amsgrad=True)],
                         ids=["plain", "weight_decay", "amsgrad", "both"])
@pytest.mark.parametrize("skip", [False, True], ids=["every_step", "a_skipped_step"])
def test_adam_reference_matches_optim_adam_over_steps(rng, options, skip):
    params = parameters(rng)
    hyper = dict(lr=0.01, betas=(0.5, 0.999), eps=1e-8, **options)
    opt = optim.Adam(params, **hyper)
    mine = [p.numpy() for p in params]
    m = [np.zeros(s) for s in PARAM_SHAPES]
    v = [np.zeros(s) for s in PARAM_SHAPES]
    v_max = [np.zeros(s) for s in PARAM_SHAPES] if options.get("amsgrad") else None
    counts = [0] * len(params)
    for grads in gradient_schedule(rng, 5, skip):
        step_with_gradients(opt, params, grads)
        live = [i for i, g in enumerate(grads) if g is not None]
        for i in live:
            counts[i] += 1
        reference.adam_step([mine[i] for i in live], [grads[i] for i in live], [m[i] for i in live],
                            [v[i] for i in live], [counts[i] for i in live], lr=0.01, beta1=0.5, beta2=0.999,
                            eps=1e-8, weight_decay=options.get("weight_decay", 0.0),
                            max_exp_avg_sqs=None if v_max is None else [v_max[i] for i in live])
    for i, p in enumerate(params):
        np.testing.assert_allclose(mine[i], p.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(m[i], opt.state[i]["exp_avg"], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(v[i], opt.state[i]["exp_avg_sq"], rtol=1e-12, atol=1e-14)
        if v_max is not None:
            np.testing.assert_allclose(v_max[i], opt.state[i]["max_exp_avg_sq"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9), dict(momentum=0.9, nesterov=True),
                                     dict(momentum=0.5, weight_decay=0.1), dict(weight_decay=0.1)],
                         ids=["plain", "momentum", "nesterov", "momentum_weight_decay", "weight_decay"])
def test_sgd_reference_matches_optim_sgd_over_steps(rng, options):
    params = parameters(rng)
    opt = optim.SGD(params, lr=0.05, **options)
    mine = [p.numpy() for p in params]
    momentum = options.get("momentum", 0.0)
    buffers = [np.zeros(s) for s in PARAM_SHAPES] if momentum else None
    for grads in gradient_schedule(rng, 4, skip=False):
        step_with_gradients(opt, params, grads)
        reference.sgd_step(mine, grads, buffers, lr=0.05, momentum=momentum,
                           nesterov=options.get("nesterov", False), weight_decay=options.get("weight_decay", 0.0))
    for i, p in enumerate(params):
        np.testing.assert_allclose(mine[i], p.numpy(), **TIGHT)
        if buffers is not None:
            np.testing.assert_allclose(buffers[i], opt.state[i]["momentum_buffer"], **TIGHT)


def test_optimizer_references_take_one_array_as_a_list_of_one(rng):
    p, g = rng.normal(size=5), rng.normal(size=5)
    as_list, alone = p.copy(), p.copy()
    reference.adam_step([as_list], [g], [np.zeros(5)], [np.zeros(5)], [1], 0.1, 0.9, 0.99, 1e-8)
    reference.adam_step(alone, g, np.zeros(5), np.zeros(5), 1, 0.1, 0.9, 0.99, 1e-8)
    np.testing.assert_array_equal(as_list, alone)
    assert not np.array_equal(alone, p)
