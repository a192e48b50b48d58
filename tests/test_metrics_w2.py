"""What the high-quality counts miss: the exact Wasserstein-2 distance, the per-mode spread ratio, their
place in the 2-D evaluation, the evaluation panel of the training curves, and how `minigan eval` prints them."""

import dataclasses
import itertools
import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.stats import norm

from minigan.cli import _print_metrics
from minigan.data.synthetic import GRID25_STD, RING8_STD, grid25_modes, ring8, ring8_modes, sample_mixture
from minigan.errors import ShapeError
from minigan.gan import evaluation, plots
from minigan.gan.evaluation import evaluate_samples
from minigan.metrics.modes import SpreadRatio, mode_metrics, spread_ratio, truncated_mean_square, wasserstein2

# The data's spread within 3σ, per coordinate, in units of σ: sqrt(E[‖ε‖² | ‖ε‖ < 3] / 2) ≈ 0.974.
DATA_SPREAD = math.sqrt((2 - 9 * math.exp(-4.5) / (1 - math.exp(-4.5))) / 2)
MODE_METRIC_KEYS = ["modes_captured", "high_quality_fraction", "reverse_kl", "counts"]
NEW_KEYS = ["w2", "w2_data", "w2_ratio", "spread_ratio", "spread_ratio_per_mode"]


def brute_force_w2(x, y):
    """min over every permutation π of sqrt(mean ‖xᵢ − y_π(i)‖²)."""
    return min(math.sqrt(np.mean(np.sum((x - y[list(p)]) ** 2, axis=1))) for p in itertools.permutations(range(len(y))))


def shrunk(x, modes, factor):
    """Every point moved towards the mode it was drawn from: the mixture with σ scaled by ``factor``."""
    k = np.argmin(np.sum((x[:, None, :] - modes[None]) ** 2, axis=2), axis=1)
    return modes[k] + factor * (x - modes[k])


# -------------------------------------------------------------------------------------------- W2
def test_w2_of_a_translated_copy_is_the_shift_length():
    # Σ‖xᵢ − x_π(i) − s‖² = Σ‖xᵢ − x_π(i)‖² + N‖s‖² (the cross term sums to 0): the identity is optimal.
    x = np.random.default_rng(0).standard_normal((300, 2))
    shift = np.array([0.3, -0.4])
    assert wasserstein2(x + shift, x) == pytest.approx(0.5, abs=1e-12)
    assert wasserstein2(x, x - 10 * shift) == pytest.approx(5.0, abs=1e-12)


def test_w2_of_a_permuted_copy_is_zero():
    x = np.random.default_rng(1).standard_normal((500, 2))
    assert wasserstein2(x[np.random.default_rng(2).permutation(500)], x) == 0.0


@pytest.mark.parametrize("n, dim", [(1, 2), (2, 2), (4, 2), (6, 2), (5, 3), (6, 1)])
def test_w2_equals_brute_force_over_every_matching(n, dim):
    rng = np.random.default_rng(10 * n + dim)
    for _ in range(5):
        x, y = rng.standard_normal((n, dim)), rng.standard_normal((n, dim)) + 0.5
        assert wasserstein2(x, y) == pytest.approx(brute_force_w2(x, y), rel=1e-12)


def test_w2_in_one_dimension_matches_the_sorted_points():
    # On the line the monotone (sorted) matching is optimal for every convex cost, W2 included.
    # (scipy.stats.wasserstein_distance is W1, not W2: no reference here.)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((400, 1)), rng.exponential(size=(400, 1))
    assert wasserstein2(x, y) == pytest.approx(math.sqrt(np.mean((np.sort(x[:, 0]) - np.sort(y[:, 0])) ** 2)),
                                               rel=1e-12)


def test_w2_is_symmetric_and_scales_with_the_points():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((200, 2)), rng.standard_normal((200, 2)) * 2
    assert wasserstein2(x, y) == pytest.approx(wasserstein2(y, x), rel=1e-12)
    assert wasserstein2(3 * x, 3 * y) == pytest.approx(3 * wasserstein2(x, y), rel=1e-12)


def test_w2_accepts_float32_and_integer_points():
    assert wasserstein2(np.array([[0, 0], [3, 4]]), np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)) == 0.0
    assert wasserstein2(np.array([[0, 0]]), np.array([[3, 4]])) == 5.0


