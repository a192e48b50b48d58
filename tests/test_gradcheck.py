"""``minigan.gradcheck`` / ``check_gradients``: passes right backwards, catches planted wrong ones,
reports where and by how much, and leaves its inputs exactly as it found them."""

import numpy as np
import pytest

import minigan
from minigan import DTypeError, GradcheckError, GradcheckReport, Tensor
from minigan.cli import main as cli_main


def f64(values, requires_grad=True):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def square_op(backward_of, name="planted"):
    """An op whose forward is x² and whose backward is ``backward_of(g, x)`` (right or planted wrong).

    The returned fn records every incoming gradient g in ``fn.seen`` (g is gradcheck's cotangent v).
    """
    seen = []

    def fn(x):
        def backward(g):
            seen.append(g.copy())
            return (backward_of(g, x.data),)

        return Tensor._from_op(x.data ** 2, (x,), backward, name)

    fn.seen = seen
    return fn


right_square = lambda g, x: g * 2 * x  # noqa: E731
wrong_square = lambda g, x: g * x  # noqa: E731  (the planted bug: the factor 2 is missing)


@pytest.fixture
def x23():
    # Away from 0 (so the planted error is large everywhere) and all of distinct magnitude.
    return f64(np.array([[0.4, -0.7, 1.1], [-1.3, 0.9, 1.6]]))


# ------------------------------------------------------------------------------ passing


def test_gradcheck_returns_true_on_a_correct_function(x23):
    w = f64(np.linspace(-1.0, 1.0, 6).reshape(3, 2))
    assert minigan.gradcheck(lambda a, b: (a @ b).tanh() * a.sum(), (x23, w)) is True


def test_gradcheck_accepts_a_single_tensor_as_inputs(x23):
    assert minigan.gradcheck(square_op(right_square), x23) is True


def test_gradcheck_skips_inputs_not_requiring_grad(x23):
    c = f64(np.ones((2, 3)), requires_grad=False)
    report = minigan.gradcheck(lambda a, b: a * b, (x23, c), return_report=True)
    assert [check.position for check in report.inputs] == [0]


def test_return_report_gives_a_report_whose_str_is_a_table(x23):
    w = f64([0.5, -0.25, 2.0])
    report = minigan.gradcheck(lambda a, b: a * b, (x23, w), return_report=True)
    assert isinstance(report, GradcheckReport)
    assert report.passed
    text = str(report)
    lines = text.splitlines()
    for column in ("input", "shape", "mode", "max abs err", "max rel err", "worst at", "analytic", "numeric"):
        assert column in lines[0]
    assert lines[1].split()[:2] == ["0", "(2,"] and lines[1].endswith("yes")
    assert lines[2].split()[:2] == ["1", "(3,)"] and lines[2].endswith("yes")
    assert "tolerance" in text and "deterministic on repeat: yes" in text


def test_check_gradients_returns_a_failing_report_instead_of_raising(x23):
    report = minigan.check_gradients(square_op(wrong_square), x23)
    assert isinstance(report, GradcheckReport)
    assert not report.passed
    assert not report.inputs[0].passed
    assert "NO" in str(report)


# ------------------------------------------------------------------------------ planted bugs


def test_planted_wrong_backward_raises_gradcheck_error(x23):
    with pytest.raises(GradcheckError):
        minigan.gradcheck(square_op(wrong_square), x23)


def test_gradcheck_error_is_an_assertion_error_carrying_the_report(x23):
    with pytest.raises(AssertionError) as info:
        minigan.gradcheck(square_op(wrong_square), x23)
    assert isinstance(info.value.report, GradcheckReport)
    assert not info.value.report.passed


def test_planted_bug_report_names_the_worst_element_with_right_numbers(x23):
    fn = square_op(wrong_square)
    with pytest.raises(GradcheckError) as info:
        minigan.gradcheck(fn, x23)
    message = str(info.value)
    check = info.value.report.inputs[0]

    v = fn.seen[0]  # the cotangent gradcheck backpropagated
    analytic = v * x23.data  # what the planted backward returns
    numeric = v * 2 * x23.data  # the true gradient, which finite differences approximate
    violation = np.abs(analytic - numeric) / (1e-5 + 1e-3 * np.abs(numeric))
    expected_index = np.unravel_index(np.argmax(violation), x23.shape)

    assert message.startswith("gradcheck failed for input 0 (shape (2, 3))")
    assert check.mode == "full"
    assert tuple(int(i) for i in check.worst) == tuple(int(i) for i in expected_index)
    assert check.analytic == pytest.approx(analytic[expected_index], rel=1e-12)
    assert check.numeric == pytest.approx(numeric[expected_index], rel=1e-6)
    assert check.max_abs_error == pytest.approx(np.abs(analytic - numeric).max(), rel=1e-6)
    assert check.max_rel_error == pytest.approx(0.5, rel=1e-6)
    assert str(tuple(int(i) for i in expected_index)) in message
    assert f"{check.analytic:.6g}" in message and f"{check.numeric:.6g}" in message


