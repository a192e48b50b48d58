"""The fused CUDA kernels on a GPU (every test here is a ``gpu`` test: skipped, with the reason,
where CuPy or a usable GPU is missing).

- each kernel against its NumPy reference (``minigan.cuda.reference``) on random float32 and float64
  inputs, on shapes that are not multiples of a block and on one-row or one-element edge cases:
  within the dtype's rounding where sums are reduced in another order, bit for bit where the kernel
  does the reference's elementwise operations;
- each layer that uses them (BatchNorm1d, Dense then LeakyReLU in a Sequential, BCE with logits)
  with the kernels on and off: the same outputs, gradients and running statistics, tight in
  float64 and within rounding in float32, and the same state-dict keys;
- the switches route each layer to its kernel or to the plain CuPy ops;
- float64 gradchecks through the kernels;
- the wrappers' errors for a wrong dtype, backend, layout or batch.
"""

import numpy as np
import pytest

import minigan
from minigan import BackendError, DTypeError, ShapeError, cuda, optim
from minigan.backends import load_cupy
from minigan.cuda import reference, toggles
from minigan.cuda import optimizer as cuda_optimizer
from minigan.gan.models import Discriminator
from minigan.nn import BatchNorm1d, Dense, LeakyReLU, Parameter, Sequential
from minigan.nn import functional as F
from tests.conftest import to_numpy

pytestmark = pytest.mark.gpu

DTYPES = ["float32", "float64"]
TOLERANCE = {"float32": 1e-4, "float64": 1e-11}


@pytest.fixture(autouse=True)
def switches(monkeypatch):
    """Every family on at the start of each test, and whatever the test switches undone after it."""
    monkeypatch.setattr(toggles, "_enabled", dict.fromkeys(toggles.FAMILIES, True))


@pytest.fixture
def cp():
    return load_cupy()


@pytest.fixture
def on_cupy():
    """New tensors are created on the GPU."""
    with minigan.backend("cupy"):
        yield


def assert_close(actual, expected, dtype):
    """Equal to the dtype's rounding, measured against the largest value expected: sums of many
    terms round relative to their size, not to each element's."""
    tolerance = TOLERANCE[np.dtype(dtype).name]
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * scale)


def spy(monkeypatch, name):
    """Count the calls the layers make to ``minigan.cuda.<name>``."""
    calls = []
    original = getattr(cuda, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(cuda, name, counted)
    return calls


def on_and_off(run, *families):
    """``run()`` with the kernels on, then with ``families`` (all when none) switched off."""
    on = run()
    with cuda.kernels_disabled(*families):
        off = run()
    return on, off


def device(cp, *arrays):
    return [None if a is None else cp.asarray(a) for a in arrays]


# ------------------------------------------------------------------------- BatchNorm vs reference

BN_SHAPES = [(2, 1), (2, 3), (3, 33), (64, 500), (257, 31), (4096, 70)]


def batchnorm_inputs(rng, shape, dtype, affine=True, running=True):
    n, c = shape
    x = rng.normal(0.5, 2.0, size=shape).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, c).astype(dtype) if affine else None
    beta = rng.uniform(-1.0, 1.0, c).astype(dtype) if affine else None
    running_mean = rng.normal(size=c).astype(dtype) if running else None
    running_var = rng.uniform(0.5, 2.0, c).astype(dtype) if running else None
    return x, gamma, beta, running_mean, running_var


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine_running_stats", "plain"])
def test_batchnorm_forward_kernel_matches_reference(cp, rng, shape, dtype, affine):
    host = batchnorm_inputs(rng, shape, dtype, affine=affine, running=affine)
    on_gpu = device(cp, *host)
    got = cuda.batchnorm_forward(*on_gpu, momentum=0.2, eps=1e-5)
    expected = reference.batchnorm_forward(*host, momentum=0.2, eps=1e-5)  # updates host running stats
    for actual, wanted in zip(got, expected):
        assert_close(actual, wanted, dtype)
    if affine:
        assert_close(on_gpu[3], host[3], dtype)
        assert_close(on_gpu[4], host[4], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batchnorm_backward_kernel_matches_reference(cp, rng, shape, dtype, affine):
    x, gamma, beta, _, _ = batchnorm_inputs(rng, shape, dtype, affine=affine, running=False)
    g = rng.normal(size=shape).astype(dtype)
    _, mean, inv_std = reference.batchnorm_forward(x, gamma, beta, None, None)
    got = cuda.batchnorm_backward(*device(cp, g, x, gamma, mean, inv_std))
    expected = reference.batchnorm_backward(g, x, gamma, mean, inv_std)
    for actual, wanted in zip(got, expected):
        assert_close(actual, wanted, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 500), (257, 31)], ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batchnorm_eval_kernel_matches_reference(cp, rng, shape, dtype, affine):
    x, gamma, beta, running_mean, running_var = batchnorm_inputs(rng, shape, dtype, affine=affine)
    got = cuda.batchnorm_forward_eval(*device(cp, x, gamma, beta, running_mean, running_var), eps=1e-5)
    assert_close(got, reference.batchnorm_forward_eval(x, gamma, beta, running_mean, running_var, 1e-5), dtype)


