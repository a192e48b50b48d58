"""Stacked digits: the data set (minigan.data.stacked), its mode metrics (minigan.metrics.stacked), and
how evaluate_samples and the sample grids handle its 8 × 8 × 3 images.

As in test_metrics_classifier, ``MINIGAN_CACHE_DIR`` points into a temporary directory for the whole
module, so nothing is written to the real cache; the digits classifier is trained once, there, and
the tests that build it themselves (evaluate_stacked, evaluate_samples) load it from that cache.
"""

import dataclasses
import json
import math
import re

import matplotlib.image
import numpy as np
import pytest

from minigan.data import SPEC_FORMS, load_dataset, load_digits, stacked_digits
from minigan.errors import ShapeError
from minigan.gan import plots
from minigan.gan.evaluation import evaluate_samples
from minigan.metrics import (STACKED_EVAL_SAMPLES, StackedModeMetrics, evaluate_stacked, kl_divergence,
                             stacked_mode_metrics)

LOG_1000 = math.log(1000)


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    directory = tmp_path_factory.mktemp("minigan-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIGAN_CACHE_DIR", str(directory))
        yield directory


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def classifier(digits):
    from minigan.metrics.classifier import get_classifier

    return get_classifier(digits)


@pytest.fixture(scope="module")
def protocol_draw():
    """26,000 samples copied from the data, as a generator that copies it would emit them."""
    return stacked_digits(n_samples=STACKED_EVAL_SAMPLES, seed=1)


def _digit_triples(labels):
    """(N, 3) digits (d₀, d₁, d₂) of triple labels 100·d₀ + 10·d₁ + d₂."""
    labels = np.asarray(labels)
    return np.stack([labels // 100, labels // 10 % 10, labels % 10], axis=1)


class FirstPixelClassifier:
    """A stand-in digits classifier: the digit of an image is round(10 · its first pixel)."""

    in_features = 64
    n_classes = 10

    def predict(self, x):
        assert x.shape[1] == 64
        return np.rint(10 * x[:, 0]).astype(np.int64)


def _samples_of_triples(triples):
    """float64 samples (N, 192) whose channel k has first pixel dₖ / 10, laid out channel-last."""
    samples = np.zeros((len(triples), 8, 8, 3))
    samples[:, 0, 0, :] = _digit_triples(triples) / 10
    return samples.reshape(len(triples), 192)


# ---------------------------------------------------------------------------------------- the data
def test_shapes_dtypes_and_value_range():
    data = stacked_digits(n_samples=500, seed=3)
    assert data.name == "stacked-digits"
    assert data.x.shape == (500, 192) and data.x.dtype == np.float32
    assert data.labels.shape == (500,) and data.labels.dtype == np.int64
    assert data.image_shape == (8, 8, 3) and data.value_range == (0.0, 1.0)
    assert data.modes is None
    assert 0 <= data.labels.min() and data.labels.max() <= 999
    assert data.x.min() >= 0.0 and data.x.max() <= 1.0
    assert data.x.max() == 1.0  # digits have saturated pixels: the values are not rescaled


def test_each_channel_is_the_bundled_digit_its_label_claims(digits):
    data = stacked_digits(n_samples=20, seed=5)
    images = data.x.reshape(-1, 8, 8, 3)  # channel-last, row by row
    for image, triple in zip(images, _digit_triples(data.labels)):
        for k in range(3):
            matches = np.flatnonzero(np.all(digits.x == image[:, :, k].reshape(64), axis=1))
            assert len(matches) == 1  # the 1,797 bundled images are distinct
            assert digits.labels[matches[0]] == triple[k]


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    a, b, c = stacked_digits(300, seed=7), stacked_digits(300, seed=7), stacked_digits(300, seed=8)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_load_dataset_names_it_and_the_default_holds_every_triple():
    assert "stacked-digits" in SPEC_FORMS
    data = load_dataset("stacked-digits")
    # 50,000 draws: a triple (probability ≥ 0.00090) is missing with probability ≤ e^(−45).
    assert len(data) == 50_000
    assert len(np.unique(data.labels)) == 1000
    small = load_dataset("stacked-digits", n_samples=10, seed=2)
    np.testing.assert_array_equal(small.x, stacked_digits(10, seed=2).x)
    with pytest.raises(ValueError, match="stacked-digits"):
        load_dataset("stacked")
    with pytest.raises(ValueError, match="n_samples"):
        stacked_digits(n_samples=0)


# ------------------------------------------------------------------------------------- the metric
def test_channels_are_read_channel_last():
    triples = np.array([123, 40, 999, 7])
    result = stacked_mode_metrics(_samples_of_triples(triples), FirstPixelClassifier())
    expected = np.zeros(1000)
    expected[triples] = 0.25
    np.testing.assert_array_equal(result.histogram, expected)
    assert result.modes == 4


def test_kl_to_uniform_on_hand_built_histograms():
    classifier = FirstPixelClassifier()
    everyone = stacked_mode_metrics(_samples_of_triples(np.arange(1000)), classifier)
    assert everyone.modes == 1000 and everyone.kl_to_uniform == pytest.approx(0.0, abs=1e-12)
    # h = (½, ½) on two triples: KL = 2 · ½ log(1000 · ½) = log 500.
    halves = stacked_mode_metrics(_samples_of_triples(np.array([5, 5, 600, 600])), classifier)
    assert halves.modes == 2 and halves.kl_to_uniform == pytest.approx(math.log(500), abs=1e-12)
    # h = (¾, ¼): KL = ¾ log 750 + ¼ log 250.
    uneven = stacked_mode_metrics(_samples_of_triples(np.array([31, 31, 31, 998])), classifier)
    assert uneven.modes == 2
    assert uneven.kl_to_uniform == pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250), abs=1e-12)
    assert math.isclose(uneven.histogram.sum(), 1.0)


