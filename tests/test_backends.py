"""Backends (NumPy, CuPy) and the errors minigan raises: clear messages naming what went wrong.

CuPy's absence, a CuPy without a GPU, and a CuPy array are simulated with fake modules, so these
tests mean the same on every machine; the ``gpu`` tests need the real thing.
"""

import os
import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import minigan
from minigan import (BackendError, BackendUnavailableError, DTypeError, GradcheckError, GraphError,
                     MiniganError, ShapeError, backends)

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_python(code, **env):
    """Run ``python -c code`` in a fresh interpreter from the repository root."""
    environment = {k: v for k, v in os.environ.items() if k != "MINIGAN_BACKEND"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def backend_state(monkeypatch):
    """Whatever a test does to the backend module's state is undone afterwards."""
    monkeypatch.setattr(backends, "_current", backends._current)
    monkeypatch.setattr(backends, "_cupy", None)
    return monkeypatch


@pytest.fixture
def no_cupy(backend_state):
    """CuPy is not installed: ``import cupy`` raises ImportError."""
    backend_state.setitem(sys.modules, "cupy", None)


def fake_cupy_module(device_count):
    """A module that imports as ``cupy`` whose CUDA runtime reports no usable GPU."""
    module = types.ModuleType("cupy")
    module.float32 = np.float32
    module.arange = np.arange
    module.ndarray = type("ndarray", (), {})
    module.cuda = SimpleNamespace(runtime=SimpleNamespace(getDeviceCount=device_count))
    return module


def raise_no_device():
    raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")


# ------------------------------------------------------------------------------ importing


def test_import_minigan_does_not_import_cupy():
    result = run_python("import minigan, sys; assert 'cupy' not in sys.modules, 'cupy was imported'")
    assert result.returncode == 0, result.stderr


def test_default_backend_is_numpy():
    result = run_python("import minigan; print(minigan.get_backend(), minigan.tensor([1.0]).backend)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "numpy"]


@pytest.mark.parametrize("value", ["numpy", " NumPy "])
def test_minigan_backend_environment_variable_numpy_works(value):
    result = run_python("import minigan; print(minigan.get_backend())", MINIGAN_BACKEND=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "numpy"


def test_bogus_minigan_backend_environment_variable_fails_import_clearly():
    result = run_python("import minigan", MINIGAN_BACKEND="bogus")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "BackendError" in last_line
    assert "MINIGAN_BACKEND='bogus'" in last_line
    assert "'numpy'" in last_line and "'cupy'" in last_line


# ------------------------------------------------------------------------------ choosing a backend


@pytest.mark.parametrize("how", ["set_backend", "context"])
def test_cupy_backend_without_cupy_says_how_to_install_it(no_cupy, how):
    with pytest.raises(BackendUnavailableError, match=r"pip install minigan\[gpu\]"):
        if how == "set_backend":
            minigan.set_backend("cupy")
        else:
            with minigan.backend("cupy"):
                pass
    assert minigan.get_backend() == "numpy"


def test_backend_unavailable_error_is_a_runtime_error(no_cupy):
    with pytest.raises(RuntimeError):
        minigan.set_backend("cupy")


@pytest.mark.parametrize("device_count", [raise_no_device, lambda: 0], ids=["raises", "zero devices"])
@pytest.mark.parametrize("how", ["set_backend", "context"])
def test_cupy_without_usable_gpu_says_so_and_changes_nothing(backend_state, device_count, how):
    backend_state.setitem(sys.modules, "cupy", fake_cupy_module(device_count))
    with pytest.raises(BackendUnavailableError) as info:
        if how == "set_backend":
            minigan.set_backend("cupy")
        else:
            with minigan.backend("cupy"):
                pass
    message = str(info.value)
    assert "no usable CUDA GPU" in message
    assert "nvidia-smi" in message
    assert minigan.get_backend() == "numpy"
    assert backends._cupy is None  # the broken module was not cached
    assert minigan.tensor([1.0]).backend == "numpy"


@pytest.mark.parametrize("name", ["torch", "CUPY", "cuda", ""])
def test_unknown_backend_name_lists_the_valid_ones(backend_state, name):
    with pytest.raises(BackendError, match=r"'numpy', 'cupy'"):
        minigan.set_backend(name)
    assert minigan.get_backend() == "numpy"


def test_unknown_backend_in_context_manager_raises(backend_state):
    with pytest.raises(BackendError, match="unknown backend"):
        with minigan.backend("jax"):
            pass


def test_backend_context_restores_previous_backend_even_on_error(backend_state):
    """With a fake CuPy that passes the GPU check, the block switches and then switches back."""
    working = fake_cupy_module(lambda: 1)
    backend_state.setitem(sys.modules, "cupy", working)
    with pytest.raises(KeyError):
        with minigan.backend("cupy") as name:
            assert name == "cupy" and minigan.get_backend() == "cupy"
            raise KeyError("boom")
    assert minigan.get_backend() == "numpy"


def test_set_backend_numpy_is_always_available(no_cupy):
    minigan.set_backend("numpy")
    assert minigan.get_backend() == "numpy"


# ------------------------------------------------------------------------------ mixed backends


class FakeCupyArray(np.ndarray):
    """Stands in for ``cupy.ndarray``: a different array type that NumPy can still compute with."""


@pytest.fixture
def fake_cupy(backend_state):
    backend_state.setattr(backends, "_cupy", SimpleNamespace(ndarray=FakeCupyArray))


def numpy_tensor(shape=(2, 2)):
    return minigan.tensor(np.ones(shape, dtype=np.float32), requires_grad=True)


def fake_cupy_tensor(shape=(2, 2)):
    t = minigan.tensor(np.ones(shape, dtype=np.float32), requires_grad=True)
    t.data = t.data.view(FakeCupyArray)
    return t


def test_fake_cupy_tensor_reports_the_cupy_backend(fake_cupy):
    assert fake_cupy_tensor().backend == "cupy"
    assert numpy_tensor().backend == "numpy"


@pytest.mark.parametrize("op, name", [
    (lambda a, b: a + b, "add"),
    (lambda a, b: a - b, "sub"),
    (lambda a, b: a * b, "mul"),
    (lambda a, b: a / b, "div"),
    (lambda a, b: a @ b, "matmul"),
    (lambda a, b: minigan.maximum(a, b), "maximum"),
    (lambda a, b: minigan.where(a.data > 0, a, b), "where"),
    (lambda a, b: minigan.concatenate([a, b]), "concatenate"),
    (lambda a, b: minigan.stack([a, b]), "stack"),
])
@pytest.mark.parametrize("numpy_first", [True, False], ids=["numpy-cupy", "cupy-numpy"])
def test_mixing_backends_in_one_op_names_the_op_and_both_backends(fake_cupy, op, name, numpy_first):
    a, b = numpy_tensor(), fake_cupy_tensor()
    if not numpy_first:
        a, b = b, a
    with pytest.raises(BackendError) as info:
        op(a, b)
    message = str(info.value)
    assert message.startswith(f"{name}:")
    assert "numpy" in message and "cupy" in message
    assert "Tensor.to(" in message


def test_gradcheck_refuses_inputs_on_different_backends(fake_cupy):
    a = minigan.tensor(np.ones(2), requires_grad=True)
    b = fake_cupy_tensor(shape=(2,)).astype("float64")
    with pytest.raises(BackendError, match="gradcheck"):
        minigan.gradcheck(lambda p, q: p, (a, b))


# ------------------------------------------------------------------------------ shape errors


def test_matmul_shape_mismatch_names_both_shapes():
    a = minigan.tensor(np.ones((2, 3)))
    b = minigan.tensor(np.ones((4, 5)))
    with pytest.raises(ShapeError) as info:
        a @ b
    message = str(info.value)
    assert "matmul" in message and "(2, 3)" in message and "(4, 5)" in message


def test_matmul_of_0d_operand_raises_shape_error():
    with pytest.raises(ShapeError, match="at least 1 dimension"):
        minigan.tensor(2.0) @ minigan.tensor(np.ones(2))


def test_matmul_batch_axes_that_do_not_broadcast_raise_shape_error():
    with pytest.raises(ShapeError, match=r"\(2, 3, 4\).*\(5, 4, 3\)"):
        minigan.tensor(np.ones((2, 3, 4))) @ minigan.tensor(np.ones((5, 4, 3)))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_broadcast_failure_names_the_op_and_both_shapes(name):
    a = minigan.tensor(np.ones((2, 3)))
    b = minigan.tensor(np.ones(4))
    with pytest.raises(ShapeError) as info:
        getattr(minigan, name)(a, b)
    message = str(info.value)
    assert message.startswith(f"{name}:")
    assert "(2, 3)" in message and "(4,)" in message


def test_reshape_to_wrong_size_raises_shape_error():
    with pytest.raises(ShapeError, match=r"reshape.*\(2, 3\).*6 elements.*\(4,\)"):
        minigan.tensor(np.ones((2, 3))).reshape(4)


@pytest.mark.parametrize("axis", [2, -3, (0, 2), (0, 0), (1, -1)])
def test_sum_with_bad_axis_raises_shape_error(axis):
    with pytest.raises(ShapeError, match="sum"):
        minigan.tensor(np.ones((2, 3))).sum(axis=axis)


def test_sum_accepts_a_numpy_integer_axis():
    out = minigan.tensor(np.ones((2, 3))).sum(axis=np.int64(0))
    assert out.shape == (3,)


@pytest.mark.parametrize("axes", [(0, 0), (0,), (0, 1, 2)])
def test_transpose_with_bad_permutation_raises_shape_error(axes):
    with pytest.raises(ShapeError, match="transpose.*permutation"):
        minigan.tensor(np.ones((2, 3))).transpose(axes)


@pytest.mark.parametrize("axes", [(1, 2), (3, 0), (0, -3)])
def test_transpose_with_out_of_range_axis_raises_shape_error(axes):
    with pytest.raises(ShapeError):
        minigan.tensor(np.ones((2, 3))).transpose(axes)


@pytest.mark.parametrize("index", [3, (0, 5), (0, 0, 0), -4])
def test_getitem_out_of_range_raises_shape_error(index):
    with pytest.raises(ShapeError, match=r"getitem.*\(3, 4\)"):
        minigan.tensor(np.ones((3, 4)))[index]


def test_getitem_with_a_tensor_index_raises_type_error():
    with pytest.raises(TypeError, match="not a Tensor"):
        minigan.tensor(np.ones(3))[minigan.tensor([0.0])]


@pytest.mark.parametrize("axis", [0, 2])
def test_concatenate_mismatched_shapes_raise_shape_error(axis):
    a = minigan.tensor(np.ones((2, 3)))
    b = minigan.tensor(np.ones((3, 2)))
    with pytest.raises(ShapeError) as info:
        minigan.concatenate([a, b], axis=axis)
    message = str(info.value)
    assert message.startswith("concatenate:")
    assert "(2, 3)" in message and "(3, 2)" in message


def test_stack_of_different_shapes_raises_shape_error():
    with pytest.raises(ShapeError, match=r"stack.*\(2,\).*\(3,\)"):
        minigan.stack([minigan.tensor(np.ones(2)), minigan.tensor(np.ones(3))])


def test_pow_with_tensor_exponent_raises_dtype_error():
    x = minigan.tensor(np.ones(2))
    with pytest.raises(DTypeError, match="exponent"):
        x ** minigan.tensor(np.ones(2))


def test_number_to_the_power_of_tensor_needs_a_positive_base():
    with pytest.raises(DTypeError, match="positive"):
        (-2.0) ** minigan.tensor(np.ones(2))


# ------------------------------------------------------------------------------ the error classes


@pytest.mark.parametrize("error, builtin", [
    (ShapeError, ValueError),
    (DTypeError, TypeError),
    (BackendError, ValueError),
    (BackendUnavailableError, RuntimeError),
    (GraphError, RuntimeError),
    (GradcheckError, AssertionError),
])
def test_each_error_is_a_minigan_error_and_the_expected_builtin(error, builtin):
    assert issubclass(error, MiniganError)
    assert issubclass(error, builtin)


# ------------------------------------------------------------------------------ on a real GPU


@pytest.mark.gpu
def test_to_cupy_and_back_is_differentiable():
    import cupy

    x = minigan.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    on_gpu = x.to("cupy")
    assert on_gpu.backend == "cupy" and isinstance(on_gpu.data, cupy.ndarray)
    back = (on_gpu * on_gpu).to("numpy")
    assert back.backend == "numpy" and isinstance(back.data, np.ndarray)
    back.sum().backward()
    assert isinstance(x.grad, np.ndarray)
    np.testing.assert_allclose(x.grad, 2 * x.data)


@pytest.mark.gpu
def test_set_backend_cupy_creates_cupy_tensors(backend_state):
    import cupy

    backend_state.setattr(backends, "_cupy", cupy)
    minigan.set_backend("cupy")
    t = minigan.tensor([1.0, 2.0])
    assert minigan.get_backend() == "cupy"
    assert t.backend == "cupy" and isinstance(t.data, cupy.ndarray)
    assert t.dtype == np.float32


@pytest.mark.gpu
def test_backend_context_creates_cupy_tensors_inside_only(backend_state):
    import cupy

    backend_state.setattr(backends, "_cupy", cupy)
    with minigan.backend("cupy"):
        inside = minigan.tensor([1.0])
    outside = minigan.tensor([1.0])
    assert inside.backend == "cupy" and outside.backend == "numpy"


def test_the_gpu_extras_bring_cuda_with_cupy():
    """``pip install minigan[gpu]`` must work on a machine with only the NVIDIA driver: CuPy's ``[ctk]``
    extra installs the CUDA components it loads (NVRTC and the libraries) from PyPI."""
    import tomllib

    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    for name in ("gpu", "gpu-cuda12"):
        assert any(dep.startswith("cupy-cuda") and "[ctk]" in dep for dep in extras[name]), extras[name]