def test_batchnorm_kernel_refuses_a_batch_of_one(cp):
    with pytest.raises(ShapeError, match="more than one value per feature"):
        cuda.batchnorm_forward(cp.zeros((1, 3)), None, None, None, None)


def test_batchnorm_kernel_refuses_mixed_dtypes_naming_them(cp):
    with pytest.raises(DTypeError, match="x float32, gamma float64"):
        cuda.batchnorm_forward(cp.zeros((4, 3), dtype=cp.float32), cp.ones(3), cp.zeros(3), None, None)


def test_batchnorm_kernel_refuses_running_stats_it_cannot_update_in_place(cp):
    strided = cp.zeros((3, 2))[:, 0]
    with pytest.raises(ShapeError, match="running_mean .* must be C-contiguous"):
        cuda.batchnorm_forward(cp.ones((4, 3)), None, None, strided, cp.ones(3))


def test_kernel_wrappers_refuse_numpy_arrays(cp):
    with pytest.raises(BackendError, match="x is a numpy.ndarray"):
        cuda.batchnorm_forward(np.ones((4, 3)), None, None, None, None)


# -------------------------------------------------------------------- bias + LeakyReLU vs reference

LEAKY_SHAPES = [(1, 1), (1, 500), (7, 33), (64, 500), (1000, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", LEAKY_SHAPES, ids=str)
@pytest.mark.parametrize("slope", [0.2, 0.0, 1.5])
def test_bias_leaky_relu_kernels_match_reference(cp, rng, shape, dtype, slope):
    h = rng.normal(size=shape).astype(dtype)
    bias = rng.normal(size=shape[1]).astype(dtype)
    h[0] = -bias  # a row exactly at the kink: the negative side's slope
    g = rng.normal(size=shape).astype(dtype)
    y, positive = cuda.bias_leaky_relu_forward(cp.asarray(h), cp.asarray(bias), slope)
    wanted_y, wanted_positive = reference.bias_leaky_relu_forward(h, bias, slope)
    np.testing.assert_array_equal(to_numpy(y), wanted_y)  # the same elementwise operations: the same bits
    np.testing.assert_array_equal(to_numpy(positive), wanted_positive)
    grad_h, grad_bias = cuda.bias_leaky_relu_backward(cp.asarray(g), positive, slope)
    wanted_h, wanted_bias = reference.bias_leaky_relu_backward(g, wanted_positive, slope)
    np.testing.assert_array_equal(to_numpy(grad_h), wanted_h)
    assert_close(grad_bias, wanted_bias, dtype)


# ---------------------------------------------------------------------- BCE with logits vs reference

BCE_SHAPES = [(1,), (1, 1), (64, 1), (4096,), (4097,), (300, 70), (1000, 1000)]


def bce_inputs(rng, shape, dtype, kind):
    z = rng.normal(scale=5.0, size=shape).astype(dtype)
    z.flat[0] = 1000.0
    z.flat[-1] = -1000.0
    target = 0.9 if kind == "number" else rng.uniform(0.0, 1.0, size=shape).astype(dtype)
    return z, target


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BCE_SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["array", "number"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_kernels_match_reference(cp, rng, shape, dtype, kind, reduction):
    z, target = bce_inputs(rng, shape, dtype, kind)
    on_gpu = target if kind == "number" else cp.asarray(target)
    loss = cuda.bce_with_logits_forward(cp.asarray(z), on_gpu, reduction)
    assert loss.shape == () and np.isfinite(to_numpy(loss))
    assert_close(loss, reference.bce_with_logits_forward(z, target, reduction), dtype)
    upstream = np.asarray(1.7, dtype=dtype)
    grad = cuda.bce_with_logits_backward(cp.asarray(upstream), cp.asarray(z), on_gpu, reduction)
    assert_close(grad, reference.bce_with_logits_backward(upstream, z, target, reduction), dtype)


def test_bce_with_logits_kernel_gives_the_same_bits_on_every_run(cp, rng):
    z = cp.asarray(rng.normal(size=(1000, 1000)).astype(np.float32))
    first = cuda.bce_with_logits_forward(z, 1.0)
    assert all(to_numpy(cuda.bce_with_logits_forward(z, 1.0)) == to_numpy(first) for _ in range(3))


# ----------------------------------------------------------------------- optimizers vs reference

OPTIMIZER_SHAPES = [(1,), (7,), (4097,), (3, 500), (10000,)]


def optimizer_state(rng, dtype, count):
    params = [rng.normal(size=shape).astype(dtype) for shape in OPTIMIZER_SHAPES]
    buffers = [[np.zeros(shape, dtype=dtype) for shape in OPTIMIZER_SHAPES] for _ in range(count)]
    return params, buffers


def gradients(rng, dtype):
    return [rng.normal(size=shape).astype(dtype) for shape in OPTIMIZER_SHAPES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [dict(), dict(weight_decay=0.1), dict(amsgrad=True)],
                         ids=["plain", "weight_decay", "amsgrad"])
def test_adam_kernel_matches_reference_over_steps(cp, rng, dtype, options):
    amsgrad = options.get("amsgrad", False)
    params, buffers = optimizer_state(rng, dtype, 3)
    on_gpu = [device(cp, *params)] + [device(cp, *b) for b in buffers]
    hyper = dict(lr=0.01, beta1=0.5, beta2=0.999, eps=1e-8, weight_decay=options.get("weight_decay", 0.0))
    for step in range(1, 4):
        steps = [step + offset for offset in range(len(params))]  # each tensor at its own step count
        grads = gradients(rng, dtype)
        cuda.adam_step(on_gpu[0], device(cp, *grads), on_gpu[1], on_gpu[2], steps,
                       max_exp_avg_sqs=on_gpu[3] if amsgrad else None, **hyper)
        reference.adam_step(params, grads, buffers[0], buffers[1], steps,
                            max_exp_avg_sqs=buffers[2] if amsgrad else None, **hyper)
    for got, wanted in zip(on_gpu, [params] + buffers):
        for actual, expected in zip(got, wanted):
            assert_close(actual, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9), dict(momentum=0.9, nesterov=True),
                                     dict(momentum=0.5, weight_decay=0.1)],
                         ids=["plain", "momentum", "nesterov", "momentum_weight_decay"])
def test_sgd_kernel_matches_reference_over_steps(cp, rng, dtype, options):
    params, (buffers,) = optimizer_state(rng, dtype, 1)
    momentum = options.get("momentum", 0.0)
    on_params, on_buffers = device(cp, *params), device(cp, *buffers)
    for _ in range(3):
        grads = gradients(rng, dtype)
        cuda.sgd_step(on_params, device(cp, *grads), on_buffers if momentum else None, lr=0.05, **options)
        reference.sgd_step(params, grads, buffers if momentum else None, lr=0.05, **options)
    for actual, expected in zip(on_params + on_buffers, params + buffers):
        assert_close(actual, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_kernel_agrees_with_minigan_optim_adams_array_code_on_cupy(on_cupy, cp, rng, dtype):
    params, buffers = optimizer_state(rng, dtype, 3)
    plain = [Parameter(p, dtype=dtype) for p in params]
    opt = optim.Adam(plain, lr=0.01, betas=(0.5, 0.999), weight_decay=0.1, amsgrad=True)
    fused, (m, v, v_max) = device(cp, *params), [device(cp, *b) for b in buffers]
    for step in range(1, 4):
        grads = gradients(rng, dtype)
        for p, g in zip(plain, grads):
            p.grad = cp.asarray(g)
        with cuda.kernels_disabled("optimizer"):  # the array code, not the kernel on both sides
            opt.step()
        cuda.adam_step(fused, device(cp, *grads), m, v, step, lr=0.01, beta1=0.5, beta2=0.999, eps=1e-8,
                       weight_decay=0.1, max_exp_avg_sqs=v_max)
    for mine, p in zip(fused, plain):
        assert_close(mine, p.data, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_kernel_agrees_with_minigan_optim_sgds_array_code_on_cupy(on_cupy, cp, rng, dtype):
    params, (buffers,) = optimizer_state(rng, dtype, 1)
    plain = [Parameter(p, dtype=dtype) for p in params]
    opt = optim.SGD(plain, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)
    fused, on_buffers = device(cp, *params), device(cp, *buffers)
    for _ in range(3):
        grads = gradients(rng, dtype)
        for p, g in zip(plain, grads):
            p.grad = cp.asarray(g)
        with cuda.kernels_disabled("optimizer"):  # the array code, not the kernel on both sides
            opt.step()
        cuda.sgd_step(fused, device(cp, *grads), on_buffers, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)
    for mine, p in zip(fused, plain):
        assert_close(mine, p.data, dtype)


def count_launches(monkeypatch):
    launches = []
    original = cuda_optimizer.SOURCE.function

    def counted(kernel, dtype):
        compiled = original(kernel, dtype)

        def launch(*args, **kwargs):
            launches.append((kernel, np.dtype(dtype).name))
            return compiled(*args, **kwargs)

        return launch

    monkeypatch.setattr(cuda_optimizer.SOURCE, "function", counted)
    return launches


def test_adam_updates_every_tensor_of_a_dtype_in_one_launch(cp, rng, monkeypatch):
    launches = count_launches(monkeypatch)
    params, (m, v) = optimizer_state(rng, "float32", 2)
    mixed = params + [rng.normal(size=3)]
    zeros = [np.zeros_like(p) for p in mixed]
    cuda.adam_step(device(cp, *mixed), device(cp, *mixed), device(cp, *(m + zeros[-1:])),
                   device(cp, *(v + zeros[-1:])), 1, 0.01, 0.9, 0.999, 1e-8)
    assert sorted(launches) == [("adam_multi_tensor", "float32"), ("adam_multi_tensor", "float64")]


def test_optimizer_kernel_reads_strided_gradients_and_refuses_strided_parameters(cp, rng):
    grad = rng.normal(size=(4, 3))
    param = rng.normal(size=(3, 4))
    strided, contiguous = cp.asarray(param), cp.asarray(param)
    cuda.sgd_step([strided], [cp.asarray(grad).T], None, lr=0.1)
    cuda.sgd_step([contiguous], [cp.asarray(grad.T.copy())], None, lr=0.1)
    np.testing.assert_array_equal(to_numpy(strided), to_numpy(contiguous))
    with pytest.raises(ShapeError, match=r"params\[0\] .* must be C-contiguous"):
        cuda.sgd_step([cp.asarray(grad).T], [cp.asarray(param)], None, lr=0.1)


# --------------------------------------------------------------------- layers, kernels on and off


def batchnorm_run(rng, shape, dtype, affine, track):
    """A function running one forward and backward of a fresh BatchNorm1d; returns what it produced."""
    x_host = rng.normal(0.5, 2.0, size=shape)
    g_host = rng.normal(size=shape)
    weight, bias = rng.uniform(0.5, 1.5, shape[1]), rng.uniform(-1.0, 1.0, shape[1])

    def run():
        layer = BatchNorm1d(shape[1], momentum=0.3, affine=affine, track_running_stats=track, dtype=dtype)
        if affine:
            layer.weight.data[...] = layer.weight.xp.asarray(weight)
            layer.bias.data[...] = layer.bias.xp.asarray(bias)
        x = minigan.tensor(x_host, dtype=dtype, requires_grad=True)
        out = layer(x)
        out.backward(g_host)
        produced = [out.data, x.grad]
        produced += [layer.weight.grad, layer.bias.grad] if affine else []
        produced += [layer.running_mean.data, layer.running_var.data] if track else []
        return produced

    return run


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (64, 500), (1000, 7)], ids=str)
@pytest.mark.parametrize("affine, track", [(True, True), (False, False), (True, False)],
                         ids=["affine_running_stats", "plain", "affine_only"])
def test_batchnorm1d_gives_the_same_outputs_gradients_and_running_stats_with_kernels_on_and_off(
        on_cupy, monkeypatch, rng, shape, dtype, affine, track):
    calls = spy(monkeypatch, "batchnorm_backward")
    on, off = on_and_off(batchnorm_run(rng, shape, dtype, affine, track), "batchnorm")
    assert calls == ["batchnorm_backward"]  # the kernels ran once, with the family on only
    for with_kernels, without in zip(on, off):
        assert_close(with_kernels, without, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm1d_in_eval_mode_without_a_graph_uses_the_eval_kernel_and_agrees(on_cupy, monkeypatch, rng, dtype):
    calls = spy(monkeypatch, "batchnorm_forward_eval")
    layer = BatchNorm1d(33, dtype=dtype)
    for _ in range(3):
        layer(minigan.random.normal(0.5, 2.0, (16, 33), dtype=dtype))
    layer.eval()
    x = minigan.random.normal(0.5, 2.0, (9, 33), dtype=dtype)

    def run():
        with minigan.no_grad():
            return layer(x).data

    on, off = on_and_off(run, "batchnorm")
    assert calls == ["batchnorm_forward_eval"]
    assert_close(on, off, dtype)


def test_batchnorm1d_in_eval_mode_with_a_graph_keeps_the_plain_ops(on_cupy, monkeypatch):
    calls = spy(monkeypatch, "batchnorm_forward_eval")
    layer = BatchNorm1d(4, dtype="float64").eval()
    layer(minigan.random.normal(0.0, 1.0, (5, 4), dtype="float64", requires_grad=True)).sum().backward()
    assert calls == []


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_then_leaky_relu_fuses_with_the_same_numbers_and_state_dict(on_cupy, rng, dtype):
    minigan.random.seed(0)
    net = Sequential(Dense(20, 33, dtype=dtype), LeakyReLU(0.2), Dense(33, 1, dtype=dtype))
    keys = list(net.state_dict())
    x_host, g_host = rng.normal(size=(64, 20)), rng.normal(size=(64, 1))

    def run():
        net.zero_grad()
        x = minigan.tensor(x_host, dtype=dtype, requires_grad=True)
        out = net(x)
        hidden = out.parents[0]  # the graph is freed by backward
        out.backward(g_host)
        return [hidden, out.data, x.grad] + [p.grad for p in net.parameters()]

    (hidden_on, *on), (hidden_off, *off) = on_and_off(run, "bias_leaky_relu")
    assert hidden_on.op == "bias_leaky_relu" and hidden_off.op == "leaky_relu"
    np.testing.assert_array_equal(to_numpy(on[0]), to_numpy(off[0]))  # forward: the same bits
    for with_kernels, without in zip(on[1:], off[1:]):
        assert_close(with_kernels, without, dtype)
    assert list(net.state_dict()) == keys == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_discriminator_gives_the_same_logits_and_gradients_with_kernels_on_and_off(on_cupy, rng):
    minigan.random.seed(0)
    D = Discriminator(64, hidden=(100, 100), dtype="float64")
    x_host = rng.uniform(size=(32, 64))

    def run():
        D.zero_grad()
        logits = D(minigan.tensor(x_host, dtype="float64"))
        loss = F.binary_cross_entropy_with_logits(logits, 1.0)
        loss.backward()
        return [logits.data, loss.data] + [p.grad for p in D.parameters()]

    on, off = on_and_off(run)
    for with_kernels, without in zip(on, off):
        assert_close(with_kernels, without, "float64")


def test_dense_with_a_forward_hook_is_not_fused(on_cupy):
    seen = []
    dense = Dense(3, 4)
    dense.register_forward_hook(lambda module, inputs, output: seen.append(output.op))
    out = Sequential(dense, LeakyReLU())(minigan.random.normal(0.0, 1.0, (2, 3)))
    assert seen == ["linear"] and out.op == "leaky_relu"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["array", "number"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_gives_the_same_loss_and_gradient_with_the_kernel_on_and_off(on_cupy, rng, dtype, kind,
                                                                                     reduction):
    z_host, target = bce_inputs(rng, (64, 1), dtype, kind)
    if kind == "array":
        target = minigan.tensor(target, dtype=dtype)

    def run():
        z = minigan.tensor(z_host, dtype=dtype, requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(z, target, reduction=reduction)
        loss.backward()
        return [loss, loss.data, z.grad]

    (loss_on, *on), (loss_off, *off) = on_and_off(run, "bce_with_logits")
    assert loss_on.op == "bce_with_logits" and loss_off.op == reduction
    for with_kernel, without in zip(on, off):
        assert_close(with_kernel, without, dtype)


def test_bce_with_logits_keeps_the_plain_ops_for_a_target_that_needs_a_gradient_or_no_reduction(on_cupy):
    z = minigan.random.normal(0.0, 1.0, (8, 1), requires_grad=True)
    target = minigan.random.uniform(0.0, 1.0, (8, 1), requires_grad=True)
    assert F.binary_cross_entropy_with_logits(z, target).op == "mean"
    assert F.binary_cross_entropy_with_logits(z, 1.0, reduction="none").op == "bce_with_logits"
    assert F.binary_cross_entropy_with_logits(z, 1.0, reduction="none").shape == (8, 1)


def test_switching_a_family_off_routes_its_layer_to_the_plain_ops(on_cupy, monkeypatch):
    calls = spy(monkeypatch, "batchnorm_forward")
    layer = BatchNorm1d(4)
    x = minigan.random.normal(0.0, 1.0, (8, 4))
    layer(x)
    with cuda.kernels_disabled("batchnorm"):
        layer(x)
    cuda.set_kernels_enabled("batchnorm", False)
    layer(x)
    cuda.set_kernels_enabled("all", True)
    with cuda.kernels_disabled("bce_with_logits", "optimizer"):
        layer(x)
    assert len(calls) == 2


def test_compiled_kernels_are_kept(cp):
    source = cuda_optimizer.SOURCE
    assert source.function("sgd_multi_tensor", "float32") is source.function("sgd_multi_tensor", np.float32)


# -------------------------------------------------------------------------- gradchecks, kernels on


@pytest.mark.parametrize("affine, track", [(True, True), (False, False)], ids=["affine_running_stats", "plain"])
def test_batchnorm1d_gradcheck_through_the_kernels(on_cupy, monkeypatch, affine, track):
    calls = spy(monkeypatch, "batchnorm_backward")
    minigan.random.seed(0)
    layer = BatchNorm1d(5, affine=affine, track_running_stats=track, dtype="float64")
    if affine:
        layer.weight.data[...] = minigan.random.uniform(0.5, 1.5, (5,), dtype="float64").data
    x = minigan.random.normal(0.5, 2.0, (6, 5), dtype="float64", requires_grad=True)
    assert minigan.gradcheck(lambda x, *p: layer(x), (x, *layer.parameters()))
    assert calls


@pytest.mark.parametrize("kind", ["array", "number"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_gradcheck_through_the_kernel(on_cupy, monkeypatch, kind, reduction):
    calls = spy(monkeypatch, "bce_with_logits_backward")
    minigan.random.seed(1)
    z = minigan.random.normal(0.0, 3.0, (7, 3), dtype="float64", requires_grad=True)
    target = 0.9 if kind == "number" else minigan.random.uniform(0.0, 1.0, (7, 3), dtype="float64")
    assert minigan.gradcheck(lambda z: F.binary_cross_entropy_with_logits(z, target, reduction=reduction), (z,))
    assert calls


def test_bias_leaky_relu_gradcheck_through_the_kernel(on_cupy, monkeypatch):
    calls = spy(monkeypatch, "bias_leaky_relu_backward")
    minigan.random.seed(2)
    signs = minigan.tensor(np.where(np.arange(24).reshape(6, 4) % 3 == 0, -1.0, 1.0), dtype="float64")
    h = (signs * minigan.random.uniform(0.3, 2.0, (6, 4), dtype="float64")).detach().requires_grad_()
    bias = minigan.random.uniform(-0.1, 0.1, (4,), dtype="float64", requires_grad=True)  # h + b stays off 0
    assert minigan.gradcheck(lambda h, b: F.bias_leaky_relu(h, b, 0.2), (h, bias))
    assert calls


# ------------------------------------------------------------------ second derivatives through the kernels
# Under create_graph each fused op's backward runs its closed form as recorded ops (the kernels work on
# arrays only); the first derivatives must still match the kernel's, and the second be right.


def test_batch_norm_gradgradcheck_through_the_kernel(on_cupy, monkeypatch):
    calls = spy(monkeypatch, "batchnorm_backward")
    minigan.random.seed(3)
    x = minigan.random.normal(0.0, 1.0, (6, 4), dtype="float64", requires_grad=True)
    w = minigan.random.uniform(0.5, 1.5, (4,), dtype="float64", requires_grad=True)
    b = minigan.random.normal(0.0, 0.1, (4,), dtype="float64", requires_grad=True)
    assert minigan.gradgradcheck(lambda x, w, b: F.batch_norm(x, w, b, None, None, training=True), (x, w, b))
    assert calls  # the plain backward (the first-order comparison inside gradgradcheck) used the kernel


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_gradgradcheck_through_the_kernel(on_cupy, monkeypatch, reduction):
    calls = spy(monkeypatch, "bce_with_logits_backward")
    minigan.random.seed(1)
    z = minigan.random.normal(0.0, 3.0, (7, 3), dtype="float64", requires_grad=True)
    target = minigan.random.uniform(0.0, 1.0, (7, 3), dtype="float64")
    assert minigan.gradgradcheck(lambda z: F.binary_cross_entropy_with_logits(z, target, reduction=reduction), (z,))
    assert calls


def test_bias_leaky_relu_gradgradcheck_through_the_kernel(on_cupy, monkeypatch):
    calls = spy(monkeypatch, "bias_leaky_relu_backward")
    minigan.random.seed(2)
    signs = minigan.tensor(np.where(np.arange(24).reshape(6, 4) % 3 == 0, -1.0, 1.0), dtype="float64")
    h = (signs * minigan.random.uniform(0.3, 2.0, (6, 4), dtype="float64")).detach().requires_grad_()
    bias = minigan.random.uniform(-0.1, 0.1, (4,), dtype="float64", requires_grad=True)
    assert minigan.gradgradcheck(lambda h, b: minigan.tanh(F.bias_leaky_relu(h, b, 0.2)), (h, bias))
    assert calls