def test_one_repeated_triple_scores_one_mode_and_log_1000(classifier):
    data = stacked_digits(n_samples=50, seed=11)
    channels = data.x.reshape(-1, 8, 8, 3).transpose(0, 3, 1, 2).reshape(-1, 64)  # (N·3, 64), sample-major
    predicted = classifier.predict(channels)
    correct = np.all(predicted.reshape(-1, 3) == _digit_triples(data.labels), axis=1)
    i = int(np.flatnonzero(correct)[0])  # a sample whose three channels the classifier reads right
    result = stacked_mode_metrics(np.repeat(data.x[i:i + 1].astype(np.float64), 2000, axis=0), classifier)
    assert result.modes == 1
    assert abs(result.kl_to_uniform - LOG_1000) < 1e-9
    assert result.histogram[data.labels[i]] == 1.0


def test_copying_the_data_scores_every_mode_and_the_sampling_floor_of_kl(classifier, protocol_draw):
    """What a generator that copies the data scores on the protocol's 26,000 samples.

    Measured: 1,000 modes; KL 0.0201–0.0231 over seeds 0–4 (0.0211 here, seed 1), against
    0.0191–0.0216 for the histogram of the true labels, i.e. the classifier's 0.99 per-channel
    accuracy adds 0.001–0.002. KL is not 0 even for the true labels: N draws from 1,000 equally likely
    triples give KL(h ‖ u) ≈ χ²₉₉₉ / (2N), mean 999 / (2N) = 0.0192 and standard deviation
    √(2 · 999) / (2N) = 0.0009 at N = 26,000, plus 0.0003 for the bundled labels' imbalance.
    """
    x, labels = protocol_draw.x.astype(np.float64), protocol_draw.labels
    result = stacked_mode_metrics(x, classifier)
    # Each triple holds ~26 samples and is read right with probability ≈ 0.97 (0.99³): missing one
    # would take every one of its ~26 samples misread, about 0.03²⁶.
    assert result.modes == 1000
    floor = 999 / (2 * STACKED_EVAL_SAMPLES) + 3e-4
    true_kl = kl_divergence(np.bincount(labels, minlength=1000), np.ones(1000))
    assert abs(true_kl - floor) < 5 * 0.0009
    assert abs(result.kl_to_uniform - true_kl) < 0.005
    assert result.kl_to_uniform < 0.03
    assert result.histogram.shape == (1000,) and math.isclose(result.histogram.sum(), 1.0)


