"""Optimizers as specifications.

- The first steps of SGD (plain, momentum, Nesterov, weight decay), Adagrad and Adam (AMSGrad, weight
  decay) equal the update rules computed here by hand with NumPy (PyTorch's semantics: the momentum
  buffer starts as g; Adam's bias correction).
- A parameter whose ``.grad`` is None is skipped, and its state does not advance.
- The all-at-once (flat buffer) path gives the same numbers, bit for bit, as updating each parameter
  on its own; its buffers follow parameters and states that are replaced from outside.
- Full-batch gradient descent (SGD on the loss over the whole data set) solves least squares.
- A run interrupted, saved (to files or in memory), restored into fresh objects and continued equals
  the uninterrupted run bit for bit.
"""

import numpy as np
import pytest

import minigan
from minigan import cuda
from minigan import ShapeError
from minigan.nn import BatchNorm1d, Dense, LeakyReLU, Parameter, Sequential
from minigan.nn import functional as F
from minigan.optim import SGD, Adagrad, Adam, RMSprop
from tests.conftest import to_numpy

SHAPES = [(3, 2), (4,)]
STEPS = 3


def make_params():
    rng = np.random.default_rng(0)
    return [Parameter(rng.standard_normal(shape), dtype="float64") for shape in SHAPES]


def gradient_sequence(steps=STEPS, scales=None):
    """One list of gradients (NumPy, one per parameter) per step."""
    rng = np.random.default_rng(1)
    scales = scales or [1.0] * steps
    return [[scale * rng.standard_normal(shape) for shape in SHAPES] for scale in scales]


def run_optimizer(optimizer, params, grads):
    """Set each parameter's .grad to the given values and step, once per entry of ``grads``."""
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = minigan.tensor(g, dtype=p.dtype).data
        optimizer.step()
    return [p.numpy() for p in params]  # copies


# ------------------------------------------------------------------- reference update rules


def reference_sgd(theta, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    theta, buffer = theta.copy(), None
    for g in grads:
        g = g + weight_decay * theta
        if momentum:
            buffer = g.copy() if buffer is None else momentum * buffer + g
            g = g + momentum * buffer if nesterov else buffer
        theta = theta - lr * g
    return theta


def reference_adagrad(theta, grads, lr, eps=1e-10, weight_decay=0.0, initial_accumulator_value=0.0):
    theta = theta.copy()
    total = np.full_like(theta, initial_accumulator_value)
    for g in grads:
        g = g + weight_decay * theta
        total = total + g * g
        theta = theta - lr * g / (np.sqrt(total) + eps)
    return theta


def reference_adam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    beta1, beta2 = betas
    theta = theta.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    v_max = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


CASES = {
    "sgd": (SGD, reference_sgd, dict(lr=0.1)),
    "sgd_momentum": (SGD, reference_sgd, dict(lr=0.1, momentum=0.9)),
    "sgd_nesterov": (SGD, reference_sgd, dict(lr=0.05, momentum=0.8, nesterov=True)),
    "sgd_weight_decay": (SGD, reference_sgd, dict(lr=0.1, weight_decay=0.3)),
    "sgd_all": (SGD, reference_sgd, dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.1)),
    "adagrad": (Adagrad, reference_adagrad, dict(lr=0.1)),
    "adagrad_all": (Adagrad, reference_adagrad, dict(lr=0.2, eps=1e-3, weight_decay=0.2,
                                                     initial_accumulator_value=0.5)),
    "adam": (Adam, reference_adam, dict(lr=0.01)),
    "adam_betas_eps": (Adam, reference_adam, dict(lr=0.02, betas=(0.5, 0.7), eps=1e-3)),
    "adam_weight_decay": (Adam, reference_adam, dict(lr=0.01, weight_decay=0.5)),
    "adam_amsgrad": (Adam, reference_adam, dict(lr=0.01, betas=(0.8, 0.5), amsgrad=True)),
    "adam_amsgrad_weight_decay": (Adam, reference_adam, dict(lr=0.01, betas=(0.8, 0.5), amsgrad=True,
                                                             weight_decay=0.2)),
}


