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

Two measures see what these counts miss:

- :func:`wasserstein2`, the exact Wasserstein-2 distance between two equal-size point sets: it grows
  when the mass per mode is uneven (a starved or missing mode) or samples lie off the modes. It hardly
  sees narrow modes: moving mass between modes costs far more than reshaping a mode, which is also
  why two data draws are not 0 apart (their mode counts differ);
- :func:`spread_ratio`, how wide each mode's high-quality samples are compared with the data's: a
  generator whose modes are narrower than the data's scores well on the high-quality fraction (even
  better than the data) but has a spread ratio below 1.
"""

import dataclasses
import math
import numbers

import numpy as np
import scipy.optimize
import scipy.special

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


@dataclasses.dataclass
class SpreadRatio:
    """What :func:`spread_ratio` measured: ``per_mode`` (K,), NaN for a mode with fewer than 2
    high-quality samples, and ``mean``, their mean over the other modes (NaN when there are none)."""

    mean: float
    per_mode: np.ndarray


def _check(samples, modes, std, threshold, name="mode_metrics"):
    samples = np.asarray(samples)
    modes = np.asarray(modes)
    if samples.dtype.kind not in "biuf" or modes.dtype.kind not in "biuf":
        raise TypeError(f"{name}: samples and modes must be real numbers, got dtypes "
                        f"{samples.dtype} and {modes.dtype}")
    if modes.ndim != 2 or len(modes) == 0:
        raise ShapeError(f"{name}: modes must be an array (K, D) of K ≥ 1 centres, got shape {modes.shape}")
    if samples.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ShapeError(f"{name}: samples must be an array (N, {modes.shape[1]}) to match modes "
                         f"{modes.shape}, got shape {samples.shape}")
    if len(samples) == 0:
        raise ValueError(f"{name}: no samples (N = 0)")
    if not np.all(np.isfinite(modes)):
        raise ValueError(f"{name}: modes has NaN or infinite entries")
    for what, value in (("std", std), ("threshold", threshold)):
        if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
                or value <= 0):
            raise ValueError(f"{name}: {what} must be a positive number, got {value!r}")
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


def _high_quality(samples, modes, std, threshold):
    """(k, d, good): nearest mode, distance to it, and whether the sample is high quality (d < threshold·σ)."""
    nearest, distance = nearest_modes(samples, modes)
    # NaN distances compare False: such samples are never high quality.
    return nearest, distance, distance < threshold * std


def mode_metrics(samples, modes, std, threshold=THRESHOLD):
    """:class:`ModeMetrics` of ``samples`` (N, 2) against the mixture's ``modes`` (K, 2) of standard deviation ``std``.

    A sample with a NaN or infinite coordinate (a diverged generator) counts as low quality.
    ``threshold`` is the high-quality radius in standard deviations (3 in VEEGAN and PacGAN).
    """
    samples, modes = _check(samples, modes, std, threshold)
    nearest, _, good = _high_quality(samples, modes, std, threshold)
    counts = np.bincount(nearest[good], minlength=len(modes)).astype(np.int64)
    total = int(counts.sum())
    reverse_kl = kl_divergence(counts, np.ones(len(modes))) if total else math.nan
    return ModeMetrics(modes_captured=int(np.count_nonzero(counts)),
                       high_quality_fraction=total / len(samples),
                       reverse_kl=float(reverse_kl),
                       counts=counts)


def truncated_mean_square(dim, threshold=THRESHOLD):
    """E[‖ε‖² | ‖ε‖ < t] for ε ~ N(0, I_dim): the mean squared distance, in units of σ², of the data's
    samples that count as high quality.

    ‖ε‖² ~ χ²_dim, and E[X; X < c] = dim · P(dim/2 + 1, c/2) for X ~ χ²_dim, so the value is
    dim · P(dim/2 + 1, t²/2) / P(dim/2, t²/2) with P the regularised lower incomplete gamma function.
    In 2-D with t = 3: 2 − 9 e^(−9/2) / (1 − e^(−9/2)) ≈ 1.8989 instead of 2 without the cut.
    """
    c = threshold ** 2 / 2
    return dim * scipy.special.gammainc(dim / 2 + 1, c) / scipy.special.gammainc(dim / 2, c)


def spread_ratio(samples, modes, std, threshold=THRESHOLD):
    """:class:`SpreadRatio` of ``samples`` (N, D) around the mixture's ``modes`` (K, D) of standard deviation ``std``.

    The samples that count are those :func:`mode_metrics` counts: the high-quality ones
    (‖x − μ_k(x)‖ < threshold·σ), each with its nearest mode k(x). For mode k with the set S_k of
    such samples, n_k = |S_k| ≥ 2:

        ratio_k = sqrt( (1/n_k) Σ_{x ∈ S_k} ‖x − μ_k‖²  /  (σ² · E[‖ε‖² | ‖ε‖ < threshold]) )

    i.e. the samples' standard deviation around the (known) centre, pooled over the D coordinates,
    divided by the same figure for the data, σ·sqrt(E[‖ε‖² | ‖ε‖ < t] / D) ≈ 0.974σ in 2-D
    (:func:`truncated_mean_square`): both sides are cut at the same radius, so the data score 1 and a
    generator whose modes have half the data's width about 0.5 (0.513: its samples are barely cut).
    Samples wider than the data's score above 1, at most t / sqrt(E[‖ε‖² | ‖ε‖ < t]) (2.18 in 2-D).
    Modes with fewer than 2 such samples get NaN and are left out of the mean. A sample with a NaN or
    infinite coordinate is never high quality, so it does not count.
    """
    samples, modes = _check(samples, modes, std, threshold, "spread_ratio")
    nearest, distance, good = _high_quality(samples, modes, std, threshold)
    counts = np.bincount(nearest[good], minlength=len(modes))
    squared = np.bincount(nearest[good], weights=distance[good] ** 2, minlength=len(modes))
    scale = std ** 2 * truncated_mean_square(modes.shape[1], threshold)
    per_mode = np.full(len(modes), np.nan)
    enough = counts >= 2
    per_mode[enough] = np.sqrt(squared[enough] / counts[enough] / scale)
    mean = float(per_mode[enough].mean()) if enough.any() else math.nan
    return SpreadRatio(mean=mean, per_mode=per_mode)


def wasserstein2(samples, reference):
    """The exact Wasserstein-2 distance between two point sets of equal size N, each (N, D), with mass 1/N a point.

    For equal sizes and equal weights an optimal transport plan is a permutation π (Birkhoff), so

        W2 = sqrt( min_π (1/N) Σᵢ ‖xᵢ − y_π(i)‖² ),

    found exactly by ``scipy.optimize.linear_sum_assignment`` on the N × N matrix of squared distances
    (computed coordinate by coordinate as Σ_d (x_id − y_jd)², without the cancellation of
    ‖x‖² + ‖y‖² − 2x·y). Memory: two N × N float64 matrices. Time: O(N³) at worst, and it depends on
    the points: for N = 2,500 about 1–2 s between two data draws, but up to 20 s when one set is crowded
    into a small region (near-ties lengthen the solver's augmenting paths); for N = 1,000 0.05–2 s.
    """
    x, y = np.asarray(samples), np.asarray(reference)
    if x.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        raise TypeError(f"wasserstein2: samples and reference must be real numbers, got dtypes {x.dtype} and {y.dtype}")
    if x.ndim != 2 or y.ndim != 2 or x.shape != y.shape:
        raise ShapeError(f"wasserstein2: samples and reference must be arrays (N, D) of the same shape (as many "
                         f"points, matched one to one), got {x.shape} and {y.shape}")
    if len(x) == 0 or x.shape[1] == 0:
        raise ShapeError(f"wasserstein2: needs at least one point of at least one coordinate, got shape {x.shape}")
    for name, points in (("samples", x), ("reference", y)):
        if not np.all(np.isfinite(points)):
            raise ValueError(f"wasserstein2: {name} has NaN or infinite entries")
    x, y = x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)
    cost = np.zeros((len(x), len(y)))
    for d in range(x.shape[1]):
        cost += (x[:, d, None] - y[None, :, d]) ** 2
    rows, cols = scipy.optimize.linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))