def test_w2_input_errors():
    with pytest.raises(ShapeError, match=r"same shape \(as many points, matched one to one\), got \(3, 2\) and \(4, 2\)"):
        wasserstein2(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ShapeError, match=r"\(3, 2\) and \(3, 3\)"):
        wasserstein2(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ShapeError, match=r"arrays \(N, D\).*\(3,\) and \(3,\)"):
        wasserstein2(np.zeros(3), np.zeros(3))
    with pytest.raises(ShapeError, match=r"at least one point.*\(0, 2\)"):
        wasserstein2(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="samples has NaN or infinite"):
        wasserstein2(np.array([[0.0, np.nan]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="reference has NaN or infinite"):
        wasserstein2(np.zeros((1, 2)), np.array([[np.inf, 0.0]]))
    with pytest.raises(TypeError, match="real numbers"):
        wasserstein2(np.array([["a", "b"]]), np.zeros((1, 2)))


# ---------------------------------------------------------------------------------- spread ratio
def test_truncated_mean_square_closed_forms():
    assert truncated_mean_square(2) == pytest.approx(2 * DATA_SPREAD ** 2, rel=1e-14)
    # 1-D: E[ε² | |ε| < t] = 1 − 2tφ(t) / (2Φ(t) − 1)
    for t in (1.0, 3.0):
        assert truncated_mean_square(1, t) == pytest.approx(1 - 2 * t * norm.pdf(t) / (2 * norm.cdf(t) - 1),
                                                            rel=1e-12)
    assert truncated_mean_square(2, threshold=100.0) == pytest.approx(2.0, rel=1e-14)  # no cut: E χ²₂ = 2


def test_spread_ratio_of_the_data_is_one():
    x, _ = sample_mixture(grid25_modes(), GRID25_STD, 40_000, seed=5)
    result = spread_ratio(x, grid25_modes(), GRID25_STD)
    assert isinstance(result, SpreadRatio)
    assert result.mean == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(result.per_mode, 1.0, atol=0.06)
    x, _ = sample_mixture(ring8_modes(), RING8_STD, 20_000, seed=6)
    assert spread_ratio(x, ring8_modes(), RING8_STD).mean == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("factor", [0.25, 0.5, 0.8])
def test_spread_ratio_of_shrunk_data_is_the_shrink_factor(factor):
    # Narrow samples are hardly cut at 3σ, the data are: the ratio is factor / 0.974 (0.513 at one half).
    modes = ring8_modes()
    x, _ = sample_mixture(modes, RING8_STD, 20_000, seed=7)
    result = spread_ratio(shrunk(x, modes, factor), modes, RING8_STD)
    assert result.mean == pytest.approx(factor / DATA_SPREAD, rel=0.015)
    assert result.mean == pytest.approx(factor, rel=0.04)


def test_spread_ratio_closed_form_and_which_samples_count():
    modes, std = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 0.01
    samples = np.array([[std, 0.0], [0.0, -std], [-2 * std, 0.0], [0.0, 2 * std],  # mode 0: mean ‖·‖² = 2.5σ²
                        [0.0, 3.5 * std], [np.nan, 0.0], [np.inf, 0.0],            # beyond 3σ, non-finite: ignored
                        [1.0, std],                                                # mode 1: a single sample
                        [0.5, 0.5]])                                               # far from every mode
    result = spread_ratio(samples, modes, std)
    expected = math.sqrt(2.5 / truncated_mean_square(2))
    assert result.per_mode[0] == pytest.approx(expected, rel=1e-12)
    assert np.isnan(result.per_mode[1]) and np.isnan(result.per_mode[2])  # fewer than 2 samples
    assert result.mean == pytest.approx(expected, rel=1e-12)
    # The samples that count are mode_metrics' high-quality ones.
    assert mode_metrics(samples, modes, std).counts.tolist() == [4, 1, 0]
    # The threshold is mode_metrics' too: at 4σ the sample at 3.5σ counts.
    wide = spread_ratio(samples, modes, std, threshold=4.0)
    assert wide.per_mode[0] == pytest.approx(math.sqrt((10 + 3.5 ** 2) / 5 / truncated_mean_square(2, 4.0)))


def test_spread_ratio_mean_is_over_modes_with_two_samples_or_more():
    modes, std = np.array([[0.0, 0.0], [1.0, 0.0]]), 0.1
    samples = np.array([[0.1, 0.0], [-0.1, 0.0], [1.0, 0.2], [1.0, -0.2], [0.0, 0.0]])
    result = spread_ratio(samples, modes, std)
    # mode 0: ‖·‖² = σ², σ², 0; mode 1: 4σ², 4σ²
    np.testing.assert_allclose(result.per_mode, np.sqrt(np.array([2 / 3, 4]) / truncated_mean_square(2)))
    assert result.mean == pytest.approx(result.per_mode.mean())
    no_mode = spread_ratio(np.array([[0.0, 0.0], [0.5, 0.5]]), modes, std)
    assert math.isnan(no_mode.mean) and np.isnan(no_mode.per_mode).all()


def test_spread_ratio_input_errors_are_mode_metrics_ones_under_its_own_name():
    with pytest.raises(ShapeError, match=r"^spread_ratio: samples must be an array \(N, 2\)"):
        spread_ratio(np.zeros((5, 3)), ring8_modes(), RING8_STD)
    with pytest.raises(ValueError, match="^spread_ratio: std must be a positive number"):
        spread_ratio(np.zeros((5, 2)), ring8_modes(), 0.0)
    with pytest.raises(ValueError, match="^spread_ratio: threshold must be a positive number"):
        spread_ratio(np.zeros((5, 2)), ring8_modes(), RING8_STD, threshold=-1)


# ------------------------------------------------------------------------------- evaluate_samples
@pytest.fixture(scope="module")
def ring():
    return ring8(n_samples=100)


def test_evaluation_keeps_the_mode_metrics_and_adds_the_new_keys(ring):
    x, _ = sample_mixture(ring.modes, ring.mode_std, 600, seed=11)
    result = evaluate_samples(x, ring)
    assert list(result) == MODE_METRIC_KEYS + NEW_KEYS
    expected = dataclasses.asdict(mode_metrics(x, ring.modes, ring.mode_std))
    assert {k: result[k] for k in MODE_METRIC_KEYS} == {k: v.tolist() if k == "counts" else v
                                                        for k, v in expected.items()}
    assert result["w2_ratio"] == pytest.approx(result["w2"] / result["w2_data"])
    assert result["spread_ratio"] == pytest.approx(spread_ratio(x, ring.modes, ring.mode_std).mean)
    per_mode = result["spread_ratio_per_mode"]
    assert len(per_mode) == 8 and all(isinstance(r, float) for r in per_mode)
    json.dumps(result, allow_nan=False)


def test_evaluation_repeats_and_its_reference_does_not_depend_on_the_generator(ring):
    x, _ = sample_mixture(ring.modes, ring.mode_std, 600, seed=12)
    first = evaluate_samples(x, ring)
    evaluation._data_w2.cache_clear()
    assert evaluate_samples(x.copy(), ring) == first
    other = evaluate_samples(shrunk(x, ring.modes, 0.5), ring)
    assert other["w2_data"] == first["w2_data"]


def test_evaluation_of_data_against_collapse_and_narrow_modes(ring):
    modes, std = ring.modes, ring.mode_std
    data = evaluate_samples(sample_mixture(modes, std, 800, seed=13)[0], ring)
    assert 0.5 < data["w2_ratio"] < 2 and data["spread_ratio"] == pytest.approx(1, abs=0.05)
    collapsed = evaluate_samples(modes[[3]] + std * np.random.default_rng(14).standard_normal((800, 2)), ring)
    assert collapsed["w2_ratio"] > 5
    # Modes half as wide as the data's: more high-quality samples than the data, a spread ratio of one half.
    narrow = evaluate_samples(shrunk(sample_mixture(modes, std, 800, seed=15)[0], modes, 0.5), ring)
    assert narrow["high_quality_fraction"] == 1.0 > data["high_quality_fraction"]
    assert narrow["spread_ratio"] == pytest.approx(0.5, abs=0.04)


def test_evaluation_measures_w2_on_the_first_samples_at_most(ring):
    x, _ = sample_mixture(ring.modes, ring.mode_std, 500, seed=16)
    full, head = evaluate_samples(x, ring, w2_samples=300), evaluate_samples(x[:300], ring)
    assert (full["w2"], full["w2_data"]) == (head["w2"], head["w2_data"])
    reference = sample_mixture(ring.modes, ring.mode_std, 300, seed=evaluation.W2_REFERENCE_SEED)[0]
    assert full["w2"] == wasserstein2(x[:300], reference)
    assert full["spread_ratio"] == spread_ratio(x, ring.modes, ring.mode_std).mean  # all the samples


def test_evaluation_of_a_diverged_generator_is_strict_json(ring):
    x, _ = sample_mixture(ring.modes, ring.mode_std, 200, seed=17)
    x[5] = np.nan
    result = evaluate_samples(x, ring)
    assert result["w2"] is None and result["w2_ratio"] is None and result["w2_data"] > 0
    assert result["spread_ratio"] == pytest.approx(1, abs=0.2)
    nothing = evaluate_samples(np.full((50, 2), 0.3), ring)  # no high-quality sample at all
    assert nothing["spread_ratio"] is None and nothing["spread_ratio_per_mode"] == [None] * 8
    assert nothing["w2_ratio"] > 1
    json.dumps(result, allow_nan=False), json.dumps(nothing, allow_nan=False)


def test_eval_prints_per_mode_ratios_to_three_places(capsys):
    _print_metrics({"counts": [3, 0], "spread_ratio": 0.5123456, "spread_ratio_per_mode": [0.5123456, None],
                    "w2": None})
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["  counts                   [3, 0]", "  spread_ratio             0.5123",
                     "  spread_ratio_per_mode    [0.512, None]", "  w2                       None"]


# ------------------------------------------------------------------------------------ the curves
def curve_records():
    return [dict(step=s, d_loss=1.0 / s, g_loss=0.7, d_real=0.6, d_fake=0.4,
                 grad_norms={"G.0.weight": 0.5, "D.0.weight": 0.2}) for s in range(10, 60, 10)]


def evaluation_records():
    return [dict(step=s, modes_captured=8, high_quality_fraction=0.9, reverse_kl=0.01, counts=[1] * 8,
                 w2=0.2, w2_data=0.16, w2_ratio=None if s == 20 else 1.25, spread_ratio=0.6,
                 spread_ratio_per_mode=[0.6] * 8) for s in (10, 20, 30)]


def titles(fig):
    return [ax.get_title() for ax in fig.axes if ax.axison]


def test_curves_with_evaluations_add_one_panel_per_scalar_metric(tmp_path):
    path = tmp_path / "curves.png"
    plots.save_curves(str(path), curve_records(), evaluations=evaluation_records())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plots.curves_figure(curve_records(), evaluation_records())
    assert titles(fig)[3:] == [f"evaluation: {k}" for k in ("modes_captured", "high_quality_fraction", "reverse_kl",
                                                            "w2", "w2_data", "w2_ratio", "spread_ratio")]
    w2_ratio = fig.axes[3 + 5].lines[0].get_ydata()
    plt.close(fig)
    assert np.isnan(w2_ratio[1]) and w2_ratio[0] == 1.25  # None leaves a gap


def test_curves_without_evaluations_are_the_three_training_panels(tmp_path):
    paths = [tmp_path / f"{name}.png" for name in "abc"]
    plots.save_curves(str(paths[0]), curve_records())
    plots.save_curves(str(paths[1]), curve_records(), evaluations=None)
    plots.save_curves(str(paths[2]), curve_records(), evaluations=[])
    assert paths[0].read_bytes() == paths[1].read_bytes() == paths[2].read_bytes()
    fig = plots.curves_figure(curve_records())
    names, size = titles(fig), tuple(fig.get_size_inches())
    plt.close(fig)
    assert names == ["losses", "discriminator outputs", "gradient norm per weight (G solid, D dashed)"]
    assert size == (15, 4)


def test_w2_samples_zero_leaves_the_transport_keys_out(ring):
    x, _ = sample_mixture(ring.modes, ring.mode_std, 300, seed=18)
    result = evaluate_samples(x, ring, w2_samples=0)
    assert "w2" not in result and "spread_ratio" not in result and "high_quality_fraction" in result
    assert evaluation.W2_SAMPLES == 2500
