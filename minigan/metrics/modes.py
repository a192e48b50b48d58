"""Mode-collapse metrics for samples of a 2-D Gaussian mixture with known modes (ring8, grid25).

The metrics of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018, Table 1: "modes",
"high quality samples", "reverse KL"), for modes μ₁..μ_K that share one standard deviation σ:

- each sample x is assigned to its nearest mode k(x) = argminₖ ‖x − μₖ‖;
- x is **high quality** when it lies within 3 standard deviations of that mode, ‖x − μ_k(x)‖ < 3σ;
- ``counts``[k] is the number of high-quality samples assigned to mode k;
- a mode is **captured** when at least one high-quality sample is assigned to it (counts[k] ≥ 1):
  no larger threshold;
- ``high_quality_fraction`` = Σₖ counts[k] / N;
- ``reverse_kl`` = KL(p̂ ‖ u) = Σₖ p̂ₖ log(K p̂ₖ), in nats, where p̂ₖ = counts[k] / Σⱼ counts[j] is the
  histogram of the high-quality samples over the modes and u the uniform distribution over the K
  modes (the true one). "Reverse" because the generated distribution comes first. It is 0 for a
  generator that spreads its good samples evenly, ln K when they all fall on one mode, and NaN
  when there is no high-quality sample at all (no histogram to compare).

The details follow PacGAN's released evaluation code (github.com/fjxmlzn/PacGAN,
``synthetic_data_experiments/PacGAN/pacgan/extensions.py``, ``MetricLogger``): nearest mode by the
distance scaled by σ, a strict threshold of 3 (``dis_thre=3``), the histogram built from the
high-quality samples only, mode coverage = the number of modes with a non-zero count. That code logs
the histogram's entropy H(p̂); the reverse KL to the uniform distribution is ln K − H(p̂).

For a perfect generator a sample lands within 3σ of its mode with probability P(‖ε‖ < 3) for
ε ~ N(0, I₂), i.e. 1 − e^(−9/2) ≈ 0.9889 in 2-D (not the 0.9973 of the 1-D 3σ rule), provided the
modes are far apart compared with σ (true for ring8 and grid25).
"""

import dataclasses
import math
import numbers

import numpy as np

from minigan.errors import ShapeError
from minigan.metrics.divergence import kl_divergence

THRESHOLD = 3.0  # in standard deviations
_CHUNK = 65536   # samples per block of the distance matrix: bounds memory for large N


@dataclasses.dataclass
class ModeMetrics:
    """What :func:`mode_metrics` measured (see the module docstring for the definitions)."""

    modes_captured: int
    high_quality_fraction: float
    reverse_kl: float
    counts: np.ndarray


def _check(samples, modes, std, threshold):
    samples = np.asarray(samples)
    modes = np.asarray(modes)
    if samples.dtype.kind not in "biuf" or modes.dtype.kind not in "biuf":
        raise TypeError(f"mode_metrics: samples and modes must be real numbers, got dtypes "
                        f"{samples.dtype} and {modes.dtype}")
    if modes.ndim != 2 or len(modes) == 0:
        raise ShapeError(f"mode_metrics: modes must be an array (K, D) of K ≥ 1 centres, got shape {modes.shape}")
    if samples.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ShapeError(f"mode_metrics: samples must be an array (N, {modes.shape[1]}) to match modes "
                         f"{modes.shape}, got shape {samples.shape}")
    if len(samples) == 0:
        raise ValueError("mode_metrics: no samples (N = 0)")
    if not np.all(np.isfinite(modes)):
        raise ValueError("mode_metrics: modes has NaN or infinite entries")
    for name, value in (("std", std), ("threshold", threshold)):
        if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
                or value <= 0):
            raise ValueError(f"mode_metrics: {name} must be a positive number, got {value!r}")
    return samples.astype(np.float64, copy=False), modes.astype(np.float64, copy=False)


def nearest_modes(samples, modes):
    """(k, d): for each sample, the index of its nearest mode and the Euclidean distance to it."""
    nearest = np.empty(len(samples), dtype=np.int64)
    distance = np.empty(len(samples), dtype=np.float64)
    for start in range(0, len(samples), _CHUNK):
        block = samples[start:start + _CHUNK]
        squared = np.sum((block[:, None, :] - modes[None, :, :]) ** 2, axis=2)  # (n, K)
        k = np.argmin(squared, axis=1)
        nearest[start:start + len(block)] = k
        distance[start:start + len(block)] = np.sqrt(squared[np.arange(len(block)), k])
    return nearest, distance


def mode_metrics(samples, modes, std, threshold=THRESHOLD):
    """:class:`ModeMetrics` of ``samples`` (N, 2) against the mixture's ``modes`` (K, 2) of standard deviation ``std``.

    A sample with a NaN or infinite coordinate (a diverged generator) counts as low quality.
    ``threshold`` is the high-quality radius in standard deviations (3 in VEEGAN and PacGAN).
    """
    samples, modes = _check(samples, modes, std, threshold)
    nearest, distance = nearest_modes(samples, modes)
    # NaN distances compare False: such samples are never high quality.
    good = distance < threshold * std
    counts = np.bincount(nearest[good], minlength=len(modes)).astype(np.int64)
    total = int(counts.sum())
    reverse_kl = kl_divergence(counts, np.ones(len(modes))) if total else math.nan
    return ModeMetrics(modes_captured=int(np.count_nonzero(counts)),
                       high_quality_fraction=total / len(samples),
                       reverse_kl=float(reverse_kl),
                       counts=counts)
