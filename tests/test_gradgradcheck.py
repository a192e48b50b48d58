"""``minigan.gradgradcheck`` as a specification, and the second derivatives of every built-in op and layer.

- every case of ``minigan.builtin_checks`` (one per public op, one per layer, as ``minigan gradcheck``
  runs them) passes gradgradcheck, on each backend;
- gradgradcheck catches a wrong double backward that gradcheck cannot see, and a create_graph path
  that disagrees with the plain backward; its report names the failing row and element; it refuses
  float32;
- ``minigan gradcheck --order 2`` runs them all.
"""

import numpy as np
import pytest

import minigan
from minigan import GradcheckError, builtin_checks
from minigan.cli import main
from minigan.tensor import Tensor

OP_NAMES = [case[0] for case in builtin_checks.OP_CASES]
LAYER_NAMES = [case[0] for case in builtin_checks.LAYER_CASES]
# Public ops with no derivative to check, or that need another backend to run.
WITHOUT_A_CASE = {"astype", "to_backend", "zeros_like", "scatter_add", "argmax", "argmin", "zeros", "ones", "full",
                  "arange", "randn", "rand", "ones_like", "full_like", "rand_like", "randn_like", "sign", "amax",
                  "amin"}


@pytest.mark.parametrize("name", OP_NAMES)
def test_every_builtin_op_passes_gradgradcheck(backend_name, name):
    case = builtin_checks.OP_CASES[OP_NAMES.index(name)]
    inputs = builtin_checks.op_case_inputs(case, np.random.default_rng(0))
    report = minigan.check_second_gradients(case[1], inputs)
    assert report.passed, str(report)


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_every_builtin_layer_passes_gradgradcheck(backend_name, name):
    case = builtin_checks.LAYER_CASES[LAYER_NAMES.index(name)]
    layer, inputs = builtin_checks.layer_case_inputs(case, 0, np.random.default_rng(0))
    report = minigan.check_second_gradients(layer, inputs)  # the input and every parameter, by name
    assert report.passed, str(report)


def test_every_public_op_has_a_builtin_case():
    missing = [op for op in minigan.ops.__all__ if op not in WITHOUT_A_CASE
               and not any(name == op or name.startswith(op + " ") for name in OP_NAMES)]
    assert not missing, f"ops without a case in minigan/builtin_checks.py: {missing}"


def test_every_layer_has_a_builtin_case():
    layers = [name for name in minigan.nn.__all__ if name[0].isupper() and name not in ("Module", "Parameter",
                                                                                        "Sequential")]
    missing = [layer for layer in layers if not any(case.startswith(layer) for case in LAYER_NAMES)]
    assert not missing, f"layers without a case in minigan/builtin_checks.py: {missing}"


# ------------------------------------------------------------------------- planted wrong backwards


def cube_whose_backward_reads_data(x):
    """x³ with a first derivative that is right but built from the array x.data: the graph is cut, so
    its second derivative (6x) comes out as 0."""
    def backward(g, needs, x_saved):
        return (g * 3.0 * (x.data ** 2),)
    return Tensor._from_op(x.data ** 3, (x,), backward, "cube_cut", saved=(x,))


def cube_with_wrong_second_derivative(x):
    """x³ whose backward is 3x² + 4(x − x₀) with x₀ the point's own value: right in value everywhere the
    check evaluates the first derivative's value at x₀, wrong in slope (6x + 4) — a bent double backward."""
    def backward(g, needs, x):
        return (g * (3.0 * x * x + (x - minigan.ops.namespace.array_of(x)) * 4.0),)
    return Tensor._from_op(x.data ** 3, (x,), backward, "cube_bent", saved=(x,))


def x_squared_whose_graph_path_differs(x):
    """x² whose backward gives 2x on arrays but 2x + 1 on tensors (as if a fused kernel and its op
    fallback disagreed)."""
    def backward(g, needs, x):
        return (g * 2.0 * x + (1.0 if isinstance(g, Tensor) else 0.0) * g,)
    return Tensor._from_op(x.data ** 2, (x,), backward, "square_two_paths", saved=(x,))


@pytest.fixture
def x34():
    return minigan.tensor(np.random.default_rng(1).uniform(0.5, 1.5, (3, 4)), requires_grad=True, dtype="float64")


@pytest.mark.parametrize("planted", [cube_whose_backward_reads_data, cube_with_wrong_second_derivative])
def test_gradgradcheck_catches_a_wrong_double_backward_that_gradcheck_passes(x34, planted):
    assert minigan.gradcheck(planted, [x34])
    with pytest.raises(GradcheckError, match="gradgradcheck failed for input 0"):
        minigan.gradgradcheck(planted, [x34])


def test_gradgradcheck_compares_the_create_graph_path_with_the_plain_backward(x34):
    report = minigan.check_second_gradients(x_squared_whose_graph_path_differs, [x34])
    assert not report.passed and not report.first_order_consistent
    assert "NO (they differ by up to 1" in str(report)


def test_gradgradcheck_passes_a_right_op_and_returns_true(x34):
    assert minigan.gradgradcheck(lambda t: minigan.tanh(t) * t, [x34]) is True


def test_gradgradcheck_report_names_the_grad_output_row_and_the_consistency_check(x34):
    report = minigan.gradgradcheck(lambda t: t ** 3, [x34], return_report=True)
    text = str(report)
    assert text.startswith("second derivatives")
    assert "grad_output" in text and "equal the plain backward's: yes" in text
    assert [c.name for c in report.inputs] == ["input 0", "grad_output"]


def test_gradgradcheck_locates_the_wrong_element(x34):
    def bent_at_one_element(x):
        def backward(g, needs, x):
            bump = np.zeros(x.shape)
            bump[1, 2] = 1.0
            return (g * (2.0 * x + (x - minigan.ops.namespace.array_of(x)) * bump),)
        return Tensor._from_op(x.data ** 2, (x,), backward, "bent", saved=(x,))

    report = minigan.check_second_gradients(bent_at_one_element, [x34], mode="full")
    assert report.inputs[0].worst == (1, 2)


def test_gradgradcheck_uses_given_grad_outputs(x34):
    v = minigan.tensor(np.full((3, 4), 2.0), requires_grad=True, dtype="float64")
    assert minigan.gradgradcheck(lambda t: t ** 3, [x34], grad_outputs=v)
    with pytest.raises(ValueError, match=r"grad_outputs has shape \(2,\)"):
        minigan.gradgradcheck(lambda t: t ** 3, [x34], grad_outputs=np.ones(2))


def test_gradgradcheck_refuses_float32_inputs():
    x = minigan.tensor(np.ones(3), requires_grad=True, dtype="float32")
    with pytest.raises(minigan.DTypeError, match="gradgradcheck: input 0"):
        minigan.gradgradcheck(lambda t: t * t, [x])


def test_gradgradcheck_of_a_linear_function_passes(x34):
    assert minigan.gradgradcheck(lambda t: t * 3.0 + 1.0, [x34])


def test_gradgradcheck_restores_the_inputs_bitwise(x34):
    before = x34.data.copy()
    minigan.gradgradcheck(lambda t: minigan.exp(t).sum(), [x34])
    np.testing.assert_array_equal(x34.data, before)
    assert x34.grad is None


def test_cli_gradcheck_order_2_passes_every_builtin_op(capsys):
    assert main(["gradcheck", "--order", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "All second-derivative checks passed (float64)."
    for name in ("BatchNorm1d (train)", "bce with logits", "matmul batched"):
        assert any(line.startswith(name) and line.endswith("pass") for line in lines), name
