"""minigan.metrics: KL/JS divergences against closed forms, and the VEEGAN/PacGAN mode metrics."""

import dataclasses
import math

import numpy as np
import pytest

from minigan.errors import ShapeError
from minigan.metrics import ModeMetrics, js_divergence, kl_divergence, mode_metrics
from minigan.metrics.modes import nearest_modes

LN2 = math.log(2)


# ------------------------------------------------------------------------------------- KL / JS
def test_kl_closed_forms():
    # KL([½, ½] ‖ [¼, ¾]) = ½ ln(½/¼) + ½ ln(½/¾) = ½ ln 2 + ½ ln ⅔
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * LN2 + 0.5 * math.log(2 / 3), abs=1e-15)
    # Bernoulli: KL(Ber(a) ‖ Ber(b)) = a ln(a/b) + (1−a) ln((1−a)/(1−b))
    a, b = 0.3, 0.6
    assert kl_divergence([a, 1 - a], [b, 1 - b]) == pytest.approx(
        a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b)), abs=1e-15)
    # A point mass against the uniform law on K outcomes: ln K.
    assert kl_divergence([0, 0, 7, 0, 0], np.ones(5)) == pytest.approx(math.log(5), abs=1e-15)
    assert kl_divergence([1, 2, 3], [1, 2, 3]) == 0.0


def test_kl_normalises_its_inputs():
    p, q = np.array([1.0, 3.0, 6.0]), np.array([2.0, 2.0, 1.0])
    assert kl_divergence(p, q) == pytest.approx(kl_divergence(p / p.sum(), q / q.sum()), abs=1e-15)
    assert kl_divergence(100 * p, 0.01 * q) == pytest.approx(kl_divergence(p, q), abs=1e-15)
    assert kl_divergence(np.array([[1, 1], [2, 0]]), np.array([[1, 1], [1, 1]])) > 0  # any shape


def test_kl_zero_terms_and_infinity():
    # 0 · log 0 = 0: outcomes p never takes do not count, whatever q does there.
    assert kl_divergence([1, 0], [0.5, 0.5]) == pytest.approx(LN2, abs=1e-15)
    assert kl_divergence([1, 0], [1, 0]) == 0.0
    # p puts mass where q puts none: infinite.
    assert kl_divergence([0.5, 0.5], [1, 0]) == math.inf
    assert kl_divergence([0, 1], [1, 0]) == math.inf


def test_kl_is_not_symmetric():
    p, q = [0.9, 0.1], [0.5, 0.5]
    assert kl_divergence(p, q) != pytest.approx(kl_divergence(q, p))


def test_js_closed_forms_and_bounds():
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(LN2, abs=1e-15)  # disjoint supports: ln 2
    assert js_divergence([1, 0, 0, 0], [0, 0, 3, 5]) == pytest.approx(LN2, abs=1e-15)
    assert js_divergence([0.2, 0.8], [0.2, 0.8]) == 0.0
    # p = [1, 0], q = [½, ½]: m = [¾, ¼]; JS = ½ ln(1/¾) + ½ (½ ln(½/¾) + ½ ln(½/¼))
    expected = 0.5 * math.log(4 / 3) + 0.5 * (0.5 * math.log(2 / 3) + 0.5 * LN2)
    assert js_divergence([1, 0], [0.5, 0.5]) == pytest.approx(expected, abs=1e-15)
    rng = np.random.default_rng(0)
    for _ in range(50):
        p, q = rng.random(6) * (rng.random(6) > 0.3), rng.random(6)
        p[0] += 0.1
        js = js_divergence(p, q)
        assert js == pytest.approx(js_divergence(q, p), abs=1e-15)  # symmetric
        assert 0 <= js <= LN2
        m = (p / p.sum() + q / q.sum()) / 2
        assert js == pytest.approx(0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m), abs=1e-14)