@pytest.mark.parametrize("steps", [1, 2, STEPS])
@pytest.mark.parametrize("case", CASES)
def test_first_steps_equal_the_update_rule_by_hand(backend_name, case, steps):
    cls, reference, hyper = CASES[case]
    params = make_params()
    initial = [p.numpy() for p in params]
    grads = gradient_sequence(STEPS, scales=[1.0, 3.0, 0.1])[:steps]  # large then small: AMSGrad's max matters
    got = run_optimizer(cls(params, **hyper), params, grads)
    for i, (theta, result) in enumerate(zip(initial, got)):
        expected = reference(theta, [g[i] for g in grads], **hyper)
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-15, err_msg=f"parameter {i}")


def test_amsgrad_differs_from_adam_when_gradients_shrink(backend_name):
    grads = gradient_sequence(STEPS, scales=[1.0, 3.0, 0.1])
    plain, ams = make_params(), make_params()
    a = run_optimizer(Adam(plain, lr=0.01, betas=(0.8, 0.5)), plain, grads)
    b = run_optimizer(Adam(ams, lr=0.01, betas=(0.8, 0.5), amsgrad=True), ams, grads)
    assert not np.allclose(a[0], b[0])  # the case above is not vacuous


def test_sgd_momentum_buffer_starts_as_the_first_gradient(backend_name):
    p = Parameter([1.0, 2.0], dtype="float64")
    opt = SGD([p], lr=0.5, momentum=0.9)
    p.grad = minigan.tensor([0.2, -0.4], dtype="float64").data
    opt.step()
    np.testing.assert_allclose(to_numpy(opt.state[0]["momentum_buffer"]), [0.2, -0.4])
    np.testing.assert_allclose(to_numpy(p.data), [1.0 - 0.1, 2.0 + 0.2])  # not (1 − μ)·g or μ·0 + g scaled


def test_adam_first_step_moves_each_coordinate_by_about_lr(backend_name):
    params = make_params()
    before = [p.numpy() for p in params]
    after = run_optimizer(Adam(params, lr=0.01), params, gradient_sequence(1))
    for b, a in zip(before, after):  # bias correction: m̂/√v̂ = g/|g| at t = 1
        np.testing.assert_allclose(np.abs(a - b), 0.01, rtol=1e-6)


# ---------------------------------------------------------------------- parameters without .grad