def test_message_names_the_wrong_input_only():
    a = f64([0.5, -1.0, 2.0])
    b = f64([1.5, 0.75, -0.5])
    planted = square_op(wrong_square)
    with pytest.raises(GradcheckError) as info:
        minigan.gradcheck(lambda p, q: p * planted(q), (a, b))
    message = str(info.value)
    assert message.startswith("gradcheck failed for input 1 (shape (3,))")
    assert "input 0 (" not in message.splitlines()[0]
    passed = {check.position: check.passed for check in info.value.report.inputs}
    assert passed == {0: True, 1: False}


def test_bug_at_a_single_element_is_located_exactly():
    x = f64(np.linspace(0.5, 2.0, 12).reshape(3, 4))

    def off_at_1_2(g, data):
        grad = g * 2 * data
        grad[1, 2] *= 2.0
        return grad

    with pytest.raises(GradcheckError) as info:
        minigan.gradcheck(square_op(off_at_1_2), x)
    check = info.value.report.inputs[0]
    assert tuple(int(i) for i in check.worst) == (1, 2)
    assert check.analytic == pytest.approx(2 * check.numeric, rel=1e-6)
    assert check.numeric == pytest.approx(check.analytic / 2, rel=1e-6)
    assert "(1, 2)" in str(info.value)


def test_backward_ignoring_incoming_gradient_is_caught():
    x = f64([[0.4, -0.7], [1.1, 0.3]])
    with pytest.raises(GradcheckError):
        minigan.gradcheck(square_op(lambda g, data: 2 * data), x)


def test_backward_ignoring_incoming_gradient_is_caught_for_a_scalar_output():
    x = f64([0.4, -0.7, 1.1])

    def sum_of_squares(t):
        def backward(g):
            return (2 * t.data,)  # planted: should be g * 2 * t.data

        return Tensor._from_op(np.asarray((t.data ** 2).sum()), (t,), backward, "sum_of_squares")

    assert sum_of_squares(x).shape == ()
    with pytest.raises(GradcheckError):
        minigan.gradcheck(sum_of_squares, x)


# ------------------------------------------------------------------------------ random mode


def test_random_mode_catches_the_planted_bug_and_suggests_full_mode(x23):
    with pytest.raises(GradcheckError) as info:
        minigan.gradcheck(square_op(wrong_square), x23, mode="random")
    assert info.value.report.inputs[0].mode == "random"
    assert "mode='full'" in str(info.value)


def test_random_mode_passes_a_correct_op(x23):
    report = minigan.gradcheck(square_op(right_square), x23, mode="random", return_report=True)
    assert report.inputs[0].mode == "random"
    assert report.inputs[0].checked == 10


def test_auto_mode_uses_random_directions_on_a_large_input_and_catches_the_bug():
    x = f64(np.random.default_rng(1).uniform(0.5, 1.5, size=(60, 60)))
    with pytest.raises(GradcheckError) as info:
        minigan.gradcheck(square_op(wrong_square), x)
    assert info.value.report.inputs[0].mode == "random"
    assert "mode='full'" in str(info.value)


def test_auto_mode_passes_a_correct_op_on_a_large_input():
    x = f64(np.random.default_rng(1).uniform(0.5, 1.5, size=(60, 60)))
    report = minigan.gradcheck(square_op(right_square), x, return_report=True)
    assert report.inputs[0].mode == "random"
    assert "mode='full'" not in str(report)


# ------------------------------------------------------------------------------ float32


def test_float32_inputs_are_refused_with_an_explanation():
    x = minigan.tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    with pytest.raises(DTypeError, match="float64") as info:
        minigan.gradcheck(lambda t: t * t, x)
    assert "allow_float32" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_allow_float32_with_loose_tolerances_passes_a_smooth_function():
    x = minigan.tensor(np.array([0.5, -1.0, 1.5], dtype=np.float32), requires_grad=True)
    assert minigan.gradcheck(lambda t: t.tanh() * t, x, allow_float32=True, eps=1e-3, atol=1e-2,
                             rtol=1e-2) is True


# ------------------------------------------------------------------------------ kinks


