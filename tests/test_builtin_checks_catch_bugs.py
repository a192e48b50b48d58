"""The built-in checklist (``minigan gradcheck``) catches wrong backwards on the paths it covers.

Each test plants one wrong backward — by monkeypatching the op so that the node it records runs a
wrong backward, or the engine's accumulation — runs the whole checklist, and requires that the cases
on that path fail, by name, while the cases beside it (the same op on another path) still pass. The
bugs are the kind a checklist with constant parameters or one case per op lets through: BatchNorm's
backward dropping γ (invisible at γ = 1), matmul's 1-D · 1-D form, pow's p = 2 branch, number ** x,
leaky_relu with a slope outside [0, 1], and gradients from two routes overwritten instead of summed.
"""

import numpy as np
import pytest

import minigan
from minigan import autograd, builtin_checks, nn, ops
from minigan.nn import activations, batchnorm, dense
from minigan.nn import functional as F


def failing_cases():
    return {name for name, report in builtin_checks.run_op_checks(seed=0) if not report.passed}


def plant(monkeypatch, owner, name, wrong, applies=lambda *args, **kwargs: True):
    """Make ``owner.name`` (an op) record, wherever ``applies(*args, **kwargs)``, a node whose backward
    returns ``wrong(grads, g, saved, args, kwargs)``: ``grads`` are the right gradients, ``args`` and
    ``kwargs`` the op's."""
    right_op = getattr(owner, name)

    def planted(*args, **kwargs):
        out = right_op(*args, **kwargs)
        node = out.grad_fn
        if node is not None and applies(*args, **kwargs):
            right = node.backward
            node.backward = lambda g, needs, *saved: wrong(right(g, needs, *saved), g, saved, args, kwargs)
        return out

    monkeypatch.setattr(owner, name, planted)


def test_the_checklist_passes_with_nothing_planted():
    assert failing_cases() == set()


def drop_gamma(monkeypatch):
    def wrong(grads, g, saved, args, kwargs):
        weight = saved[1]
        return (grads[0] / (weight if grads[0].ndim == 2 else weight.reshape(-1, 1)),) + tuple(grads[1:])

    plant(monkeypatch, batchnorm, "batch_norm", wrong, applies=lambda x, weight, *rest, **kwargs: weight is not None)


def swap_dot_product_gradients(monkeypatch):
    plant(monkeypatch, ops, "matmul", lambda grads, g, saved, args, kwargs: (grads[1], grads[0]),
          applies=lambda a, b: a.ndim == 1 and b.ndim == 1)


def forget_the_two_of_x_squared(monkeypatch):
    plant(monkeypatch, ops, "pow", lambda grads, g, saved, args, kwargs: (grads[0] / 2.0,),
          applies=lambda a, exponent: exponent == 2)


def forget_log_base_of_rpow(monkeypatch):
    plant(monkeypatch, ops, "rpow", lambda grads, g, saved, args, kwargs: (grads[0] / np.log(args[0]),))


def clamp_the_slope_to_0_1(monkeypatch):
    def slope_of(args, kwargs):
        return args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.2)

    def wrong(grads, g, saved, args, kwargs):
        slope = min(max(slope_of(args, kwargs), 0.0), 1.0)
        return (np.where(saved[0] > 0, g, g * slope),)  # saved: x or the output, of x's sign either way

    for owner in (F, activations):
        plant(monkeypatch, owner, "leaky_relu", wrong,
              applies=lambda *args, **kwargs: not 0 <= slope_of(args, kwargs) <= 1)


def overwrite_instead_of_sum(monkeypatch):
    def overwrite(pending, vertex, grad):
        pending[vertex] = grad

    monkeypatch.setattr(autograd, "_accumulate", overwrite)


