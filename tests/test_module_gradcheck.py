"""``minigan.gradcheck(module, inputs)`` and ``gradgradcheck(module, inputs)``: every input and every
parameter that requires grad is checked, each named; the check runs on a float64 copy made the same
function at every evaluation (BatchNorm's running statistics, Dropout's masks), and the caller's
module, inputs and random state are left exactly as they were."""

import numpy as np
import pytest

import minigan
from minigan import GradcheckError, Tensor
from minigan.builtin_checks import redraw
from minigan.nn import BatchNorm1d, Dense, Dropout, LeakyReLU, Module, Parameter, Sequential
from tests.conftest import to_numpy


def dense_bn_net(dtype="float32"):
    minigan.random.seed(0)
    return Sequential(Dense(3, 4, dtype=dtype), BatchNorm1d(4, dtype=dtype), LeakyReLU(0.2), Dense(4, 2, dtype=dtype))


def randomized(module, seed=1):
    """Parameters and running statistics away from their constant initial values."""
    return redraw(module, np.random.default_rng(seed))


def x_of(shape, dtype="float64", requires_grad=True, seed=2):
    return minigan.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad, dtype=dtype)


def row_names(report):
    return [c.name for c in report.inputs]


# ------------------------------------------------------------------------------ what is checked


def test_a_dense_layer_is_checked_for_its_input_and_every_parameter(backend_name):
    layer = randomized(Dense(3, 2, dtype="float64"))
    report = minigan.gradcheck(layer, x_of((4, 3)), return_report=True)
    assert report.passed
    assert row_names(report) == ["input 0", "parameter weight", "parameter bias"]
    assert [c.shape for c in report.inputs] == [(4, 3), (3, 2), (2,)]
    assert [c.checked for c in report.inputs] == [12, 6, 2]


def test_a_sequential_names_its_parameters_by_their_dotted_names(backend_name):
    report = minigan.gradcheck(randomized(dense_bn_net()), x_of((6, 3)), return_report=True)
    assert row_names(report) == ["input 0", "parameter 0.weight", "parameter 0.bias", "parameter 1.weight",
                                 "parameter 1.bias", "parameter 3.weight", "parameter 3.bias"]
    text = str(report)
    assert text.splitlines()[0].startswith("module Sequential (training mode), checked on a float64 copy")
    assert "parameter 1.weight  (4,)" in text


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batchnorm_passes_gradcheck_and_gradgradcheck(backend_name, mode):
    layer = randomized(BatchNorm1d(4, dtype="float64")).train(mode == "train")
    x = x_of((6, 4))
    assert minigan.gradcheck(layer, x)
    report = minigan.gradgradcheck(layer, x, return_report=True)
    assert report.passed
    assert row_names(report) == ["input 0", "parameter weight", "parameter bias", "grad_output"]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_dense_batchnorm_leaky_relu_dense_passes_both_checks(backend_name, mode):
    net = randomized(dense_bn_net()).train(mode == "train")
    assert minigan.gradcheck(net, x_of((6, 3)))
    assert minigan.gradgradcheck(net, x_of((6, 3)))


def test_dropout_is_checked_with_one_mask_for_every_evaluation(backend_name):
    layer = Dropout(0.4)
    x = x_of((5, 4))
    with pytest.raises(GradcheckError, match="different values"):  # as a plain function it draws anew
        minigan.gradcheck(lambda t: layer(t), x)
    assert minigan.gradcheck(layer, x)
    assert minigan.gradgradcheck(Sequential(Dense(4, 3, dtype="float64"), Dropout(0.4)), x)


def test_batchnorm_in_training_starts_every_evaluation_from_the_same_running_statistics(backend_name):
    layer = randomized(BatchNorm1d(3, momentum=0.5, dtype="float64"))
    seen = []  # the hook is shared with the copy the check runs: it sees the copy's statistics after each call
    layer.register_forward_hook(lambda module, inputs, out: seen.append(to_numpy(module.running_mean.data).copy()))
    start = to_numpy(layer.running_mean.data).copy()
    assert minigan.gradcheck(layer, x_of((5, 3)))
    assert len(seen) > 30
    # Each is one update from the start, by the batch mean of a (perturbed) x: equal up to ε · momentum.
    # (Without the restoring, the k-th would be k updates away.)
    np.testing.assert_allclose(seen, [seen[0]] * len(seen), rtol=0, atol=1e-6)
    assert not np.allclose(seen[0], start)
    np.testing.assert_array_equal(to_numpy(layer.running_mean.data), start)


