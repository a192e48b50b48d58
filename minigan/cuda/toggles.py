"""Which fused kernel families are switched on: each is on by default, used on the CuPy backend by the
CUDA kernels and on NumPy arrays by the fused CPU kernels of :mod:`minigan.cpu` (when numba is installed).

The families (one ``.cu`` source each in ``kernels/``):

- ``"batchnorm"``: BatchNorm1d on (N, C) inputs, training forward and backward, and the eval-mode
  forward when no graph is recorded;
- ``"bias_leaky_relu"``: a Dense layer's bias and the LeakyReLU after it;
- ``"bce_with_logits"``: binary cross-entropy on logits, reduced by mean or sum;
- ``"optimizer"``: Adam and SGD steps over every parameter in one launch.

A family is switched off, in order of precedence, by ``with minigan.cuda.kernels_disabled("batchnorm"):``
(for the block only), ``minigan.cuda.set_kernels_enabled("batchnorm", False)`` (from then on), or the
``MINIGAN_KERNELS`` environment variable read when minigan is imported: ``0`` switches every family
off, ``1`` or nothing leaves them all on, and a comma-separated list of names switches those off
(``MINIGAN_KERNELS=batchnorm,optimizer``). Switched off, a layer runs the plain array ops, on CuPy as on
NumPy. (The CPU has no "bce_with_logits" kernel: there the switch changes nothing.)
"""

import contextlib
import os

from minigan import backends

FAMILIES = ("batchnorm", "bias_leaky_relu", "bce_with_logits", "optimizer")
ENVIRONMENT_VARIABLE = "MINIGAN_KERNELS"

_enabled = dict.fromkeys(FAMILIES, True)


def _families(name, where):
    """The families that ``name`` ("all" or one family) stands for; an unknown name lists the valid ones."""
    if name == "all":
        return FAMILIES
    if name in FAMILIES:
        return (name,)
    raise ValueError(f"{where}: unknown kernel family {name!r}: expected 'all' or one of "
                     f"{', '.join(map(repr, FAMILIES))}")


def kernels_enabled(name):
    """True if kernel family ``name`` (for ``"all"``: every family) is switched on, and so used for
    CuPy arrays."""
    return all(_enabled[family] for family in _families(name, "kernels_enabled"))


def set_kernels_enabled(name, enabled):
    """Switch kernel family ``name`` (or ``"all"``) on or off for the rest of the process."""
    for family in _families(name, "set_kernels_enabled"):
        _enabled[family] = bool(enabled)


@contextlib.contextmanager
def kernels_disabled(*names):
    """``with minigan.cuda.kernels_disabled("batchnorm"):`` switches the named families (every family
    when none is named) off inside the block, and restores each one's previous setting after it."""
    families = {family for name in (names or ("all",)) for family in _families(name, "kernels_disabled")}
    previous = {family: _enabled[family] for family in families}
    _enabled.update(dict.fromkeys(families, False))
    try:
        yield
    finally:
        _enabled.update(previous)


def use_kernel(family, array):
    """True when ``array`` is a CuPy array and ``family`` is switched on: the layers' one question.

    Never imports CuPy: an array can only be a CuPy array once the CuPy backend has loaded it.
    """
    cupy = backends._cupy
    return _enabled[family] and cupy is not None and isinstance(array, cupy.ndarray)


def disabled_by_setting(text):
    """The families a ``MINIGAN_KERNELS`` value switches off: ``"0"`` all, ``""`` or ``"1"`` none,
    else the comma-separated names (spaces and case ignored)."""
    text = text.strip().lower()
    if text in ("", "1"):
        return frozenset()
    if text == "0":
        return frozenset(FAMILIES)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise ValueError(
            f"{ENVIRONMENT_VARIABLE}={text!r} names unknown kernel famil{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))}: expected 0 (all off), 1 (all on) or a comma-separated list of "
            f"families to switch off, from {', '.join(map(repr, FAMILIES))}"
        )
    return frozenset(names)


_enabled.update(dict.fromkeys(disabled_by_setting(os.environ.get(ENVIRONMENT_VARIABLE, "")), False))