def test_float32_and_float64_samples_score_the_same(classifier):
    x = stacked_digits(n_samples=400, seed=4).x
    a = stacked_mode_metrics(x, classifier)
    b = stacked_mode_metrics(x.astype(np.float64), classifier)
    assert a.modes == b.modes and a.kl_to_uniform == b.kl_to_uniform
    np.testing.assert_array_equal(a.histogram, b.histogram)


def test_evaluate_stacked_builds_the_digits_classifier(classifier):
    x = stacked_digits(n_samples=300, seed=6).x
    expected = stacked_mode_metrics(x, classifier)
    got = evaluate_stacked(x)
    assert got.modes == expected.modes and got.kl_to_uniform == expected.kl_to_uniform
    np.testing.assert_array_equal(got.histogram, expected.histogram)


def test_the_result_is_a_frozen_dataclass():
    result = stacked_mode_metrics(_samples_of_triples(np.array([1, 2])), FirstPixelClassifier())
    assert isinstance(result, StackedModeMetrics)
    assert [f.name for f in dataclasses.fields(result)] == ["modes", "kl_to_uniform", "histogram",
                                                            "channel_frechet_distance"]
    assert result.channel_frechet_distance is None  # no real digits given
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.modes = 3


def test_channel_frechet_distance_is_the_digits_frechet_distance_of_every_channel(classifier, digits):
    """The closed form by hand: the 3N channel images as digits, fitted against the real digits."""
    from minigan.metrics.classifier import frechet_distance, gaussian_fit

    x = stacked_digits(n_samples=500, seed=3).x
    result = stacked_mode_metrics(x, classifier, digits.x)
    channels = x.reshape(500, 64, 3).transpose(0, 2, 1).reshape(-1, 64)
    expected = frechet_distance(*gaussian_fit(classifier.outputs(channels)[0]),
                                *gaussian_fit(classifier.outputs(digits.x)[0]))
    assert math.isclose(result.channel_frechet_distance, expected, rel_tol=1e-9)
    without = stacked_mode_metrics(x, classifier)  # one pass of outputs() reads the same triples
    assert result.modes == without.modes and result.kl_to_uniform == without.kl_to_uniform


def test_channel_frechet_distance_tells_digits_from_noise_that_covers_every_triple(classifier, digits):
    """Pixels drawn from a Gaussian fitted to the data land on many triples — the mode count alone
    would call them a good generator — but their channel Fréchet distance is that of noise."""
    real = stacked_digits(n_samples=4000, seed=5).x.astype(np.float64)
    rng = np.random.default_rng(0)
    noise = np.clip(rng.multivariate_normal(real.mean(axis=0), np.cov(real, rowvar=False), size=4000), 0, 1)
    data, gaussian = (stacked_mode_metrics(s, classifier, digits.x) for s in (real, noise))
    assert gaussian.modes > 0.8 * data.modes
    assert data.channel_frechet_distance < 1.0
    assert gaussian.channel_frechet_distance > 5 * data.channel_frechet_distance


def test_evaluate_stacked_compares_with_the_bundled_digits_by_default(classifier, digits):
    x = stacked_digits(n_samples=300, seed=8).x
    assert evaluate_stacked(x).channel_frechet_distance == stacked_mode_metrics(
        x, classifier, digits.x).channel_frechet_distance


@pytest.mark.parametrize("bad", [np.zeros((10, 63)), np.zeros((1, 64)), np.zeros(64)])
def test_real_digits_of_the_wrong_shape_are_refused(classifier, bad):
    with pytest.raises(ShapeError, match=r"stacked_mode_metrics: real_digits must be .*\(M, 64\).*got shape"):
        stacked_mode_metrics(np.zeros((5, 192)), classifier, bad)


@pytest.mark.parametrize("shape", [(10, 64), (10, 191), (192,), (2, 10, 192)])
def test_wrong_shapes_are_refused_with_the_shape(shape):
    with pytest.raises(ShapeError, match=r"stacked_mode_metrics.*\(N, 192\).*got shape " + re.escape(str(shape))):
        stacked_mode_metrics(np.zeros(shape), FirstPixelClassifier())