def test_divergence_input_errors():
    for f in (kl_divergence, js_divergence):
        with pytest.raises(ShapeError, match=r"same shape.*\(2,\).*\(3,\)"):
            f([0.5, 0.5], [0.2, 0.3, 0.5])
        with pytest.raises(ValueError, match="p has negative entries"):
            f([-0.1, 1.1], [0.5, 0.5])
        with pytest.raises(ValueError, match="q has negative entries"):
            f([0.5, 0.5], [1.5, -0.5])
        with pytest.raises(ValueError, match="q is all zeros"):
            f([0.5, 0.5], [0, 0])
        with pytest.raises(ValueError, match="p is all zeros"):
            f([0, 0], [0.5, 0.5])
        with pytest.raises(ValueError, match="p is empty"):
            f([], [])
        with pytest.raises(ValueError, match="NaN or infinite"):
            f([np.nan, 1], [0.5, 0.5])
    assert issubclass(ShapeError, ValueError)


# ------------------------------------------------------------------------------- mode metrics
SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
STD = 0.01


def test_collapse_onto_one_mode_gives_one_mode_and_reverse_kl_ln_k():
    rng = np.random.default_rng(0)
    samples = SQUARE[2] + STD * 0.5 * rng.standard_normal((1000, 2))
    result = mode_metrics(samples, SQUARE, STD)
    assert isinstance(result, ModeMetrics)
    assert result.modes_captured == 1
    assert result.counts.tolist() == [0, 0, int(result.counts[2]), 0] and result.counts[2] > 990
    assert result.reverse_kl == pytest.approx(math.log(4), abs=1e-12)

    ring = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], axis=1)
    result = mode_metrics(np.repeat(ring[[5]], 50, axis=0), ring, STD)
    assert (result.modes_captured, result.high_quality_fraction) == (1, 1.0)
    assert result.reverse_kl == pytest.approx(math.log(8), abs=1e-12)


def test_even_split_over_half_the_modes_gives_ln_2():
    samples = np.repeat(SQUARE[[0, 3]], 10, axis=0)
    result = mode_metrics(samples, SQUARE, STD)
    assert result.modes_captured == 2
    assert result.counts.tolist() == [10, 0, 0, 10]
    assert result.reverse_kl == pytest.approx(math.log(4 / 2), abs=1e-12)


def test_reverse_kl_uses_only_high_quality_samples():
    # 3 good samples at mode 0, 1 at mode 1, and 6 bad ones near mode 1 that must not count.
    samples = np.concatenate([np.repeat(SQUARE[[0]], 3, axis=0), SQUARE[[1]],
                              np.repeat(SQUARE[[1]] + [0.0, 0.2], 6, axis=0)])
    result = mode_metrics(samples, SQUARE, STD)
    assert result.counts.tolist() == [3, 1, 0, 0]
    assert result.high_quality_fraction == pytest.approx(0.4)
    assert result.reverse_kl == pytest.approx(0.75 * math.log(4 * 0.75) + 0.25 * math.log(4 * 0.25), abs=1e-12)


def test_high_quality_radius_is_three_standard_deviations():
    inside = SQUARE[1] + [2.99 * STD, 0.0]
    outside = SQUARE[1] + [0.0, 3.01 * STD]
    result = mode_metrics(np.stack([inside, outside]), SQUARE, STD)
    assert result.counts.tolist() == [0, 1, 0, 0]
    assert result.high_quality_fraction == 0.5
    # threshold is in standard deviations, and adjustable.
    assert mode_metrics(np.stack([inside, outside]), SQUARE, STD, threshold=4).counts.tolist() == [0, 2, 0, 0]
    assert mode_metrics(np.stack([inside, outside]), SQUARE, 2 * STD).counts.tolist() == [0, 2, 0, 0]


