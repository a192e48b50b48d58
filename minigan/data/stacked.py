"""Stacked digits: three bundled 8 × 8 digits as the colour channels of one image, 1,000 modes.

The twin of Stacked MNIST, the 1,000-mode benchmark of VEEGAN (Srivastava et al., 2017) and PacGAN
(Lin et al., 2018), built from minigan's 1,797 digits (``minigan/data/digits.py``) instead of MNIST.
Sample i draws three digit images independently and uniformly, with replacement,

    j₀, j₁, j₂ ~ U{0, …, 1796}        (``np.random.default_rng(seed)``)
    image[r, c, k] = digits[jₖ][r, c]  for row r, column c (0..7) and channel k = 0, 1, 2,

so its mode is the triple of digit labels (d₀, d₁, d₂) = (label[j₀], label[j₁], label[j₂]), labelled
100·d₀ + 10·d₁ + d₂ ∈ {0, …, 999}. The bundled labels are not exactly balanced (174 to 183 images a
digit, pₐ = #{label = a} / 1797), so triple (a, b, c) has probability pₐp_bp_c, between 0.91 and 1.06
times 1/1,000; its KL divergence to the uniform distribution over the triples is
3 Σₐ pₐ log(10 pₐ) ≈ 3 · 10⁻⁴ nats, negligible next to what a finite sample measures.

Each image is flattened channel-last, row by row, (H, W, C) = (8, 8, 3): value 3·(8r + c) + k of a
row of ``x`` is pixel (r, c) of channel k, and ``x.reshape(N, 8, 8, 3)`` is the RGB image.
:func:`minigan.metrics.stacked.stacked_mode_metrics` splits generated samples the same way and labels
each channel with the digit classifier.
"""

import numpy as np

from minigan.data.dataset import Dataset, check_n_samples
from minigan.data.digits import load_digits

# 50 samples per triple on average: with 50,000 draws the chance that a given triple never appears is
# (1 − 1/1000)^50000 ≈ e⁻⁵⁰, so the training set holds every mode, each about 50 ± 7 times.
DEFAULT_N_SAMPLES = 50_000
CHANNELS = 3
N_TRIPLES = 10 ** CHANNELS


def triple_index(digits):
    """100·d₀ + 10·d₁ + d₂ for digit labels ``digits`` (..., 3): the triple's mode, 0..999, as int64."""
    digits = np.asarray(digits, dtype=np.int64)
    return digits @ np.array([100, 10, 1], dtype=np.int64)


def stacked_digits(n_samples=None, seed=0):
    """The stacked digits as a :class:`Dataset` named "stacked-digits" (see the module docstring).

    x: float32 (N, 192) in [0, 1], channel-last; labels: int64 (N,), the triple 100·d₀ + 10·d₁ + d₂;
    image_shape (8, 8, 3). ``n_samples`` defaults to 50,000 (about 50 samples for each of the 1,000
    triples); the same (n_samples, seed) always gives the same data.
    """
    n_samples = check_n_samples(n_samples)
    n_samples = DEFAULT_N_SAMPLES if n_samples is None else n_samples
    digits = load_digits()
    picks = np.random.default_rng(seed).integers(0, len(digits), size=(n_samples, CHANNELS))
    # digits.x[picks] is (N, 3, 64), channel first; the channel moves last to give (H, W, C) order.
    x = np.ascontiguousarray(digits.x[picks].transpose(0, 2, 1)).reshape(n_samples, -1)
    labels = triple_index(digits.labels[picks])
    return Dataset(x=x, labels=labels, name="stacked-digits", image_shape=(8, 8, CHANNELS), value_range=(0.0, 1.0))
