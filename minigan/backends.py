"""Which array library holds the numbers: NumPy (default) or CuPy (NVIDIA GPUs).

Ops never ask this module which backend is "current": they take the array module from their inputs'
data (``array_module(x.data)``, the Chainer rule), so one code path serves both libraries. The current
backend only decides where *new* tensors are created (``minigan.tensor``, parameter initialisation,
random numbers).

The current backend is chosen by, in order of precedence:

1. ``with minigan.backend("cupy"):`` — for the block only;
2. ``minigan.set_backend("cupy")`` — for the rest of the process;
3. the ``MINIGAN_BACKEND`` environment variable, read when minigan is imported;
4. ``"numpy"``.

``import minigan`` never imports CuPy: it is imported the first time the CuPy backend is used, and
then checked for a usable GPU, so that a missing package or driver gives one clear
:class:`~minigan.errors.BackendUnavailableError` instead of an obscure failure inside an op.
"""

import contextlib
import os

import numpy as np

from minigan.errors import BackendError, BackendUnavailableError

BACKENDS = ("numpy", "cupy")

_cupy = None
_current = "numpy"


def _check_name(name):
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: expected one of {', '.join(map(repr, BACKENDS))}")
    return name


def load_cupy():
    """Import CuPy and check that it can run a kernel on a GPU; return the ``cupy`` module.

    Raises :class:`BackendUnavailableError` saying whether CuPy is missing or the GPU is unusable.
    """
    global _cupy
    if _cupy is not None:
        return _cupy
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailableError(
            "the 'cupy' backend needs CuPy, which is not installed "
            f"(import cupy failed: {exc}). Install it with `pip install minigan[gpu]` on a machine with "
            "an NVIDIA GPU (or the cupy-cudaXXx wheel matching your CUDA toolkit), or use the 'numpy' "
            "backend."
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count == 0:
            raise RuntimeError("CUDA reports 0 devices")
        cupy.arange(2, dtype=cupy.float32).sum().item()
    except Exception as exc:  # CUDA raises several unrelated types here; all mean "no usable GPU".
        raise BackendUnavailableError(
            "CuPy is installed but no usable CUDA GPU was found "
            f"({type(exc).__name__}: {exc}). Check that an NVIDIA GPU is present and its driver works "
            "(`nvidia-smi`), and that the installed CuPy wheel matches the CUDA version; or use the "
            "'numpy' backend."
        ) from exc
    _cupy = cupy
    return cupy


def module_for(name):
    """The array module (``numpy`` or ``cupy``) of backend ``name``."""
    if _check_name(name) == "numpy":
        return np
    return load_cupy()


def get_backend():
    """The name of the backend new tensors are created on: ``"numpy"`` or ``"cupy"``."""
    return _current


def current_module():
    """The array module of the current backend."""
    return np if _current == "numpy" else load_cupy()


def set_backend(name):
    """Create new tensors on backend ``name`` from now on. Checks CuPy and the GPU at once."""
    global _current
    module_for(name)
    _current = name


@contextlib.contextmanager
def backend(name):
    """``with minigan.backend("cupy"):`` creates new tensors on ``name`` inside the block only."""
    global _current
    module_for(name)
    previous, _current = _current, name
    try:
        yield name
    finally:
        _current = previous


def array_module(array):
    """The module (``numpy`` or ``cupy``) that owns ``array``."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    if isinstance(array, np.ndarray):
        return np
    raise BackendError(f"expected a NumPy or CuPy array, got {type(array).__name__}")


def backend_name(array):
    """``"numpy"`` or ``"cupy"``: which backend ``array`` lives on."""
    return "numpy" if array_module(array) is np else "cupy"


def to_backend(array, name):
    """Copy ``array`` to backend ``name`` (no copy when it is already there)."""
    target = module_for(name)
    if array_module(array) is target:
        return array
    if target is np:
        return array.get()
    return target.asarray(array)


def _from_environment():
    name = os.environ.get("MINIGAN_BACKEND", "").strip().lower() or "numpy"
    if name not in BACKENDS:
        raise BackendError(
            f"MINIGAN_BACKEND={os.environ['MINIGAN_BACKEND']!r} is not a backend: expected one of "
            f"{', '.join(map(repr, BACKENDS))}"
        )
    return name


_current = _from_environment()
