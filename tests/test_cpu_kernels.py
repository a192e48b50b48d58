"""The fused CPU kernels (minigan.cpu, compiled by numba): each family gives the plain NumPy path's numbers
bit for bit, is switched by the CUDA families' toggles, and steps aside where it does not apply."""

import subprocess
import sys

import numpy as np
import pytest

from minigan import cpu, cuda, optim
from minigan.nn.batchnorm import train_backward_arrays, train_forward_arrays
from minigan.tensor import Tensor

pytestmark = pytest.mark.skipif(cpu.compiled() is None, reason='numba is not installed (pip install "minigan[fused]")')
DTYPES = (np.float32, np.float64)


def _plain(family, fn, *args, **kwargs):
    with cuda.kernels_disabled(family):
        return fn(*args, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [2, 7, 64, 301])
@pytest.mark.parametrize("running", [True, False])
def test_batchnorm_forward_is_the_plain_one_bit_for_bit(dtype, rows, running):
    rng = np.random.default_rng(rows)
    x = (rng.standard_normal((rows, 37)) * 3 + 1).astype(dtype)
    w, b = rng.standard_normal(37).astype(dtype), rng.standard_normal(37).astype(dtype)
    initial = (rng.random(37).astype(dtype), rng.random(37).astype(dtype) + 1) if running else (None, None)
    results = []
    for fused in (True, False):
        stats = tuple(None if s is None else s.copy() for s in initial)
        call = (train_forward_arrays, x, (0,), w, b, *stats, 0.1, 1e-5)
        out = call[0](*call[1:]) if fused else _plain("batchnorm", *call)
        results.append([a.copy() for a in out] + [s for s in stats if s is not None])
    for fused, plain in zip(*results):
        assert fused.dtype == plain.dtype and np.array_equal(fused, plain)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("needs_x", [True, False])
def test_batchnorm_backward_is_the_plain_one_bit_for_bit(dtype, needs_x):
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((65, 40)).astype(dtype), rng.standard_normal((65, 40)).astype(dtype)
    w, b = rng.standard_normal(40).astype(dtype), rng.standard_normal(40).astype(dtype)
    _, mean, inv_std = _plain("batchnorm", train_forward_arrays, x, (0,), w, b, None, None, 0.1, 1e-5)
    fused = train_backward_arrays(g, x, w, mean, inv_std, (0,), needs_x)
    plain = _plain("batchnorm", train_backward_arrays, g, x, w, mean, inv_std, (0,), needs_x)
    for a, p in zip(fused, plain):
        assert (a is None and p is None) or np.array_equal(a, p)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_of_one_feature_gives_the_plain_numbers(dtype):
    """NumPy sums an (N, 1) column pairwise, not row by row: the kernel steps aside at C = 1."""
    rng = np.random.default_rng(7)
    x, g = rng.standard_normal((257, 1)).astype(dtype), rng.standard_normal((257, 1)).astype(dtype)
    w, b = np.ones(1, dtype), np.zeros(1, dtype)
    fused = train_forward_arrays(x, (0,), w, b, None, None, 0.1, 1e-5)
    plain = _plain("batchnorm", train_forward_arrays, x, (0,), w, b, None, None, 0.1, 1e-5)
    assert all(np.array_equal(a, p) for a, p in zip(fused, plain))
    back = train_backward_arrays(g, x, w, fused[1], fused[2], (0,), True)
    plain_back = _plain("batchnorm", train_backward_arrays, g, x, w, fused[1], fused[2], (0,), True)
    assert all(np.array_equal(a, p) for a, p in zip(back, plain_back))


def test_batchnorm_kernel_writes_into_the_buffers_given():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((8, 5)), rng.standard_normal(5), rng.standard_normal(5)
    out, mean, var, inv_std = np.empty((8, 5)), np.empty(5), np.empty(5), np.empty(5)
    result = train_forward_arrays(x, (0,), w, b, None, None, 0.1, 1e-5, out=out, mean=mean, var=var, inv_std=inv_std)
    assert result[0] is out and result[1] is mean and result[2] is inv_std
    np.testing.assert_allclose(var, x.var(axis=0), rtol=1e-12)


def test_batchnorm_inputs_the_kernels_do_not_take_run_the_plain_ops(monkeypatch):
    """Not contiguous, three dimensions, no γ or no β, one running statistic, mixed dtypes: the plain
    path (the kernels would raise if called)."""
    monkeypatch.setattr(cpu, "batchnorm_forward", None)
    monkeypatch.setattr(cpu, "batchnorm_backward", None)
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal(4)
    train_forward_arrays(np.asfortranarray(x), (0,), w, b, None, None, 0.1, 1e-5)
    train_forward_arrays(x[:, :, None].repeat(2, axis=2), (0, 2), w, b, None, None, 0.1, 1e-5)
    _, mean, inv_std = train_forward_arrays(x, (0,), None, b, None, None, 0.1, 1e-5)
    train_forward_arrays(x, (0,), w, None, None, None, 0.1, 1e-5)
    train_forward_arrays(x, (0,), w, b, np.zeros(4), None, 0.1, 1e-5)
    train_forward_arrays(x.astype(np.float32), (0,), w, b, None, None, 0.1, 1e-5)
    train_backward_arrays(x, x, None, mean, inv_std, (0,), True)
    train_backward_arrays(np.asfortranarray(x), x, w, mean, inv_std, (0,), True)


