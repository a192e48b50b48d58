"""Divergences between histograms: Kullback-Leibler and Jensen-Shannon, in nats.

Both take two arrays of non-negative weights of the same shape (counts, or probabilities) and
normalise each to sum to 1 first: p ← p / Σp, q ← q / Σq.
"""

import math

import numpy as np

from minigan.errors import ShapeError


def _histogram(h, name, caller):
    """``h`` as float64 normalised to sum 1, after checking it is a usable histogram."""
    h = np.asarray(h, dtype=np.float64)
    if h.size == 0:
        raise ValueError(f"{caller}: {name} is empty")
    if not np.all(np.isfinite(h)):
        raise ValueError(f"{caller}: {name} has NaN or infinite entries")
    if np.any(h < 0):
        raise ValueError(f"{caller}: {name} has negative entries (min {h.min():g}); a histogram is non-negative")
    total = h.sum()
    if total == 0:
        raise ValueError(f"{caller}: {name} is all zeros; it cannot be normalised to a distribution")
    return h / total


def _pair(p, q, caller):
    p_shape, q_shape = np.shape(p), np.shape(q)
    if p_shape != q_shape:
        raise ShapeError(f"{caller}: p and q must have the same shape, got {p_shape} and {q_shape}")
    return _histogram(p, "p", caller), _histogram(q, "q", caller)


def _kl(p, q):
    """Σᵢ pᵢ log(pᵢ / qᵢ) over pᵢ > 0 (0 · log 0 = 0); +inf when some pᵢ > 0 has qᵢ = 0."""
    support = p > 0
    if np.any(q[support] == 0):
        return math.inf
    return max(float(np.sum(p[support] * np.log(p[support] / q[support]))), 0.0)


def kl_divergence(p, q):
    """KL(p ‖ q) = Σᵢ pᵢ log(pᵢ / qᵢ), in nats, of the normalised histograms ``p`` and ``q``.

    Terms with pᵢ = 0 are 0 (0 · log 0 = 0); the result is +inf when some pᵢ > 0 has qᵢ = 0 (q gives
    no mass where p has some). Always ≥ 0, and 0 exactly when p = q. Not symmetric.
    """
    return _kl(*_pair(p, q, "kl_divergence"))


def js_divergence(p, q):
    """JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = (p + q) / 2, in nats, of the normalised histograms.

    Symmetric, always finite (m > 0 wherever p or q is), and 0 ≤ JS ≤ ln 2, with ln 2 exactly when
    p and q have disjoint supports.
    """
    p, q = _pair(p, q, "js_divergence")
    m = (p + q) / 2
    return min(0.5 * _kl(p, m) + 0.5 * _kl(q, m), math.log(2))