def test_no_samples_and_non_finite_values_are_refused():
    classifier = FirstPixelClassifier()
    with pytest.raises(ValueError, match=r"stacked_mode_metrics: no samples \(N = 0\)"):
        stacked_mode_metrics(np.zeros((0, 192)), classifier)
    for bad in (math.nan, math.inf, -math.inf):
        x = np.zeros((5, 192))
        x[3, 100] = bad
        with pytest.raises(ValueError, match="stacked_mode_metrics: 1 of the 5 samples have NaN or infinite"):
            stacked_mode_metrics(x, classifier)
    with pytest.raises(TypeError, match="stacked_mode_metrics.*dtype complex128"):
        stacked_mode_metrics(np.zeros((5, 192), dtype=np.complex128), classifier)


def test_a_classifier_that_is_not_the_digits_one_is_refused():
    other = type("TripleClassifier", (), {"in_features": 192, "n_classes": 1000})()
    with pytest.raises(ValueError, match="stacked_mode_metrics: expected the digits classifier.*in_features=192"):
        stacked_mode_metrics(np.zeros((5, 192)), other)


# -------------------------------------------------------------------------- evaluation and plots
def test_evaluate_samples_gives_modes_and_kl_for_stacked_digits(classifier):
    dataset = stacked_digits(n_samples=2000, seed=0)
    samples = stacked_digits(n_samples=1500, seed=9).x
    values = evaluate_samples(samples, dataset)
    expected = stacked_mode_metrics(samples, classifier, load_digits().x)
    assert values == {"modes": expected.modes, "kl_to_uniform": expected.kl_to_uniform,
                      "channel_frechet_distance": expected.channel_frechet_distance}
    assert type(values["modes"]) is int and type(values["kl_to_uniform"]) is float
    assert type(values["channel_frechet_distance"]) is float
    json.dumps(values, allow_nan=False)
    samples[0, 0] = math.nan  # a diverged generator: no numbers, and no error
    assert evaluate_samples(samples, dataset) == {"modes": None, "kl_to_uniform": None,
                                                  "channel_frechet_distance": None}


def test_evaluate_samples_keeps_the_image_metrics_of_digits(classifier, digits):
    values = evaluate_samples(digits.x[:500], digits)
    assert {"class_coverage", "kl_to_uniform", "inception_score", "frechet_distance"} <= values.keys()
    assert "modes" not in values


def test_image_grid_tiles_colour_images_channel_last():
    data = stacked_digits(n_samples=10, seed=12)
    grid = plots.image_grid(data.x, (8, 8, 3), columns=4)
    assert grid.shape == (3 * 9 - 1, 4 * 9 - 1, 3)
    images = data.x.reshape(-1, 8, 8, 3)
    np.testing.assert_array_equal(grid[9:17, 18:26], images[6])  # row 1, column 2
    assert np.all(grid[8, :, :] == 1.0)  # white gaps
    grey = plots.image_grid(load_digits(n_samples=10).x, (8, 8), columns=4)
    assert grey.shape == (3 * 9 - 1, 4 * 9 - 1)
    with pytest.raises(ValueError, match=r"image_grid: image_shape must be \(H, W\) or \(H, W, 3\), got \(8, 8, 4\)"):
        plots.image_grid(np.zeros((2, 256)), (8, 8, 4))


def test_save_sample_grid_writes_colour_for_stacked_and_grey_for_digits(tmp_path):
    data = stacked_digits(n_samples=32, seed=13)
    path = tmp_path / "stacked.png"
    plots.save_sample_grid(str(path), data.x, data.image_shape, title="stacked")
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] >= 3
    rgb = image[..., :3]
    # Three different digits in the channels: many pixels have clearly unequal R, G and B.
    assert np.mean(np.ptp(rgb, axis=2) > 0.5) > 0.05
    grey_path = tmp_path / "digits.png"
    plots.save_sample_grid(str(grey_path), load_digits(n_samples=32).x, (8, 8))
    grey = matplotlib.image.imread(grey_path)[..., :3]
    assert np.ptp(grey, axis=2).max() < 1e-6  # R = G = B everywhere: grey as before
    assert grey.min() < 0.2 and grey.max() > 0.8  # dark ink on white