OPTIMIZERS = {
    "sgd_momentum": lambda params: SGD(params, lr=0.1, momentum=0.9),
    "adagrad": lambda params: Adagrad(params, lr=0.1),
    "adam": lambda params: Adam(params, lr=0.01),
    "adam_amsgrad_weight_decay": lambda params: Adam(params, lr=0.01, amsgrad=True, weight_decay=0.1),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_parameter_without_grad_is_skipped_and_its_state_does_not_advance(backend_name, name):
    params = make_params()
    optimizer = OPTIMIZERS[name](params)
    grads = gradient_sequence(3)
    frozen_before = params[1].numpy()

    for step in range(2):  # parameter 1 has no gradient for two steps
        params[0].grad = minigan.tensor(grads[step][0], dtype="float64").data
        params[1].grad = None
        optimizer.step()
    np.testing.assert_array_equal(to_numpy(params[1].data), frozen_before)
    assert optimizer.state[1] == {}
    assert optimizer.state[0]["step"] == 2

    # its first real step is a first step: the same as a fresh optimizer's
    fresh = [Parameter(to_numpy(params[1].data), dtype="float64")]
    expected = run_optimizer(OPTIMIZERS[name](fresh), fresh, [[grads[2][1]]])[0]
    params[0].grad = minigan.tensor(grads[2][0], dtype="float64").data
    params[1].grad = minigan.tensor(grads[2][1], dtype="float64").data
    optimizer.step()
    np.testing.assert_array_equal(to_numpy(params[1].data), expected)
    assert optimizer.state[1]["step"] == 1 and optimizer.state[0]["step"] == 3


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_zero_grad_sets_every_grad_to_none(backend_name, name):
    params = make_params()
    optimizer = OPTIMIZERS[name](params)
    for p in params:
        p.grad = p.data.copy()
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


ALL_OPTIMIZERS = {
    **OPTIMIZERS,
    "sgd": lambda params: SGD(params, lr=0.1),
    "sgd_nesterov_weight_decay": lambda params: SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    "adagrad_weight_decay": lambda params: Adagrad(params, lr=0.1, weight_decay=0.1),
    "rmsprop": lambda params: RMSprop(params, lr=0.05),
    "rmsprop_centered_momentum_weight_decay": lambda params: RMSprop(params, lr=0.05, momentum=0.9, centered=True,
                                                                     weight_decay=0.1),
}


@pytest.fixture
def without_optimizer_kernel():
    """The flat path is the array code; on CuPy the one-launch kernel would otherwise take its place."""
    with cuda.kernels_disabled("optimizer"):
        yield


@pytest.fixture
def with_optimizer_kernel():
    """The optimizer kernel family switched on, even where MINIGAN_KERNELS switched it off."""
    previous = cuda.kernels_enabled("optimizer")
    cuda.set_kernels_enabled("optimizer", True)
    yield
    cuda.set_kernels_enabled("optimizer", previous)


@pytest.mark.parametrize("name", ALL_OPTIMIZERS)
def test_flat_step_equals_per_parameter_steps_bit_for_bit(backend_name, name, without_optimizer_kernel):
    # A float32 parameter beside two float64 ones forces the per-parameter path (one flat buffer needs
    # one dtype); the same two float64 parameters alone take the flat path.
    flat_params, mixed_params = make_params(), make_params() + [Parameter([1.0, 2.0], dtype="float32")]
    flat_opt, mixed_opt = ALL_OPTIMIZERS[name](flat_params), ALL_OPTIMIZERS[name](mixed_params)
    grads = gradient_sequence(4)
    run_optimizer(flat_opt, flat_params, grads)
    run_optimizer(mixed_opt, mixed_params[:2], grads)  # the float32 one has no grad: skipped
    assert flat_opt._flat is not None and mixed_opt._flat is None
    for a, b in zip(flat_params, mixed_params):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(flat_opt.state, mixed_opt.state):
        assert set(a) == set(b) and a["step"] == b["step"] == 4
        for key in set(a) - {"step"}:
            np.testing.assert_array_equal(to_numpy(a[key]), to_numpy(b[key]))


def test_flat_step_makes_parameters_views_of_one_buffer(backend_name, without_optimizer_kernel):
    params = make_params()
    optimizer = Adam(params, lr=0.01)
    before = [p.numpy() for p in params]
    run_optimizer(optimizer, params, gradient_sequence(1))
    flat = optimizer._flat["param"]
    for p, b in zip(params, before):
        assert p.data.base is flat and p.shape == b.shape
    assert all(s["exp_avg"].base is optimizer._flat["state"]["exp_avg"] for s in optimizer.state)


def test_flat_step_follows_a_parameter_replaced_from_outside(backend_name):
    params = make_params()
    optimizer = SGD(params, lr=0.5)
    run_optimizer(optimizer, params, gradient_sequence(1))
    params[0].data = params[0].xp.zeros(params[0].shape)  # not a view of the optimizer's buffer any more
    run_optimizer(optimizer, params, [[np.ones(SHAPES[0]), np.zeros(SHAPES[1])]])
    np.testing.assert_array_equal(params[0].numpy(), np.full(SHAPES[0], -0.5))


def test_flat_step_after_loading_a_state_uses_the_loaded_buffers(backend_name):
    params = make_params()
    optimizer = Adam(params, lr=0.01)
    grads = gradient_sequence(3)
    run_optimizer(optimizer, params, grads[:1])
    saved_state, saved_values = optimizer.state_dict(), [p.numpy() for p in params]
    run_optimizer(optimizer, params, grads[1:2])
    expected = [p.numpy() for p in params]
    optimizer.load_state_dict(saved_state)
    for p, v in zip(params, saved_values):
        p.data[...] = p.xp.asarray(v)
    run_optimizer(optimizer, params, grads[1:2])
    for p, e in zip(params, expected):
        np.testing.assert_array_equal(p.numpy(), e)


def test_learning_rate_can_be_changed_between_steps(backend_name):
    p = Parameter([1.0], dtype="float64")
    opt = SGD([p], lr=0.1)
    opt.lr = 0.5
    assert opt.lr == 0.5 and opt.hyper["lr"] == 0.5
    p.grad = minigan.tensor([1.0], dtype="float64").data
    opt.step()
    np.testing.assert_allclose(to_numpy(p.data), [0.5])


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=-0.1),
    lambda ps: SGD(ps, lr=0.1, momentum=-0.5),
    lambda ps: SGD(ps, lr=0.1, nesterov=True),
    lambda ps: Adam(ps, betas=(1.0, 0.999)),
    lambda ps: Adam(ps, betas=(0.9, -0.1)),
    lambda ps: Adagrad(ps, lr=0.1, eps=-1.0),
    lambda ps: Adam([]),
], ids=["negative_lr", "negative_momentum", "nesterov_without_momentum", "beta1_one", "negative_beta2",
        "negative_eps", "no_parameters"])
