"""Shared fixtures: the backends to run on, and GPU skipping.

Tests that take the ``backend_name`` fixture run once per backend: on NumPy always, on CuPy only
where CuPy and a usable NVIDIA GPU are present (otherwise skipped, with the reason).
"""

import numpy as np
import pytest

import minigan
from minigan.backends import load_cupy
from minigan.errors import BackendUnavailableError


def _gpu_unavailable_reason():
    try:
        load_cupy()
    except BackendUnavailableError as exc:
        return str(exc).split(". ")[0]
    return None


GPU_SKIP_REASON = _gpu_unavailable_reason()


def pytest_collection_modifyitems(config, items):
    if GPU_SKIP_REASON is None:
        return
    skip = pytest.mark.skip(reason=f"needs a GPU: {GPU_SKIP_REASON}")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def backend_name(request):
    """Run the test on each backend, with new tensors created there."""
    with minigan.backend(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def to_numpy(array):
    """A host NumPy copy of a NumPy or CuPy array."""
    return array.get() if hasattr(array, "get") else np.asarray(array)
