"""minigan's random numbers: one seeded NumPy generator for initialisation, noise, dropout, shuffling.

Numbers are drawn on the host and copied to the tensor's backend, so a seed gives the same values on
NumPy and on CuPy. ``get_state()``/``set_state()`` save and restore the generator exactly (a resumed
training run draws the same noise as an uninterrupted one).
"""

import numpy as np

from minigan import backends
from minigan.tensor import Tensor, get_default_dtype

_generator = np.random.default_rng(0)


def seed(value):
    """Restart the generator from ``value`` (an int)."""
    global _generator
    _generator = np.random.default_rng(value)


def generator():
    """The ``numpy.random.Generator`` behind every draw."""
    return _generator


def get_state():
    """The generator's exact state (a dict, JSON-serialisable)."""
    return _generator.bit_generator.state


def set_state(state):
    """Restore a state from :func:`get_state`."""
    _generator.bit_generator.state = state


def _tensor(values, dtype, requires_grad, backend, rows):
    dtype = dtype or get_default_dtype()
    xp = backends.module_for(backend) if backend else backends.current_module()
    if rows is not None:
        values = values[rows]
    return Tensor(xp.asarray(values.astype(dtype, copy=False)), requires_grad=requires_grad, dtype=dtype)


# ``rows`` (a slice of the first axis), in each: only those rows of the draw become the tensor, while
# the generator moves past the whole draw — a data-parallel rank's share of a batch-sized draw, with
# the stream left where one process would leave it (minigan.gan.parallel).

def randn(*shape, dtype=None, requires_grad=False, backend=None, rows=None):
    """A tensor of standard normal draws."""
    return _tensor(_generator.standard_normal(shape), dtype, requires_grad, backend, rows)


def randn_into(out, scratch=None):
    """:func:`randn`'s draw of ``out.shape`` written into the NumPy array ``out``, allocating nothing: the
    same numbers and the same move of the stream. The draw is float64, as :func:`randn` draws before it
    casts: another dtype goes through ``scratch`` (float64, ``out``'s shape). The static training step
    (:mod:`minigan.gan.static_step`) draws its noise so."""
    if out.dtype == np.float64:
        return _generator.standard_normal(out=out)
    _generator.standard_normal(out=scratch)
    np.copyto(out, scratch)
    return out


def uniform(low, high, shape, dtype=None, requires_grad=False, backend=None, rows=None):
    """A tensor of draws uniform on [low, high)."""
    return _tensor(_generator.uniform(low, high, size=shape), dtype, requires_grad, backend, rows)


def normal(mean, std, shape, dtype=None, requires_grad=False, backend=None, rows=None):
    """A tensor of normal draws with the given mean and standard deviation."""
    return _tensor(_generator.normal(mean, std, size=shape), dtype, requires_grad, backend, rows)