def test_float32_modules_and_inputs_are_checked_on_float64_copies(backend_name):
    net = randomized(dense_bn_net("float32"))
    x = x_of((6, 3), dtype="float32")
    assert minigan.gradcheck(net, x)
    assert minigan.gradgradcheck(net, [x])
    assert x.dtype == np.float32 and x.grad is None
    assert all(p.dtype == np.float32 for p in net.parameters())


def test_an_array_input_is_a_constant_and_only_parameters_are_checked(backend_name):
    report = minigan.gradcheck(randomized(Dense(3, 2)), np.ones((4, 3), dtype=np.float32), return_report=True)
    assert row_names(report) == ["parameter weight", "parameter bias"]


def test_a_frozen_parameter_is_not_checked(backend_name):
    layer = randomized(Dense(3, 2, dtype="float64"))
    layer.bias.requires_grad = False
    report = minigan.gradcheck(layer, x_of((4, 3)), return_report=True)
    assert row_names(report) == ["input 0", "parameter weight"]


def test_nothing_requiring_grad_raises_value_error_naming_the_module():
    with pytest.raises(ValueError, match="neither an input nor a parameter of LeakyReLU"):
        minigan.gradcheck(LeakyReLU(), x_of((2, 3), requires_grad=False))


# ------------------------------------------------------------------------------ the caller's module is left alone


def test_the_callers_module_inputs_and_random_state_are_left_exactly_as_they_were(backend_name):
    net = randomized(Sequential(Dense(3, 4), BatchNorm1d(4), LeakyReLU(0.2), Dropout(0.3), Dense(4, 2)))
    net[1].eval()  # a mixed mode, which the check must keep
    x = x_of((6, 3), dtype="float32")
    net(x).sum().backward()
    grads = [p.grad for p in net.parameters()]
    grad_values = [to_numpy(g).copy() for g in grads]
    arrays = [(t.data, to_numpy(t.data).copy()) for t in net.parameters() + net.buffers()]
    modes = [m.training for m in net.modules()]
    x_before = (x.data, to_numpy(x.data).copy(), x.grad)
    state = minigan.random.get_state()

    assert minigan.gradcheck(net, x)
    assert minigan.gradgradcheck(net, x)

    for (data, values), t in zip(arrays, net.parameters() + net.buffers()):
        assert t.data is data and t.dtype == np.float32
        np.testing.assert_array_equal(to_numpy(t.data), values)
    for p, grad, values in zip(net.parameters(), grads, grad_values):
        assert p.grad is grad
        np.testing.assert_array_equal(to_numpy(p.grad), values)
    assert [m.training for m in net.modules()] == modes
    assert x.data is x_before[0] and x.grad is x_before[2]
    np.testing.assert_array_equal(to_numpy(x.data), x_before[1])
    assert minigan.random.get_state() == state


def test_the_random_state_is_restored_after_a_failing_check():
    state = minigan.random.get_state()
    with pytest.raises(GradcheckError):
        minigan.gradcheck(Sequential(Dropout(0.5), Scale(lost=True)), x_of((3, 4)))
    assert minigan.random.get_state() == state


# ------------------------------------------------------------------------------ wrong gradients are named


class Scale(Module):
    """y = x · w per feature, one op whose backward can lose the weight's gradient (``lost``) or read
    its data instead of its tensor (``cut``: right values, no second derivative)."""

    def __init__(self, features=4, lost=False, cut=False):
        super().__init__()
        self.weight = Parameter(np.linspace(0.5, 1.5, features), dtype="float64")
        self.lost, self.cut = lost, cut

    def forward(self, x):
        lost, cut = self.lost, self.cut

        def backward(g, needs, x, w):
            if lost:
                return g * w, None
            return g * w, (g * (array_of(x) if cut else x)).sum(axis=0)

        return Tensor._from_op(x.data * self.weight.data, (x, self.weight), backward, "scale", saved=(x, self.weight))


def array_of(value):
    return value.data if isinstance(value, Tensor) else value


