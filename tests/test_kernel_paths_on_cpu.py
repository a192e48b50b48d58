"""The bookkeeping around the fused CUDA kernels, tested on the CPU: the kernels are replaced by their
NumPy references (``minigan.cuda.reference``, which the GPU tests hold them to), and ``use_kernel``
says yes, so the code that chooses, prepares and follows a launch runs as it would on a GPU.

- a launch that raises leaves every optimizer step count where it was, so a retry uses the right
  Adam bias correction;
- the optimizer's state buffers are created once, not a zero array per parameter per step;
- state left on another dtype by ``Module.double()`` is moved to the parameter's before the launch;
- BatchNorm takes the fused kernel only with both running statistics or neither.
"""

import numpy as np
import pytest

from minigan import DTypeError, cuda, optim, random
from minigan.cuda import reference
from minigan.nn import BatchNorm1d, Dense
from minigan.nn.batchnorm import _kernel_applies
from minigan.tensor import Tensor


class FakeAdamKernel:
    """``cuda.adam_step`` as the CuPy wrapper behaves: refuses buffers of another dtype than their
    parameter, then computes the reference update. ``fail`` launches raise first (a compile error)."""

    def __init__(self, fail=0):
        self.fail = fail
        self.calls = []

    def __call__(self, params, grads, exp_avgs, exp_avg_sqs, steps, **hyper):
        if self.fail:
            self.fail -= 1
            raise RuntimeError("adam_step: the kernel failed to compile (switch the fused kernels off with "
                               "MINIGAN_KERNELS=0)")
        for p, m, v in zip(params, exp_avgs, exp_avg_sqs):
            if m.dtype != p.dtype or v.dtype != p.dtype:
                raise DTypeError(f"adam_step: state of dtype {m.dtype} for a parameter of dtype {p.dtype}")
        self.calls.append(list(steps))
        reference.adam_step(params, grads, exp_avgs, exp_avg_sqs, steps, **hyper)


@pytest.fixture
def kernels_say_yes(monkeypatch):
    monkeypatch.setattr(cuda, "use_kernel", lambda family, array: True)


def model_and_grads(dtype="float64"):
    random.seed(0)  # the same weights every call
    layer = Dense(3, 2, dtype=dtype)
    rng = np.random.default_rng(0)
    grads = [[rng.normal(size=p.shape).astype(dtype) for p in layer.parameters()] for _ in range(3)]
    return layer, grads


def set_grads(layer, grads):
    for p, g in zip(layer.parameters(), grads):
        p.grad = g.astype(p.dtype)


def test_a_failed_launch_leaves_the_step_counts_and_a_retry_matches_the_plain_optimizer(kernels_say_yes, monkeypatch):
    fake = FakeAdamKernel(fail=1)
    monkeypatch.setattr(cuda, "adam_step", fake)
    layer, grads = model_and_grads()
    opt = optim.Adam(layer.parameters(), lr=0.1, betas=(0.5, 0.9))
    set_grads(layer, grads[0])
    with pytest.raises(RuntimeError, match="failed to compile"):
        opt.step()
    assert all(s.get("step", 0) == 0 for s in opt.state)
    for g in grads:
        set_grads(layer, g)
        opt.step()
    assert fake.calls == [[1, 1], [2, 2], [3, 3]]
    monkeypatch.undo()   # the plain NumPy optimizer, the same three steps
    plain, _ = model_and_grads()
    plain_opt = optim.Adam(plain.parameters(), lr=0.1, betas=(0.5, 0.9))
    for g in grads:
        set_grads(plain, g)
        plain_opt.step()
    for a, b in zip(layer.parameters(), plain.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-14, atol=1e-15)


