"""The 2-D mode-collapse benchmarks: equal-weight mixtures of isotropic Gaussians, drawn from a seed.

``ring8`` and ``grid25`` are the synthetic sets of VEEGAN (Srivastava et al., 2017, "VEEGAN: Reducing
mode collapse in GANs using implicit variational learning") and PacGAN (Lin et al., 2018, "PacGAN: The
power of two samples in generative adversarial networks"). The parameters are PacGAN's, as set in its
released code (github.com/fjxmlzn/PacGAN, ``synthetic_data_experiments/2DRing_GAN&PacGAN/config.py``
and ``synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py``):

- ring8: K = 8 modes μᵢ = (cos 2πi/8, sin 2πi/8), i = 0..7 (a ring of radius 1), each with standard
  deviation σ = 0.01, i.e. covariance σ²I = 10⁻⁴ I;
- grid25: K = 25 modes μᵢⱼ = (−4 + 2i, −4 + 2j), i, j = 0..4 (a 5 × 5 grid with spacing 2), each with
  σ = 0.05, i.e. covariance σ²I = 0.0025 I.

VEEGAN's authors' ring generator uses the same σ = 0.01 on a unit ring. PacGAN draws 100,000 training
samples (its ``num_sample``), the default here too. Each sample picks its mode uniformly,
k ~ U{0, …, K−1}, then x = μₖ + σε with ε ~ N(0, I₂); its label is k.
"""

import itertools

import numpy as np

from minigan.data.dataset import Dataset, check_n_samples

DEFAULT_N_SAMPLES = 100_000
RING8_STD = 0.01
GRID25_STD = 0.05


def ring8_modes():
    """The 8 mode centres (cos 2πi/8, sin 2πi/8), i = 0..7, as a float64 array (8, 2)."""
    angles = 2 * np.pi * np.arange(8) / 8
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid25_modes():
    """The 25 mode centres (−4 + 2i, −4 + 2j), i, j = 0..4, as a float64 array (25, 2).

    The order is PacGAN's ``itertools.product``: mode 5i + j sits at (−4 + 2i, −4 + 2j).
    """
    return np.array(list(itertools.product(range(-4, 5, 2), repeat=2)), dtype=np.float64)


def sample_mixture(modes, std, n_samples, seed=0):
    """(x, k): ``n_samples`` draws x = μₖ + σε from the equal-weight mixture, as float32 (N, D) and int64 (N,)."""
    modes = np.asarray(modes, dtype=np.float64)
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(modes), size=n_samples)
    x = modes[k] + std * rng.standard_normal((n_samples, modes.shape[1]))
    return x.astype(np.float32), k.astype(np.int64)


def _mixture_dataset(name, modes, std, n_samples, seed):
    n_samples = check_n_samples(n_samples)
    x, k = sample_mixture(modes, std, DEFAULT_N_SAMPLES if n_samples is None else n_samples, seed)
    return Dataset(x=x, labels=k, name=name, image_shape=None, modes=modes, mode_std=std,
                   value_range=(float(x.min()), float(x.max())))


def ring8(n_samples=None, seed=0):
    """The ring of 8 Gaussians (σ = 0.01); ``n_samples`` defaults to 100,000."""
    return _mixture_dataset("ring8", ring8_modes(), RING8_STD, n_samples, seed)


def grid25(n_samples=None, seed=0):
    """The 5 × 5 grid of Gaussians (σ = 0.05); ``n_samples`` defaults to 100,000."""
    return _mixture_dataset("grid25", grid25_modes(), GRID25_STD, n_samples, seed)
