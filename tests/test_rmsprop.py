"""RMSprop as a specification.

- Over several steps, for every combination of its options (centered, momentum, weight decay, alpha,
  eps), it gives PyTorch's ``torch.optim.RMSprop`` numbers in float64 (skipped without torch), and the
  numbers of the update rule written out here with NumPy.
- The all-at-once (flat buffer) path equals the per-parameter path bit for bit, state included.
- A run saved (``flat_state``, ``.npz`` files, state dicts), restored into fresh objects and continued
  equals the uninterrupted run bit for bit.
- Bad hyper-parameters raise ValueError before anything is built; on CuPy it runs the array code
  (there is no RMSprop kernel).
"""

import itertools

import numpy as np
import pytest

import minigan
from minigan import cuda
from minigan.nn import BatchNorm1d, Dense, LeakyReLU, Parameter, Sequential
from minigan.optim import RMSprop
from tests.conftest import to_numpy
from tests.test_optim import make_batches, train

SHAPES = [(3, 2), (4,)]
STEPS = 5

OPTIONS = [dict(centered=centered, momentum=momentum, weight_decay=weight_decay)
           for centered, momentum, weight_decay in itertools.product([False, True], [0.0, 0.9], [0.0, 0.1])]
OPTION_IDS = [f"centered={o['centered']}-momentum={o['momentum']}-weight_decay={o['weight_decay']}" for o in OPTIONS]
HYPER = [dict(), dict(lr=0.05, alpha=0.8, eps=1e-3)]  # PyTorch's defaults, and others


def initial_values():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape) for shape in SHAPES]


def gradient_sequence(steps=STEPS):
    """One list of gradients per step, their scales changing so the averages matter."""
    rng = np.random.default_rng(1)
    return [[scale * rng.standard_normal(shape) for shape in SHAPES]
            for scale in [1.0, 3.0, 0.1, 2.0, 0.5][:steps]]


def run_optimizer(optimizer, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = minigan.tensor(g, dtype=p.dtype).data
        optimizer.step()
    return [p.numpy() for p in params]


def reference_rmsprop(theta, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    """PyTorch's documented algorithm, written out."""
    theta = theta.copy()
    square_avg, grad_avg, buffer = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    for g in grads:
        g = g + weight_decay * theta
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        avg = square_avg
        if centered:
            grad_avg = alpha * grad_avg + (1 - alpha) * g
            avg = square_avg - grad_avg * grad_avg
        avg = np.sqrt(avg) + eps
        if momentum > 0:
            buffer = momentum * buffer + g / avg
            theta = theta - lr * buffer
        else:
            theta = theta - lr * g / avg
    return theta


@pytest.mark.torch
@pytest.mark.parametrize("hyper", HYPER, ids=["defaults", "lr_alpha_eps"])
@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_steps_equal_torch_rmsprop(backend_name, options, hyper):
    torch = pytest.importorskip("torch")
    settings = {**options, **hyper}
    params = [Parameter(v, dtype="float64") for v in initial_values()]
    torch_params = [torch.tensor(v, requires_grad=True) for v in initial_values()]
    optimizer, torch_optimizer = RMSprop(params, **settings), torch.optim.RMSprop(torch_params, **settings)
    for step_grads in gradient_sequence():
        for p, t, g in zip(params, torch_params, step_grads):
            p.grad = minigan.tensor(g, dtype="float64").data
            t.grad = torch.tensor(g)
        optimizer.step()
        torch_optimizer.step()
        for p, t in zip(params, torch_params):
            np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14)
    for state, t in zip(optimizer.state, torch_params):
        for name, value in torch_optimizer.state[t].items():
            if name != "step":
                np.testing.assert_allclose(to_numpy(state[name]), value.numpy(), rtol=1e-12, atol=1e-14,
                                           err_msg=name)
        assert set(state) == set(torch_optimizer.state[t])  # the same buffers, by PyTorch's names


@pytest.mark.parametrize("hyper", HYPER, ids=["defaults", "lr_alpha_eps"])
@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_steps_equal_the_update_rule_by_hand(backend_name, options, hyper):
    settings = {**options, **hyper}
    params = [Parameter(v, dtype="float64") for v in initial_values()]
    grads = gradient_sequence()
    got = run_optimizer(RMSprop(params, **settings), params, grads)
    for i, (theta, result) in enumerate(zip(initial_values(), got)):
        expected = reference_rmsprop(theta, [g[i] for g in grads], **settings)
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-15, err_msg=f"parameter {i}")


def test_first_step_divides_by_the_root_of_the_weighted_square_plus_eps(backend_name):
    p = Parameter([1.0, -2.0], dtype="float64")
    optimizer = RMSprop([p], lr=0.1, alpha=0.75, eps=0.5)
    p.grad = minigan.tensor([2.0, -4.0], dtype="float64").data
    optimizer.step()  # s = 0.25 g², so √s = |g| / 2: eps is added after the square root
    np.testing.assert_allclose(to_numpy(p.data), [1.0 - 0.1 * 2.0 / 1.5, -2.0 + 0.1 * 4.0 / 2.5], rtol=1e-15)


# ---------------------------------------------------------------------------- flat path


# (flat against per-parameter steps, bit for bit: tests/test_optim.py, ALL_OPTIMIZERS)


def test_flat_step_shares_one_buffer_per_state(backend_name):
    params = [Parameter(v, dtype="float64") for v in initial_values()]
    optimizer = RMSprop(params, momentum=0.9, centered=True)
    run_optimizer(optimizer, params, gradient_sequence(1))
    for name in ("square_avg", "grad_avg", "momentum_buffer"):
        assert all(s[name].base is optimizer._flat["state"][name] for s in optimizer.state), name


