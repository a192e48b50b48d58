"""Finding the CUDA sources and compiling them with CuPy's NVRTC, lazily, once per (source, dtype).

The sources live in the top-level ``kernels/`` directory of a source checkout (and of an editable
install), and in ``minigan/kernels/`` inside an installed wheel (pyproject.toml maps one to the
other). Each source is compiled as ``kernels/common.cuh`` followed by the source itself, with
``#line`` marks so that compiler errors name the right file and line. Its kernels are templates on
the element type; :class:`KernelSource` instantiates them for float (float32) or double (float64)
through ``cupy.RawModule(..., name_expressions=...)`` the first time a kernel of that dtype is asked
for, and keeps the compiled functions. CuPy also caches the binary on disk, keyed by the full text
and options, so a later process does not compile again.

Nothing here imports CuPy before a kernel is asked for.
"""

from pathlib import Path

import numpy as np

from minigan.backends import load_cupy
from minigan.errors import BackendUnavailableError

COMMON_HEADER = "common.cuh"
C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
# --fmad=false keeps a * b + c two rounded operations, as NumPy/CuPy compute it (see common.cuh).
COMPILE_OPTIONS = ("--std=c++17", "--fmad=false")

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def source_directory(package_dir=_PACKAGE_DIR):
    """The directory holding the ``.cu`` sources: ``minigan/kernels/`` (wheel) or ``<repo>/kernels/``."""
    candidates = (package_dir / "kernels", package_dir.parent / "kernels")
    for candidate in candidates:
        if (candidate / COMMON_HEADER).is_file():
            return candidate
    raise FileNotFoundError(
        "minigan's CUDA kernel sources were not found: looked for "
        f"{' and '.join(str(c / COMMON_HEADER) for c in candidates)} (an installed wheel has them in "
        "minigan/kernels/, a source checkout in kernels/ beside minigan/). Reinstall minigan, or switch "
        "the fused kernels off with MINIGAN_KERNELS=0"
    )


def source_text(filename, directory=None):
    """The text NVRTC compiles for ``filename``: common.cuh, then the source, each marked with ``#line``."""
    directory = source_directory() if directory is None else directory
    parts = []
    for name in (COMMON_HEADER, filename):
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"CUDA kernel source {path} is missing from {directory}")
        parts.append(f'#line 1 "{name}"\n{path.read_text(encoding="utf-8")}')
    return "\n".join(parts)


class KernelSource:
    """One ``.cu`` file and the names of the template kernels it defines."""

    def __init__(self, filename, kernels):
        self.filename = filename
        self.kernels = tuple(kernels)
        self._functions = {}

    def function(self, kernel, dtype):
        """The compiled ``kernel<float>`` or ``kernel<double>`` (a ``cupy.RawKernel``) for ``dtype``."""
        dtype = np.dtype(dtype)
        found = self._functions.get((kernel, dtype))
        if found is None:
            if kernel not in self.kernels:
                raise ValueError(f"{self.filename} defines no kernel {kernel!r}: it has {', '.join(self.kernels)}")
            self._compile(dtype)
            found = self._functions[(kernel, dtype)]
        return found

    def _compile(self, dtype):
        cupy = load_cupy()
        if dtype not in C_TYPES:
            raise ValueError(f"{self.filename}: kernels exist for float32 and float64, not {dtype}")
        names = [f"{kernel}<{C_TYPES[dtype]}>" for kernel in self.kernels]
        module = cupy.RawModule(code=source_text(self.filename), options=COMPILE_OPTIONS, name_expressions=names)
        try:
            functions = {(kernel, dtype): module.get_function(name) for kernel, name in zip(self.kernels, names)}
        except Exception as exc:  # CuPy raises CompileException, or an error loading NVRTC itself
            raise BackendUnavailableError(
                f"compiling kernels/{self.filename} for {dtype} failed ({type(exc).__name__}: {exc}). "
                "Switch the fused kernels off with MINIGAN_KERNELS=0 or "
                "minigan.cuda.set_kernels_enabled('all', False) to run the plain CuPy ops instead"
            ) from exc
        self._functions.update(functions)