def test_kink_that_breaks_the_check_is_reported_as_not_differentiable():
    x = f64([0.5, 0.2])  # clip(max=0.5) has a kink at exactly 0.5
    with pytest.raises(GradcheckError, match="not differentiable") as info:
        minigan.gradcheck(lambda t: minigan.clip(t, max=0.5), x)
    assert "element (0,)" in str(info.value)
    assert "element (1,)" not in str(info.value)


def test_abs_at_exactly_zero_fails_as_not_differentiable():
    x = f64([0.0, 1.5, -2.0])
    with pytest.raises(GradcheckError, match="not differentiable"):
        minigan.gradcheck(minigan.abs, x)


# ------------------------------------------------------------------------------ determinism


def test_non_deterministic_backward_is_reported(x23):
    calls = []

    def drifting(g, data):
        calls.append(1)
        return g * 2 * data + 1e-9 * len(calls)  # a different answer on every call

    with pytest.raises(GradcheckError, match="not deterministic") as info:
        minigan.gradcheck(square_op(drifting), x23)
    assert not info.value.report.deterministic
    assert info.value.report.nondeterminism == pytest.approx(1e-9, rel=1e-3)


def test_nondet_tol_tolerates_small_backward_differences(x23):
    calls = []

    def drifting(g, data):
        calls.append(1)
        return g * 2 * data + 1e-9 * len(calls)

    assert minigan.gradcheck(square_op(drifting), x23, nondet_tol=1e-8) is True


# ------------------------------------------------------------------------------ inputs left alone


@pytest.mark.parametrize("mode", ["full", "random"])
def test_inputs_are_restored_bitwise(mode):
    x = f64(np.random.default_rng(3).standard_normal((4, 5)) / 3)  # values with full mantissas
    w = f64(np.random.default_rng(4).standard_normal(5) / 7)
    data_objects = (x.data, w.data)
    before = (x.data.tobytes(), w.data.tobytes())
    minigan.gradcheck(lambda a, b: (a * b).tanh(), (x, w), mode=mode)
    assert x.data is data_objects[0] and w.data is data_objects[1]
    assert (x.data.tobytes(), w.data.tobytes()) == before


def test_inputs_are_restored_bitwise_after_a_failing_check(x23):
    before = x23.data.tobytes()
    with pytest.raises(GradcheckError):
        minigan.gradcheck(square_op(wrong_square), x23)
    assert x23.data.tobytes() == before


def test_inputs_are_restored_when_fn_raises_during_the_check():
    x = f64([0.5, 0.25])
    before = x.data.copy()

    def fn(t):
        if t.data[0] != 0.5:
            raise RuntimeError("fn refuses perturbed inputs")
        return t * t

    with pytest.raises(RuntimeError):
        minigan.gradcheck(fn, x)
    np.testing.assert_array_equal(x.data, before)


def test_pre_existing_grad_is_restored(x23):
    previous = np.full((2, 3), 7.0)
    x23.grad = previous
    minigan.gradcheck(square_op(right_square), x23)
    assert x23.grad is previous
    np.testing.assert_array_equal(x23.grad, np.full((2, 3), 7.0))


def test_absent_grad_stays_absent(x23):
    minigan.gradcheck(square_op(right_square), x23)
    assert x23.grad is None


# ------------------------------------------------------------------------------ bad arguments


def test_no_input_requiring_grad_raises_value_error():
    with pytest.raises(ValueError, match="requires_grad"):
        minigan.gradcheck(lambda t: t * t, f64([1.0], requires_grad=False))


def test_fn_returning_a_non_tensor_raises_type_error(x23):
    with pytest.raises(TypeError, match="Tensor"):
        minigan.gradcheck(lambda t: t.data * 2, x23)


def test_non_tensor_input_raises_type_error():
    with pytest.raises(TypeError, match="input 0"):
        minigan.gradcheck(lambda t: t, (np.ones(2),))


def test_bad_mode_raises_value_error(x23):
    with pytest.raises(ValueError, match="mode"):
        minigan.gradcheck(lambda t: t * t, x23, mode="exhaustive")


# ------------------------------------------------------------------------------ the CLI


def test_cli_gradcheck_passes_every_builtin_op(capsys):
    assert cli_main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "All gradient checks passed" in out
    assert "FAIL" not in out


def test_nondet_tol_also_forgives_last_bit_differences_in_the_function_value():
    """As a GPU's atomic adds give: the same inputs, values a rounding error apart."""
    calls = []

    def jittery(t):
        calls.append(None)
        return t * t + (1e-15 if len(calls) % 2 else 0.0)

    x = minigan.tensor([0.5, 1.5], requires_grad=True, dtype="float64")
    with pytest.raises(GradcheckError, match="different values"):
        minigan.gradcheck(jittery, [x])
    assert minigan.gradcheck(jittery, [x], nondet_tol=1e-12)