def test_invalid_hyperparameters_raise_value_error(backend_name, make):
    with pytest.raises(ValueError):
        make(make_params())


# ------------------------------------------------------------------------ full-batch descent


def test_full_batch_gradient_descent_solves_least_squares(backend_name):
    """Full-batch GD is SGD stepped once per pass over the whole data set."""
    rng = np.random.default_rng(2)
    features = rng.standard_normal((64, 3))
    targets = features @ np.array([[1.5], [-2.0], [0.5]]) + 0.7 + 0.1 * rng.standard_normal((64, 1))
    design = np.hstack([features, np.ones((64, 1))])
    solution = np.linalg.lstsq(design, targets, rcond=None)[0]

    minigan.random.seed(3)
    model = Dense(3, 1, dtype="float64")
    optimizer = SGD(model.parameters(), lr=0.1)
    x, y = minigan.tensor(features, dtype="float64"), minigan.tensor(targets, dtype="float64")
    for _ in range(600):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    np.testing.assert_allclose(to_numpy(model.weight.data), solution[:3], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(to_numpy(model.bias.data), solution[3], rtol=1e-8, atol=1e-10)


# -------------------------------------------------------------------------------- resuming


def make_model():
    return Sequential(Dense(4, 8), BatchNorm1d(8), LeakyReLU(0.2), Dense(8, 1))


RESUME_OPTIMIZERS = {
    "adam": lambda params, lr=0.01: Adam(params, lr=lr),
    "adam_amsgrad_weight_decay": lambda params, lr=0.01: Adam(params, lr=lr, amsgrad=True, weight_decay=0.01),
    "sgd_nesterov": lambda params, lr=0.01: SGD(params, lr=lr, momentum=0.9, nesterov=True),
    "adagrad": lambda params, lr=0.01: Adagrad(params, lr=lr),
}


def make_batches(count):
    rng = np.random.default_rng(4)
    return [(rng.standard_normal((16, 4)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32))
            for _ in range(count)]


def train(model, optimizer, batches):
    for x, y in batches:
        optimizer.zero_grad()
        F.mse_loss(model(minigan.tensor(x)), minigan.tensor(y)).backward()
        optimizer.step()


def uninterrupted(name, batches):
    minigan.random.seed(0)
    model = make_model()
    optimizer = RESUME_OPTIMIZERS[name](model.parameters())
    train(model, optimizer, batches)
    return model


def assert_bitwise_equal(model, reference):
    ours, theirs = model.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        assert np.array_equal(to_numpy(ours[key]), to_numpy(theirs[key])), key


def fresh_objects(name):
    """A differently initialised model and an optimizer with another learning rate: all must be loaded."""
    minigan.random.seed(99)
    model = make_model()
    return model, RESUME_OPTIMIZERS[name](model.parameters(), lr=0.5)


@pytest.mark.parametrize("name", RESUME_OPTIMIZERS)
def test_resume_from_files_equals_uninterrupted_run_bitwise(backend_name, name, tmp_path):
    k, m = 4, 3
    batches = make_batches(k + m)
    reference = uninterrupted(name, batches)

    minigan.random.seed(0)
    model = make_model()
    optimizer = RESUME_OPTIMIZERS[name](model.parameters())
    train(model, optimizer, batches[:k])
    model.save(tmp_path / "model.npz")
    optimizer.save(tmp_path / "optimizer.npz")

    resumed_model, resumed_optimizer = fresh_objects(name)
    resumed_model.load(tmp_path / "model.npz")
    resumed_optimizer.load(tmp_path / "optimizer.npz")
    assert resumed_optimizer.lr == 0.01
    train(resumed_model, resumed_optimizer, batches[k:])
    assert_bitwise_equal(resumed_model, reference)


@pytest.mark.parametrize("name", RESUME_OPTIMIZERS)
def test_resume_from_state_dicts_in_memory_equals_uninterrupted_run_bitwise(backend_name, name):
    k, m = 4, 3
    batches = make_batches(k + m)
    reference = uninterrupted(name, batches)

    minigan.random.seed(0)
    model = make_model()
    optimizer = RESUME_OPTIMIZERS[name](model.parameters())
    train(model, optimizer, batches[:k])
    model_state, optimizer_state = model.state_dict(), optimizer.state_dict()
    train(model, optimizer, batches[k:k + 1])  # the saved state dicts are copies: later steps leave them be

    resumed_model, resumed_optimizer = fresh_objects(name)
    resumed_model.load_state_dict(model_state)
    resumed_optimizer.load_state_dict(optimizer_state)
    train(resumed_model, resumed_optimizer, batches[k:])
    assert_bitwise_equal(resumed_model, reference)


def test_optimizer_state_dict_holds_buffers_and_step_counts(backend_name):
    params = make_params()
    optimizer = Adam(params, lr=0.01, amsgrad=True)
    run_optimizer(optimizer, params, gradient_sequence(2))
    state = optimizer.state_dict()
    assert state["hyper"]["lr"] == 0.01 and state["hyper"]["amsgrad"] is True
    assert [s["step"] for s in state["state"]] == [2, 2]
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert state["state"][0]["exp_avg"] is not optimizer.state[0]["exp_avg"]


def test_optimizer_load_state_dict_with_wrong_parameter_count_raises_and_changes_nothing(backend_name):
    params = make_params()
    optimizer = Adam(params, lr=0.01)
    run_optimizer(optimizer, params, gradient_sequence(1))
    before = optimizer.state_dict()
    other = Adam(make_params()[:1], lr=0.5)
    run_optimizer(other, other.params, [gradient_sequence(1)[0][:1]])
    with pytest.raises(ShapeError, match="1 parameter states for 2 parameters"):
        optimizer.load_state_dict(other.state_dict())
    assert optimizer.lr == 0.01
    np.testing.assert_array_equal(to_numpy(optimizer.state[0]["exp_avg"]), to_numpy(before["state"][0]["exp_avg"]))


def test_optimizer_load_state_dict_with_wrong_buffer_shape_raises_shape_error(backend_name):
    params = make_params()
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    run_optimizer(optimizer, params, gradient_sequence(1))
    state = optimizer.state_dict()
    state["state"][1]["momentum_buffer"] = np.zeros(5)
    with pytest.raises(ShapeError, match="momentum_buffer"):
        optimizer.load_state_dict(state)


def test_optimizer_load_of_missing_file_raises_naming_it(backend_name, tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        Adam(make_params()).load(path)


# ------------------------------------------------------------------- state loading: checked, not aliased


def test_loading_another_optimizers_state_raises_and_changes_nothing(backend_name):
    params = make_params()
    sgd = SGD(params, lr=0.1, momentum=0.9)
    run_optimizer(sgd, params, gradient_sequence(1))
    adam = Adam(params, lr=0.01)
    with pytest.raises((KeyError, ValueError, TypeError)):
        adam.load_state_dict(sgd.state_dict())
    assert adam.hyper["lr"] == 0.01 and "beta1" in adam.hyper


def test_optimizer_load_of_a_file_without_optimizer_state_raises_naming_it(backend_name, tmp_path):
    model = Dense(3, 2)
    model.save(tmp_path / "model.npz")
    optimizer = Adam(model.parameters(), lr=0.01)
    with pytest.raises((KeyError, ValueError), match="model.npz"):
        optimizer.load(tmp_path / "model.npz")
    assert optimizer.lr == 0.01


def test_resume_from_file_with_a_scalar_parameter_equals_uninterrupted_run(backend_name, tmp_path):
    grads = [[np.array(g)] for g in (0.5, -1.0, 2.0, 0.3)]
    reference = Parameter(1.5, dtype="float64")
    run_optimizer(Adam([reference], lr=0.1), [reference], grads)

    p = Parameter(1.5, dtype="float64")
    optimizer = Adam([p], lr=0.1)
    run_optimizer(optimizer, [p], grads[:2])
    optimizer.save(tmp_path / "optimizer.npz")
    resumed = Parameter(p.numpy(), dtype="float64")
    resumed_optimizer = Adam([resumed], lr=0.1)
    resumed_optimizer.load(tmp_path / "optimizer.npz")
    run_optimizer(resumed_optimizer, [resumed], grads[2:])
    assert np.array_equal(resumed.numpy(), reference.numpy())


def test_load_state_dict_does_not_alias_the_callers_arrays_for_a_scalar_parameter(backend_name):
    p = Parameter(1.5, dtype="float64")
    optimizer = Adam([p], lr=0.1)
    run_optimizer(optimizer, [p], [[np.array(0.5)]])
    state = optimizer.state_dict()
    saved = np.array(to_numpy(state["state"][0]["exp_avg"]))
    resumed = Parameter(p.numpy(), dtype="float64")
    resumed_optimizer = Adam([resumed], lr=0.1)
    resumed_optimizer.load_state_dict(state)
    run_optimizer(resumed_optimizer, [resumed], [[np.array(-1.0)]])
    assert np.array_equal(to_numpy(state["state"][0]["exp_avg"]), saved)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["adam", "adam_amsgrad_weight_decay", "sgd", "sgd_momentum",
                                  "sgd_nesterov_weight_decay"])
def test_optimizer_kernel_gives_the_numbers_of_the_array_code(name, with_optimizer_kernel):
    with minigan.backend("cupy"):
        fused, plain = make_params(), make_params()
        fused_opt, plain_opt = ALL_OPTIMIZERS[name](fused), ALL_OPTIMIZERS[name](plain)
        grads = gradient_sequence(4)
        run_optimizer(fused_opt, fused, grads)
        with cuda.kernels_disabled("optimizer"):
            run_optimizer(plain_opt, plain, grads)
    assert fused_opt._flat is None and plain_opt._flat is not None  # the kernel ran, then the flat path
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13, atol=1e-15)
    for a, b in zip(fused_opt.state, plain_opt.state):
        assert a["step"] == b["step"] == 4


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad"])
def test_a_step_after_a_create_graph_backward_uses_the_values_of_the_tensor_gradients(name):
    def run(create_graph):
        minigan.random.seed(0)
        w = minigan.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True, dtype="float64")
        opt = getattr(minigan.optim, name)([w], lr=0.1)
        (minigan.tanh(w) ** 2).sum().backward(create_graph=create_graph)
        opt.step()
        return w.numpy()

    np.testing.assert_array_equal(run(True), run(False))