PLANTED = {
    "BatchNorm's backward drops gamma": (
        drop_gamma,
        {"BatchNorm1d (train)", "BatchNorm1d (eval)", "BatchNorm1d (N, C, L)", "BatchNorm1d (N, C, L, eval)",
         "Sequential Dense-BN-LeakyReLU-Dense", "Sequential Dense-BN-LeakyReLU-Dense (eval)"},
        {"BatchNorm1d (no affine)", "LayerNorm", "Dense"}),
    "matmul's 1-D @ 1-D gradients swapped": (
        swap_dot_product_gradients, {"matmul 1-D @ 1-D"},
        {"matmul 1-D", "matmul 2-D @ 1-D", "matmul 2-D", "matmul batched @ 1-D", "einsum bilinear form"}),
    "pow's p == 2 branch loses its factor 2": (
        forget_the_two_of_x_squared, {"pow 2 (x ** 2)"}, {"pow 0", "pow 1", "pow 3", "pow 0.5", "square"}),
    "rpow's backward forgets ln(base)": (
        forget_log_base_of_rpow, {"rpow", "rpow 0.7 ** x (number ** tensor)"}, {"exp", "pow 3"}),
    "leaky_relu's backward clamps a slope outside [0, 1]": (
        clamp_the_slope_to_0_1,
        {"leaky_relu slope -0.3", "leaky_relu slope 1.7", "LeakyReLU (slope -0.3)", "LeakyReLU (slope 1.7)"},
        {"leaky_relu", "leaky_relu slope 0", "leaky_relu slope 1", "LeakyReLU", "Sequential Dense-BN-LeakyReLU-Dense"}),
    "gradients from two routes overwritten instead of summed": (
        overwrite_instead_of_sum,
        {"mul x * x (one array, two routes)", "add f(x) + g(x) (two routes)", "matmul weight used twice",
         "matmul x @ x", "maximum of two routes", "concatenate one array twice", "mul (a + b) * (a - b) (a diamond)"},
        {"mul (size-1 axes both sides)", "exp", "sin", "matmul 2-D"}),
}


@pytest.mark.parametrize("bug", list(PLANTED))
def test_the_checklist_names_the_cases_a_planted_bug_breaks(monkeypatch, bug):
    install, broken, unaffected = PLANTED[bug]
    install(monkeypatch)
    failing = failing_cases()
    assert broken <= failing, f"not caught: {sorted(broken - failing)}"
    assert not unaffected & failing, f"failing though off the planted path: {sorted(unaffected & failing)}"


def test_the_cli_reports_a_planted_bug_by_case_name(monkeypatch, capsys):
    from minigan.cli import main

    forget_the_two_of_x_squared(monkeypatch)
    assert main(["gradcheck"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("pow 2 (x ** 2)") and line.endswith("FAIL") for line in lines)
    assert any(line.startswith("pow 3") and line.endswith("pass") for line in lines)
    assert lines[-1] == "1 of the checks failed."


def test_a_backward_dropping_gamma_passes_at_gamma_1_which_is_why_parameters_are_drawn(monkeypatch):
    drop_gamma(monkeypatch)
    x = minigan.tensor(np.random.default_rng(0).standard_normal((6, 4)), requires_grad=True, dtype="float64")
    assert minigan.check_gradients(nn.BatchNorm1d(4, dtype="float64"), [x]).passed  # γ = 1: the bug hides
    layer, inputs = builtin_checks.layer_case_inputs(
        next(case for case in builtin_checks.LAYER_CASES if case[0] == "BatchNorm1d (train)"), 0,
        np.random.default_rng(0))
    report = minigan.check_gradients(layer, inputs)
    assert [c.name for c in report.inputs if not c.passed] == ["input 0"]


def test_module_gradcheck_names_a_parameter_whose_gradient_the_backward_loses(monkeypatch):
    """Dense's backward returning None for its weight: the input and bias rows pass, each weight fails."""
    plant(monkeypatch, dense, "linear", lambda grads, g, saved, args, kwargs: (grads[0], None) + tuple(grads[2:]))
    minigan.random.seed(0)
    net = builtin_checks.redraw(nn.Sequential(nn.Dense(3, 4), nn.Tanh(), nn.Dense(4, 2)), np.random.default_rng(0))
    x = minigan.tensor(np.random.default_rng(1).standard_normal((5, 3)), requires_grad=True)
    with pytest.raises(minigan.GradcheckError) as info:
        minigan.gradcheck(net, x)
    assert str(info.value).startswith(
        "gradcheck failed for parameter 0.weight (shape (3, 4)), parameter 2.weight (shape (4, 2)):")
    report = info.value.report
    assert {c.name: c.passed for c in report.inputs} == {
        "input 0": True, "parameter 0.weight": False, "parameter 0.bias": True, "parameter 2.weight": False,
        "parameter 2.bias": True}
    assert all(c.analytic == 0.0 for c in report.inputs if not c.passed)
    assert "Dense" in failing_cases()