def test_a_single_good_sample_captures_a_mode():
    samples = np.concatenate([np.repeat(SQUARE[[0]], 99, axis=0), SQUARE[[3]]])
    result = mode_metrics(samples, SQUARE, STD)
    assert result.modes_captured == 2 and result.counts.tolist() == [99, 0, 0, 1]


def test_no_high_quality_sample_gives_zero_modes_and_nan_reverse_kl():
    samples = np.full((20, 2), 0.5)  # equidistant from every mode, 50σ away
    result = mode_metrics(samples, SQUARE, STD)
    assert result.modes_captured == 0 and result.high_quality_fraction == 0.0
    assert result.counts.tolist() == [0, 0, 0, 0]
    assert math.isnan(result.reverse_kl)


def test_non_finite_samples_count_as_low_quality():
    samples = np.array([[np.nan, 0.0], [np.inf, 1.0], [-np.inf, np.nan], [0.0, 0.0]])
    result = mode_metrics(samples, SQUARE, STD)
    assert result.counts.tolist() == [1, 0, 0, 0]
    assert result.high_quality_fraction == 0.25
    assert result.reverse_kl == pytest.approx(math.log(4))


def test_nearest_mode_and_distance():
    samples = np.array([[0.1, 0.0], [0.9, 0.95], [0.4, 0.7]])
    k, d = nearest_modes(samples, SQUARE)
    assert k.tolist() == [0, 3, 2]
    np.testing.assert_allclose(d, [0.1, math.hypot(0.1, 0.05), math.hypot(0.4, 0.3)])


def test_large_inputs_are_handled_in_chunks():
    rng = np.random.default_rng(1)
    k = rng.integers(0, 4, 70_000)
    samples = SQUARE[k] + STD * 0.1 * rng.standard_normal((70_000, 2))
    result = mode_metrics(samples.astype(np.float32), SQUARE, STD)
    np.testing.assert_array_equal(result.counts, np.bincount(k, minlength=4))
    assert result.high_quality_fraction == 1.0


def test_result_serialises_like_the_trainer_does():
    result = mode_metrics(np.repeat(SQUARE, 2, axis=0), SQUARE, STD)
    values = dataclasses.asdict(result)
    assert set(values) == {"modes_captured", "high_quality_fraction", "reverse_kl", "counts"}
    assert isinstance(values["modes_captured"], int)
    assert isinstance(values["high_quality_fraction"], float) and isinstance(values["reverse_kl"], float)
    assert values["counts"].dtype == np.int64 and values["counts"].tolist() == [2, 2, 2, 2]
    assert result.reverse_kl == 0.0


def test_mode_metrics_input_errors():
    with pytest.raises(ShapeError, match=r"samples must be an array \(N, 2\).*got shape \(5, 3\)"):
        mode_metrics(np.zeros((5, 3)), SQUARE, STD)
    with pytest.raises(ShapeError, match=r"got shape \(4,\)"):
        mode_metrics(np.zeros(4), SQUARE, STD)
    with pytest.raises(ShapeError, match="modes must be an array"):
        mode_metrics(np.zeros((5, 2)), np.zeros(2), STD)
    with pytest.raises(ShapeError, match="modes must be an array"):
        mode_metrics(np.zeros((5, 2)), np.zeros((0, 2)), STD)
    with pytest.raises(ValueError, match="no samples"):
        mode_metrics(np.zeros((0, 2)), SQUARE, STD)
    for bad in (0, -0.1, math.nan, math.inf, None, "0.1", True):
        with pytest.raises(ValueError, match="std must be a positive number"):
            mode_metrics(np.zeros((5, 2)), SQUARE, bad)
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        mode_metrics(np.zeros((5, 2)), SQUARE, STD, threshold=0)
    with pytest.raises(ValueError, match="modes has NaN"):
        mode_metrics(np.zeros((5, 2)), np.array([[0.0, np.nan]]), STD)
    with pytest.raises(TypeError, match="real numbers"):
        mode_metrics(np.array([["a", "b"]]), SQUARE, STD)