def test_bias_leaky_relu_kernels_are_linear_and_leaky_relu_bit_for_bit():
    rng = np.random.default_rng(4)
    y = rng.standard_normal((33, 21)).astype(np.float32)
    y[0, 0] = np.nan
    b, g = rng.standard_normal(21).astype(np.float32), rng.standard_normal((33, 21)).astype(np.float32)
    slope = np.asarray(0.2, dtype=np.float32)
    t = y + b
    expected = t * slope
    np.maximum(expected, t, out=expected)
    out = cpu.bias_leaky_relu_forward(y, b, 0.2, np.empty_like(y))
    assert np.array_equal(out, expected, equal_nan=True)
    d_y, d_b = cpu.bias_leaky_relu_backward(g, out, 0.2, np.empty_like(g), np.empty(21, np.float32))
    factor = (out > 0) * (1 - slope)
    factor += slope
    factor *= g
    assert np.array_equal(d_y, factor) and np.array_equal(d_b, factor.sum(axis=0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_batchnorm_leaky_relu_kernels_are_the_three_plain_ops_bit_for_bit(dtype):
    """y + b, BatchNorm in training, LeakyReLU(0.2) — and back — as the static step runs G's hidden layers."""
    from minigan.nn.activations import leaky_relu_arrays, leaky_relu_backward_arrays

    rng = np.random.default_rng(6)
    y, g = rng.standard_normal((50, 30)).astype(dtype), rng.standard_normal((50, 30)).astype(dtype)
    b, w, beta = (rng.standard_normal(30).astype(dtype) for _ in range(3))
    stats = [rng.random(30).astype(dtype), rng.random(30).astype(dtype) + 1]
    slope = np.asarray(0.2, dtype)
    with cuda.kernels_disabled("all"):
        t = y + b
        bn_out, mean, inv_std = train_forward_arrays(t, (0,), w, beta, *[a.copy() for a in stats], 0.1, 1e-5)
        out = leaky_relu_arrays(bn_out, slope)
        g_bn = leaky_relu_backward_arrays(g, out, slope, 1 - slope)
        d_t, d_w, d_beta = train_backward_arrays(g_bn, t, w, mean, inv_std, (0,), True)
        d_b = d_t.sum(axis=0)
    fused_stats = [a.copy() for a in stats]
    buffers = [np.empty_like(y), np.empty(30, dtype), np.empty(30, dtype), np.empty(30, dtype)]
    f_out, f_mean, f_inv = cpu.bias_batchnorm_leaky_relu_forward(y, b, w, beta, *fused_stats, 0.1, 1e-5, 0.2, *buffers)
    running = [a.copy() for a in stats]
    train_forward_arrays(t, (0,), w, beta, *running, 0.1, 1e-5)  # the running statistics the plain ops leave
    f_dy, f_db, f_dw, f_dbeta = cpu.bias_batchnorm_leaky_relu_backward(
        g, f_out, y, b, w, f_mean, f_inv, 0.2, np.empty_like(y), np.empty(30, dtype), np.empty(30, dtype),
        np.empty(30, dtype))
    for fused, plain in [(f_out, out), (f_mean, mean), (f_inv, inv_std), (fused_stats[0], running[0]),
                         (fused_stats[1], running[1]), (f_dy, d_t), (f_db, d_b), (f_dw, d_w), (f_dbeta, d_beta)]:
        assert np.array_equal(fused, plain)


OPTIMIZERS = [
    (optim.Adam, dict(lr=2e-4, betas=(0.5, 0.999))),
    (optim.Adam, dict(lr=1e-3, amsgrad=True, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optim.RMSprop, dict(lr=1e-3)),
    (optim.RMSprop, dict(lr=1e-3, centered=True, momentum=0.5)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls, hyper", OPTIMIZERS, ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_optimizer_kernels_are_the_plain_updates_bit_for_bit(cls, hyper, dtype):
    """Several steps of two parameters (the all-at-once path), then of one alone (its own path)."""
    finals = []
    for fused in (True, False):
        rng = np.random.default_rng(5)
        params = [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in ((30, 20), (20,))]
        opt = cls(params, **hyper)
        for step in range(5):
            for p in params if step < 3 else params[:1]:
                p.grad = rng.standard_normal(p.shape).astype(dtype)
            if step == 3:
                params[1].grad = None
            opt.step() if fused else _plain("optimizer", opt.step)
        finals.append([p.data.copy() for p in params] + [v for s in opt.state for k, v in sorted(s.items())
                                                          if k != "step"])
    for a, b in zip(*finals):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("grad", ["float64", "broadcast"])
def test_a_gradient_unlike_its_parameter_takes_the_array_code(grad):
    """A float64 gradient on a float32 parameter, or one that broadcasts: the update promotes and broadcasts
    as NumPy does (the kernel, which indexes element by element, is not used)."""
    finals = []
    for fused in (True, False):
        p = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
        q = Tensor(np.ones(2, np.float32), requires_grad=True)  # without a gradient: the per-parameter path
        opt = optim.Adam([p, q], lr=0.1)
        for _ in range(3):
            p.grad = (np.full((2, 3), 0.3) if grad == "float64" else np.ones((1, 3), np.float32))
            opt.step() if fused else _plain("optimizer", opt.step)
        finals.append(p.data.copy())
    assert np.array_equal(finals[0], finals[1])


def test_numpy_scalar_hyper_parameters_take_the_plain_path():
    """A NumPy float64 ε or β computes in float64 on the plain path (NumPy's promotion), where a kernel
    would cast it to the array's dtype: the kernels step aside for them."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    w, b = np.ones(4, np.float32), np.zeros(4, np.float32)
    fused = train_forward_arrays(x, (0,), w, b, None, None, 0.1, np.float64(1e-3))
    plain = _plain("batchnorm", train_forward_arrays, x, (0,), w, b, None, None, 0.1, np.float64(1e-3))
    assert all(np.array_equal(a, p) for a, p in zip(fused, plain))
    finals = []
    for fused_on in (True, False):
        p = Tensor(np.linspace(-1, 1, 6, dtype=np.float32), requires_grad=True)
        opt = optim.Adam([p], lr=0.01, betas=(np.float64(0.5), np.float64(0.999)))
        for _ in range(3):
            p.grad = np.full(6, 0.3, np.float32)
            opt.step() if fused_on else _plain("optimizer", opt.step)
        finals.append(p.data.copy())
    assert np.array_equal(*finals)


def test_adam_kernel_divides_as_numpy_does():
    """ε = 0 and a zero gradient: 0/0 is NaN in both (the kernel never raises ZeroDivisionError)."""
    finals = []
    for fused in (True, False):
        p = Tensor(np.ones(4, np.float32), requires_grad=True)
        opt = optim.Adam([p], lr=0.1, eps=0.0)
        p.grad = np.array([0.0, 1.0, -1.0, 0.0], np.float32)
        with np.errstate(invalid="ignore"):
            opt.step() if fused else _plain("optimizer", opt.step)
        finals.append(p.data)
    assert np.array_equal(finals[0], finals[1], equal_nan=True) and np.isnan(finals[0][0])


def test_switched_off_families_run_the_plain_path(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the kernel ran while its family was off")

    monkeypatch.setattr(cpu, "adam_update", refuse)
    p = Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([p])
    p.grad = np.ones(3)
    with cuda.kernels_disabled("optimizer"):
        opt.step()
        opt.step()
    with pytest.raises(AssertionError, match="while its family was off"):
        opt.step()


def test_use_fused_takes_only_contiguous_float_numpy_arrays():
    a = np.ones((4, 3), np.float32)
    assert cpu.use_fused("batchnorm", a)
    assert not cpu.use_fused("batchnorm", a.T)
    assert not cpu.use_fused("batchnorm", a.astype(np.int64))
    assert not cpu.use_fused("batchnorm", [1.0, 2.0])
    with cuda.kernels_disabled("batchnorm"):
        assert not cpu.use_fused("batchnorm", a)
    assert "numba" in cpu.status()


def test_importing_minigan_imports_no_numba():
    code = "import sys, minigan; print('numba' in sys.modules or 'llvmlite' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("static_step", [False, True], ids=["eager step", "static step"])
def test_a_run_resumed_with_the_kernels_off_continues_exactly(tmp_path, static_step):
    """Trained with every fused family on, saved, resumed with them all off: the numbers of one run with the
    kernels on throughout (the kernels change no number, so a checkpoint does not care)."""
    from minigan.data import load_dataset
    from minigan.gan.trainer import TrainConfig, Trainer

    config = TrainConfig(data="ring8", steps=6, g_ema=0.9, static_step=static_step)
    straight = Trainer(config, load_dataset("ring8", seed=0), progress=False)
    records = [straight.step() for _ in range(6)]
    first = Trainer(config, load_dataset("ring8", seed=0), progress=False)
    for _ in range(3):
        first.step()
    first.save_checkpoint(str(tmp_path / "c.npz"))
    with cuda.kernels_disabled("all"):
        resumed = Trainer.from_checkpoint(str(tmp_path / "c.npz"), progress=False)
        assert [resumed.step() for _ in range(3)] == records[3:]
    end, reference = resumed.state(), straight.state()
    for key in reference:
        if hasattr(reference[key], "shape") and key != "config":
            assert np.array_equal(np.asarray(end[key]), np.asarray(reference[key])), key
