"""Anomaly mode: the first NaN or infinity stops the run at the op that made it, forward or backward."""

import os

import numpy as np
import pytest

import minigan
from minigan import autograd, nn
from minigan.errors import AnomalyError
from minigan.tensor import Tensor

HERE = os.path.abspath(__file__)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NaNs and infinities planted here


def leaf(values, name="x"):
    return minigan.tensor(np.asarray(values, dtype=np.float64), requires_grad=True, name=name)


def test_forward_nan_names_the_op_the_pass_and_the_users_line(backend_name):
    x = leaf([1.0, 0.0, 2.0])
    with pytest.raises(AnomalyError) as caught:
        with minigan.detect_anomaly():
            y = x * 2
            y.log()  # the line the error must show
    error = caught.value
    assert error.op == "log" and error.phase == "forward" and error.index is None
    message = str(error)
    assert "forward pass" in message and "'log'" in message and "(3,)" in message and "float64" in message
    assert "-inf at (1,)" in message
    assert "its inputs were all finite" in message
    assert "y.log()  # the line the error must show" in message
    assert error.trace[-1][0] == HERE


def test_forward_input_already_not_finite_is_reported_as_coming_from_outside_the_tape():
    x = leaf([1.0, np.nan], name="weights")
    with pytest.raises(AnomalyError) as caught:
        with minigan.detect_anomaly():
            (x * 3.0).sum()
    message = str(caught.value)
    assert caught.value.op == "mul"
    assert "input 0 (leaf 'weights'" in message and "ALREADY NOT FINITE" in message
    assert "outside the tape" in message


def test_backward_inf_names_the_op_its_input_and_where_it_was_made(backend_name):
    x = leaf([4.0, 0.0, 1.0])
    with minigan.detect_anomaly():
        y = x.sqrt()  # made here
        loss = y.sum()
        with pytest.raises(AnomalyError) as caught:
            loss.backward()
    error = caught.value
    assert error.op == "sqrt" and error.phase == "backward" and error.index == 0
    message = str(error)
    assert "backward pass" in message and "input 0" in message and "inf at (1,)" in message
    assert "was finite, so this backward made the first non-finite gradient" in message
    assert "y = x.sqrt()  # made here" in message
    assert x.grad is None  # the failed pass wrote no gradient


def test_backward_seed_that_is_not_finite_is_blamed_on_the_seed():
    x = leaf([1.0, 2.0])
    with minigan.detect_anomaly():
        y = x * 3.0
        with pytest.raises(AnomalyError) as caught:
            y.backward(np.array([1.0, np.nan]))
    assert caught.value.op == "mul"
    assert "ALREADY NOT FINITE" in str(caught.value) and "seed gradient" in str(caught.value)


def test_nan_inside_a_model_names_the_layer_op_and_the_line_calling_the_model():
    model = nn.Sequential(nn.Dense(3, 4, dtype="float64"), nn.LeakyReLU(0.2), nn.Dense(4, 1, dtype="float64"))
    model[0].weight.data[0, 0] = np.inf
    x = minigan.tensor(np.ones((2, 3)), dtype="float64")
    with pytest.raises(AnomalyError) as caught:
        with minigan.detect_anomaly():
            model(x)  # calling the model
    assert caught.value.op == "linear"
    assert "ALREADY NOT FINITE" in str(caught.value)
    assert "model(x)  # calling the model" in str(caught.value)
    assert any(frame[0].endswith(os.path.join("nn", "dense.py")) for frame in caught.value.trace)


def test_second_derivative_anomaly_is_caught_in_the_double_backward():
    x = leaf([1.0, 0.0])
    with minigan.detect_anomaly():
        y = (x ** 1.5).sum()
        (g,) = minigan.grad(y, x, create_graph=True)  # 1.5 x^0.5: finite at 0
        with pytest.raises(AnomalyError) as caught:
            minigan.grad(g.sum(), x)  # 0.75 x^-0.5: infinite at 0
    assert caught.value.phase == "backward"
    assert "inf" in str(caught.value)


def test_no_error_and_the_same_gradients_when_everything_is_finite():
    x = leaf([1.0, 2.0, 3.0])
    with minigan.detect_anomaly():
        (x.log() * x).sum().backward()
    np.testing.assert_allclose(x.grad, np.log([1.0, 2.0, 3.0]) + 1.0)


def test_the_mode_is_restored_after_the_block_even_after_an_error():
    assert not minigan.is_anomaly_enabled()
    with pytest.raises(AnomalyError):
        with minigan.detect_anomaly():
            assert minigan.is_anomaly_enabled() and minigan.is_anomaly_check_nan_enabled()
            leaf([0.0]).log()
    assert not minigan.is_anomaly_enabled()
    assert not autograd._watching


def test_nested_blocks_restore_the_outer_setting():
    with minigan.detect_anomaly():
        with minigan.detect_anomaly(check_nan=False):
            assert minigan.is_anomaly_enabled() and not minigan.is_anomaly_check_nan_enabled()
        assert minigan.is_anomaly_check_nan_enabled()
    assert not minigan.is_anomaly_enabled()


def test_set_detect_anomaly_turns_the_mode_on_and_off_for_the_process():
    minigan.set_detect_anomaly(True)
    try:
        with pytest.raises(AnomalyError):
            leaf([-1.0]).sqrt()
    finally:
        minigan.set_detect_anomaly(False)
    assert not autograd._watching
    leaf([-1.0]).sqrt()  # off again: NumPy's NaN passes silently


def test_as_a_decorator():
    @minigan.detect_anomaly()
    def f(x):
        return x.log()

    with pytest.raises(AnomalyError):
        f(leaf([0.0]))
    assert not minigan.is_anomaly_enabled()


def test_without_check_nan_a_failing_backward_gets_a_note_with_where_its_op_was_made():
    def broken_backward(g, needs, a):
        return (g[:1],)  # the wrong shape

    x = leaf([1.0, 2.0])
    with minigan.detect_anomaly(check_nan=False):
        y = Tensor._from_op(x.data * 2, (x,), broken_backward, "broken", saved=(x,))  # the broken op
        y.log()  # NaN-free anyway; check_nan=False would not stop it either
        with pytest.raises(ValueError) as caught:
            y.sum().backward()
    notes = "\n".join(caught.value.__notes__)
    assert "'broken'" in notes and "the broken op" in notes


def test_without_check_nan_nan_passes_silently():
    with minigan.detect_anomaly(check_nan=False):
        y = leaf([0.0]).log()
    assert np.isneginf(y.data[0])


def test_a_raising_backward_carries_the_creation_stack_as_a_note():
    def raising_backward(g, needs, a):
        raise ZeroDivisionError("planted")

    x = leaf([1.0])
    with minigan.detect_anomaly():
        y = Tensor._from_op(x.data + 1, (x,), raising_backward, "planted_op", saved=(x,))  # planted here
        with pytest.raises(ZeroDivisionError) as caught:
            y.sum().backward()
    notes = "\n".join(caught.value.__notes__)
    assert len(caught.value.__notes__) == 1
    assert "'planted_op'" in notes and "planted here" in notes


def test_outside_the_mode_nodes_carry_no_stack_and_nothing_watches():
    assert not autograd._watching
    y = leaf([1.0]) * 2
    assert getattr(y._node, "trace", None) is None
    with minigan.detect_anomaly():
        z = leaf([1.0]) * 2
    assert z._node.trace and z._node.trace[-1][0] == HERE