def test_state_holds_only_the_buffers_the_options_need(backend_name):
    for options, names in [({}, {"square_avg"}), ({"centered": True}, {"square_avg", "grad_avg"}),
                           ({"momentum": 0.5}, {"square_avg", "momentum_buffer"})]:
        params = [Parameter(v, dtype="float64") for v in initial_values()]
        optimizer = RMSprop(params, **options)
        run_optimizer(optimizer, params, gradient_sequence(1))
        assert set(optimizer.state[0]) == names | {"step"}, options


def test_runs_the_array_code_with_the_optimizer_kernels_on(backend_name):
    # Adam and SGD have kernels; RMSprop has none, and must not be sent to one on CuPy.
    previous = cuda.kernels_enabled("optimizer")
    cuda.set_kernels_enabled("optimizer", True)
    try:
        params = [Parameter(v, dtype="float64") for v in initial_values()]
        optimizer = RMSprop(params, momentum=0.9, centered=True)
        assert not optimizer._has_kernel()
        got = run_optimizer(optimizer, params, gradient_sequence())
    finally:
        cuda.set_kernels_enabled("optimizer", previous)
    grads = gradient_sequence()
    for i, (theta, result) in enumerate(zip(initial_values(), got)):
        expected = reference_rmsprop(theta, [g[i] for g in grads], momentum=0.9, centered=True)
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-15)


# -------------------------------------------------------------------------------- resuming


def make_model():
    return Sequential(Dense(4, 8), BatchNorm1d(8), LeakyReLU(0.2), Dense(8, 1))


def make_optimizer(params, lr=0.01):
    return RMSprop(params, lr=lr, momentum=0.5, centered=True, weight_decay=0.01)




def started_run(batches):
    minigan.random.seed(0)
    model = make_model()
    optimizer = make_optimizer(model.parameters())
    train(model, optimizer, batches)
    return model, optimizer


def fresh_objects():
    """A differently initialised model and an optimizer with another learning rate: all must be loaded."""
    minigan.random.seed(99)
    model = make_model()
    return model, make_optimizer(model.parameters(), lr=0.5)


def assert_bitwise_equal(model, reference):
    ours, theirs = model.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        assert np.array_equal(to_numpy(ours[key]), to_numpy(theirs[key])), key


@pytest.mark.parametrize("how", ["flat_state", "files", "state_dict"])
def test_resumed_run_equals_uninterrupted_run_bitwise(backend_name, how, tmp_path):
    k, m = 4, 3
    batches = make_batches(k + m)
    reference, _ = started_run(batches)

    model, optimizer = started_run(batches[:k])
    model_state = model.state_dict()
    if how == "flat_state":
        saved = optimizer.flat_state()
        saved = {name: np.array(to_numpy(value)) for name, value in saved.items()}  # host copies, as in a file
    elif how == "files":
        optimizer.save(tmp_path / "optimizer.npz")
    else:
        saved = optimizer.state_dict()
    train(model, optimizer, batches[k:k + 1])  # what was saved is a copy: later steps leave it be

    resumed_model, resumed_optimizer = fresh_objects()
    resumed_model.load_state_dict(model_state)
    if how == "flat_state":
        resumed_optimizer.load_flat_state(saved)
    elif how == "files":
        resumed_optimizer.load(tmp_path / "optimizer.npz")
    else:
        resumed_optimizer.load_state_dict(saved)
    assert resumed_optimizer.hyper == optimizer.hyper
    train(resumed_model, resumed_optimizer, batches[k:])
    assert_bitwise_equal(resumed_model, reference)


def test_flat_state_names_the_buffers(backend_name):
    params = [Parameter(v, dtype="float64") for v in initial_values()]
    optimizer = RMSprop(params, momentum=0.9, centered=True)
    run_optimizer(optimizer, params, gradient_sequence(2))
    flat = optimizer.flat_state()
    assert {"hyper/lr", "hyper/alpha", "hyper/eps", "hyper/weight_decay", "hyper/momentum", "hyper/centered",
            "state/0/square_avg", "state/0/grad_avg", "state/0/momentum_buffer", "state/0/step"} <= set(flat)
    assert int(flat["state/1/step"]) == 2


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("settings, match", [
    (dict(lr=-0.1), "lr must be non-negative"),
    (dict(alpha=-0.1), r"alpha must be in \[0, 1\]"),
    (dict(alpha=1.5), r"alpha must be in \[0, 1\]"),
    (dict(eps=-1e-8), "eps must be non-negative"),
    (dict(momentum=-0.9), "momentum must be non-negative"),
    (dict(weight_decay=-0.1), "weight_decay must be non-negative"),
], ids=["negative_lr", "negative_alpha", "alpha_above_one", "negative_eps", "negative_momentum",
        "negative_weight_decay"])
def test_invalid_hyperparameters_raise_value_error_naming_them(backend_name, settings, match):
    params = [Parameter(v, dtype="float64") for v in initial_values()]
    before = [p.numpy() for p in params]
    with pytest.raises(ValueError, match=f"RMSprop: {match}"):
        RMSprop(params, **settings)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.numpy(), b)


def test_empty_parameter_list_raises_value_error():
    with pytest.raises(ValueError, match="RMSprop: got an empty parameter list"):
        RMSprop([])


def test_loading_another_optimizers_state_raises_and_changes_nothing(backend_name):
    params = [Parameter(v, dtype="float64") for v in initial_values()]
    adam = minigan.optim.Adam(params, lr=0.01)
    run_optimizer(adam, params, gradient_sequence(1))
    optimizer = RMSprop(params, lr=0.05)
    with pytest.raises(ValueError, match="RMSprop.load_state_dict: hyper-parameters"):
        optimizer.load_state_dict(adam.state_dict())
    assert optimizer.hyper["lr"] == 0.05 and optimizer.state == [{}, {}]
