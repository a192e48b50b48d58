"""Training data for minigan's GANs: :func:`load_dataset` turns a short spec into a :class:`Dataset`.

The specs:

- ``"ring8"``, ``"grid25"``: the 2-D mode-collapse benchmarks of VEEGAN and PacGAN, 8 Gaussians on a
  unit ring (σ = 0.01) and 25 on a 5 × 5 grid (σ = 0.05), drawn from the seed (``minigan/data/synthetic.py``);
- ``"digits"`` (the default data set): 1,797 8 × 8 handwritten digits shipped with minigan
  (``minigan/data/digits.py``, ``DIGITS.md``);
- ``"stacked-digits"``: the 1,000-mode Stacked MNIST benchmark (VEEGAN, PacGAN) rebuilt from those
  digits: three drawn digits as the channels of an 8 × 8 × 3 image, 50,000 by default, labelled by
  the triple 100·d₀ + 10·d₁ + d₂ (``minigan/data/stacked.py``);
- ``"mnist:DIR"``: MNIST's training set from its IDX files in DIR, plain or gzipped;
- ``"npz:PATH"``, ``"npy:PATH"``: any array of samples (N, ...) in a NumPy file.

Everything is NumPy on the host; the trainer copies ``x`` to the backend it runs on.
"""

import os

from minigan.data.dataset import Dataset
from minigan.data.digits import load_digits
from minigan.data.files import load_mnist, load_npy, load_npz, read_idx
from minigan.data.stacked import stacked_digits
from minigan.data.synthetic import (GRID25_STD, RING8_STD, grid25, grid25_modes, ring8, ring8_modes,
                                    sample_mixture)

DEFAULT_DATASET = "digits"
SPEC_FORMS = ("ring8", "grid25", "digits", "stacked-digits", "mnist:DIR", "npz:PATH", "npy:PATH")

_NAMED = {"ring8": ring8, "grid25": grid25, "digits": load_digits, "stacked-digits": stacked_digits}
_WITH_PATH = {"mnist": load_mnist, "npz": load_npz, "npy": load_npy}


def load_dataset(spec=DEFAULT_DATASET, n_samples=None, seed=0):
    """The :class:`Dataset` that ``spec`` names (see the module docstring for the forms).

    ``n_samples``: for ring8/grid25 the number of points drawn (default 100,000), for stacked-digits
    the number of images drawn (default 50,000); for the other sets the number of samples kept,
    picked at random by ``seed`` (default: all of them). ``seed`` also draws the synthetic points and
    the stacked triples, so the same (spec, n_samples, seed) always gives the same data.
    """
    if not isinstance(spec, str):
        raise TypeError(f"load_dataset: spec must be a string, one of {', '.join(SPEC_FORMS)}; "
                        f"got {type(spec).__name__}")
    name, colon, path = spec.partition(":")
    if not colon and name in _NAMED:
        return _NAMED[name](n_samples=n_samples, seed=seed)
    if colon and name in _WITH_PATH:
        if not path:
            raise ValueError(f"load_dataset: {spec!r} names no path; expected {name}:PATH")
        # "~" is expanded here: a shell leaves it alone inside "--data npz:~/x.npz".
        return _WITH_PATH[name](os.path.expanduser(path), n_samples=n_samples, seed=seed)
    raise ValueError(f"load_dataset: unknown data set {spec!r}; expected one of {', '.join(SPEC_FORMS)}")


__all__ = ["Dataset", "load_dataset", "load_digits", "stacked_digits", "load_mnist", "load_npz", "load_npy",
           "read_idx", "ring8", "grid25", "ring8_modes", "grid25_modes", "sample_mixture", "RING8_STD",
           "GRID25_STD", "DEFAULT_DATASET", "SPEC_FORMS"]