def test_the_kernel_path_creates_each_state_buffer_once(kernels_say_yes, monkeypatch):
    monkeypatch.setattr(cuda, "adam_step", FakeAdamKernel())
    layer, grads = model_and_grads()
    opt = optim.Adam(layer.parameters(), lr=0.1)
    set_grads(layer, grads[0])
    opt.step()
    made = []
    real_zeros_like = np.zeros_like
    monkeypatch.setattr(np, "zeros_like", lambda *a, **k: made.append(1) or real_zeros_like(*a, **k))
    buffers = [(s["exp_avg"], s["exp_avg_sq"]) for s in opt.state]
    for g in grads[1:]:
        set_grads(layer, g)
        opt.step()
    assert made == [] and all(s["exp_avg"] is m and s["exp_avg_sq"] is v for s, (m, v) in zip(opt.state, buffers))


def test_sgd_momentum_buffers_are_created_once_on_the_kernel_path(kernels_say_yes, monkeypatch):
    monkeypatch.setattr(cuda, "sgd_step", lambda params, grads, buffers, **hyper: reference.sgd_step(
        params, grads, buffers, **hyper))
    layer, grads = model_and_grads()
    opt = optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    set_grads(layer, grads[0])
    opt.step()
    buffers = [s["momentum_buffer"] for s in opt.state]
    set_grads(layer, grads[1])
    opt.step()
    assert all(s["momentum_buffer"] is b for s, b in zip(opt.state, buffers))
    assert all(s["step"] == 2 for s in opt.state)


def test_state_left_on_another_dtype_moves_to_the_parameters_before_the_launch(kernels_say_yes, monkeypatch):
    fake = FakeAdamKernel()
    monkeypatch.setattr(cuda, "adam_step", fake)
    layer, grads = model_and_grads("float32")
    opt = optim.Adam(layer.parameters(), lr=0.1)
    set_grads(layer, grads[0])
    opt.step()
    layer.double()                      # the same Parameter objects, now float64; the state still float32
    set_grads(layer, grads[1])
    opt.step()
    assert fake.calls == [[1, 1], [2, 2]]
    assert all(s["exp_avg"].dtype == np.float64 and s["step"] == 2 for s in opt.state)


@pytest.mark.parametrize("given, takes_kernel", [(("mean", "var"), True), ((), True), (("mean",), False),
                                                 (("var",), False)])
def test_batchnorm_takes_the_kernel_only_with_both_running_statistics_or_neither(kernels_say_yes, given,
                                                                                 takes_kernel):
    bn = BatchNorm1d(3, dtype="float32")
    x = Tensor(np.ones((4, 3), dtype=np.float32))
    running_mean = bn.running_mean if "mean" in given else None
    running_var = bn.running_var if "var" in given else None
    assert _kernel_applies(x, bn.weight, bn.bias, running_mean, running_var, training=True) is takes_kernel


def test_gradients_reduced_for_a_kernel_launch_go_to_the_kernel_once(kernels_say_yes, monkeypatch):
    """Data parallelism with the one-launch kernel: one reduction over a fresh concatenation (not the
    all-at-once path's buffer, which the kernel does not use), and the kernel reads the reduced views."""
    seen = []
    monkeypatch.setattr(cuda, "adam_step", lambda params, grads, *rest, **hyper: seen.append([g.copy() for g in grads]))
    layer, grads = model_and_grads()
    opt = optim.Adam(layer.parameters(), lr=0.1)
    sizes = []
    opt.reduce_gradients = lambda flat: sizes.append(flat.size) or flat.__imul__(0.5)
    set_grads(layer, grads[0])
    opt.step()
    assert sizes == [sum(p.size for p in layer.parameters())] and opt._flat is None
    for got, g in zip(seen[0], grads[0]):
        np.testing.assert_array_equal(got, g * 0.5)


def test_without_numba_the_cpu_kernels_step_aside(monkeypatch):
    """numba missing (or failing to load): no family is used on NumPy arrays, and minigan.cpu says what
    to install; the plain ops run."""
    from minigan import cpu

    monkeypatch.setattr(cpu, "_numba", False)
    assert cpu.compiled() is None
    assert not cpu.use_fused("batchnorm", np.ones((4, 3)))
    assert 'pip install "minigan[fused]"' in cpu.status()