def test_a_lost_parameter_gradient_is_caught_and_the_parameter_named(backend_name):
    net = Sequential(Dense(3, 4, dtype="float64"), Scale(lost=True), Dense(4, 2, dtype="float64"))
    with pytest.raises(GradcheckError) as info:
        minigan.gradcheck(randomized(net), x_of((5, 3)))
    message = str(info.value)
    assert message.startswith("gradcheck failed for parameter 1.weight (shape (4,)):")
    failed = [c for c in info.value.report.inputs if not c.passed]
    assert [c.name for c in failed] == ["parameter 1.weight"]
    assert failed[0].analytic == 0.0 and abs(failed[0].numeric) > 1e-3
    assert f"{failed[0].numeric:.6g}" in message


def test_a_double_backward_cut_from_a_parameter_is_caught_by_gradgradcheck_and_named():
    layer = Scale(cut=True)
    x = x_of((5, 4))
    assert minigan.gradcheck(layer, x)
    with pytest.raises(GradcheckError, match=r"gradgradcheck failed for input 0 \(shape \(5, 4\)\)") as info:
        minigan.gradgradcheck(layer, x)
    assert row_names(info.value.report) == ["input 0", "parameter weight", "grad_output"]


def test_the_worst_element_of_a_wrong_parameter_gradient_is_located(monkeypatch):
    from minigan.nn import dense

    right = dense.linear

    def off_at_2_1(x, weight, bias=None):
        out = right(x, weight, bias)
        if out.grad_fn is None:  # the check's evaluations without a graph
            return out
        backward = out.grad_fn.backward

        def planted(g, needs, *saved):
            gx, gw, *rest = backward(g, needs, *saved)
            gw = gw.copy()
            gw[2, 1] *= 3.0
            return (gx, gw, *rest)

        out.grad_fn.backward = planted
        return out

    monkeypatch.setattr(dense, "linear", off_at_2_1)
    with pytest.raises(GradcheckError) as info:
        minigan.gradcheck(randomized(Sequential(Dense(3, 2, dtype="float64"))), x_of((4, 3)))
    check = next(c for c in info.value.report.inputs if not c.passed)
    assert check.name == "parameter 0.weight" and tuple(int(i) for i in check.worst) == (2, 1)
    assert check.analytic == pytest.approx(3 * check.numeric, rel=1e-6)
    assert "(2, 1)" in str(info.value)


# ------------------------------------------------------------------------------ PyTorch


@pytest.mark.torch
def test_the_checked_gradients_are_pytorchs(backend_name):
    """The analytic gradients the module check compares with finite differences are torch's own for the
    same Dense-BatchNorm-LeakyReLU-Dense network in training mode."""
    torch = pytest.importorskip("torch")
    net = randomized(dense_bn_net("float64"))
    x = x_of((6, 3))
    upstream = np.random.default_rng(5).standard_normal((6, 2))
    net(x).backward(upstream)

    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.LeakyReLU(0.2),
                                 torch.nn.Linear(4, 2)).double()
    with torch.no_grad():
        for ours, linear in ((net[0], theirs[0]), (net[3], theirs[3])):
            linear.weight.copy_(torch.from_numpy(to_numpy(ours.weight.data).T))
            linear.bias.copy_(torch.from_numpy(to_numpy(ours.bias.data)))
        theirs[1].weight.copy_(torch.from_numpy(to_numpy(net[1].weight.data)))
        theirs[1].bias.copy_(torch.from_numpy(to_numpy(net[1].bias.data)))
    tx = torch.from_numpy(to_numpy(x.data)).requires_grad_(True)
    theirs(tx).backward(torch.from_numpy(upstream))
    assert torch.autograd.gradcheck(theirs, (tx,))

    np.testing.assert_allclose(to_numpy(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    pairs = [(net[0].weight, theirs[0].weight.grad.numpy().T), (net[0].bias, theirs[0].bias.grad.numpy()),
             (net[1].weight, theirs[1].weight.grad.numpy()), (net[1].bias, theirs[1].bias.grad.numpy()),
             (net[3].weight, theirs[3].weight.grad.numpy().T), (net[3].bias, theirs[3].bias.grad.numpy())]
    for p, expected in pairs:
        np.testing.assert_allclose(to_numpy(p.grad), expected, rtol=1e-10, atol=1e-12)
    assert minigan.gradcheck(net, x)
